DROP TRIGGER member_states_touch ON member_states;
DROP FUNCTION member_states_touch();
ALTER TABLE member_states DROP COLUMN updated_at;
