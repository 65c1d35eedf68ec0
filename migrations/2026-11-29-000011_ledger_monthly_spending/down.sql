DROP TABLE ledger_monthly_spending;
