-- Member states get `updated_at`, so that pollers can pull them with `updated_since`
-- like every other list: the rows as seeded count as changed when this migration ran,
-- and a later change (by a migration) moves the timestamp.
ALTER TABLE member_states
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT clock_timestamp();

CREATE FUNCTION member_states_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END
$$;

CREATE TRIGGER member_states_touch BEFORE UPDATE ON member_states
    FOR EACH ROW EXECUTE FUNCTION member_states_touch();
