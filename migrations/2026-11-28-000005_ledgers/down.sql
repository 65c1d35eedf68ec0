DROP TABLE idempotency_keys;
DROP TABLE ledger_closings;
DROP TABLE ledger_daily_totals;
DROP TABLE ledger_entries;
DROP TABLE ledgers;
DROP TABLE exchange_rates;
