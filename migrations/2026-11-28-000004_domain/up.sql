-- The non-financial domain: executing agencies, mandates and their assignments to
-- offices, appointments, projects (with their mandates and agencies), monitoring reports.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Lower-cased text without accents, for search over every language.
CREATE FUNCTION search_fold(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT lower(translate(t,
    'ÁÀÂÄÃÅáàâäãåÉÈÊËéèêëÍÌÎÏíìîïÓÒÔÖÕóòôöõÚÙÛÜúùûüÑñÇç',
    'AAAAAAaaaaaaEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuNnCc'))
$$;

CREATE TABLE executing_agencies (
  id uuid PRIMARY KEY,
  name jsonb NOT NULL CHECK (is_localized_text(name)),
  acronym text CHECK (acronym IS NULL OR btrim(acronym) <> ''),
  member_state char(2) NOT NULL REFERENCES member_states (code),
  kind text NOT NULL CHECK (kind IN ('government', 'ngo', 'academic', 'international_organization', 'private_sector', 'other')),
  registration_number text NOT NULL CHECK (btrim(registration_number) <> ''),
  email text,
  phone text,
  website text,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT executing_agencies_registration_key UNIQUE (member_state, registration_number)
);
CREATE INDEX executing_agencies_updated_at_idx ON executing_agencies (updated_at, id);
CREATE TRIGGER executing_agencies_touch BEFORE UPDATE ON executing_agencies
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE mandates (
  id uuid PRIMARY KEY,
  -- OAS citation, e.g. 'AG/RES. 2976 (LII-O/22)', 'CP/RES. 1234 (2345/22)'.
  reference text NOT NULL,
  issuing_body text NOT NULL CHECK (issuing_body IN ('general_assembly', 'permanent_council', 'cidi', 'meeting_of_consultation', 'summit_of_the_americas')),
  document_kind text NOT NULL CHECK (document_kind IN ('resolution', 'declaration')),
  adopted_on date NOT NULL,
  pillar text NOT NULL CHECK (pillar IN ('democracy', 'human_rights', 'integral_development', 'multidimensional_security', 'legal_cooperation')),
  title jsonb NOT NULL CHECK (is_localized_text(title)),
  summary jsonb CHECK (summary IS NULL OR is_localized_text(summary)),
  status text NOT NULL DEFAULT 'in_force' CHECK (status IN ('in_force', 'fulfilled', 'superseded')),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT mandates_reference_key UNIQUE (reference)
);
CREATE INDEX mandates_updated_at_idx ON mandates (updated_at, id);
CREATE TRIGGER mandates_touch BEFORE UPDATE ON mandates
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE mandate_assignments (
  id uuid PRIMARY KEY,
  mandate_id uuid NOT NULL REFERENCES mandates (id),
  office_id uuid NOT NULL REFERENCES offices (id),
  due_on date,
  -- Moves only forward: assigned -> in_progress -> fulfilled, or to not_applicable.
  status text NOT NULL DEFAULT 'assigned' CHECK (status IN ('assigned', 'in_progress', 'fulfilled', 'not_applicable')),
  progress_notes text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT mandate_assignments_mandate_office_key UNIQUE (mandate_id, office_id)
);
CREATE INDEX mandate_assignments_office_idx ON mandate_assignments (office_id, mandate_id);
CREATE INDEX mandate_assignments_updated_at_idx ON mandate_assignments (updated_at, id);
CREATE TRIGGER mandate_assignments_touch BEFORE UPDATE ON mandate_assignments
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE appointments (
  id uuid PRIMARY KEY,
  office_id uuid NOT NULL REFERENCES offices (id),
  person_name text NOT NULL CHECK (btrim(person_name) <> ''),
  email text,
  position text NOT NULL CHECK (position IN ('representative', 'administrative_officer', 'project_officer', 'staff')),
  starts_on date NOT NULL,
  ends_on date,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT appointments_ends_after_starts CHECK (ends_on IS NULL OR ends_on >= starts_on),
  -- At most one representative of an office at any date.
  CONSTRAINT appointments_one_representative EXCLUDE USING gist (
    office_id WITH =, daterange(starts_on, ends_on, '[]') WITH &&
  ) WHERE (position = 'representative')
);
CREATE INDEX appointments_office_idx ON appointments (office_id, starts_on);
CREATE INDEX appointments_updated_at_idx ON appointments (updated_at, id);
CREATE TRIGGER appointments_touch BEFORE UPDATE ON appointments
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE projects (
  id uuid PRIMARY KEY,
  code text NOT NULL CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
  title jsonb NOT NULL CHECK (is_localized_text(title)),
  description jsonb CHECK (description IS NULL OR is_localized_text(description)),
  office_id uuid NOT NULL REFERENCES offices (id),
  department_id uuid NOT NULL REFERENCES departments (id),
  pillar text NOT NULL CHECK (pillar IN ('democracy', 'human_rights', 'integral_development', 'multidimensional_security', 'legal_cooperation')),
  -- pipeline -> approved -> active <-> suspended -> completed -> closed; cancelled before completion.
  status text NOT NULL DEFAULT 'pipeline' CHECK (status IN ('pipeline', 'approved', 'active', 'suspended', 'completed', 'closed', 'cancelled')),
  starts_on date NOT NULL,
  ends_on date,
  -- Money in integer minor units of an ISO 4217 currency.
  budget_amount bigint NOT NULL CHECK (budget_amount >= 0 AND budget_amount < 1000000000000000),
  budget_currency char(3) NOT NULL CHECK (budget_currency ~ '^[A-Z]{3}$'),
  funding_source text NOT NULL CHECK (funding_source IN ('regular_fund', 'specific_fund', 'trust_fund', 'development_cooperation_fund', 'indirect_cost_recovery')),
  -- The donor (and its agreement code) of a specific or trust fund.
  donor text,
  donor_agreement text,
  search_text text GENERATED ALWAYS AS (
    search_fold(code || ' ' || coalesce(title->>'en', '') || ' ' || coalesce(title->>'es', '') || ' ' ||
                coalesce(title->>'fr', '') || ' ' || coalesce(title->>'pt', ''))
  ) STORED,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT projects_code_key UNIQUE (code),
  CONSTRAINT projects_ends_after_starts CHECK (ends_on IS NULL OR ends_on >= starts_on),
  CONSTRAINT projects_donor_for_earmarked_funds CHECK (
    (funding_source IN ('specific_fund', 'trust_fund')) = (donor IS NOT NULL))
);
CREATE INDEX projects_office_idx ON projects (office_id, code);
CREATE INDEX projects_department_idx ON projects (department_id, code);
CREATE INDEX projects_status_idx ON projects (status, code);
CREATE INDEX projects_updated_at_idx ON projects (updated_at, id);
CREATE TRIGGER projects_touch BEFORE UPDATE ON projects
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE project_mandates (
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  mandate_id uuid NOT NULL REFERENCES mandates (id),
  PRIMARY KEY (project_id, mandate_id)
);
CREATE INDEX project_mandates_mandate_idx ON project_mandates (mandate_id, project_id);

CREATE TABLE project_agencies (
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  agency_id uuid NOT NULL REFERENCES executing_agencies (id),
  role text NOT NULL CHECK (role IN ('lead', 'partner')),
  PRIMARY KEY (project_id, agency_id)
);
CREATE INDEX project_agencies_agency_idx ON project_agencies (agency_id, project_id);
-- At most one lead per project (exactly one while active: checked by the service).
CREATE UNIQUE INDEX project_agencies_one_lead ON project_agencies (project_id) WHERE role = 'lead';

CREATE TABLE monitoring_reports (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES projects (id),
  -- '2026-03' (a month) or '2026-Q1' (a quarter).
  period text NOT NULL CHECK (period ~ '^[0-9]{4}-((0[1-9]|1[0-2])|Q[1-4])$'),
  period_start date NOT NULL,
  period_end date NOT NULL,
  physical_progress smallint NOT NULL CHECK (physical_progress BETWEEN 0 AND 100),
  risk_level text NOT NULL CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
  narrative jsonb NOT NULL CHECK (is_localized_text(narrative)),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT monitoring_reports_project_period_key UNIQUE (project_id, period),
  CONSTRAINT monitoring_reports_period_order CHECK (period_end >= period_start)
);
CREATE INDEX monitoring_reports_updated_at_idx ON monitoring_reports (updated_at, id);
CREATE TRIGGER monitoring_reports_touch BEFORE UPDATE ON monitoring_reports
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
