-- Expense ledgers: one per office, fiscal year and fund; append-only hash-chained
-- entries; period closings; exchange rates; idempotency keys.

CREATE TABLE exchange_rates (
  id uuid PRIMARY KEY,
  currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$' AND currency <> 'USD'),
  effective_on date NOT NULL,
  -- US dollars per one unit of the currency, scaled by 10^12 (exact decimal).
  usd_per_unit_e12 bigint NOT NULL CHECK (usd_per_unit_e12 > 0),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT exchange_rates_currency_date_key UNIQUE (currency, effective_on)
);

CREATE TABLE ledgers (
  id uuid PRIMARY KEY,
  office_id uuid NOT NULL REFERENCES offices (id),
  fiscal_year integer NOT NULL CHECK (fiscal_year BETWEEN 1948 AND 2200),
  fund text NOT NULL CHECK (fund IN ('regular_fund', 'specific_fund', 'trust_fund', 'development_cooperation_fund', 'indirect_cost_recovery')),
  -- The donor agreement of a specific or trust fund.
  fund_code text,
  currency char(3) NOT NULL DEFAULT 'USD' CHECK (currency = 'USD'),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  -- Entries dated on or before this day are frozen.
  closed_through date,
  -- Running state, maintained in the transaction of every entry.
  entry_count bigint NOT NULL DEFAULT 0 CHECK (entry_count >= 0),
  head_hash text NOT NULL DEFAULT repeat('0', 64),
  available_minor bigint NOT NULL DEFAULT 0 CHECK (available_minor >= 0),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT ledgers_fund_code_for_earmarked CHECK (
    (fund IN ('specific_fund', 'trust_fund')) = (fund_code IS NOT NULL))
);
CREATE UNIQUE INDEX ledgers_office_year_fund_key ON ledgers (office_id, fiscal_year, fund, coalesce(fund_code, ''));
CREATE INDEX ledgers_updated_at_idx ON ledgers (updated_at, id);
CREATE TRIGGER ledgers_touch BEFORE UPDATE ON ledgers
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE ledger_entries (
  id uuid PRIMARY KEY,
  ledger_id uuid NOT NULL REFERENCES ledgers (id),
  seq bigint NOT NULL CHECK (seq >= 1),
  kind text NOT NULL CHECK (kind IN ('allocation', 'expense', 'refund', 'adjustment', 'reversal')),
  category text CHECK (category IN ('personnel', 'travel', 'rent', 'utilities', 'communications', 'supplies',
    'equipment', 'contractual_services', 'project_disbursement', 'bank_charges', 'other')),
  entry_date date NOT NULL,
  description text NOT NULL CHECK (btrim(description) <> ''),
  reference text,
  project_id uuid REFERENCES projects (id),
  payee_agency_id uuid REFERENCES executing_agencies (id),
  -- The amount as posted, in integer minor units of its currency.
  amount_minor bigint NOT NULL CHECK (amount_minor > 0 AND amount_minor <= 1000000000000000),
  currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  -- The rate used (USD per unit, scaled by 10^12), when the currency is not USD.
  usd_per_unit_e12 bigint CHECK (usd_per_unit_e12 > 0),
  usd_minor bigint NOT NULL CHECK (usd_minor > 0),
  -- Signed effect on the available balance, in USD minor units.
  effect_minor bigint NOT NULL CHECK (effect_minor <> 0),
  reverses_entry_id uuid REFERENCES ledger_entries (id),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL,
  prev_hash text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  CONSTRAINT ledger_entries_ledger_seq_key UNIQUE (ledger_id, seq),
  CONSTRAINT ledger_entries_reversed_once UNIQUE (reverses_entry_id),
  CONSTRAINT ledger_entries_reversal_names_entry CHECK ((kind = 'reversal') = (reverses_entry_id IS NOT NULL)),
  CONSTRAINT ledger_entries_category_of_spending CHECK (
    (kind IN ('expense', 'refund')) = (category IS NOT NULL) OR kind IN ('adjustment', 'reversal')),
  CONSTRAINT ledger_entries_rate_when_foreign CHECK ((currency = 'USD') = (usd_per_unit_e12 IS NULL)),
  CONSTRAINT ledger_entries_usd_exact CHECK (currency <> 'USD' OR usd_minor = amount_minor)
);
CREATE INDEX ledger_entries_project_idx ON ledger_entries (project_id, entry_date) WHERE project_id IS NOT NULL;
CREATE INDEX ledger_entries_ledger_date_idx ON ledger_entries (ledger_id, entry_date, seq);
CREATE INDEX ledger_entries_created_idx ON ledger_entries (created_at, id);

CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION reject_change();

-- Daily totals per kind and category, maintained with every entry: balances as of a
-- date read these (at most a few thousand rows a year), never the entries.
CREATE TABLE ledger_daily_totals (
  ledger_id uuid NOT NULL REFERENCES ledgers (id),
  entry_date date NOT NULL,
  kind text NOT NULL,
  category text NOT NULL DEFAULT '',
  effect_minor bigint NOT NULL DEFAULT 0,
  usd_minor bigint NOT NULL DEFAULT 0,
  entries bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (ledger_id, entry_date, kind, category)
);

CREATE TABLE ledger_closings (
  id uuid PRIMARY KEY,
  ledger_id uuid NOT NULL REFERENCES ledgers (id),
  closed_through date NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT ledger_closings_ledger_date_key UNIQUE (ledger_id, closed_through)
);

-- Idempotency keys of POSTs, per caller, written in the transaction of the entry.
CREATE TABLE idempotency_keys (
  caller_sub text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  response_status smallint NOT NULL,
  response_body bytea NOT NULL,
  location text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (caller_sub, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
