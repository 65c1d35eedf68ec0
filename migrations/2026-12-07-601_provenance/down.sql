DROP INDEX ledger_entries_foreign_rates;
DROP TABLE ledger_verifications;
