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

diesel::table! {
    exchange_rates (id) {
        id -> Uuid,
        currency -> Bpchar,
        effective_on -> Date,
        usd_per_unit_e12 -> Int8,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    ledgers (id) {
        id -> Uuid,
        office_id -> Uuid,
        fiscal_year -> Int4,
        fund -> Text,
        fund_code -> Nullable<Text>,
        currency -> Bpchar,
        status -> Text,
        closed_through -> Nullable<Date>,
        entry_count -> Int8,
        head_hash -> Text,
        available_minor -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> Uuid,
        ledger_id -> Uuid,
        seq -> Int8,
        kind -> Text,
        category -> Nullable<Text>,
        entry_date -> Date,
        description -> Text,
        reference -> Nullable<Text>,
        project_id -> Nullable<Uuid>,
        payee_agency_id -> Nullable<Uuid>,
        amount_minor -> Int8,
        currency -> Bpchar,
        usd_per_unit_e12 -> Nullable<Int8>,
        usd_minor -> Int8,
        effect_minor -> Int8,
        reverses_entry_id -> Nullable<Uuid>,
        created_by -> Text,
        created_at -> Timestamptz,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    ledger_daily_totals (ledger_id, entry_date, kind, category) {
        ledger_id -> Uuid,
        entry_date -> Date,
        kind -> Text,
        category -> Text,
        effect_minor -> Int8,
        usd_minor -> Int8,
        entries -> Int8,
    }
}

diesel::table! {
    ledger_monthly_totals (ledger_id, month, kind, category) {
        ledger_id -> Uuid,
        month -> Date,
        kind -> Text,
        category -> Text,
        effect_minor -> Int8,
        usd_minor -> Int8,
        entries -> Int8,
    }
}

diesel::table! {
    ledger_monthly_spending (ledger_id, month) {
        ledger_id -> Uuid,
        month -> Date,
        effect_minor -> Int8,
        entries -> Int8,
    }
}

diesel::table! {
    ledger_totals (ledger_id, kind, category) {
        ledger_id -> Uuid,
        kind -> Text,
        category -> Text,
        effect_minor -> Int8,
        usd_minor -> Int8,
        entries -> Int8,
    }
}

diesel::table! {
    project_daily_totals (project_id, ledger_id, entry_date, kind, category) {
        project_id -> Uuid,
        ledger_id -> Uuid,
        entry_date -> Date,
        kind -> Text,
        category -> Text,
        effect_minor -> Int8,
        usd_minor -> Int8,
        entries -> Int8,
    }
}

diesel::table! {
    ledger_closings (id) {
        id -> Uuid,
        ledger_id -> Uuid,
        closed_through -> Date,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (caller_sub, key) {
        caller_sub -> Text,
        key -> Text,
        request_hash -> Text,
        response_status -> Int2,
        response_body -> Bytea,
        location -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    memoranda (id) {
        id -> Uuid,
        number -> Text,
        title -> Jsonb,
        body -> Jsonb,
        issued_on -> Date,
        applies_to_all -> Bool,
        deadline -> Nullable<Date>,
        evidence_required -> Nullable<Jsonb>,
        created_by -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    memorandum_offices (memorandum_id, office_id) {
        memorandum_id -> Uuid,
        office_id -> Uuid,
    }
}

diesel::table! {
    memorandum_responses (id) {
        id -> Uuid,
        memorandum_id -> Uuid,
        office_id -> Uuid,
        status -> Text,
        acknowledged_by -> Text,
        acknowledged_at -> Timestamptz,
        compliance_text -> Nullable<Text>,
        compliance_attachments -> Jsonb,
        complied_on -> Nullable<Date>,
        submitted_by -> Nullable<Text>,
        submitted_at -> Nullable<Timestamptz>,
        review_reason -> Nullable<Text>,
        reviewed_by -> Nullable<Text>,
        reviewed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    accomplishments (id) {
        id -> Uuid,
        office_id -> Uuid,
        occurred_on -> Date,
        kind -> Text,
        title -> Jsonb,
        body -> Jsonb,
        status -> Text,
        return_reason -> Nullable<Text>,
        created_by -> Text,
        submitted_at -> Nullable<Timestamptz>,
        published_at -> Nullable<Timestamptz>,
        published_by -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    accomplishment_projects (accomplishment_id, project_id) {
        accomplishment_id -> Uuid,
        project_id -> Uuid,
    }
}

diesel::table! {
    accomplishment_mandates (accomplishment_id, mandate_id) {
        accomplishment_id -> Uuid,
        mandate_id -> Uuid,
    }
}

diesel::table! {
    accomplishment_agencies (accomplishment_id, agency_id) {
        accomplishment_id -> Uuid,
        agency_id -> Uuid,
    }
}

diesel::joinable!(offices -> member_states (member_state));
diesel::joinable!(ledgers -> offices (office_id));
diesel::joinable!(ledger_entries -> ledgers (ledger_id));
diesel::joinable!(ledger_entries -> projects (project_id));
diesel::joinable!(project_daily_totals -> projects (project_id));
diesel::joinable!(project_daily_totals -> ledgers (ledger_id));
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
    exchange_rates,
    ledgers,
    ledger_entries,
    ledger_daily_totals,
    ledger_monthly_spending,
    ledger_monthly_totals,
    ledger_totals,
    project_daily_totals,
    ledger_closings,
    idempotency_keys,
    memoranda,
    memorandum_offices,
    memorandum_responses,
    accomplishments,
    accomplishment_projects,
    accomplishment_mandates,
    accomplishment_agencies,
);
