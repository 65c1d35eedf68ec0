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
diesel::allow_tables_to_appear_in_same_query!(
    member_states,
    departments,
    offices,
    service_accounts,
    revoked_tokens,
    audit_events
);

diesel::table! {
    service_accounts (id) {
        id -> Uuid,
        client_id -> Text,
        name -> Text,
        role -> Text,
        office_id -> Nullable<Uuid>,
        department_id -> Nullable<Uuid>,
        secret_hash -> Text,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    revoked_tokens (jti) {
        jti -> Text,
        expires_at -> Timestamptz,
        revoked_at -> Timestamptz,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Uuid,
        occurred_at -> Timestamptz,
        actor_sub -> Text,
        actor_role -> Text,
        action -> Text,
        resource_type -> Text,
        resource_id -> Text,
        request_id -> Nullable<Text>,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
    }
}
