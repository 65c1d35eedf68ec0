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

diesel::table! {
    executing_agencies (id) {
        id -> Uuid,
        name -> Jsonb,
        acronym -> Nullable<Text>,
        member_state -> Bpchar,
        kind -> Text,
        registration_number -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        website -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    mandates (id) {
        id -> Uuid,
        reference -> Text,
        issuing_body -> Text,
        document_kind -> Text,
        adopted_on -> Date,
        pillar -> Text,
        title -> Jsonb,
        summary -> Nullable<Jsonb>,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    mandate_assignments (id) {
        id -> Uuid,
        mandate_id -> Uuid,
        office_id -> Uuid,
        due_on -> Nullable<Date>,
        status -> Text,
        progress_notes -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    appointments (id) {
        id -> Uuid,
        office_id -> Uuid,
        person_name -> Text,
        email -> Nullable<Text>,
        position -> Text,
        starts_on -> Date,
        ends_on -> Nullable<Date>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    projects (id) {
        id -> Uuid,
        code -> Text,
        title -> Jsonb,
        description -> Nullable<Jsonb>,
        office_id -> Uuid,
        department_id -> Uuid,
        pillar -> Text,
        status -> Text,
        starts_on -> Date,
        ends_on -> Nullable<Date>,
        budget_amount -> Int8,
        budget_currency -> Bpchar,
        funding_source -> Text,
        donor -> Nullable<Text>,
        donor_agreement -> Nullable<Text>,
        search_text -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    project_mandates (project_id, mandate_id) {
        project_id -> Uuid,
        mandate_id -> Uuid,
    }
}

diesel::table! {
    project_agencies (project_id, agency_id) {
        project_id -> Uuid,
        agency_id -> Uuid,
        role -> Text,
    }
}

diesel::table! {
    monitoring_reports (id) {
        id -> Uuid,
        project_id -> Uuid,
        period -> Text,
        period_start -> Date,
        period_end -> Date,
        physical_progress -> Int2,
        risk_level -> Text,
        narrative -> Jsonb,
        created_by -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::joinable!(offices -> member_states (member_state));
diesel::joinable!(executing_agencies -> member_states (member_state));
diesel::joinable!(mandate_assignments -> mandates (mandate_id));
diesel::joinable!(mandate_assignments -> offices (office_id));
diesel::joinable!(appointments -> offices (office_id));
diesel::joinable!(projects -> offices (office_id));
diesel::joinable!(projects -> departments (department_id));
diesel::joinable!(project_mandates -> projects (project_id));
diesel::joinable!(project_mandates -> mandates (mandate_id));
diesel::joinable!(project_agencies -> projects (project_id));
diesel::joinable!(project_agencies -> executing_agencies (agency_id));
diesel::joinable!(monitoring_reports -> projects (project_id));

diesel::allow_tables_to_appear_in_same_query!(
    member_states,
    departments,
    offices,
    service_accounts,
    revoked_tokens,
    audit_events,
    executing_agencies,
    mandates,
    mandate_assignments,
    appointments,
    projects,
    project_mandates,
    project_agencies,
    monitoring_reports,
);
