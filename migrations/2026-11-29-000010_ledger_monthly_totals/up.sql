-- Monthly totals per ledger, kind and category, maintained in the transaction of every
-- entry (api/ledgers.rs, `append`) beside the daily ones. Statistics over whole months
-- (no `from`/`to`, or ones on month boundaries) read these: about 30 times fewer rows
-- than the daily totals of a busy year (api/stats.rs).
CREATE TABLE ledger_monthly_totals (
  ledger_id uuid NOT NULL REFERENCES ledgers (id),
  month date NOT NULL CHECK (month = date_trunc('month', month)::date),
  kind text NOT NULL,
  category text NOT NULL DEFAULT '',
  effect_minor bigint NOT NULL DEFAULT 0,
  usd_minor bigint NOT NULL DEFAULT 0,
  entries bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (ledger_id, month, kind, category)
);

INSERT INTO ledger_monthly_totals (ledger_id, month, kind, category, effect_minor, usd_minor, entries)
SELECT ledger_id, date_trunc('month', entry_date)::date, kind, category,
       sum(effect_minor), sum(usd_minor), sum(entries)
  FROM ledger_daily_totals
 GROUP BY ledger_id, date_trunc('month', entry_date)::date, kind, category;
