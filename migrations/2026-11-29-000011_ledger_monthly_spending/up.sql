-- Spending per ledger and month (entries with a category: expenses, refunds and their
-- reversals), every kind and category together: one row per ledger and month, kept in
-- the transaction of every entry (api/ledgers.rs, `ADD_TO_TOTALS`). Spending statistics
-- over whole months that neither group nor filter by category or project read these,
-- about ten times fewer rows than the monthly totals (api/stats.rs).
CREATE TABLE ledger_monthly_spending (
  ledger_id uuid NOT NULL REFERENCES ledgers (id),
  month date NOT NULL CHECK (month = date_trunc('month', month)::date),
  effect_minor bigint NOT NULL DEFAULT 0,
  entries bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (ledger_id, month)
);

INSERT INTO ledger_monthly_spending (ledger_id, month, effect_minor, entries)
SELECT ledger_id, month, sum(effect_minor), sum(entries)
  FROM ledger_monthly_totals
 WHERE category <> ''
 GROUP BY ledger_id, month;
