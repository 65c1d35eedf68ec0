DROP TABLE audit_events;
DROP FUNCTION reject_change();
DROP TABLE revoked_tokens;
DROP TABLE service_accounts;
