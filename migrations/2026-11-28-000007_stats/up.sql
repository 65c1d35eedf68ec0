-- Summaries for statistics, and a read-only reporting schema for tools that read a
-- database rather than the API (Metabase, Superset, Power BI).

-- Daily totals per project, ledger, kind and category: the per-project counterpart of
-- ledger_daily_totals, maintained in the transaction of every entry tagged to a project
-- (api/ledgers.rs, fn append). Statistics by project, budget execution and mandate
-- expenditures read these, never the entries.
CREATE TABLE project_daily_totals (
  project_id uuid NOT NULL REFERENCES projects (id),
  ledger_id uuid NOT NULL REFERENCES ledgers (id),
  entry_date date NOT NULL,
  kind text NOT NULL,
  category text NOT NULL DEFAULT '',
  effect_minor bigint NOT NULL DEFAULT 0,
  usd_minor bigint NOT NULL DEFAULT 0,
  entries bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (project_id, ledger_id, entry_date, kind, category)
);
CREATE INDEX project_daily_totals_ledger_idx ON project_daily_totals (ledger_id, entry_date);

INSERT INTO project_daily_totals (project_id, ledger_id, entry_date, kind, category, effect_minor, usd_minor, entries)
SELECT project_id, ledger_id, entry_date, kind, coalesce(category, ''), sum(effect_minor), sum(usd_minor), count(*)
  FROM ledger_entries
 WHERE project_id IS NOT NULL
 GROUP BY project_id, ledger_id, entry_date, kind, coalesce(category, '');

-- Project counts group by these.
CREATE INDEX projects_pillar_idx ON projects (pillar, status);

-- ---------------------------------------------------------------------------------
-- The reporting schema: documented views with codes and their labels, and the context a
-- spreadsheet needs (office code, fund, fiscal year) on every row. Money is numeric in
-- the currency's units (e.g. 1234.56), never minor units. No credentials, no audit
-- trail, no personal data of appointments.

CREATE SCHEMA reporting;
COMMENT ON SCHEMA reporting IS 'Read-only views for BI tools (role ogsms_reporting). See README.md.';

