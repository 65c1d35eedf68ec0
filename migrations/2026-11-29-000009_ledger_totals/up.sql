-- Totals per ledger, kind and category over all dates, maintained in the transaction of
-- every entry (api/ledgers.rs, `append`) beside the daily ones: a balance without
-- `as_of` reads at most a few dozen rows, whatever the size of the ledger (the daily
-- totals of a busy ledger are thousands of rows a year).
CREATE TABLE ledger_totals (
  ledger_id uuid NOT NULL REFERENCES ledgers (id),
  kind text NOT NULL,
  category text NOT NULL DEFAULT '',
  effect_minor bigint NOT NULL DEFAULT 0,
  usd_minor bigint NOT NULL DEFAULT 0,
  entries bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (ledger_id, kind, category)
);

INSERT INTO ledger_totals (ledger_id, kind, category, effect_minor, usd_minor, entries)
SELECT ledger_id, kind, category, sum(effect_minor), sum(usd_minor), sum(entries)
  FROM ledger_daily_totals
 GROUP BY ledger_id, kind, category;
