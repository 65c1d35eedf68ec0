-- The hash columns' checks said `~ '^[0-9a-f]{64}$'`: PostgreSQL's regex engine unrolls
-- the bounded repetition and spends ~15 µs on each value, which was 90% of the CPU of
-- loading entries (and two such checks ran on every post). The same rule, spelled as a
-- length and an unbounded class, costs ~0.5 µs.
ALTER TABLE ledger_entries
  DROP CONSTRAINT ledger_entries_prev_hash_check,
  DROP CONSTRAINT ledger_entries_hash_check,
  ADD CONSTRAINT ledger_entries_prev_hash_check CHECK (length(prev_hash) = 64 AND prev_hash ~ '^[0-9a-f]*$'),
  ADD CONSTRAINT ledger_entries_hash_check CHECK (length(hash) = 64 AND hash ~ '^[0-9a-f]*$');
