-- Foundation: shared helpers, reference data (member states, departments) and offices.

-- A localized text is a JSON object with at least one of en/es/fr/pt, each a non-empty
-- string, and no other keys.
CREATE FUNCTION is_localized_text(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_typeof(v) = 'object'
     AND v <> '{}'::jsonb
     AND NOT EXISTS (
       SELECT 1 FROM jsonb_each(v) AS e(k, val)
       WHERE k NOT IN ('en', 'es', 'fr', 'pt')
          OR jsonb_typeof(val) <> 'string'
          OR btrim(val #>> '{}') = ''
     )
$$;

-- updated_at is set by the database, from the clock of the statement, on every update.
CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := clock_timestamp();
  NEW.version := OLD.version + 1;
  RETURN NEW;
END
$$;

CREATE TABLE member_states (
  code char(2) PRIMARY KEY CHECK (code ~ '^[A-Z]{2}$'),
  alpha3 char(3) NOT NULL UNIQUE CHECK (alpha3 ~ '^[A-Z]{3}$'),
  numeric_code char(3) NOT NULL UNIQUE CHECK (numeric_code ~ '^[0-9]{3}$'),
  name jsonb NOT NULL CHECK (is_localized_text(name)),
  currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$')
);

CREATE TABLE departments (
  id uuid PRIMARY KEY,
  code text NOT NULL CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,15}$'),
  kind text NOT NULL CHECK (kind IN ('secretariat', 'department')),
  parent_id uuid REFERENCES departments (id),
  name jsonb NOT NULL CHECK (is_localized_text(name)),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT departments_code_key UNIQUE (code),
  CONSTRAINT departments_parent_not_self CHECK (parent_id <> id)
);
CREATE INDEX departments_updated_at_idx ON departments (updated_at, id);
CREATE TRIGGER departments_touch BEFORE UPDATE ON departments
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE offices (
  id uuid PRIMARY KEY,
  code text NOT NULL CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
  kind text NOT NULL CHECK (kind IN ('country_office', 'coordinating_office')),
  member_state char(2) NOT NULL REFERENCES member_states (code),
  name jsonb NOT NULL CHECK (is_localized_text(name)),
  city text NOT NULL CHECK (btrim(city) <> ''),
  address text,
  email text,
  phone text,
  website text,
  opened_on date NOT NULL,
  closed_on date,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  version bigint NOT NULL DEFAULT 1,
  CONSTRAINT offices_code_key UNIQUE (code),
  CONSTRAINT offices_closed_after_opened CHECK (closed_on IS NULL OR closed_on >= opened_on),
  CONSTRAINT offices_closed_has_date CHECK ((status = 'closed') = (closed_on IS NOT NULL))
);
-- At most one coordinating office.
CREATE UNIQUE INDEX offices_one_coordinating_office ON offices (kind)
  WHERE kind = 'coordinating_office';
CREATE INDEX offices_member_state_idx ON offices (member_state, code);
CREATE INDEX offices_updated_at_idx ON offices (updated_at, id);
CREATE TRIGGER offices_touch BEFORE UPDATE ON offices
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
