DROP TRIGGER projects_default_sectors ON projects;
DROP FUNCTION projects_default_sectors();
DROP VIEW reporting.project_budget_lines;
DROP VIEW reporting.project_sectors;
DROP INDEX executing_agencies_org_identifier_key;
ALTER TABLE executing_agencies DROP COLUMN org_identifier;
DROP INDEX projects_sectors_idx;
ALTER TABLE projects DROP COLUMN sectors, DROP COLUMN budget_lines, DROP COLUMN donor_org_identifier;
