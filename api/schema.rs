//! Diesel's view of the tables (kept by hand in step with `migrations/`).

diesel::table! {
    member_states (code) {
        code -> Bpchar,
        alpha3 -> Bpchar,
        numeric_code -> Bpchar,
        name -> Jsonb,
        currency -> Bpchar,
    }
}

diesel::table! {
    departments (id) {
        id -> Uuid,
        code -> Text,
        kind -> Text,
        parent_id -> Nullable<Uuid>,
        name -> Jsonb,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    offices (id) {
        id -> Uuid,
        code -> Text,
        kind -> Text,
        member_state -> Bpchar,
        name -> Jsonb,
        city -> Text,
        address -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        website -> Nullable<Text>,
        opened_on -> Date,
        closed_on -> Nullable<Date>,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::joinable!(offices -> member_states (member_state));
diesel::allow_tables_to_appear_in_same_query!(member_states, departments, offices);
