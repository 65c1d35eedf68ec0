DROP TABLE offices;
DROP TABLE departments;
DROP TABLE member_states;
DROP FUNCTION touch_updated_at();
DROP FUNCTION is_localized_text(jsonb);
