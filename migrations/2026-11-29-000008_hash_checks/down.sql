ALTER TABLE ledger_entries
  DROP CONSTRAINT ledger_entries_prev_hash_check,
  DROP CONSTRAINT ledger_entries_hash_check,
  ADD CONSTRAINT ledger_entries_prev_hash_check CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  ADD CONSTRAINT ledger_entries_hash_check CHECK (hash ~ '^[0-9a-f]{64}$');
