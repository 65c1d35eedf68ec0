-- Running more than one instance on one database (issue 22).

-- The per-caller token buckets every instance spends from: one row per caller key,
-- updated in one statement per request (ops::Limits). UNLOGGED: no WAL, so a spend costs
-- no log flush; after a crash the table is emptied, which only hands every caller a
-- full burst again (what a restart of a single instance did before).
CREATE UNLOGGED TABLE rate_buckets (
    key text PRIMARY KEY,
    tokens double precision NOT NULL,
    updated_at timestamptz NOT NULL,
    accepted boolean NOT NULL
);

-- The fingerprint (SHA-256, hex) of the key every instance signs and verifies tokens
-- with: of the public keys, or of the HS256 secret (never the secret itself). `serve`
-- refuses to start with another key (`ogsms rotate-key` replaces it on purpose).
CREATE TABLE signing_key_fingerprint (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    fingerprint text NOT NULL,
    algorithm text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Which instance last ran each background job that must run once (under an advisory
-- lock), and when: observable by operators and tests.
CREATE TABLE background_job_runs (
    job text PRIMARY KEY,
    instance text NOT NULL,
    runs bigint NOT NULL DEFAULT 0,
    leader_since timestamptz NOT NULL,
    last_run_at timestamptz NOT NULL
);
