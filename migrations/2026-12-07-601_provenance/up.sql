-- Provenance of ledger figures: the last successful verification of each ledger's hash
-- chain (when, how many entries, the head hash it recomputed), kept by
-- GET /v1/ledgers/{id}/verification and shown with the balance.
CREATE TABLE ledger_verifications (
    ledger_id uuid PRIMARY KEY REFERENCES ledgers (id) ON DELETE CASCADE,
    verified_at timestamptz NOT NULL,
    entry_count bigint NOT NULL CHECK (entry_count >= 0),
    head_hash text NOT NULL
);

-- The exchange rates a ledger's USD figures used: only entries in another currency,
-- so that the balance finds them without reading the ledger's USD entries.
CREATE INDEX ledger_entries_foreign_rates
    ON ledger_entries (ledger_id, currency, usd_per_unit_e12, entry_date)
    WHERE currency <> 'USD';
