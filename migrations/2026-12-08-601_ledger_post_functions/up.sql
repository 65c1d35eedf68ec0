-- Posting an entry in two statements instead of a dozen round trips (issue 19): one
-- opens the posting (the idempotency key, the ledger's lock and everything the checks
-- read), the service checks, converts and hashes the entry, and one writes it (the
-- entry, the ledger's running state, every summary, the audit event and the stored
-- response). The rules stay in the service (api/resources/ledgers/posting.rs); these
-- functions only read and write what it asks, in the order it used to send them.

-- Adds the entries of ledger `p_ledger` after sequence number `p_after` to every summary
-- kept with them, in one statement (each data-modifying WITH runs once, over the new
-- entries read once): the ledger's daily, monthly and all-time totals, its monthly
-- spending (entries with a category), and its projects' daily totals (entries tagged to
-- one). One entry (a posting) or thousands (the demo's batch writer) alike. In plpgsql,
-- which keeps the statement's plan for the session (a LANGUAGE sql function's body is
-- planned again at every call).
CREATE FUNCTION ledger_add_totals(p_ledger uuid, p_after bigint) RETURNS void
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

-- Opens a posting to `p_ledger`, in this order, stopping at the first that decides the
-- answer:
-- 1. with an Idempotency-Key (`p_key`): the key's lock for this caller (`locked` false:
--    another request holds it), then the response stored for it (`stored_*`);
-- 2. the ledger, locked FOR UPDATE (`ledger_found`), which orders every writer of it;
-- 3. for an HQ department's caller (`p_department`): whether it sees the ledger;
-- 4. what the checks read: the project's office, the payee (whether it exists, since
--    when it is suspended), the office's closing date, the rate in force on the entry's
--    date (another currency than USD), and the database's clock, read after the lock.
CREATE FUNCTION ledger_post_open(
  p_ledger uuid, p_caller text, p_key text, p_department uuid,
  p_project uuid, p_payee uuid, p_currency text, p_entry_date date,
  OUT locked boolean, OUT stored_hash text, OUT stored_status smallint,
  OUT stored_body bytea, OUT stored_location text,
  OUT ledger_found boolean, OUT l_office_id uuid, OUT l_fiscal_year integer,
  OUT l_fund text, OUT l_fund_code text, OUT l_currency text, OUT l_status text,
  OUT l_closed_through date, OUT l_entry_count bigint, OUT l_head_hash text,
  OUT l_available_minor bigint, OUT l_created_at timestamptz, OUT l_updated_at timestamptz,
  OUT department_sees boolean,
  OUT project_office uuid, OUT agency_found boolean, OUT agency_suspended_on date,
  OUT office_closed_on date, OUT rate bigint, OUT now timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
  locked := true;
  ledger_found := false;
  IF p_key IS NOT NULL THEN
    locked := pg_try_advisory_xact_lock(hashtextextended(p_caller || E'\n' || p_key, 7411));
    IF NOT locked THEN
      RETURN;
    END IF;
    SELECT k.request_hash, k.response_status, k.response_body, k.location
      INTO stored_hash, stored_status, stored_body, stored_location
      FROM idempotency_keys k WHERE k.caller_sub = p_caller AND k.key = p_key;
    IF FOUND THEN
      RETURN;
    END IF;
  END IF;
  SELECT l.office_id, l.fiscal_year, l.fund, l.fund_code, l.currency, l.status,
         l.closed_through, l.entry_count, l.head_hash, l.available_minor, l.created_at,
         l.updated_at
    INTO l_office_id, l_fiscal_year, l_fund, l_fund_code, l_currency, l_status,
         l_closed_through, l_entry_count, l_head_hash, l_available_minor, l_created_at,
         l_updated_at
    FROM ledgers l WHERE l.id = p_ledger FOR UPDATE;
  ledger_found := FOUND;
  IF NOT ledger_found THEN
    RETURN;
  END IF;
  IF p_department IS NOT NULL THEN
    department_sees := EXISTS (
      SELECT 1 FROM ledger_entries e JOIN projects p ON p.id = e.project_id
       WHERE e.ledger_id = p_ledger AND p.department_id = p_department);
    IF NOT department_sees THEN
      RETURN;
    END IF;
  END IF;
  IF p_project IS NOT NULL THEN
    SELECT p.office_id INTO project_office FROM projects p WHERE p.id = p_project;
  END IF;
  agency_found := false;
  IF p_payee IS NOT NULL THEN
    SELECT a.suspended_on INTO agency_suspended_on FROM executing_agencies a WHERE a.id = p_payee;
    agency_found := FOUND;
  END IF;
  SELECT o.closed_on INTO office_closed_on FROM offices o WHERE o.id = l_office_id;
  IF p_currency <> 'USD' THEN
    SELECT r.usd_per_unit_e12 INTO rate FROM exchange_rates r
     WHERE r.currency = p_currency AND r.effective_on <= p_entry_date
     ORDER BY r.effective_on DESC LIMIT 1;
  END IF;
  -- Incremental sync relies on it never being before the transaction's start (see
  -- api/core/sync.rs).
  now := clock_timestamp();
END
$$;

-- Writes a posting the service has checked and hashed: the entry, the ledger's running
-- state, every summary (`ledger_add_totals`), the audit event and, with an
-- Idempotency-Key, the response to replay. Call it in the transaction of
-- `ledger_post_open`, or after locking the ledger.
CREATE FUNCTION ledger_post_write(
  p_id uuid, p_ledger uuid, p_seq bigint, p_kind text, p_category text,
  p_entry_date date, p_description text, p_reference text, p_project uuid, p_payee uuid,
  p_amount_minor bigint, p_currency text, p_rate bigint, p_usd_minor bigint,
  p_effect_minor bigint, p_reverses uuid, p_created_by text, p_created_at timestamptz,
  p_prev_hash text, p_hash text, p_available bigint,
  p_audit_id uuid, p_actor_sub text, p_actor_role text, p_action text, p_request_id text,
  p_after jsonb,
  p_key text, p_request_hash text, p_body bytea, p_location text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ledger_entries (id, ledger_id, seq, kind, category, entry_date, description,
    reference, project_id, payee_agency_id, amount_minor, currency, usd_per_unit_e12,
    usd_minor, effect_minor, reverses_entry_id, created_by, created_at, prev_hash, hash)
  VALUES (p_id, p_ledger, p_seq, p_kind, p_category, p_entry_date, p_description,
    p_reference, p_project, p_payee, p_amount_minor, p_currency, p_rate,
    p_usd_minor, p_effect_minor, p_reverses, p_created_by, p_created_at, p_prev_hash, p_hash);
  UPDATE ledgers SET entry_count = p_seq, head_hash = p_hash, available_minor = p_available
   WHERE id = p_ledger;
  PERFORM ledger_add_totals(p_ledger, p_seq - 1);
  INSERT INTO audit_events (id, actor_sub, actor_role, action, resource_type, resource_id,
    request_id, before, after)
  VALUES (p_audit_id, p_actor_sub, p_actor_role, p_action, 'ledger_entry', p_id::text,
    p_request_id, NULL, p_after);
  IF p_key IS NOT NULL THEN
    INSERT INTO idempotency_keys (caller_sub, key, request_hash, response_status,
      response_body, location)
    VALUES (p_created_by, p_key, p_request_hash, 201, p_body, p_location);
  END IF;
END
$$;
