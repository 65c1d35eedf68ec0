//! The reporting schema and its read-only role, for BI tools that read the database:
//! a login role in `ogsms_reporting` reads every view and nothing else, and writes
//! nothing; the views' figures agree with the API's; their labels are the API's.

use std::collections::BTreeSet;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use serde_json::Value;

use crate::common::TestApp;
use crate::stats::{World, minor};

/// The URL of the same database for another user.
fn as_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host_end = rest.find('/').unwrap_or(rest.len());
    let rest = match rest[..host_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    format!("{scheme}://{user}:reporting-secret@{rest}")
}

const VIEWS: &[&str] = &[
    "accomplishments",
    "asset_transfers",
    "assets",
    "departments",
    "executing_agencies",
    "ledger_entries",
    "ledgers",
    "mandate_assignments",
    "mandates",
    "member_states",
    "memoranda_compliance",
    "monitoring_reports",
    "offices",
    "project_agencies",
    "project_budget_lines",
    "project_mandates",
    "project_sectors",
    "project_spending_monthly",
    "projects",
    "spending_daily",
    "spending_monthly",
];

#[actix_web::test]
async fn a_login_role_in_ogsms_reporting_reads_the_views_and_nothing_else() {
    let app = TestApp::new().await;
    let _w = World::random(&app, 0x5EED_0101, 60).await;
    assert_eq!(
        app.db.scalar(
            "SELECT count(*) FROM pg_roles WHERE rolname = 'ogsms_reporting' AND NOT rolcanlogin"
        ),
        "1"
    );
    let views = app.db.scalar(
        "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.views \
          WHERE table_schema = 'reporting'",
    );
    assert_eq!(views, VIEWS.join(","));
    // As the README says: a login role that inherits the reporting role.
    let user = format!("metabase_{}", uuid::Uuid::new_v4().simple());
    // The harness's own cluster runs as a superuser; a server given by DATABASE_URL must
    // let its role create roles, or this test cannot check what it promises and fails.
    app.db
        .execute(&format!(
            "CREATE ROLE {user} LOGIN PASSWORD 'reporting-secret' IN ROLE ogsms_reporting"
        ))
        .unwrap_or_else(|e| {
            panic!(
                "cannot create the login role this test reads as; the test server's role \
                 needs CREATEROLE (ALTER ROLE … CREATEROLE): {e}"
            )
        });
    let mut conn = AsyncPgConnection::establish(&as_user(&app.db.url, &user))
        .await
        .expect("connecting as the reporting user");
    for v in VIEWS {
        conn.batch_execute(&format!("SELECT * FROM reporting.{v} LIMIT 5"))
            .await
            .unwrap_or_else(|e| panic!("reading reporting.{v}: {e}"));
    }
    conn.batch_execute("SELECT * FROM reporting.labels")
        .await
        .unwrap();
    for denied in [
        "SELECT * FROM public.ledger_entries",
        "SELECT * FROM public.ledgers",
        "SELECT * FROM public.projects",
        "SELECT * FROM public.offices",
        "SELECT * FROM public.audit_events",
        "SELECT * FROM public.service_accounts",
        "SELECT * FROM public.idempotency_keys",
        "SELECT * FROM public.project_daily_totals",
        "INSERT INTO reporting.labels VALUES ('x', 'y', 'z', 'w')",
        "UPDATE reporting.mandates SET reference = 'x'",
        "DELETE FROM reporting.member_states",
        "INSERT INTO public.offices (id) VALUES (gen_random_uuid())",
        "UPDATE public.projects SET budget_amount = 0",
        "CREATE TABLE reporting.scratch (x int)",
        "CREATE VIEW reporting.scratch AS SELECT 1",
        "CREATE TABLE public.scratch (x int)",
    ] {
        let err = conn
            .batch_execute(denied)
            .await
            .expect_err(denied)
            .to_string();
        assert!(err.contains("permission denied"), "{denied}: {err}");
    }
    drop(conn);
    // And no write privilege on any view or table of the schema.
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = 'reporting' \
                AND has_table_privilege('{user}', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')"
        )),
        "0"
    );
    app.db.execute(&format!("DROP ROLE {user}")).unwrap();
}

