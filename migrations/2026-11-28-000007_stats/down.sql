DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ogsms_reporting') THEN
    EXECUTE 'REVOKE ALL ON ALL TABLES IN SCHEMA reporting FROM ogsms_reporting';
    EXECUTE 'REVOKE ALL ON SCHEMA reporting FROM ogsms_reporting';
  END IF;
EXCEPTION
  WHEN insufficient_privilege THEN NULL;
END
$$;
-- The role itself belongs to the whole server (other databases may use it): a database
-- administrator drops it with DROP ROLE ogsms_reporting when no database needs it.
DROP SCHEMA reporting CASCADE;
DROP INDEX projects_pillar_idx;
DROP TABLE project_daily_totals;
