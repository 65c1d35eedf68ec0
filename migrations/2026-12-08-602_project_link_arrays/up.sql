-- A project's links (its mandates, its agencies and their roles) kept on its own row, in
-- the order a project lists them, so that a page of projects is one index scan of
-- `projects` instead of three correlated lookups a row (issue 19). The arrays are a
-- copy: `project_mandates` and `project_agencies` stay the source (their keys, foreign
-- keys and the one-lead index), and the statement triggers below rewrite a project's
-- copy in the transaction of every write of its links (insert, update, delete,
-- including the cascade of a project's deletion), from the links as they are then.
ALTER TABLE projects
  ADD COLUMN mandate_ids uuid[] NOT NULL DEFAULT '{}',
  ADD COLUMN agency_ids uuid[] NOT NULL DEFAULT '{}',
  ADD COLUMN agency_roles text[] NOT NULL DEFAULT '{}';

-- Rewriting the copy is not a change of the project: no new version, no new updated_at.
DROP TRIGGER projects_touch ON projects;
CREATE TRIGGER projects_touch BEFORE UPDATE ON projects
  FOR EACH ROW
  WHEN (OLD.mandate_ids IS NOT DISTINCT FROM NEW.mandate_ids
        AND OLD.agency_ids IS NOT DISTINCT FROM NEW.agency_ids
        AND OLD.agency_roles IS NOT DISTINCT FROM NEW.agency_roles)
  EXECUTE FUNCTION touch_updated_at();

-- Rewrites the copy of the projects `ids` from their links. The rows are locked first
-- (in id order): each statement of a plpgsql function takes a new snapshot, so the
-- UPDATE sees every link committed by a writer that held the row before us, and two
-- transactions adding links to one project cannot each write a copy missing the other's.
CREATE FUNCTION project_links_sync(ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM projects WHERE id = ANY (ids) ORDER BY id FOR NO KEY UPDATE;
  UPDATE projects p SET
    mandate_ids = ARRAY(SELECT m.mandate_id FROM project_mandates m
                         WHERE m.project_id = p.id ORDER BY m.mandate_id),
    agency_ids = ARRAY(SELECT a.agency_id FROM project_agencies a
                        WHERE a.project_id = p.id ORDER BY a.role, a.agency_id),
    agency_roles = ARRAY(SELECT a.role FROM project_agencies a
                          WHERE a.project_id = p.id ORDER BY a.role, a.agency_id)
  WHERE p.id = ANY (ids);
END
$$;

CREATE FUNCTION project_links_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ids uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(DISTINCT project_id) INTO ids FROM new_links;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(DISTINCT project_id) INTO ids FROM old_links;
  ELSE
    SELECT array_agg(DISTINCT project_id) INTO ids
      FROM (SELECT project_id FROM new_links UNION SELECT project_id FROM old_links) u;
  END IF;
  IF ids IS NOT NULL THEN
    PERFORM project_links_sync(ids);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER project_mandates_copy_insert AFTER INSERT ON project_mandates
  REFERENCING NEW TABLE AS new_links
  FOR EACH STATEMENT EXECUTE FUNCTION project_links_changed();
CREATE TRIGGER project_mandates_copy_update AFTER UPDATE ON project_mandates
  REFERENCING OLD TABLE AS old_links NEW TABLE AS new_links
  FOR EACH STATEMENT EXECUTE FUNCTION project_links_changed();
CREATE TRIGGER project_mandates_copy_delete AFTER DELETE ON project_mandates
  REFERENCING OLD TABLE AS old_links
  FOR EACH STATEMENT EXECUTE FUNCTION project_links_changed();
CREATE TRIGGER project_agencies_copy_insert AFTER INSERT ON project_agencies
  REFERENCING NEW TABLE AS new_links
  FOR EACH STATEMENT EXECUTE FUNCTION project_links_changed();
CREATE TRIGGER project_agencies_copy_update AFTER UPDATE ON project_agencies
  REFERENCING OLD TABLE AS old_links NEW TABLE AS new_links
  FOR EACH STATEMENT EXECUTE FUNCTION project_links_changed();
CREATE TRIGGER project_agencies_copy_delete AFTER DELETE ON project_agencies
  REFERENCING OLD TABLE AS old_links
  FOR EACH STATEMENT EXECUTE FUNCTION project_links_changed();

-- The copy of the links there are already.
UPDATE projects p SET
  mandate_ids = ARRAY(SELECT m.mandate_id FROM project_mandates m
                       WHERE m.project_id = p.id ORDER BY m.mandate_id),
  agency_ids = ARRAY(SELECT a.agency_id FROM project_agencies a
                      WHERE a.project_id = p.id ORDER BY a.role, a.agency_id),
  agency_roles = ARRAY(SELECT a.role FROM project_agencies a
                        WHERE a.project_id = p.id ORDER BY a.role, a.agency_id);
