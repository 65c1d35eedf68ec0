-- Service accounts, revoked tokens, and the audit trail.

CREATE TABLE service_accounts (
  id uuid PRIMARY KEY,
  client_id text NOT NULL CHECK (client_id ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
  name text NOT NULL CHECK (btrim(name) <> ''),
  role text NOT NULL CHECK (role IN ('coordinator', 'representative', 'office_staff', 'hq_department', 'auditor', 'viewer')),
  office_id uuid REFERENCES offices (id),
  department_id uuid REFERENCES departments (id),
  -- argon2id PHC string; the secret itself is never stored.
  secret_hash text NOT NULL CHECK (secret_hash LIKE '$argon2%'),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT service_accounts_client_id_key UNIQUE (client_id),
  CONSTRAINT service_accounts_scope CHECK (
    CASE role
      WHEN 'representative' THEN office_id IS NOT NULL AND department_id IS NULL
      WHEN 'office_staff' THEN office_id IS NOT NULL AND department_id IS NULL
      WHEN 'hq_department' THEN department_id IS NOT NULL AND office_id IS NULL
      ELSE office_id IS NULL AND department_id IS NULL
    END)
);
CREATE TRIGGER service_accounts_touch BEFORE UPDATE ON service_accounts
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Revoked tokens, kept until they would have expired anyway.
CREATE TABLE revoked_tokens (
  jti text PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 128),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  reason text
);
CREATE INDEX revoked_tokens_revoked_at_idx ON revoked_tokens (revoked_at);

-- Every successful write, in the same transaction as the write.
CREATE TABLE audit_events (
  id uuid PRIMARY KEY,
  occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor_sub text NOT NULL,
  actor_role text NOT NULL,
  action text NOT NULL,
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  request_id text,
  before jsonb,
  after jsonb
);
CREATE INDEX audit_events_occurred_idx ON audit_events (occurred_at, id);
CREATE INDEX audit_events_resource_idx ON audit_events (resource_type, resource_id, occurred_at);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_sub, occurred_at);

-- Append-only, enforced by the database for every role that can reach the table: row
-- triggers stop UPDATE and DELETE, a statement trigger stops TRUNCATE (which bypasses
-- row triggers).
CREATE FUNCTION reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION reject_change();