-- Human labels of every code, in English and Spanish (the API's labels; a test keeps
-- them equal).
CREATE TABLE reporting.labels (
  domain text NOT NULL,
  code text NOT NULL,
  label_en text NOT NULL,
  label_es text NOT NULL,
  PRIMARY KEY (domain, code)
);
COMMENT ON TABLE reporting.labels IS 'Labels of codes (domain e.g. project_status, category) in English and Spanish.';
INSERT INTO reporting.labels (domain, code, label_en, label_es) VALUES
  ('office_kind', 'country_office', 'Country office', 'Oficina nacional'),
  ('office_kind', 'coordinating_office', 'Coordinating office', 'Oficina de coordinación'),
  ('office_status', 'open', 'Open', 'Abierta'),
  ('office_status', 'closed', 'Closed', 'Cerrada'),
  ('department_kind', 'secretariat', 'Secretariat', 'Secretaría'),
  ('department_kind', 'department', 'Department', 'Departamento'),
  ('department_status', 'active', 'Active', 'Activo'),
  ('department_status', 'inactive', 'Inactive', 'Inactivo'),
  ('project_status', 'pipeline', 'Pipeline', 'En preparación'),
  ('project_status', 'approved', 'Approved', 'Aprobado'),
  ('project_status', 'active', 'Active', 'En ejecución'),
  ('project_status', 'suspended', 'Suspended', 'Suspendido'),
  ('project_status', 'completed', 'Completed', 'Finalizado'),
  ('project_status', 'closed', 'Closed', 'Cerrado'),
  ('project_status', 'cancelled', 'Cancelled', 'Cancelado'),
  ('pillar', 'democracy', 'Democracy', 'Democracia'),
  ('pillar', 'human_rights', 'Human rights', 'Derechos humanos'),
  ('pillar', 'integral_development', 'Integral development', 'Desarrollo integral'),
  ('pillar', 'multidimensional_security', 'Multidimensional security', 'Seguridad multidimensional'),
  ('pillar', 'legal_cooperation', 'Legal cooperation', 'Cooperación jurídica'),
  ('fund', 'regular_fund', 'Regular Fund', 'Fondo Regular'),
  ('fund', 'specific_fund', 'Specific fund', 'Fondo específico'),
  ('fund', 'trust_fund', 'Trust fund', 'Fondo fiduciario'),
  ('fund', 'development_cooperation_fund', 'Development Cooperation Fund', 'Fondo de Cooperación para el Desarrollo'),
  ('fund', 'indirect_cost_recovery', 'Indirect cost recovery', 'Recuperación de costos indirectos'),
  ('entry_kind', 'allocation', 'Allocation', 'Asignación'),
  ('entry_kind', 'expense', 'Expense', 'Gasto'),
  ('entry_kind', 'refund', 'Refund', 'Reembolso'),
  ('entry_kind', 'adjustment', 'Adjustment', 'Ajuste'),
  ('entry_kind', 'reversal', 'Reversal', 'Reversión'),
  ('category', 'personnel', 'Personnel', 'Personal'),
  ('category', 'travel', 'Travel', 'Viajes'),
  ('category', 'rent', 'Rent', 'Alquiler'),
  ('category', 'utilities', 'Utilities', 'Servicios públicos'),
  ('category', 'communications', 'Communications', 'Comunicaciones'),
  ('category', 'supplies', 'Supplies', 'Suministros'),
  ('category', 'equipment', 'Equipment', 'Equipos'),
  ('category', 'contractual_services', 'Contractual services', 'Servicios por contrato'),
  ('category', 'project_disbursement', 'Project disbursement', 'Desembolso a proyectos'),
  ('category', 'bank_charges', 'Bank charges', 'Cargos bancarios'),
  ('category', 'other', 'Other', 'Otros'),
  ('ledger_status', 'open', 'Open', 'Abierto'),
  ('ledger_status', 'closed', 'Closed', 'Cerrado'),
  ('agency_kind', 'government', 'Government', 'Gobierno'),
  ('agency_kind', 'ngo', 'Non-governmental organization', 'Organización no gubernamental'),
  ('agency_kind', 'academic', 'Academic institution', 'Institución académica'),
  ('agency_kind', 'international_organization', 'International organization', 'Organismo internacional'),
  ('agency_kind', 'private_sector', 'Private sector', 'Sector privado'),
  ('agency_kind', 'other', 'Other', 'Otro'),
  ('agency_status', 'active', 'Active', 'Activa'),
  ('agency_status', 'suspended', 'Suspended', 'Suspendida'),
  ('agency_role', 'lead', 'Lead', 'Principal'),
  ('agency_role', 'partner', 'Partner', 'Asociada'),
  ('mandate_status', 'in_force', 'In force', 'Vigente'),
  ('mandate_status', 'fulfilled', 'Fulfilled', 'Cumplido'),
  ('mandate_status', 'superseded', 'Superseded', 'Reemplazado'),
  ('issuing_body', 'general_assembly', 'General Assembly', 'Asamblea General'),
  ('issuing_body', 'permanent_council', 'Permanent Council', 'Consejo Permanente'),
  ('issuing_body', 'cidi', 'Inter-American Council for Integral Development', 'Consejo Interamericano para el Desarrollo Integral'),
  ('document_kind', 'resolution', 'Resolution', 'Resolución'),
  ('document_kind', 'declaration', 'Declaration', 'Declaración'),
  ('assignment_status', 'assigned', 'Assigned', 'Asignado'),
  ('assignment_status', 'in_progress', 'In progress', 'En curso'),
  ('assignment_status', 'fulfilled', 'Fulfilled', 'Cumplido'),
  ('assignment_status', 'not_applicable', 'Not applicable', 'No aplicable'),
  ('risk_level', 'low', 'Low', 'Bajo'),
  ('risk_level', 'medium', 'Medium', 'Medio'),
  ('risk_level', 'high', 'High', 'Alto'),
  ('risk_level', 'critical', 'Critical', 'Crítico');