#[actix_web::test]
async fn the_views_agree_with_the_api_and_carry_codes_labels_and_context() {
    let app = TestApp::new().await;
    let w = World::random(&app, 0x5EED_0102, 160).await;
    let spending: Value = app.get("/v1/stats/spending?group_by=").await.json();
    let total = minor(&spending["total_spent"]);
    let in_cents = |sql: &str| -> i64 {
        app.db
            .scalar(&format!("SELECT (({sql}) * 100)::bigint"))
            .parse()
            .unwrap()
    };
    assert_eq!(
        in_cents("SELECT sum(spent_usd) FROM reporting.spending_monthly"),
        total
    );
    assert_eq!(
        in_cents("SELECT sum(spent_usd) FROM reporting.spending_daily"),
        total
    );
    assert_eq!(
        in_cents("SELECT sum(spent_usd) FROM reporting.ledger_entries"),
        total
    );
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM reporting.ledger_entries"),
        app.db.scalar("SELECT count(*) FROM ledger_entries")
    );
    for (code, id) in &w.projects {
        let body: Value = app
            .get(&format!("/v1/projects/{id}/budget-execution"))
            .await
            .json();
        let spent = minor(&body["spent"]);
        assert_eq!(
            in_cents(&format!(
                "SELECT spent_usd FROM reporting.projects WHERE code = '{code}'"
            )),
            spent,
            "{code}"
        );
        assert_eq!(
            in_cents(&format!(
                "SELECT coalesce(sum(spent_usd), 0) FROM reporting.project_spending_monthly WHERE project_code = '{code}'"
            )),
            spent,
            "{code}"
        );
    }
    // Context on every row: office, fund and year with their labels; money in units.
    assert_eq!(
        app.db.scalar(
            "SELECT count(*) FROM reporting.ledger_entries WHERE office_code IS NULL OR fund_label IS NULL \
               OR kind_label IS NULL OR fiscal_year IS NULL OR (category IS NOT NULL AND category_label IS NULL)"
        ),
        "0"
    );
    assert_eq!(
        app.db.scalar(
            "SELECT budget_amount || ' ' || budget_currency || ' ' || status_label || ' ' || pillar_label || ' ' || \
                    office_code || ' ' || department_code FROM reporting.projects WHERE code = 'ST-CO-1'"
        ),
        "8000.00 EUR Pipeline Democracy ST-CO ST-DECO"
    );
    assert_eq!(
        app.db.scalar(
            "SELECT reporting.amount(123456, 'USD') || ' ' || reporting.amount(1500, 'JPY') || ' ' || reporting.amount(1005, 'KWD')"
        ),
        "1234.56 1500 1.005"
    );
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT mandate_reference FROM reporting.project_mandates WHERE project_id = '{}' ORDER BY 1 LIMIT 1",
            w.projects["ST-PE-2"]
        )),
        "AG/RES. 3001 (LII-O/22)"
    );
}

#[actix_web::test]
async fn the_reporting_labels_are_the_apis_labels() {
    use ogsms::core::i18n::Lang;
    let app = TestApp::new().await;
    let stored: BTreeSet<String> = app
        .db
        .scalar("SELECT string_agg(concat_ws('|', domain, code, label_en, label_es), ';') FROM reporting.labels")
        .split(';')
        .map(str::to_owned)
        .collect();
    let mut expected = BTreeSet::new();
    macro_rules! domain {
        ($name:literal, $enum:ty) => {
            for v in <$enum>::ALL {
                expected.insert(format!(
                    "{}|{}|{}|{}",
                    $name,
                    v.as_str(),
                    v.label(Lang::En),
                    v.label(Lang::Es)
                ));
            }
        };
    }
    domain!("office_kind", ogsms::resources::offices::OfficeKind);
    domain!("office_status", ogsms::resources::offices::OfficeStatus);
    domain!(
        "department_kind",
        ogsms::resources::departments::DepartmentKind
    );
    domain!(
        "department_status",
        ogsms::resources::departments::DepartmentStatus
    );
    domain!("project_status", ogsms::resources::projects::ProjectStatus);
    domain!("pillar", ogsms::resources::mandates::Pillar);
    domain!("fund", ogsms::resources::ledgers::Fund);
    domain!("entry_kind", ogsms::resources::ledgers::EntryKind);
    domain!("category", ogsms::resources::ledgers::Category);
    domain!("ledger_status", ogsms::resources::ledgers::LedgerStatus);
    domain!("agency_kind", ogsms::resources::agencies::AgencyKind);
    domain!("agency_status", ogsms::resources::agencies::AgencyStatus);
    domain!("agency_role", ogsms::resources::projects::AgencyRole);
    domain!("mandate_status", ogsms::resources::mandates::MandateStatus);
    domain!("issuing_body", ogsms::resources::mandates::IssuingBody);
    domain!("document_kind", ogsms::resources::mandates::DocumentKind);
    domain!(
        "assignment_status",
        ogsms::resources::mandates::AssignmentStatus
    );
    domain!(
        "risk_level",
        ogsms::resources::projects::monitoring_reports::RiskLevel
    );
    domain!("asset_category", ogsms::resources::assets::AssetCategory);
    domain!("asset_status", ogsms::resources::assets::AssetStatus);
    domain!("asset_condition", ogsms::resources::assets::AssetCondition);
    domain!("disposal_reason", ogsms::resources::assets::DisposalReason);
    domain!(
        "compliance_status",
        ogsms::resources::memoranda::compliance::ComplianceStatus
    );
    domain!(
        "accomplishment_kind",
        ogsms::resources::accomplishments::AccomplishmentKind
    );
    domain!(
        "accomplishment_status",
        ogsms::resources::accomplishments::AccomplishmentStatus
    );
    assert_eq!(stored, expected);
    // Funding sources have the funds' labels.
    for v in ogsms::resources::projects::FundingSource::ALL {
        assert_eq!(
            ogsms::resources::ledgers::Fund::parse(v.as_str()).map(|f| f.label(Lang::En)),
            Some(v.label(Lang::En))
        );
    }
}
