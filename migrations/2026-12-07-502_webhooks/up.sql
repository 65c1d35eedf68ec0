-- Webhook subscriptions (/v1/webhooks) and their delivery log. The deliverer (inside the
-- service, see resources/webhooks/deliverer.rs) reads the change feed after each
-- subscription's cursor with the owner's visibility and POSTs one event at a time, in
-- order; the cursor moves on only when the receiver acknowledged (2xx), in the same
-- transaction that logs the delivery, so an acknowledged event is never sent again and
-- an unacknowledged one is retried (at least once).
CREATE TABLE webhook_subscriptions (
  id uuid PRIMARY KEY,
  url text NOT NULL CHECK (length(url) BETWEEN 10 AND 2000),
  description text CHECK (length(description) <= 500),
  resource_types text[],
  actions text[],
  owner_sub text NOT NULL,
  owner_role text NOT NULL,
  owner_office_id uuid,
  owner_department_id uuid,
  secret text NOT NULL,
  previous_secret text,
  previous_secret_expires_at timestamptz,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'failing')),
  -- The feed position delivered through.
  cursor_txid bigint NOT NULL,
  cursor_seq bigint NOT NULL,
  -- When the deliverer should look again, and the lease of the instance working on it.
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_until timestamptz,
  lease_owner uuid,
  -- The current event's failed attempts and the first failure (the retry window's start).
  attempts integer NOT NULL DEFAULT 0,
  failing_since timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_subscriptions_due_idx ON webhook_subscriptions (next_attempt_at)
  WHERE status = 'active';
CREATE INDEX webhook_subscriptions_owner_idx ON webhook_subscriptions (owner_sub, created_at);

CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY,
  subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
  event_id uuid NOT NULL,
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  action text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  last_status_code integer,
  last_error text,
  first_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (subscription_id, first_attempt_at, id);
