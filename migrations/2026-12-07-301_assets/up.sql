-- Material resources of the offices (issue #21, section 1): an inventory of equipment,
-- vehicles and furniture, transfers between offices, disposals that keep the record,
-- yearly physical counts, and straight-line depreciation by category
-- (api/resources/assets/).

-- The categories and their useful lives: the depreciation reads them from here, so the
-- API and the reporting view never disagree.
CREATE TABLE asset_categories (
  code text PRIMARY KEY,
  useful_life_months integer NOT NULL CHECK (useful_life_months > 0)
);
INSERT INTO asset_categories (code, useful_life_months) VALUES
  ('vehicles', 60),
  ('it_equipment', 36),
  ('communications_equipment', 60),
  ('office_equipment', 60),
  ('furniture', 120),
  ('other', 60);

CREATE TABLE assets (
  id uuid PRIMARY KEY,
  office_id uuid NOT NULL REFERENCES offices (id),
  tag_number text NOT NULL CHECK (btrim(tag_number) <> ''),
  category text NOT NULL REFERENCES asset_categories (code),
  description text NOT NULL CHECK (btrim(description) <> ''),
  acquired_on date NOT NULL,
  cost_amount bigint NOT NULL CONSTRAINT assets_cost_amount_check CHECK (cost_amount >= 0),
  cost_currency char(3) NOT NULL,
  ledger_id uuid REFERENCES ledgers (id),
  entry_id uuid REFERENCES ledger_entries (id),
  custodian_id uuid REFERENCES appointments (id),
  location text,
  condition text NOT NULL CHECK (condition IN ('new', 'good', 'fair', 'poor', 'unserviceable')),
  status text NOT NULL CHECK (status IN ('in_use', 'in_storage', 'under_repair', 'transferred', 'disposed')),
  disposed_on date,
  disposal_reason text CHECK (disposal_reason IN ('sold', 'donated', 'scrapped', 'lost', 'stolen', 'written_off')),
  disposal_proceeds_amount bigint CHECK (disposal_proceeds_amount >= 0),
  disposal_proceeds_currency char(3),
  disposal_note text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT assets_entry_needs_ledger CHECK (entry_id IS NULL OR ledger_id IS NOT NULL),
  CONSTRAINT assets_disposal_complete CHECK (
    (status = 'disposed') = (disposed_on IS NOT NULL AND disposal_reason IS NOT NULL)),
  CONSTRAINT assets_disposed_after_acquired CHECK (disposed_on IS NULL OR disposed_on >= acquired_on)
);
-- A tag number is unique across the organisation, whatever its case.
CREATE UNIQUE INDEX assets_tag_number_key ON assets (upper(tag_number));
CREATE INDEX assets_office_idx ON assets (office_id, tag_number);
CREATE INDEX assets_updated_at_idx ON assets (updated_at, id);
CREATE INDEX assets_custodian_idx ON assets (custodian_id) WHERE custodian_id IS NOT NULL;
CREATE TRIGGER assets_touch BEFORE UPDATE ON assets
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Transfers between offices: append-only history, read by both offices.
CREATE TABLE asset_transfers (
  id uuid PRIMARY KEY,
  asset_id uuid NOT NULL REFERENCES assets (id),
  from_office_id uuid NOT NULL REFERENCES offices (id),
  to_office_id uuid NOT NULL REFERENCES offices (id),
  transferred_on date NOT NULL,
  reason text NOT NULL CHECK (btrim(reason) <> ''),
  from_custodian_id uuid REFERENCES appointments (id),
  to_custodian_id uuid REFERENCES appointments (id),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT asset_transfers_other_office CHECK (from_office_id <> to_office_id)
);
CREATE INDEX asset_transfers_asset_idx ON asset_transfers (asset_id, transferred_on, created_at);
CREATE INDEX asset_transfers_from_idx ON asset_transfers (from_office_id, transferred_on, id);
CREATE INDEX asset_transfers_to_idx ON asset_transfers (to_office_id, transferred_on, id);
CREATE FUNCTION asset_transfers_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'asset transfers are append-only' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER asset_transfers_no_change BEFORE UPDATE OR DELETE ON asset_transfers
  FOR EACH ROW EXECUTE FUNCTION asset_transfers_append_only();
CREATE TRIGGER asset_transfers_no_truncate BEFORE TRUNCATE ON asset_transfers
  FOR EACH STATEMENT EXECUTE FUNCTION asset_transfers_append_only();

-- Physical counts: one open count per office at a time; its items are the assets the
-- office held when it was opened.
CREATE TABLE asset_counts (
  id uuid PRIMARY KEY,
  office_id uuid NOT NULL REFERENCES offices (id),
  counted_on date NOT NULL,
  note text,
  status text NOT NULL CHECK (status IN ('open', 'closed')),
  closed_on date,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT asset_counts_closed_complete CHECK ((status = 'closed') = (closed_on IS NOT NULL)),
  CONSTRAINT asset_counts_closed_after_counted CHECK (closed_on IS NULL OR closed_on >= counted_on)
);
CREATE UNIQUE INDEX asset_counts_one_open ON asset_counts (office_id) WHERE status = 'open';
CREATE INDEX asset_counts_office_idx ON asset_counts (office_id, counted_on, id);
CREATE TRIGGER asset_counts_touch BEFORE UPDATE ON asset_counts
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE asset_count_items (
  count_id uuid NOT NULL REFERENCES asset_counts (id),
  asset_id uuid NOT NULL REFERENCES assets (id),
  -- What the register said when the count was opened.
  expected_location text,
  expected_condition text NOT NULL,
  result text NOT NULL DEFAULT 'pending' CHECK (result IN ('pending', 'found', 'missing')),
  found_location text,
  found_condition text CHECK (found_condition IN ('new', 'good', 'fair', 'poor', 'unserviceable')),
  note text,
  counted_at timestamptz,
  PRIMARY KEY (count_id, asset_id)
);

-- Labels of the new codes for the reporting schema (the API's labels; a test keeps
-- them equal).
INSERT INTO reporting.labels (domain, code, label_en, label_es) VALUES
  ('asset_category', 'vehicles', 'Vehicles', 'Vehículos'),
  ('asset_category', 'it_equipment', 'IT equipment', 'Equipo informático'),
  ('asset_category', 'communications_equipment', 'Communications equipment', 'Equipo de comunicaciones'),
  ('asset_category', 'office_equipment', 'Office equipment', 'Equipo de oficina'),
  ('asset_category', 'furniture', 'Furniture', 'Mobiliario'),
  ('asset_category', 'other', 'Other', 'Otros'),
  ('asset_status', 'in_use', 'In use', 'En uso'),
  ('asset_status', 'in_storage', 'In storage', 'En depósito'),
  ('asset_status', 'under_repair', 'Under repair', 'En reparación'),
  ('asset_status', 'transferred', 'Transferred', 'Transferido'),
  ('asset_status', 'disposed', 'Disposed', 'Dado de baja'),
  ('asset_condition', 'new', 'New', 'Nuevo'),
  ('asset_condition', 'good', 'Good', 'Bueno'),
  ('asset_condition', 'fair', 'Fair', 'Regular'),
  ('asset_condition', 'poor', 'Poor', 'Malo'),
  ('asset_condition', 'unserviceable', 'Unserviceable', 'Inservible'),
  ('disposal_reason', 'sold', 'Sold', 'Vendido'),
  ('disposal_reason', 'donated', 'Donated', 'Donado'),
  ('disposal_reason', 'scrapped', 'Scrapped', 'Desechado'),
  ('disposal_reason', 'lost', 'Lost', 'Extraviado'),
  ('disposal_reason', 'stolen', 'Stolen', 'Robado'),
  ('disposal_reason', 'written_off', 'Written off', 'Dado de baja contablemente');

-- The inventory for BI tools, with today's straight-line book value (no residual
-- value; a disposed asset's book value is that of its disposal date).
CREATE VIEW reporting.assets AS
SELECT a.id, a.tag_number, a.office_id, o.code AS office_code, o.member_state,
       a.category, reporting.label('asset_category', a.category) AS category_label,
       c.useful_life_months,
       a.description, a.acquired_on,
       reporting.amount(a.cost_amount, a.cost_currency) AS cost_amount, a.cost_currency,
       a.ledger_id, l.fiscal_year AS ledger_fiscal_year, l.fund AS ledger_fund, a.entry_id,
       a.location,
       a.condition, reporting.label('asset_condition', a.condition) AS condition_label,
       a.status, reporting.label('asset_status', a.status) AS status_label,
       reporting.amount(
         a.cost_amount - floor(a.cost_amount::numeric
           * least(greatest(least(current_date, coalesce(a.disposed_on, current_date)) - a.acquired_on, 0),
                   (a.acquired_on + make_interval(months => c.useful_life_months))::date - a.acquired_on)
           / ((a.acquired_on + make_interval(months => c.useful_life_months))::date - a.acquired_on))::bigint,
         a.cost_currency) AS book_value_today,
       a.disposed_on, a.disposal_reason, reporting.label('disposal_reason', a.disposal_reason) AS disposal_reason_label,
       reporting.amount(a.disposal_proceeds_amount, a.disposal_proceeds_currency) AS disposal_proceeds_amount,
       a.disposal_proceeds_currency,
       (SELECT count(*) FROM public.asset_transfers t WHERE t.asset_id = a.id) AS transfers,
       a.created_at, a.updated_at
  FROM public.assets a
  JOIN public.offices o ON o.id = a.office_id
  JOIN public.asset_categories c ON c.code = a.category
  LEFT JOIN public.ledgers l ON l.id = a.ledger_id;
COMMENT ON VIEW reporting.assets IS 'The offices'' material resources (equipment, vehicles, furniture): tag, category, cost in its currency, custody location, condition, status, disposal, number of transfers, and today''s straight-line book value (no residual value).';
COMMENT ON COLUMN reporting.assets.book_value_today IS 'Cost less straight-line depreciation from acquired_on over the category''s useful life, to today or to the disposal date (rounded down to the minor unit, as the API).';

CREATE VIEW reporting.asset_transfers AS
SELECT t.id, t.asset_id, a.tag_number, t.from_office_id, f.code AS from_office_code,
       t.to_office_id, d.code AS to_office_code, t.transferred_on, t.reason, t.created_at
  FROM public.asset_transfers t
  JOIN public.assets a ON a.id = t.asset_id
  JOIN public.offices f ON f.id = t.from_office_id
  JOIN public.offices d ON d.id = t.to_office_id;
COMMENT ON VIEW reporting.asset_transfers IS 'Transfers of assets between offices (append-only history).';

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ogsms_reporting') THEN
    EXECUTE 'GRANT SELECT ON reporting.assets, reporting.asset_transfers TO ogsms_reporting';
  END IF;
EXCEPTION
  WHEN insufficient_privilege THEN
    RAISE NOTICE 'privileges of ogsms_reporting were not granted (see README.md)';
END
$$;
