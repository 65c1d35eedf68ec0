DELETE FROM member_states;
