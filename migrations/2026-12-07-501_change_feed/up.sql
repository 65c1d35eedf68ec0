-- The change feed (GET /v1/changes): one event per created, updated or deleted resource,
-- written by a trigger on audit_events, so in the same transaction as the change (every
-- write records its audit event inside its transaction): a committed change is always in
-- the feed, a rolled-back one never is.
--
-- Order: (txid, seq). `txid` is the writing transaction's id; a reader is served only
-- events of transactions older than the oldest one still running
-- (pg_snapshot_xmin(pg_current_snapshot())), so a transaction that commits later can
-- only add events after every position already served: a reader paging with the cursor
-- never skips one, however writers interleave their commits.
CREATE TABLE change_events (
  txid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
  seq bigint GENERATED ALWAYS AS IDENTITY,
  audit_event_id uuid NOT NULL,
  occurred_at timestamptz NOT NULL,
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  action text NOT NULL CHECK (action IN ('created', 'updated', 'deleted')),
  audit_action text NOT NULL,
  actor_sub text NOT NULL,
  actor_role text NOT NULL,
  request_id text,
  -- The office the resource belongs to (the office itself for an office), for the
  -- `office` filter and for finance visibility; null for reference data.
  office_id uuid,
  -- The HQ department of the resource's project (projects, reports, entries).
  department_id uuid,
  -- The representation after the change; null for a deletion (a tombstone).
  data jsonb,
  PRIMARY KEY (txid, seq)
);
CREATE INDEX change_events_type_idx ON change_events (resource_type, txid, seq);
CREATE INDEX change_events_office_idx ON change_events (office_id, txid, seq);
CREATE INDEX change_events_occurred_idx ON change_events (occurred_at);

-- The highest position the retention purge removed: a cursor below it is gone (410).
CREATE TABLE change_feed_purges (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  purged_txid bigint NOT NULL,
  purged_seq bigint NOT NULL,
  purged_at timestamptz NOT NULL DEFAULT now()
);

-- A uuid, or null for anything else (a change event never fails its write).
CREATE FUNCTION change_feed_uuid(v text) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN v ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              THEN v::uuid END
$$;

CREATE FUNCTION change_event_from_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  rtype text := NEW.resource_type;
  rid text := NEW.resource_id;
  act text;
  body jsonb := NEW.after;
  office uuid;
  department uuid;
  project uuid;
BEGIN
  -- Not changes of a resource of the feed: issued tokens and revocations.
  IF NEW.action IN ('token.issue', 'token.revoke') OR NEW.resource_type = 'token' THEN
    RETURN NULL;
  END IF;
  -- A period closing is recorded against its ledger; in the feed it is a closing.
  IF NEW.action = 'close_period' AND NEW.resource_type = 'ledger' THEN
    rtype := 'ledger_closing';
    rid := coalesce(NEW.after ->> 'id', NEW.resource_id);
  END IF;
  act := CASE
    WHEN rtype IN ('ledger_entry', 'ledger_closing') THEN 'created'
    WHEN NEW.action = 'create' OR NEW.action LIKE '%.create' THEN 'created'
    WHEN NEW.action = 'delete' OR NEW.action LIKE '%.delete' OR NEW.after IS NULL THEN 'deleted'
    ELSE 'updated'
  END;
  IF act = 'deleted' THEN
    body := NULL;
  END IF;

  IF rtype = 'office' THEN
    office := change_feed_uuid(NEW.resource_id);
  ELSE
    office := change_feed_uuid(coalesce(NEW.after ->> 'office_id', NEW.before ->> 'office_id'));
  END IF;
  department := change_feed_uuid(coalesce(NEW.after ->> 'department_id', NEW.before ->> 'department_id'));
  IF rtype IN ('project') THEN
    NULL;
  ELSIF rtype = 'department' THEN
    department := change_feed_uuid(NEW.resource_id);
  ELSE
    project := change_feed_uuid(coalesce(NEW.after ->> 'project_id', NEW.before ->> 'project_id'));
    IF project IS NOT NULL THEN
      SELECT p.office_id, p.department_id INTO office, department
        FROM projects p WHERE p.id = project;
    END IF;
    IF office IS NULL AND coalesce(NEW.after ->> 'ledger_id', NEW.before ->> 'ledger_id') IS NOT NULL THEN
      SELECT l.office_id INTO office FROM ledgers l
        WHERE l.id = change_feed_uuid(coalesce(NEW.after ->> 'ledger_id', NEW.before ->> 'ledger_id'));
    END IF;
  END IF;
  -- An entry of a ledger names the ledger's office even when it names a project.
  IF rtype IN ('ledger_entry', 'ledger_closing') THEN
    SELECT l.office_id INTO office FROM ledgers l
      WHERE l.id = change_feed_uuid(coalesce(NEW.after ->> 'ledger_id', NEW.before ->> 'ledger_id'));
  END IF;

  INSERT INTO change_events (audit_event_id, occurred_at, resource_type, resource_id, action,
                             audit_action, actor_sub, actor_role, request_id, office_id,
                             department_id, data)
  VALUES (NEW.id, NEW.occurred_at, rtype, rid, act, NEW.action, NEW.actor_sub, NEW.actor_role,
          NEW.request_id, office, department, body);
  RETURN NULL;
END;
$$;

CREATE TRIGGER audit_events_change_feed AFTER INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION change_event_from_audit();
