-- Controls on money and life cycles (issue 21 §5) and what the reconciliation reads (§4).

-- The day an executing agency was suspended: no payment to it may be dated on or after
-- it. Kept by the database whenever the status changes, so every writer agrees.
ALTER TABLE executing_agencies ADD COLUMN suspended_on date;
UPDATE executing_agencies a SET suspended_on = coalesce(
    (SELECT max(e.occurred_at)::date FROM audit_events e
      WHERE e.resource_type = 'executing_agency' AND e.resource_id = a.id::text
        AND e.action = 'suspend'),
    a.updated_at::date)
  WHERE a.status = 'suspended';
ALTER TABLE executing_agencies ADD CONSTRAINT executing_agencies_suspended_on_when_suspended
  CHECK ((status = 'suspended') = (suspended_on IS NOT NULL));

CREATE FUNCTION executing_agencies_suspension() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'suspended' AND (TG_OP = 'INSERT' OR OLD.status <> 'suspended') THEN
    NEW.suspended_on := coalesce(NEW.suspended_on, current_date);
  ELSIF NEW.status <> 'suspended' THEN
    NEW.suspended_on := NULL;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER executing_agencies_suspension BEFORE INSERT OR UPDATE OF status ON executing_agencies
  FOR EACH ROW EXECUTE FUNCTION executing_agencies_suspension();
