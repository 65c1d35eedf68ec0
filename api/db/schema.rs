//! Diesel's view of the tables (kept by hand in step with `migrations/`).

diesel::table! {
    member_states (code) {
        code -> Bpchar,
        alpha3 -> Bpchar,
        numeric_code -> Bpchar,
        name -> Jsonb,
        currency -> Bpchar,
        updated_at -> Timestamptz,
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
        org_identifier -> Nullable<Text>,
        suspended_on -> Nullable<Date>,
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
        sectors -> Jsonb,
        budget_lines -> Jsonb,
        donor_org_identifier -> Nullable<Text>,
        mandate_ids -> Array<Uuid>,
        agency_ids -> Array<Uuid>,
        agency_roles -> Array<Text>,
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
    ledger_verifications (ledger_id) {
        ledger_id -> Uuid,
        verified_at -> Timestamptz,
        entry_count -> Int8,
        head_hash -> Text,
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
diesel::joinable!(ledger_verifications -> ledgers (ledger_id));

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
    ledger_verifications,
);

diesel::table! {
    /// The change feed (`GET /v1/changes`), written by a trigger on `audit_events`.
    change_events (txid, seq) {
        txid -> Int8,
        seq -> Int8,
        audit_event_id -> Uuid,
        occurred_at -> Timestamptz,
        resource_type -> Text,
        resource_id -> Text,
        action -> Text,
        audit_action -> Text,
        actor_sub -> Text,
        actor_role -> Text,
        request_id -> Nullable<Text>,
        office_id -> Nullable<Uuid>,
        department_id -> Nullable<Uuid>,
        data -> Nullable<Jsonb>,
    }
}

diesel::table! {
    change_feed_purges (id) {
        id -> Bool,
        purged_txid -> Int8,
        purged_seq -> Int8,
        purged_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> Uuid,
        url -> Text,
        description -> Nullable<Text>,
        resource_types -> Nullable<Array<Text>>,
        actions -> Nullable<Array<Text>>,
        owner_sub -> Text,
        owner_role -> Text,
        owner_office_id -> Nullable<Uuid>,
        owner_department_id -> Nullable<Uuid>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamptz>,
        status -> Text,
        cursor_txid -> Int8,
        cursor_seq -> Int8,
        next_attempt_at -> Timestamptz,
        lease_until -> Nullable<Timestamptz>,
        lease_owner -> Nullable<Uuid>,
        attempts -> Int4,
        failing_since -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        subscription_id -> Uuid,
        event_id -> Uuid,
        resource_type -> Text,
        resource_id -> Text,
        action -> Text,
        status -> Text,
        attempts -> Int4,
        last_status_code -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        first_attempt_at -> Timestamptz,
        last_attempt_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    asset_categories (code) {
        code -> Text,
        useful_life_months -> Int4,
    }
}

diesel::table! {
    assets (id) {
        id -> Uuid,
        office_id -> Uuid,
        tag_number -> Text,
        category -> Text,
        description -> Text,
        acquired_on -> Date,
        cost_amount -> Int8,
        cost_currency -> Bpchar,
        ledger_id -> Nullable<Uuid>,
        entry_id -> Nullable<Uuid>,
        custodian_id -> Nullable<Uuid>,
        location -> Nullable<Text>,
        condition -> Text,
        status -> Text,
        disposed_on -> Nullable<Date>,
        disposal_reason -> Nullable<Text>,
        disposal_proceeds_amount -> Nullable<Int8>,
        disposal_proceeds_currency -> Nullable<Bpchar>,
        disposal_note -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    asset_transfers (id) {
        id -> Uuid,
        asset_id -> Uuid,
        from_office_id -> Uuid,
        to_office_id -> Uuid,
        transferred_on -> Date,
        reason -> Text,
        from_custodian_id -> Nullable<Uuid>,
        to_custodian_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    asset_counts (id) {
        id -> Uuid,
        office_id -> Uuid,
        counted_on -> Date,
        note -> Nullable<Text>,
        status -> Text,
        closed_on -> Nullable<Date>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::table! {
    asset_count_items (count_id, asset_id) {
        count_id -> Uuid,
        asset_id -> Uuid,
        expected_location -> Nullable<Text>,
        expected_condition -> Text,
        result -> Text,
        found_location -> Nullable<Text>,
        found_condition -> Nullable<Text>,
        note -> Nullable<Text>,
        counted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    read_fences (caller) {
        caller -> Text,
        lsn -> PgLsn,
        at -> Timestamptz,
    }
}

diesel::joinable!(asset_count_items -> assets (asset_id));
diesel::joinable!(asset_transfers -> assets (asset_id));

// The assets' tables among themselves (a separate list, so that the list above keeps
// its pairs).
diesel::allow_tables_to_appear_in_same_query!(
    asset_categories,
    assets,
    asset_transfers,
    asset_counts,
    asset_count_items,
);

diesel::table! {
    rate_buckets (key) {
        key -> Text,
        tokens -> Float8,
        updated_at -> Timestamptz,
        accepted -> Bool,
        taken -> Int4,
    }
}

diesel::table! {
    signing_key_fingerprint (id) {
        id -> Bool,
        fingerprint -> Text,
        algorithm -> Text,
        recorded_at -> Timestamptz,
    }
}

diesel::table! {
    background_job_runs (job) {
        job -> Text,
        instance -> Text,
        runs -> Int8,
        leader_since -> Timestamptz,
        last_run_at -> Timestamptz,
    }
}
