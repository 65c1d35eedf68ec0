-- Administrative Memoranda of the General Secretariat, each office's acknowledgement and
-- compliance; and the offices' events and accomplishments (issue #21, sections 2 and 3).

CREATE TABLE memoranda (
  id uuid PRIMARY KEY,
  -- e.g. 'AM/2026/07', unique.
  number text NOT NULL CHECK (number ~ '^[A-Za-z0-9][A-Za-z0-9/ .-]{0,39}$'),
  title jsonb NOT NULL CHECK (is_localized_text(title)),
  body jsonb NOT NULL CHECK (is_localized_text(body)),
  issued_on date NOT NULL,
  -- true: every country office not closed on the issue date; false: memorandum_offices.
  applies_to_all boolean NOT NULL,
  deadline date,
  -- What each office must give as evidence of compliance; NULL: acknowledgement only.
  evidence_required jsonb CHECK (evidence_required IS NULL OR is_localized_text(evidence_required)),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT memoranda_number_key UNIQUE (number),
  CONSTRAINT memoranda_deadline_after_issue CHECK (deadline IS NULL OR deadline >= issued_on)
);
CREATE INDEX memoranda_updated_at_idx ON memoranda (updated_at, id);
CREATE INDEX memoranda_issued_on_idx ON memoranda (issued_on, id);
CREATE TRIGGER memoranda_touch BEFORE UPDATE ON memoranda
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE memorandum_offices (
  memorandum_id uuid NOT NULL REFERENCES memoranda (id) ON DELETE CASCADE,
  office_id uuid NOT NULL REFERENCES offices (id),
  PRIMARY KEY (memorandum_id, office_id)
);
CREATE INDEX memorandum_offices_office_idx ON memorandum_offices (office_id, memorandum_id);

-- One office's answer to a memorandum: acknowledged, then (where evidence is required)
-- compliance submitted, accepted or returned by the Coordinating Office (a returned one
-- is submitted again).
CREATE TABLE memorandum_responses (
  id uuid PRIMARY KEY,
  memorandum_id uuid NOT NULL REFERENCES memoranda (id),
  office_id uuid NOT NULL REFERENCES offices (id),
  status text NOT NULL CHECK (status IN ('acknowledged', 'submitted', 'accepted', 'returned')),
  acknowledged_by text NOT NULL,
  acknowledged_at timestamptz NOT NULL,
  compliance_text text,
  compliance_attachments jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(compliance_attachments) = 'array'),
  complied_on date,
  submitted_by text,
  submitted_at timestamptz,
  review_reason text,
  reviewed_by text,
  reviewed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT memorandum_responses_memorandum_office_key UNIQUE (memorandum_id, office_id),
  CONSTRAINT memorandum_responses_submitted_has_compliance CHECK (
    status = 'acknowledged' OR (compliance_text IS NOT NULL AND complied_on IS NOT NULL AND submitted_at IS NOT NULL)),
  CONSTRAINT memorandum_responses_returned_has_reason CHECK (status <> 'returned' OR review_reason IS NOT NULL)
);
CREATE INDEX memorandum_responses_office_idx ON memorandum_responses (office_id, memorandum_id);
CREATE INDEX memorandum_responses_updated_at_idx ON memorandum_responses (updated_at, id);
CREATE TRIGGER memorandum_responses_touch BEFORE UPDATE ON memorandum_responses
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE accomplishments (
  id uuid PRIMARY KEY,
  office_id uuid NOT NULL REFERENCES offices (id),
  occurred_on date NOT NULL,
  kind text NOT NULL CHECK (kind IN ('event', 'project_milestone', 'accomplishment', 'visit', 'agreement_signed')),
  title jsonb NOT NULL CHECK (is_localized_text(title)),
  body jsonb NOT NULL CHECK (is_localized_text(body)),
  -- draft -> submitted -> published; a submitted item may be returned (then edited and
  -- submitted again).
  status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'submitted', 'returned', 'published')),
  return_reason text,
  created_by text NOT NULL,
  submitted_at timestamptz,
  published_at timestamptz,
  published_by text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT accomplishments_published_has_date CHECK ((status = 'published') = (published_at IS NOT NULL)),
  CONSTRAINT accomplishments_returned_has_reason CHECK (status <> 'returned' OR return_reason IS NOT NULL)
);
CREATE INDEX accomplishments_office_idx ON accomplishments (office_id, occurred_on);
CREATE INDEX accomplishments_feed_idx ON accomplishments (occurred_on DESC, id DESC) WHERE status = 'published';
CREATE INDEX accomplishments_updated_at_idx ON accomplishments (updated_at, id);
CREATE TRIGGER accomplishments_touch BEFORE UPDATE ON accomplishments
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- What an item concerns. A linked project or agency cannot be deleted (409).
CREATE TABLE accomplishment_projects (
  accomplishment_id uuid NOT NULL REFERENCES accomplishments (id) ON DELETE CASCADE,
  project_id uuid NOT NULL REFERENCES projects (id),
  PRIMARY KEY (accomplishment_id, project_id)
);
CREATE INDEX accomplishment_projects_project_idx ON accomplishment_projects (project_id, accomplishment_id);
CREATE TABLE accomplishment_mandates (
  accomplishment_id uuid NOT NULL REFERENCES accomplishments (id) ON DELETE CASCADE,
  mandate_id uuid NOT NULL REFERENCES mandates (id),
  PRIMARY KEY (accomplishment_id, mandate_id)
);
CREATE INDEX accomplishment_mandates_mandate_idx ON accomplishment_mandates (mandate_id, accomplishment_id);
CREATE TABLE accomplishment_agencies (
  accomplishment_id uuid NOT NULL REFERENCES accomplishments (id) ON DELETE CASCADE,
  agency_id uuid NOT NULL REFERENCES executing_agencies (id),
  PRIMARY KEY (accomplishment_id, agency_id)
);
CREATE INDEX accomplishment_agencies_agency_idx ON accomplishment_agencies (agency_id, accomplishment_id);