CREATE FUNCTION reporting.label(domain text, code text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT l.label_en FROM reporting.labels l WHERE l.domain = $1 AND l.code = $2
$$;

-- Decimals of an ISO 4217 currency's minor unit (as api/money.rs).
CREATE FUNCTION reporting.minor_unit_exponent(currency text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF') THEN 0
    WHEN currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') THEN 3
    WHEN currency IN ('CLF', 'UYW') THEN 4
    ELSE 2
  END
$$;

-- Minor units as an exact decimal amount of the currency.
CREATE FUNCTION reporting.amount(minor bigint, currency text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT round(minor::numeric / (10::numeric ^ reporting.minor_unit_exponent(currency)),
               reporting.minor_unit_exponent(currency))
$$;

-- The first language present of a localized text.
CREATE FUNCTION reporting.text_any(v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(v->>'en', v->>'es', v->>'fr', v->>'pt')
$$;

CREATE VIEW reporting.member_states AS
SELECT code, alpha3, numeric_code,
       name->>'en' AS name_en, name->>'es' AS name_es, name->>'fr' AS name_fr, name->>'pt' AS name_pt,
       currency
  FROM public.member_states;
COMMENT ON VIEW reporting.member_states IS 'OAS member states: ISO 3166-1 codes, names, currency.';

CREATE VIEW reporting.departments AS
SELECT d.id, d.code, d.kind, reporting.label('department_kind', d.kind) AS kind_label,
       p.code AS parent_code,
       d.name->>'en' AS name_en, d.name->>'es' AS name_es, d.name->>'fr' AS name_fr, d.name->>'pt' AS name_pt,
       d.status, reporting.label('department_status', d.status) AS status_label,
       d.created_at, d.updated_at
  FROM public.departments d
  LEFT JOIN public.departments p ON p.id = d.parent_id;
COMMENT ON VIEW reporting.departments IS 'HQ Secretariats and Departments.';

CREATE VIEW reporting.offices AS
SELECT o.id, o.code, o.kind, reporting.label('office_kind', o.kind) AS kind_label,
       o.member_state, m.name->>'en' AS member_state_name,
       o.name->>'en' AS name_en, o.name->>'es' AS name_es, o.name->>'fr' AS name_fr, o.name->>'pt' AS name_pt,
       o.city, o.address, o.email, o.phone, o.website, o.opened_on, o.closed_on,
       o.status, reporting.label('office_status', o.status) AS status_label,
       o.created_at, o.updated_at
  FROM public.offices o
  JOIN public.member_states m ON m.code = o.member_state;
COMMENT ON VIEW reporting.offices IS 'Country offices and the Coordinating Office.';

CREATE VIEW reporting.mandates AS
SELECT id, reference, issuing_body, reporting.label('issuing_body', issuing_body) AS issuing_body_label,
       document_kind, reporting.label('document_kind', document_kind) AS document_kind_label,
       adopted_on, pillar, reporting.label('pillar', pillar) AS pillar_label,
       title->>'en' AS title_en, title->>'es' AS title_es, title->>'fr' AS title_fr, title->>'pt' AS title_pt,
       status, reporting.label('mandate_status', status) AS status_label,
       created_at, updated_at
  FROM public.mandates;
COMMENT ON VIEW reporting.mandates IS 'Mandates from OAS resolutions and declarations.';

CREATE VIEW reporting.mandate_assignments AS
SELECT a.id, a.mandate_id, m.reference AS mandate_reference, a.office_id, o.code AS office_code,
       o.member_state, a.due_on, a.status, reporting.label('assignment_status', a.status) AS status_label,
       a.progress_notes, a.created_at, a.updated_at
  FROM public.mandate_assignments a
  JOIN public.mandates m ON m.id = a.mandate_id
  JOIN public.offices o ON o.id = a.office_id;
COMMENT ON VIEW reporting.mandate_assignments IS 'Mandates assigned to offices, with their progress.';

CREATE VIEW reporting.executing_agencies AS
SELECT id, reporting.text_any(name) AS name,
       name->>'en' AS name_en, name->>'es' AS name_es, name->>'fr' AS name_fr, name->>'pt' AS name_pt,
       acronym, member_state, kind, reporting.label('agency_kind', kind) AS kind_label,
       registration_number, status, reporting.label('agency_status', status) AS status_label,
       created_at, updated_at
  FROM public.executing_agencies;
COMMENT ON VIEW reporting.executing_agencies IS 'Local partners that execute projects.';

CREATE VIEW reporting.projects AS
SELECT p.id, p.code,
       p.title->>'en' AS title_en, p.title->>'es' AS title_es, p.title->>'fr' AS title_fr, p.title->>'pt' AS title_pt,
       p.office_id, o.code AS office_code, o.member_state,
       p.department_id, d.code AS department_code,
       p.pillar, reporting.label('pillar', p.pillar) AS pillar_label,
       p.status, reporting.label('project_status', p.status) AS status_label,
       p.starts_on, p.ends_on,
       reporting.amount(p.budget_amount, p.budget_currency) AS budget_amount, p.budget_currency,
       p.funding_source, reporting.label('fund', p.funding_source) AS funding_source_label,
       p.donor, p.donor_agreement,
       reporting.amount(coalesce(s.spent_minor, 0), 'USD') AS spent_usd,
       coalesce(s.entries, 0) AS spending_entries,
       p.created_at, p.updated_at
  FROM public.projects p
  JOIN public.offices o ON o.id = p.office_id
  JOIN public.departments d ON d.id = p.department_id
  LEFT JOIN (
    SELECT project_id, -sum(effect_minor)::bigint AS spent_minor, sum(entries)::bigint AS entries
      FROM public.project_daily_totals
     WHERE category <> ''
     GROUP BY project_id
  ) s ON s.project_id = p.id;
COMMENT ON VIEW reporting.projects IS 'Projects with office, department, budget (in its currency) and net spending in USD (expenses - refunds, net of reversals).';

CREATE VIEW reporting.project_mandates AS
SELECT pm.project_id, p.code AS project_code, pm.mandate_id, m.reference AS mandate_reference
  FROM public.project_mandates pm
  JOIN public.projects p ON p.id = pm.project_id
  JOIN public.mandates m ON m.id = pm.mandate_id;
COMMENT ON VIEW reporting.project_mandates IS 'Which mandates each project executes.';

CREATE VIEW reporting.project_agencies AS
SELECT pa.project_id, p.code AS project_code, pa.agency_id, reporting.text_any(a.name) AS agency_name,
       a.acronym AS agency_acronym, pa.role, reporting.label('agency_role', pa.role) AS role_label
  FROM public.project_agencies pa
  JOIN public.projects p ON p.id = pa.project_id
  JOIN public.executing_agencies a ON a.id = pa.agency_id;
COMMENT ON VIEW reporting.project_agencies IS 'The executing agencies of each project and their role.';

CREATE VIEW reporting.monitoring_reports AS
SELECT r.id, r.project_id, p.code AS project_code, o.code AS office_code,
       r.period, r.period_start, r.period_end, r.physical_progress,
       r.risk_level, reporting.label('risk_level', r.risk_level) AS risk_level_label,
       r.narrative->>'en' AS narrative_en, r.narrative->>'es' AS narrative_es,
       r.narrative->>'fr' AS narrative_fr, r.narrative->>'pt' AS narrative_pt,
       r.created_at, r.updated_at
  FROM public.monitoring_reports r
  JOIN public.projects p ON p.id = r.project_id
  JOIN public.offices o ON o.id = p.office_id;
COMMENT ON VIEW reporting.monitoring_reports IS 'Periodic monitoring of projects by the offices.';

CREATE VIEW reporting.ledgers AS
SELECT l.id, l.office_id, o.code AS office_code, o.member_state, l.fiscal_year,
       l.fund, reporting.label('fund', l.fund) AS fund_label, l.fund_code,
       l.status, reporting.label('ledger_status', l.status) AS status_label,
       l.closed_through, l.entry_count, reporting.amount(l.available_minor, 'USD') AS available_usd,
       l.created_at, l.updated_at
  FROM public.ledgers l
  JOIN public.offices o ON o.id = l.office_id;
COMMENT ON VIEW reporting.ledgers IS 'Expense ledgers (office, fiscal year, fund) with their available balance in USD.';

CREATE VIEW reporting.ledger_entries AS
SELECT e.id, e.ledger_id, o.code AS office_code, o.member_state, l.fiscal_year,
       l.fund, reporting.label('fund', l.fund) AS fund_label, l.fund_code,
       e.seq, e.kind, reporting.label('entry_kind', e.kind) AS kind_label,
       e.category, reporting.label('category', e.category) AS category_label,
       e.entry_date, e.description, e.reference,
       e.project_id, p.code AS project_code,
       e.payee_agency_id, reporting.text_any(a.name) AS payee_agency_name,
       reporting.amount(e.amount_minor, e.currency) AS amount, e.currency,
       reporting.amount(e.usd_minor, 'USD') AS amount_usd,
       reporting.amount(e.effect_minor, 'USD') AS effect_usd,
       CASE WHEN e.category IS NULL THEN 0::numeric ELSE reporting.amount(-e.effect_minor, 'USD') END AS spent_usd,
       e.reverses_entry_id, e.created_at
  FROM public.ledger_entries e
  JOIN public.ledgers l ON l.id = e.ledger_id
  JOIN public.offices o ON o.id = l.office_id
  LEFT JOIN public.projects p ON p.id = e.project_id
  LEFT JOIN public.executing_agencies a ON a.id = e.payee_agency_id;
COMMENT ON VIEW reporting.ledger_entries IS 'Every ledger entry with its office, fund, fiscal year and project codes; spent_usd is its signed contribution to net spending.';

CREATE VIEW reporting.spending_daily AS
SELECT t.ledger_id, o.code AS office_code, o.member_state, l.fiscal_year,
       l.fund, reporting.label('fund', l.fund) AS fund_label, l.fund_code,
       t.entry_date, date_trunc('month', t.entry_date)::date AS month,
       t.kind, reporting.label('entry_kind', t.kind) AS kind_label,
       nullif(t.category, '') AS category, reporting.label('category', t.category) AS category_label,
       reporting.amount(t.usd_minor, 'USD') AS gross_usd,
       reporting.amount(t.effect_minor, 'USD') AS effect_usd,
       CASE WHEN t.category = '' THEN 0::numeric ELSE reporting.amount(-t.effect_minor, 'USD') END AS spent_usd,
       t.entries
  FROM public.ledger_daily_totals t
  JOIN public.ledgers l ON l.id = t.ledger_id
  JOIN public.offices o ON o.id = l.office_id;
COMMENT ON VIEW reporting.spending_daily IS 'Totals per ledger, day, entry kind and category (kept with every entry).';

CREATE VIEW reporting.spending_monthly AS
SELECT t.ledger_id, o.code AS office_code, o.member_state, l.fiscal_year,
       l.fund, reporting.label('fund', l.fund) AS fund_label, l.fund_code,
       date_trunc('month', t.entry_date)::date AS month,
       t.category, reporting.label('category', t.category) AS category_label,
       reporting.amount(-sum(t.effect_minor)::bigint, 'USD') AS spent_usd,
       sum(t.entries)::bigint AS entries
  FROM public.ledger_daily_totals t
  JOIN public.ledgers l ON l.id = t.ledger_id
  JOIN public.offices o ON o.id = l.office_id
 WHERE t.category <> ''
 GROUP BY t.ledger_id, o.code, o.member_state, l.fiscal_year, l.fund, l.fund_code,
          date_trunc('month', t.entry_date), t.category;
COMMENT ON VIEW reporting.spending_monthly IS 'Net spending (expenses - refunds, net of reversals) in USD per ledger, month and category.';

CREATE VIEW reporting.project_spending_monthly AS
SELECT t.project_id, p.code AS project_code, p.pillar, d.code AS department_code,
       t.ledger_id, o.code AS office_code, o.member_state, l.fiscal_year,
       l.fund, reporting.label('fund', l.fund) AS fund_label, l.fund_code,
       date_trunc('month', t.entry_date)::date AS month,
       t.category, reporting.label('category', t.category) AS category_label,
       reporting.amount(-sum(t.effect_minor)::bigint, 'USD') AS spent_usd,
       sum(t.entries)::bigint AS entries
  FROM public.project_daily_totals t
  JOIN public.projects p ON p.id = t.project_id
  JOIN public.departments d ON d.id = p.department_id
  JOIN public.ledgers l ON l.id = t.ledger_id
  JOIN public.offices o ON o.id = l.office_id
 WHERE t.category <> ''
 GROUP BY t.project_id, p.code, p.pillar, d.code, t.ledger_id, o.code, o.member_state, l.fiscal_year,
          l.fund, l.fund_code, date_trunc('month', t.entry_date), t.category;
COMMENT ON VIEW reporting.project_spending_monthly IS 'Net spending in USD per project, ledger, month and category.';

-- The read-only role. Roles belong to the whole server, so it is created only when it
-- does not exist yet, and only when the migrating user may create roles (otherwise a
-- database administrator creates it and re-runs the GRANTs below; see README.md).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ogsms_reporting') THEN
    CREATE ROLE ogsms_reporting NOLOGIN;
  END IF;
EXCEPTION
  WHEN insufficient_privilege THEN
    RAISE NOTICE 'ogsms_reporting was not created: the migrating user may not create roles (see README.md)';
  WHEN duplicate_object OR unique_violation THEN
    NULL; -- created meanwhile by another database's migration
END
$$;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ogsms_reporting') THEN
    EXECUTE 'GRANT USAGE ON SCHEMA reporting TO ogsms_reporting';
    EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO ogsms_reporting';
  END IF;
EXCEPTION
  WHEN insufficient_privilege THEN
    RAISE NOTICE 'privileges of ogsms_reporting were not granted (see README.md)';
END
$$;
