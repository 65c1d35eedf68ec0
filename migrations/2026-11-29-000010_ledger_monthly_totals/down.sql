DROP TABLE ledger_monthly_totals;
