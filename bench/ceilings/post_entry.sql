-- The statements of one POST /v1/ledgers/{id}/entries (an expense, with an Idempotency-Key)
-- since the two functions of migration 2026-12-08-601 (issue 19), in the order the service
-- sends them (BEGIN, ledger_post_open, ledger_post_write, COMMIT), one transaction.
-- Values the service computes (ids, the hash chain, the audit record) are generated here;
-- the ledger is one of the open ledgers (bench_ledgers) chosen at random, as before (that
-- lookup is the script's, not the service's).
\set n random(1, :ledgers)
\set k random(1, 2000000000)
BEGIN;
SELECT id AS lid FROM bench_ledgers WHERE n = :n \gset
SELECT l_entry_count AS entry_count, l_head_hash AS head_hash, l_available_minor AS available, now AS created_at FROM ledger_post_open(:lid, 'bench', 'pb-' || :k || '-' || :client_id, NULL, NULL, NULL, 'USD', :entry_date) \gset
SELECT ledger_post_write(gen_random_uuid(), :lid, :entry_count::bigint + 1, 'expense', 'travel', :entry_date, 'Bench expense', NULL, NULL, NULL, 1234, 'USD', NULL, 1234, -1234, NULL, 'bench', :created_at, :head_hash, md5(random()::text) || md5(random()::text), :available::bigint - 1234, gen_random_uuid(), 'bench', 'coordinator', 'post', gen_random_uuid()::text, '{"id": "01a22936-2fbd-75c0-9d38-d14b5c61f4ae", "seq": 107, "hash": "07f2953e8cc9ac94f87701ba465a2b3cc02dbd592d3d9c2d0b838180e0a92653", "kind": "expense", "rate": null, "amount": {"amount": "12.34", "currency": "USD"}, "effect": {"amount": "-12.34", "currency": "USD"}, "category": "travel", "ledger_id": "a9284852-d022-5cf2-8154-ba4154cc438b", "prev_hash": "f76de90c5b612af364b9d30bb69c977bad582d87300abd9736877ca92e4f4a00", "created_at": "2026-11-29T21:29:06.749111Z", "created_by": "bench", "entry_date": "2026-11-03", "project_id": null, "amount_usd": {"amount": "12.34", "currency": "USD"}, "description": "Bench expense"}'::jsonb, 'pb-' || :k || '-' || :client_id, md5(random()::text), '\x7b7d'::bytea, '/v1/ledgers/' || :lid || '/entries/x');
COMMIT;
