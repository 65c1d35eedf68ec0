-- `ledger_add_totals` as 2026-12-08-601 made it.
CREATE OR REPLACE FUNCTION ledger_add_totals(p_ledger uuid, p_after bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
WITH e AS MATERIALIZED (
  SELECT entry_date, date_trunc('month', entry_date)::date AS month, kind,
         coalesce(category, '') AS category, category IS NOT NULL AS spending,
         project_id, effect_minor, usd_minor
    FROM ledger_entries WHERE ledger_id = p_ledger AND seq > p_after
), daily AS (
  INSERT INTO ledger_daily_totals AS t (ledger_id, entry_date, kind, category, effect_minor, usd_minor, entries)
  SELECT p_ledger, entry_date, kind, category, sum(effect_minor), sum(usd_minor), count(*)
    FROM e GROUP BY entry_date, kind, category
  ON CONFLICT (ledger_id, entry_date, kind, category) DO UPDATE
    SET effect_minor = t.effect_minor + EXCLUDED.effect_minor,
        usd_minor = t.usd_minor + EXCLUDED.usd_minor, entries = t.entries + EXCLUDED.entries
), monthly AS (
  INSERT INTO ledger_monthly_totals AS t (ledger_id, month, kind, category, effect_minor, usd_minor, entries)
  SELECT p_ledger, month, kind, category, sum(effect_minor), sum(usd_minor), count(*)
    FROM e GROUP BY month, kind, category
  ON CONFLICT (ledger_id, month, kind, category) DO UPDATE
    SET effect_minor = t.effect_minor + EXCLUDED.effect_minor,
        usd_minor = t.usd_minor + EXCLUDED.usd_minor, entries = t.entries + EXCLUDED.entries
), spending AS (
  INSERT INTO ledger_monthly_spending AS t (ledger_id, month, effect_minor, entries)
  SELECT p_ledger, month, sum(effect_minor), count(*)
    FROM e WHERE spending GROUP BY month
  ON CONFLICT (ledger_id, month) DO UPDATE
    SET effect_minor = t.effect_minor + EXCLUDED.effect_minor, entries = t.entries + EXCLUDED.entries
), overall AS (
  INSERT INTO ledger_totals AS t (ledger_id, kind, category, effect_minor, usd_minor, entries)
  SELECT p_ledger, kind, category, sum(effect_minor), sum(usd_minor), count(*)
    FROM e GROUP BY kind, category
  ON CONFLICT (ledger_id, kind, category) DO UPDATE
    SET effect_minor = t.effect_minor + EXCLUDED.effect_minor,
        usd_minor = t.usd_minor + EXCLUDED.usd_minor, entries = t.entries + EXCLUDED.entries
)
INSERT INTO project_daily_totals AS t (project_id, ledger_id, entry_date, kind, category, effect_minor, usd_minor, entries)
SELECT project_id, p_ledger, entry_date, kind, category, sum(effect_minor), sum(usd_minor), count(*)
  FROM e WHERE project_id IS NOT NULL GROUP BY project_id, entry_date, kind, category
ON CONFLICT (project_id, ledger_id, entry_date, kind, category) DO UPDATE
  SET effect_minor = t.effect_minor + EXCLUDED.effect_minor,
      usd_minor = t.usd_minor + EXCLUDED.usd_minor, entries = t.entries + EXCLUDED.entries;
END
$$;

DROP TABLE ledger_rate_totals;
