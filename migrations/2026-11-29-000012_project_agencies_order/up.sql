-- A project's agencies in the order a project lists them (lead first, then by id): the
-- correlated subqueries that read them for every project of a page (api/projects.rs,
-- `link_columns`) become ordered index-only scans instead of a bitmap scan and a sort
-- each (one office's page of 50: +15% requests per second, 1M-entry bench data).
CREATE INDEX project_agencies_order_idx ON project_agencies (project_id, role, agency_id);
