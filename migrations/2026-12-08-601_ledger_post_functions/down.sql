DROP FUNCTION ledger_post_write(uuid, uuid, bigint, text, text, date, text, text, uuid, uuid,
  bigint, text, bigint, bigint, bigint, uuid, text, timestamptz, text, text, bigint,
  uuid, text, text, text, text, jsonb, text, text, bytea, text);
DROP FUNCTION ledger_post_open(uuid, text, text, uuid, uuid, uuid, text, date);
DROP FUNCTION ledger_add_totals(uuid, bigint);
