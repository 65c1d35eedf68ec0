-- IATI rules (issue 24): sectors, budget lines by period, organisation identifiers.
--
-- A project's sectors are OECD DAC 5-digit CRS purpose codes (IATI sector vocabulary 1)
-- with percentages summing to 100: `[{"code": "15151", "percentage": "60"}, ...]`, the
-- percentage a decimal string with at most two decimals. Its budget lines break the
-- budget down by period (at most a year each): `[{"period_start": "2026-01-01",
-- "period_end": "2026-12-31", "amount_minor": 100000, "status": "original"}, ...]` in the
-- budget's currency; none means the IATI export splits the budget pro rata by days.
-- The API validates both (against the DAC codelist in iati/codelists/Sector.xml).
ALTER TABLE projects
  ADD COLUMN sectors jsonb NOT NULL DEFAULT '[]'
    CONSTRAINT projects_sectors_array CHECK (jsonb_typeof(sectors) = 'array'),
  ADD COLUMN budget_lines jsonb NOT NULL DEFAULT '[]'
    CONSTRAINT projects_budget_lines_array CHECK (jsonb_typeof(budget_lines) = 'array'),
  -- The IATI organisation identifier of the donor of a specific or trust fund.
  ADD COLUMN donor_org_identifier text;

-- Existing projects get the sector of their pillar (the default the API applies to a
-- project created without sectors).
UPDATE projects SET sectors = jsonb_build_array(jsonb_build_object(
  'code', CASE pillar
            WHEN 'democracy' THEN '15150'
            WHEN 'human_rights' THEN '15160'
            WHEN 'multidimensional_security' THEN '15210'
            WHEN 'legal_cooperation' THEN '15130'
            ELSE '43010'
          END,
  'percentage', '100'))
WHERE sectors = '[]';

-- A project inserted without sectors (by the seed, or by SQL) gets its pillar's.
CREATE FUNCTION projects_default_sectors() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.sectors = '[]'::jsonb THEN
    NEW.sectors := jsonb_build_array(jsonb_build_object(
      'code', CASE NEW.pillar
                WHEN 'democracy' THEN '15150'
                WHEN 'human_rights' THEN '15160'
                WHEN 'multidimensional_security' THEN '15210'
                WHEN 'legal_cooperation' THEN '15130'
                ELSE '43010'
              END,
      'percentage', '100'));
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER projects_default_sectors BEFORE INSERT ON projects
  FOR EACH ROW EXECUTE FUNCTION projects_default_sectors();

-- `sector=` filter: `sectors @> '[{"code": "15151"}]'`.
CREATE INDEX projects_sectors_idx ON projects USING gin (sectors jsonb_path_ops);

-- An executing agency's IATI organisation identifier: an OrganisationRegistrationAgency
-- prefix and the registration number, e.g. `PE-RUC-20504915523`.
ALTER TABLE executing_agencies ADD COLUMN org_identifier text;
CREATE UNIQUE INDEX executing_agencies_org_identifier_key
  ON executing_agencies (org_identifier) WHERE org_identifier IS NOT NULL;

-- Reporting: one row per sector and per budget line of a project.
CREATE VIEW reporting.project_sectors AS
SELECT p.id AS project_id, p.code AS project_code, o.code AS office_code,
       s.code AS sector_code, s.percentage::numeric AS percentage
  FROM public.projects p
  JOIN public.offices o ON o.id = p.office_id
  CROSS JOIN LATERAL jsonb_to_recordset(p.sectors) AS s(code text, percentage text);
COMMENT ON VIEW reporting.project_sectors IS 'Projects'' OECD DAC 5-digit sectors (IATI vocabulary 1) and their percentages (summing to 100 per project).';

CREATE VIEW reporting.project_budget_lines AS
SELECT p.id AS project_id, p.code AS project_code, o.code AS office_code,
       b.period_start, b.period_end,
       reporting.amount(b.amount_minor, p.budget_currency) AS amount, p.budget_currency AS currency,
       b.status
  FROM public.projects p
  JOIN public.offices o ON o.id = p.office_id
  CROSS JOIN LATERAL jsonb_to_recordset(p.budget_lines)
    AS b(period_start date, period_end date, amount_minor bigint, status text);
COMMENT ON VIEW reporting.project_budget_lines IS 'Projects'' budgets by period (at most a year each), original or revised, in the budget''s currency.';

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ogsms_reporting') THEN
    EXECUTE 'GRANT SELECT ON reporting.project_sectors, reporting.project_budget_lines TO ogsms_reporting';
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'privileges of ogsms_reporting were not granted (see README.md)';
END $$;
