DROP TRIGGER audit_events_change_feed ON audit_events;
DROP FUNCTION change_event_from_audit();
DROP FUNCTION change_feed_uuid(text);
DROP TABLE change_feed_purges;
DROP TABLE change_events;
