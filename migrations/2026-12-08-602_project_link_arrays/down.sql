DROP TRIGGER project_mandates_copy_insert ON project_mandates;
DROP TRIGGER project_mandates_copy_update ON project_mandates;
DROP TRIGGER project_mandates_copy_delete ON project_mandates;
DROP TRIGGER project_agencies_copy_insert ON project_agencies;
DROP TRIGGER project_agencies_copy_update ON project_agencies;
DROP TRIGGER project_agencies_copy_delete ON project_agencies;
DROP FUNCTION project_links_changed();
DROP FUNCTION project_links_sync(uuid[]);
DROP TRIGGER projects_touch ON projects;
CREATE TRIGGER projects_touch BEFORE UPDATE ON projects
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE projects DROP COLUMN mandate_ids, DROP COLUMN agency_ids, DROP COLUMN agency_roles;