-- Reporting: labels and views.
INSERT INTO reporting.labels (domain, code, label_en, label_es) VALUES
  ('compliance_status', 'pending', 'Pending', 'Pendiente'),
  ('compliance_status', 'acknowledged', 'Acknowledged', 'Acusado recibo'),
  ('compliance_status', 'submitted', 'Submitted', 'Presentado'),
  ('compliance_status', 'accepted', 'Accepted', 'Aceptado'),
  ('compliance_status', 'returned', 'Returned', 'Devuelto'),
  ('accomplishment_kind', 'event', 'Event', 'Evento'),
  ('accomplishment_kind', 'project_milestone', 'Project milestone', 'Hito de proyecto'),
  ('accomplishment_kind', 'accomplishment', 'Accomplishment', 'Logro'),
  ('accomplishment_kind', 'visit', 'Visit', 'Visita'),
  ('accomplishment_kind', 'agreement_signed', 'Agreement signed', 'Acuerdo firmado'),
  ('accomplishment_status', 'draft', 'Draft', 'Borrador'),
  ('accomplishment_status', 'submitted', 'Submitted', 'Presentado'),
  ('accomplishment_status', 'returned', 'Returned', 'Devuelto'),
  ('accomplishment_status', 'published', 'Published', 'Publicado');

-- Which offices a memorandum applies to, and each one's answer (pending without one);
-- the API's compliance view (`GET /v1/memoranda/compliance`) reads it too.
CREATE VIEW public.memorandum_compliance AS
SELECT m.id AS memorandum_id, o.id AS office_id, r.id AS response_id,
       coalesce(r.status, 'pending') AS status,
       (m.deadline IS NOT NULL AND m.deadline < current_date AND
        CASE WHEN m.evidence_required IS NULL THEN r.id IS NULL
             ELSE coalesce(r.status, 'pending') NOT IN ('submitted', 'accepted') END) AS overdue
  FROM memoranda m
  JOIN offices o ON (m.applies_to_all AND o.kind = 'country_office'
                     AND (o.closed_on IS NULL OR o.closed_on > m.issued_on))
                 OR (NOT m.applies_to_all AND EXISTS (
                     SELECT 1 FROM memorandum_offices mo WHERE mo.memorandum_id = m.id AND mo.office_id = o.id))
  LEFT JOIN memorandum_responses r ON r.memorandum_id = m.id AND r.office_id = o.id;

CREATE VIEW reporting.memoranda_compliance AS
SELECT m.id AS memorandum_id, m.number AS memorandum_number, reporting.text_any(m.title) AS memorandum_title,
       m.issued_on, m.deadline, (m.evidence_required IS NOT NULL) AS evidence_required,
       c.office_id, o.code AS office_code, o.member_state,
       c.status, reporting.label('compliance_status', c.status) AS status_label, c.overdue,
       r.acknowledged_by, r.acknowledged_at, r.complied_on, r.submitted_at,
       r.review_reason, r.reviewed_by, r.reviewed_at
  FROM public.memorandum_compliance c
  JOIN public.memoranda m ON m.id = c.memorandum_id
  JOIN public.offices o ON o.id = c.office_id
  LEFT JOIN public.memorandum_responses r ON r.id = c.response_id;
COMMENT ON VIEW reporting.memoranda_compliance IS 'Administrative Memoranda x the offices they apply to: acknowledgement and compliance status (pending when the office has not answered), overdue when the deadline passed without it.';

CREATE VIEW reporting.accomplishments AS
SELECT a.id, a.office_id, o.code AS office_code, o.member_state, a.occurred_on,
       a.kind, reporting.label('accomplishment_kind', a.kind) AS kind_label,
       reporting.text_any(a.title) AS title, a.title->>'en' AS title_en, a.title->>'es' AS title_es,
       a.status, reporting.label('accomplishment_status', a.status) AS status_label,
       a.published_at,
       (SELECT string_agg(p.code, ',' ORDER BY p.code) FROM public.accomplishment_projects ap
          JOIN public.projects p ON p.id = ap.project_id WHERE ap.accomplishment_id = a.id) AS project_codes,
       (SELECT string_agg(m.reference, '; ' ORDER BY m.reference) FROM public.accomplishment_mandates am
          JOIN public.mandates m ON m.id = am.mandate_id WHERE am.accomplishment_id = a.id) AS mandate_references,
       a.created_at, a.updated_at
  FROM public.accomplishments a
  JOIN public.offices o ON o.id = a.office_id;
COMMENT ON VIEW reporting.accomplishments IS 'Events and accomplishments of the offices (all statuses; published ones are the public feed), with the codes of the projects and the references of the mandates they concern.';

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ogsms_reporting') THEN
    EXECUTE 'GRANT SELECT ON reporting.memoranda_compliance, reporting.accomplishments TO ogsms_reporting';
  END IF;
EXCEPTION
  WHEN insufficient_privilege THEN
    RAISE NOTICE 'privileges of ogsms_reporting were not granted (see README.md)';
END
$$;
