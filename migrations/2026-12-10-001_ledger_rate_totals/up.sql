-- The rates each ledger's entries were converted at, kept with the entries (issue 19): a
-- balance listed them by grouping every foreign entry of the ledger at every read, a
-- cost that grew with the ledger (a busy ledger in a local currency holds hundreds of
-- thousands). One row per ledger, currency and rate: how many entries used it and the
-- first and last entry dates. A balance with `as_of` before the ledger's last entry
-- still groups the entries up to that day.
CREATE TABLE ledger_rate_totals (
  ledger_id uuid NOT NULL REFERENCES ledgers (id),
  currency text NOT NULL,
  usd_per_unit_e12 bigint NOT NULL,
  entries bigint NOT NULL,
  first_entry_date date NOT NULL,
  last_entry_date date NOT NULL,
  PRIMARY KEY (ledger_id, currency, usd_per_unit_e12)
);

INSERT INTO ledger_rate_totals (ledger_id, currency, usd_per_unit_e12, entries, first_entry_date, last_entry_date)
SELECT ledger_id, currency::text, usd_per_unit_e12, count(*), min(entry_date), max(entry_date)
  FROM ledger_entries WHERE usd_per_unit_e12 IS NOT NULL
 GROUP BY ledger_id, currency::text, usd_per_unit_e12;

-- `ledger_add_totals` of 2026-12-08-601, with the rates kept too.
CREATE OR REPLACE FUNCTION ledger_add_totals(p_ledger uuid, p_after bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
WITH e AS MATERIALIZED (
  SELECT entry_date, date_trunc('month', entry_date)::date AS month, kind,
         coalesce(category, '') AS category, category IS NOT NULL AS spending,
         project_id, effect_minor, usd_minor, currency::text AS currency, usd_per_unit_e12
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
), rates AS (
  INSERT INTO ledger_rate_totals AS t (ledger_id, currency, usd_per_unit_e12, entries, first_entry_date, last_entry_date)
  SELECT p_ledger, currency, usd_per_unit_e12, count(*), min(entry_date), max(entry_date)
    FROM e WHERE usd_per_unit_e12 IS NOT NULL GROUP BY currency, usd_per_unit_e12
  ON CONFLICT (ledger_id, currency, usd_per_unit_e12) DO UPDATE
    SET entries = t.entries + EXCLUDED.entries,
        first_entry_date = least(t.first_entry_date, EXCLUDED.first_entry_date),
        last_entry_date = greatest(t.last_entry_date, EXCLUDED.last_entry_date)
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
