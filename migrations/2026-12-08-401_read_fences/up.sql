-- Read-your-writes with read replicas (api/db/replica.rs): the WAL position each
-- caller's next reads must see, recorded on the primary after the caller's writes.
-- Written only when DATABASE_REPLICA_URLS is set; rows older than an hour are purged.
CREATE TABLE read_fences (
    caller text PRIMARY KEY,
    lsn pg_lsn NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
