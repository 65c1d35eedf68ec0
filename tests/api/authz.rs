//! The authorization matrix, driven by the OpenAPI document: every operation the
//! document lists is called by every role, with the caller's own office or department
//! and with another one, and must answer the status the table below expects. An
//! operation missing from the table fails the test, so no endpoint can skip the check.
//! Every refused write leaves every table as it was, the audit trail included.

use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::http::Method;
use ogsms::auth::policy::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{Resp, TestApp};

/// Who calls: a role, and for office and department roles whether the target is their own.
#[derive(Clone, Copy, Debug)]
enum Who {
    Coordinator,
    Representative { own: bool },
    OfficeStaff { own: bool },
    HqDepartment { own: bool },
    Auditor,
    Viewer,
}

const EVERYONE: [Who; 9] = [
    Who::Coordinator,
    Who::Representative { own: true },
    Who::Representative { own: false },
    Who::OfficeStaff { own: true },
    Who::OfficeStaff { own: false },
    Who::HqDepartment { own: true },
    Who::HqDepartment { own: false },
    Who::Auditor,
    Who::Viewer,
];

/// Expected statuses: coordinator, representative (own, other), office staff (own,
/// other), HQ department (own, other), auditor, viewer.
pub(crate) type Row = (&'static str, [u16; 9]);

const ALL_200: [u16; 9] = [200; 9];
const COORDINATOR_ONLY_201: [u16; 9] = [201, 403, 403, 403, 403, 403, 403, 403, 403];
const COORDINATOR_ONLY_200: [u16; 9] = [200, 403, 403, 403, 403, 403, 403, 403, 403];
/// Executing agencies: the Coordinating Office and every office's representative and staff.
const AGENCY_WRITERS_200: [u16; 9] = [200, 200, 200, 200, 200, 403, 403, 403, 403];
/// The coordinator, the project's office (representative and staff) and department.
const PROJECT_WRITERS_200: [u16; 9] = [200, 200, 403, 200, 403, 200, 403, 403, 403];

#[rustfmt::skip]
pub(crate) const TABLE: &[Row] = &[
    ("GET /livez", ALL_200),
    ("GET /readyz", ALL_200),
    ("GET /metrics", ALL_200),
    ("GET /v1/member-states", ALL_200),
    ("GET /v1/member-states/{code}", ALL_200),
    ("GET /v1/departments", ALL_200),
    ("POST /v1/departments", COORDINATOR_ONLY_201),
    ("GET /v1/departments/{id}", ALL_200),
    ("PATCH /v1/departments/{id}", COORDINATOR_ONLY_200),
    ("GET /v1/offices", ALL_200),
    ("POST /v1/offices", COORDINATOR_ONLY_201),
    ("GET /v1/offices/{id}", ALL_200),
    ("PATCH /v1/offices/{id}", COORDINATOR_ONLY_200),
    ("POST /v1/offices/{id}/close", COORDINATOR_ONLY_200),
    ("GET /v1/offices/{id}/mandates", ALL_200),
    ("GET /v1/mandates", ALL_200),
    ("POST /v1/mandates", COORDINATOR_ONLY_201),
    ("GET /v1/mandates/{id}", ALL_200),
    ("PATCH /v1/mandates/{id}", COORDINATOR_ONLY_200),
    (
        "DELETE /v1/mandates/{id}",
        [204, 403, 403, 403, 403, 403, 403, 403, 403],
    ),
    ("GET /v1/mandates/{id}/assignments", ALL_200),
    ("POST /v1/mandates/{id}/assignments", COORDINATOR_ONLY_201),
    ("GET /v1/mandates/{id}/assignments/{assignment_id}", ALL_200),
    (
        "PATCH /v1/mandates/{id}/assignments/{assignment_id}",
        [200, 200, 403, 403, 403, 403, 403, 403, 403],
    ),
    ("GET /v1/executing-agencies", ALL_200),
    (
        "POST /v1/executing-agencies",
        [201, 201, 201, 201, 201, 403, 403, 403, 403],
    ),
    ("GET /v1/executing-agencies/{id}", ALL_200),
    ("PATCH /v1/executing-agencies/{id}", AGENCY_WRITERS_200),
    (
        "DELETE /v1/executing-agencies/{id}",
        [204, 204, 204, 204, 204, 403, 403, 403, 403],
    ),
    (
        "POST /v1/executing-agencies/{id}/suspend",
        AGENCY_WRITERS_200,
    ),
    (
        "POST /v1/executing-agencies/{id}/reactivate",
        AGENCY_WRITERS_200,
    ),
    ("GET /v1/projects", ALL_200),
    // Another office's or department's callers may not create a project of the own
    // office and department: a 422 naming office_id or department_id.
    (
        "POST /v1/projects",
        [201, 201, 422, 201, 422, 201, 422, 403, 403],
    ),
    ("GET /v1/projects/{id}", ALL_200),
    ("PATCH /v1/projects/{id}", PROJECT_WRITERS_200),
    (
        "DELETE /v1/projects/{id}",
        [204, 204, 403, 204, 403, 204, 403, 403, 403],
    ),
    ("GET /v1/projects/{id}/monitoring-reports", ALL_200),
    (
        "POST /v1/projects/{id}/monitoring-reports",
        [201, 201, 403, 201, 403, 201, 403, 403, 403],
    ),
    (
        "GET /v1/projects/{id}/monitoring-reports/{report_id}",
        ALL_200,
    ),
    (
        "PATCH /v1/projects/{id}/monitoring-reports/{report_id}",
        PROJECT_WRITERS_200,
    ),
    ("GET /v1/offices/{id}/appointments", ALL_200),
    (
        "POST /v1/offices/{id}/appointments",
        [201, 201, 403, 403, 403, 403, 403, 403, 403],
    ),
    (
        "GET /v1/offices/{id}/appointments/{appointment_id}",
        ALL_200,
    ),
    (
        "PATCH /v1/offices/{id}/appointments/{appointment_id}",
        [200, 200, 403, 403, 403, 403, 403, 403, 403],
    ),
    (
        "POST /v1/offices/{id}/appointments/{appointment_id}/end",
        [200, 200, 403, 403, 403, 403, 403, 403, 403],
    ),
    // Assets: seen like the office's ledgers (invisible is 404), written by the office.
    ("GET /v1/offices/{id}/assets", ASSET_READ),
    ("POST /v1/offices/{id}/assets", ASSET_WRITE_201),
    ("GET /v1/offices/{id}/assets/{asset_id}", ASSET_READ),
    ("PATCH /v1/offices/{id}/assets/{asset_id}", ASSET_WRITE_200),
    ("POST /v1/offices/{id}/assets/{asset_id}/disposal", ASSET_WRITE_200),
    ("POST /v1/offices/{id}/assets/{asset_id}/transfers", ASSET_WRITE_201),
    ("GET /v1/offices/{id}/asset-transfers", ASSET_READ),
    ("GET /v1/offices/{id}/asset-transfers/{transfer_id}", ASSET_READ),
    ("GET /v1/offices/{id}/asset-depreciation", ASSET_READ),
    ("GET /v1/offices/{id}/asset-counts", ASSET_READ),
    ("POST /v1/offices/{id}/asset-counts", ASSET_WRITE_201),
    ("GET /v1/offices/{id}/asset-counts/{count_id}", ASSET_READ),
    ("PUT /v1/offices/{id}/asset-counts/{count_id}/items/{asset_id}", ASSET_WRITE_200),
    ("POST /v1/offices/{id}/asset-counts/{count_id}/close", ASSET_WRITE_200),
    // Client credentials, not a bearer token: without them every caller gets a 400.
    ("POST /v1/auth/token", [400; 9]),
    ("POST /v1/auth/revocations", COORDINATOR_ONLY_201),
    ("GET /v1/me", ALL_200),
    ("GET /v1/audit-events", [200, 403, 403, 403, 403, 403, 403, 200, 403]),
    // Every role reads the feed, filtered to what it may see.
    ("GET /v1/changes", ALL_200),
    // Webhooks: the Coordinating Office and service accounts (none of these tokens).
    ("GET /v1/webhooks", COORDINATOR_ONLY_200),
    ("POST /v1/webhooks", COORDINATOR_ONLY_201),
    ("GET /v1/webhooks/{id}", COORDINATOR_ONLY_200),
    ("DELETE /v1/webhooks/{id}", [204, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("POST /v1/webhooks/{id}/secret-rotations", COORDINATOR_ONLY_200),
    ("POST /v1/webhooks/{id}/reactivation", COORDINATOR_ONLY_200),
    ("GET /v1/webhooks/{id}/deliveries", COORDINATOR_ONLY_200),
    // Finance: invisible is 404, visible but not writable 403. An HQ department sees a
    // ledger through the entries tagged to its projects, not its balance.
    ("GET /v1/ledgers", ALL_200),
    ("POST /v1/ledgers", COORDINATOR_ONLY_201),
    ("GET /v1/ledgers/{id}", LEDGER_READ),
    ("GET /v1/ledgers/{id}/entries", LEDGER_READ),
    ("POST /v1/ledgers/{id}/entries", LEDGER_WRITE),
    ("GET /v1/ledgers/{id}/entries/{entry_id}", LEDGER_READ),
    ("POST /v1/ledgers/{id}/entries/{entry_id}/reversal", LEDGER_WRITE),
    ("GET /v1/ledgers/{id}/balance", WHOLE_LEDGER_READ),
    ("GET /v1/ledgers/{id}/verification", WHOLE_LEDGER_READ),
    ("POST /v1/ledgers/{id}/closings", [201, 403, 404, 403, 404, 403, 404, 403, 404]),
    ("POST /v1/ledgers/{id}/close", [200, 403, 404, 403, 404, 403, 404, 403, 404]),
    ("GET /v1/exchange-rates", ALL_200),
    ("POST /v1/exchange-rates", COORDINATOR_ONLY_201),
    ("GET /v1/exchange-rates/{id}", ALL_200),
    // Exports: the lists' visibility (a viewer's entry export is empty, not refused).
    ("GET /v1/exports/projects", ALL_200),
    ("GET /v1/exports/ledger-entries", ALL_200),
    ("GET /v1/exports/audit-events", [200, 403, 403, 403, 403, 403, 403, 200, 403]),
    // Statistics and the IATI export: every role (aggregates and published data).
    ("GET /v1/stats/spending", ALL_200),
    ("GET /v1/stats/budget-execution", ALL_200),
    ("GET /v1/stats/projects", ALL_200),
    ("GET /v1/exports/iati-activities.xml", ALL_200),
    // Finance reports: the project's office and department, coordinator, auditor; a
    // mandate's expenditures for everyone who sees some finance (within its scope).
    ("GET /v1/projects/{id}/budget-execution", [200, 200, 403, 200, 403, 200, 403, 200, 403]),
    ("GET /v1/mandates/{id}/expenditures", [200, 200, 200, 200, 200, 200, 200, 200, 403]),
    // Memoranda: one that applies to the own office only. Its office answers (nobody on
    // its behalf); the Coordinating Office issues and reviews; auditors read.
    ("GET /v1/memoranda", ALL_200),
    ("POST /v1/memoranda", COORDINATOR_ONLY_201),
    ("GET /v1/memorandum-compliance", [200, 403, 403, 403, 403, 403, 403, 200, 403]),
    ("GET /v1/memoranda/{id}", MEMO_READ),
    ("PATCH /v1/memoranda/{id}", COORDINATOR_ONLY_200),
    ("GET /v1/memoranda/{id}/offices", MEMO_READ),
    ("GET /v1/memoranda/{id}/offices/{office_id}", MEMO_READ),
    ("POST /v1/memoranda/{id}/offices/{office_id}/acknowledgement", MEMO_ANSWER),
    ("POST /v1/memoranda/{id}/offices/{office_id}/compliance", MEMO_ANSWER_BODY),
    ("POST /v1/memoranda/{id}/offices/{office_id}/review", MEMO_REVIEW),
    // Accomplishments: a draft of the own office (published ones are everyone's).
    ("GET /v1/accomplishments", ALL_200),
    ("POST /v1/accomplishments", [201, 201, 422, 201, 422, 403, 403, 403, 403]),
    ("GET /v1/feeds/accomplishments", ALL_200),
    ("GET /v1/feeds/accomplishments.atom", ALL_200),
    ("GET /v1/accomplishments/{id}", [200, 200, 404, 200, 404, 404, 404, 200, 404]),
    ("PATCH /v1/accomplishments/{id}", DRAFT_WRITE_BODY),
    ("POST /v1/accomplishments/{id}/submit", DRAFT_WRITE),
    ("POST /v1/accomplishments/{id}/publish", MEMO_MANAGE),
    ("POST /v1/accomplishments/{id}/return", RETURN_ITEM),
    // Reconciliation: an office's as its whole ledgers (404 to others); across offices
    // the Coordinating Office and auditors.
    ("GET /v1/offices/{id}/reconciliation", [200, 200, 404, 200, 404, 404, 404, 200, 404]),
    ("GET /v1/reconciliation", [200, 403, 403, 403, 403, 403, 403, 200, 403]),
];

#[rustfmt::skip]
const MEMO_READ: [u16; 9] = [200, 200, 404, 200, 404, 404, 404, 200, 404];
/// The coordinator's, on something the own office's people and auditors see.
#[rustfmt::skip]
const MEMO_MANAGE: [u16; 9] = [200, 403, 404, 403, 404, 404, 404, 403, 404];
#[rustfmt::skip]
const MEMO_ANSWER: [u16; 9] = [403, 200, 404, 200, 404, 404, 404, 403, 404];
#[rustfmt::skip]
const DRAFT_WRITE: [u16; 9] = [200, 200, 404, 200, 404, 404, 404, 403, 404];
// With a body, a role that may write nothing of the kind is refused before the body is
// read (403), whether or not it could see the object.
#[rustfmt::skip]
const MEMO_ANSWER_BODY: [u16; 9] = [403, 200, 404, 200, 404, 403, 403, 403, 403];
#[rustfmt::skip]
const MEMO_REVIEW: [u16; 9] = [200, 403, 404, 403, 404, 403, 403, 403, 403];
#[rustfmt::skip]
const DRAFT_WRITE_BODY: [u16; 9] = [200, 200, 404, 200, 404, 403, 403, 403, 403];
#[rustfmt::skip]
const RETURN_ITEM: [u16; 9] = [200, 403, 404, 403, 404, 403, 403, 403, 403];

#[rustfmt::skip]
const LEDGER_READ: [u16; 9] = [200, 200, 404, 200, 404, 200, 404, 200, 404];
#[rustfmt::skip]
const LEDGER_WRITE: [u16; 9] = [201, 201, 404, 201, 404, 403, 404, 403, 404];
#[rustfmt::skip]
const WHOLE_LEDGER_READ: [u16; 9] = [200, 200, 404, 200, 404, 403, 404, 200, 404];

#[rustfmt::skip]
const ASSET_READ: [u16; 9] = [200, 200, 404, 200, 404, 404, 404, 200, 404];
#[rustfmt::skip]
const ASSET_WRITE_201: [u16; 9] = [201, 201, 404, 201, 404, 403, 403, 403, 403];
#[rustfmt::skip]
const ASSET_WRITE_200: [u16; 9] = [200, 200, 404, 200, 404, 403, 403, 403, 403];

/// Operations that answer without a token.
const PUBLIC: &[&str] = &[
    "GET /livez",
    "GET /readyz",
    "GET /metrics",
    "POST /v1/auth/token",
    "GET /v1/feeds/accomplishments",
    "GET /v1/feeds/accomplishments.atom",
];

pub(crate) fn operations() -> Vec<String> {
    let doc: Value = serde_json::from_str(&ogsms::app::openapi::document_json()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                ops.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    ops
}

#[test]
fn the_table_covers_every_documented_operation_and_nothing_else() {
    let ops = operations();
    let missing: Vec<&String> = ops
        .iter()
        .filter(|op| !TABLE.iter().any(|(k, _)| k == op))
        .collect();
    assert!(
        missing.is_empty(),
        "operations with no row in the authorization table: {missing:?}"
    );
    let stale: Vec<&str> = TABLE
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| !ops.iter().any(|op| op == k))
        .collect();
    assert!(
        stale.is_empty(),
        "rows for operations the document no longer has: {stale:?}"
    );
}

/// Ids from the demo data.
pub(crate) struct Fixture {
    /// A project of the own office and the own department.
    project: Uuid,
    own_office: Uuid,
    other_office: Uuid,
    own_department: Uuid,
    other_department: Uuid,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn next() -> usize {
    SEQ.fetch_add(1, Ordering::SeqCst)
}

async fn id_of(app: &TestApp, list: &str, code: &str) -> Uuid {
    let items = app.collect(list).await;
    let item = items
        .iter()
        .find(|i| i["code"] == code)
        .unwrap_or_else(|| panic!("{code} in {list}"));
    item["id"].as_str().unwrap().parse().unwrap()
}

impl Fixture {
    pub(crate) async fn load(app: &TestApp) -> Fixture {
        let own_office = id_of(app, "/v1/offices?limit=500", "OGSMS-PE").await;
        let own_department = id_of(app, "/v1/departments?limit=500", "DECO").await;
        let project = Uuid::new_v4();
        app.db
            .execute(&format!(
                "INSERT INTO projects (id, code, title, office_id, department_id, pillar, status, starts_on, \
                 budget_amount, budget_currency, funding_source) VALUES ('{project}', 'AZ-PROJECT', \
                 '{{\"en\": \"Electoral observation\"}}', '{own_office}', '{own_department}', 'democracy', 'active', \
                 '2026-01-01', 100000000, 'USD', 'regular_fund')"
            ))
            .unwrap();
        Fixture {
            project,
            own_office: id_of(app, "/v1/offices?limit=500", "OGSMS-PE").await,
            other_office: id_of(app, "/v1/offices?limit=500", "OGSMS-CO").await,
            own_department: id_of(app, "/v1/departments?limit=500", "DECO").await,
            other_department: id_of(app, "/v1/departments?limit=500", "SARE").await,
        }
    }

    fn token(&self, app: &TestApp, who: Who) -> String {
        let office = |own: bool| {
            Some(if own {
                self.own_office
            } else {
                self.other_office
            })
        };
        let department = |own: bool| {
            Some(if own {
                self.own_department
            } else {
                self.other_department
            })
        };
        let t = match who {
            Who::Coordinator => app.token(Role::Coordinator, None, None),
            Who::Representative { own } => app.token(Role::Representative, office(own), None),
            Who::OfficeStaff { own } => app.token(Role::OfficeStaff, office(own), None),
            Who::HqDepartment { own } => app.token(Role::HqDepartment, None, department(own)),
            Who::Auditor => app.token(Role::Auditor, None, None),
            Who::Viewer => app.token(Role::Viewer, None, None),
        };
        format!("Bearer {t}")
    }
}

/// A request for one operation: (path, body, extra headers). Targets the caller's "own"
/// office or department; what must exist beforehand is made here as the coordinator.
pub(crate) async fn request_for(
    app: &TestApp,
    fx: &Fixture,
    op: &str,
) -> (String, Option<Value>, Vec<(String, String)>) {
    let n = next();
    let etag_of = async |path: &str| app.get(path).await.header("etag").unwrap();
    match op {
        "GET /livez"
        | "GET /readyz"
        | "GET /metrics"
        | "GET /v1/member-states"
        | "GET /v1/departments"
        | "GET /v1/offices"
        | "GET /v1/me"
        | "GET /v1/audit-events"
        | "GET /v1/changes"
        | "GET /v1/exports/projects"
        | "GET /v1/exports/ledger-entries"
        | "GET /v1/exports/audit-events" => {
            (op.split_once(' ').unwrap().1.to_owned(), None, vec![])
        }
        "GET /v1/member-states/{code}" => ("/v1/member-states/PE".to_owned(), None, vec![]),
        "GET /v1/webhooks" => ("/v1/webhooks".to_owned(), None, vec![]),
        "POST /v1/webhooks" => (
            "/v1/webhooks".to_owned(),
            Some(json!({"url": format!("https://hooks.example.org/{n}")})),
            vec![],
        ),
        "GET /v1/webhooks/{id}"
        | "DELETE /v1/webhooks/{id}"
        | "POST /v1/webhooks/{id}/secret-rotations"
        | "POST /v1/webhooks/{id}/reactivation"
        | "GET /v1/webhooks/{id}/deliveries" => {
            let id = created(
                app,
                "/v1/webhooks",
                &json!({"url": format!("https://hooks.example.org/{n}")}),
            )
            .await;
            let path = op.split_once(' ').unwrap().1.replace("{id}", &id);
            let body = op
                .ends_with("secret-rotations")
                .then(|| json!({"overlap_seconds": 60}));
            (path, body, vec![])
        }
        "GET /v1/departments/{id}" => (
            format!("/v1/departments/{}", fx.own_department),
            None,
            vec![],
        ),
        "POST /v1/departments" => (
            "/v1/departments".to_owned(),
            Some(
                json!({"code": format!("AZ{n}"), "kind": "secretariat", "name": {"en": format!("Secretariat {n}")}}),
            ),
            vec![],
        ),
        "PATCH /v1/departments/{id}" => {
            let path = format!("/v1/departments/{}", fx.own_department);
            let etag = etag_of(&path).await;
            (
                path,
                Some(json!({"name": {"en": format!("Renamed {n}")}})),
                vec![("if-match".to_owned(), etag)],
            )
        }
        "GET /v1/offices/{id}" => (format!("/v1/offices/{}", fx.own_office), None, vec![]),
        "POST /v1/offices" => (
            "/v1/offices".to_owned(),
            Some(crate::common::new_office(&format!("AZ-{n}"), "PE")),
            vec![],
        ),
        "PATCH /v1/offices/{id}" => {
            let path = format!("/v1/offices/{}", fx.own_office);
            let etag = etag_of(&path).await;
            (
                path,
                Some(json!({"city": format!("Lima {n}")})),
                vec![("if-match".to_owned(), etag)],
            )
        }
        "POST /v1/offices/{id}/close" => {
            let res = app
                .post(
                    "/v1/offices",
                    &crate::common::new_office(&format!("CL-{n}"), "PE"),
                )
                .await;
            let id = res.json()["id"].as_str().unwrap().to_owned();
            (
                format!("/v1/offices/{id}/close"),
                Some(json!({"closed_on": "2020-01-01"})),
                vec![],
            )
        }
        "GET /v1/offices/{id}/mandates" => (
            format!("/v1/offices/{}/mandates", fx.own_office),
            None,
            vec![],
        ),
        "GET /v1/mandates" | "GET /v1/executing-agencies" => {
            (op.split_once(' ').unwrap().1.to_owned(), None, vec![])
        }
        "POST /v1/mandates" => ("/v1/mandates".to_owned(), Some(new_mandate_body(n)), vec![]),
        "GET /v1/mandates/{id}" | "GET /v1/mandates/{id}/assignments" => {
            let id = created(app, "/v1/mandates", &new_mandate_body(n)).await;
            let suffix = if op.ends_with("/assignments") {
                "/assignments"
            } else {
                ""
            };
            (format!("/v1/mandates/{id}{suffix}"), None, vec![])
        }
        "PATCH /v1/mandates/{id}" => {
            let id = created(app, "/v1/mandates", &new_mandate_body(n)).await;
            let path = format!("/v1/mandates/{id}");
            let etag = etag_of(&path).await;
            (
                path,
                Some(json!({"status": "fulfilled"})),
                vec![("if-match".to_owned(), etag)],
            )
        }
        "DELETE /v1/mandates/{id}" => {
            let id = created(app, "/v1/mandates", &new_mandate_body(n)).await;
            (format!("/v1/mandates/{id}"), None, vec![])
        }
        "POST /v1/mandates/{id}/assignments" => {
            let id = created(app, "/v1/mandates", &new_mandate_body(n)).await;
            (
                format!("/v1/mandates/{id}/assignments"),
                Some(json!({"office_id": fx.own_office, "due_on": "2030-12-31"})),
                vec![],
            )
        }
        "GET /v1/mandates/{id}/assignments/{assignment_id}"
        | "PATCH /v1/mandates/{id}/assignments/{assignment_id}" => {
            let id = created(app, "/v1/mandates", &new_mandate_body(n)).await;
            let assignment = created(
                app,
                &format!("/v1/mandates/{id}/assignments"),
                &json!({"office_id": fx.own_office}),
            )
            .await;
            let path = format!("/v1/mandates/{id}/assignments/{assignment}");
            if op.starts_with("GET") {
                (path, None, vec![])
            } else {
                let etag = etag_of(&path).await;
                (
                    path,
                    Some(json!({"status": "in_progress", "progress_notes": "Started."})),
                    vec![("if-match".to_owned(), etag)],
                )
            }
        }
        "POST /v1/executing-agencies" => (
            "/v1/executing-agencies".to_owned(),
            Some(new_agency_body(n)),
            vec![],
        ),
        "GET /v1/executing-agencies/{id}"
        | "DELETE /v1/executing-agencies/{id}"
        | "POST /v1/executing-agencies/{id}/suspend" => {
            let id = created(app, "/v1/executing-agencies", &new_agency_body(n)).await;
            let suffix = if op.ends_with("/suspend") {
                "/suspend"
            } else {
                ""
            };
            (format!("/v1/executing-agencies/{id}{suffix}"), None, vec![])
        }
        "POST /v1/executing-agencies/{id}/reactivate" => {
            let id = created(app, "/v1/executing-agencies", &new_agency_body(n)).await;
            created(
                app,
                &format!("/v1/executing-agencies/{id}/suspend"),
                &json!(null),
            )
            .await;
            (
                format!("/v1/executing-agencies/{id}/reactivate"),
                None,
                vec![],
            )
        }
        "PATCH /v1/executing-agencies/{id}" => {
            let id = created(app, "/v1/executing-agencies", &new_agency_body(n)).await;
            let path = format!("/v1/executing-agencies/{id}");
            let etag = etag_of(&path).await;
            (
                path,
                Some(json!({"acronym": format!("R{n}")})),
                vec![("if-match".to_owned(), etag)],
            )
        }
        "GET /v1/projects" => ("/v1/projects".to_owned(), None, vec![]),
        "POST /v1/projects" => ("/v1/projects".to_owned(), Some(new_project(fx, n)), vec![]),
        "GET /v1/projects/{id}" => (project(app, fx, n).await, None, vec![]),
        "PATCH /v1/projects/{id}" => {
            let path = project(app, fx, n).await;
            let etag = etag_of(&path).await;
            (
                path,
                Some(json!({"title": {"en": format!("Renamed {n}")}})),
                vec![("if-match".to_owned(), etag)],
            )
        }
        "DELETE /v1/projects/{id}" => (project(app, fx, n).await, None, vec![]),
        "GET /v1/projects/{id}/monitoring-reports" => (
            format!("{}/monitoring-reports", project(app, fx, n).await),
            None,
            vec![],
        ),
        "POST /v1/projects/{id}/monitoring-reports" => (
            format!("{}/monitoring-reports", project(app, fx, n).await),
            Some(new_report()),
            vec![],
        ),
        "GET /v1/projects/{id}/monitoring-reports/{report_id}" => {
            (report(app, fx, n).await, None, vec![])
        }
        "PATCH /v1/projects/{id}/monitoring-reports/{report_id}" => {
            let path = report(app, fx, n).await;
            let etag = etag_of(&path).await;
            (
                path,
                Some(json!({"physical_progress": 50})),
                vec![("if-match".to_owned(), etag)],
            )
        }
        "GET /v1/offices/{id}/assets"
        | "GET /v1/offices/{id}/asset-transfers"
        | "GET /v1/offices/{id}/asset-depreciation"
        | "GET /v1/offices/{id}/asset-counts" => {
            let tail = op.rsplit_once('/').unwrap().1;
            (
                format!("/v1/offices/{}/{tail}", fx.own_office),
                None,
                vec![],
            )
        }
        "POST /v1/offices/{id}/assets" => (
            format!("/v1/offices/{}/assets", fx.own_office),
            Some(new_asset(n)),
            vec![],
        ),
        "GET /v1/offices/{id}/assets/{asset_id}" => (fresh_asset(app, fx, n).await, None, vec![]),
        "PATCH /v1/offices/{id}/assets/{asset_id}" => {
            let path = fresh_asset(app, fx, n).await;
            let etag = etag_of(&path).await;
            (
                path,
                Some(json!({"location": format!("Room {n}")})),
                vec![("if-match".to_owned(), etag)],
            )
        }
        "POST /v1/offices/{id}/assets/{asset_id}/disposal" => (
            format!("{}/disposal", fresh_asset(app, fx, n).await),
            Some(json!({"disposed_on": "2026-06-01", "reason": "scrapped"})),
            vec![],
        ),
        "POST /v1/offices/{id}/assets/{asset_id}/transfers" => (
            format!("{}/transfers", fresh_asset(app, fx, n).await),
            Some(
                json!({"to_office_id": fx.other_office, "transferred_on": "2026-06-01", "reason": "Needed there"}),
            ),
            vec![],
        ),
        "GET /v1/offices/{id}/asset-transfers/{transfer_id}" => {
            let asset = fresh_asset(app, fx, n).await;
            let transfer = created(
                app,
                &format!("{asset}/transfers"),
                &json!({"to_office_id": fx.other_office, "transferred_on": "2026-06-01", "reason": "Needed there"}),
            )
            .await;
            (
                format!("/v1/offices/{}/asset-transfers/{transfer}", fx.own_office),
                None,
                vec![],
            )
        }
        "POST /v1/offices/{id}/asset-counts" => {
            close_open_counts(app, fx).await;
            (
                format!("/v1/offices/{}/asset-counts", fx.own_office),
                Some(json!({"counted_on": "2026-06-01"})),
                vec![],
            )
        }
        "GET /v1/offices/{id}/asset-counts/{count_id}"
        | "POST /v1/offices/{id}/asset-counts/{count_id}/close" => {
            let count = fresh_count(app, fx).await;
            if op.starts_with("GET") {
                (count, None, vec![])
            } else {
                (
                    format!("{count}/close"),
                    Some(json!({"closed_on": "2026-06-02"})),
                    vec![],
                )
            }
        }
        "PUT /v1/offices/{id}/asset-counts/{count_id}/items/{asset_id}" => {
            let asset = fresh_asset(app, fx, n).await;
            let asset_id = asset.rsplit_once('/').unwrap().1.to_owned();
            let count = fresh_count(app, fx).await;
            (
                format!("{count}/items/{asset_id}"),
                Some(json!({"result": "found", "condition": "good"})),
                vec![],
            )
        }
        "GET /v1/offices/{id}/appointments" => (
            format!("/v1/offices/{}/appointments", fx.own_office),
            None,
            vec![],
        ),
        "POST /v1/offices/{id}/appointments" => (
            format!("/v1/offices/{}/appointments", fx.own_office),
            Some(staff_appointment(n)),
            vec![],
        ),
        "GET /v1/offices/{id}/appointments/{appointment_id}"
        | "PATCH /v1/offices/{id}/appointments/{appointment_id}"
        | "POST /v1/offices/{id}/appointments/{appointment_id}/end" => {
            let res = app
                .post(
                    &format!("/v1/offices/{}/appointments", fx.own_office),
                    &staff_appointment(n),
                )
                .await;
            let path = res.header("location").unwrap();
            match op.split_once(' ').unwrap().0 {
                "GET" => (path, None, vec![]),
                "PATCH" => {
                    let etag = res.header("etag").unwrap();
                    (
                        path,
                        Some(json!({"person_name": format!("Renamed {n}")})),
                        vec![("if-match".to_owned(), etag)],
                    )
                }
                _ => (
                    format!("{path}/end"),
                    Some(json!({"ends_on": "2026-01-31"})),
                    vec![],
                ),
            }
        }
        "POST /v1/auth/token" => (
            "/v1/auth/token".to_owned(),
            Some(json!({"grant_type": "client_credentials"})),
            vec![],
        ),
        "POST /v1/auth/revocations" => (
            "/v1/auth/revocations".to_owned(),
            Some(json!({"jti": format!("jti-{n}")})),
            vec![],
        ),
        "GET /v1/ledgers" | "GET /v1/exchange-rates" => {
            (op.split_once(' ').unwrap().1.to_owned(), None, vec![])
        }
        "POST /v1/ledgers" => (
            "/v1/ledgers".to_owned(),
            Some(
                json!({"office_id": fx.own_office, "fiscal_year": 1990 + n as i64 % 200, "fund": "regular_fund"}),
            ),
            vec![],
        ),
        "GET /v1/ledgers/{id}"
        | "GET /v1/ledgers/{id}/entries"
        | "GET /v1/ledgers/{id}/balance"
        | "GET /v1/ledgers/{id}/verification" => {
            let (ledger, _) = fresh_ledger(app, fx).await;
            let suffix = op.split("{id}").nth(1).unwrap();
            (format!("/v1/ledgers/{ledger}{suffix}"), None, vec![])
        }
        "POST /v1/ledgers/{id}/entries" => {
            let (ledger, _) = fresh_ledger(app, fx).await;
            (
                format!("/v1/ledgers/{ledger}/entries"),
                Some(expense(fx, "1.00")),
                vec![],
            )
        }
        "GET /v1/ledgers/{id}/entries/{entry_id}" => {
            let (ledger, entry) = fresh_ledger(app, fx).await;
            (
                format!("/v1/ledgers/{ledger}/entries/{entry}"),
                None,
                vec![],
            )
        }
        "POST /v1/ledgers/{id}/entries/{entry_id}/reversal" => {
            let (ledger, entry) = fresh_ledger(app, fx).await;
            (
                format!("/v1/ledgers/{ledger}/entries/{entry}/reversal"),
                Some(json!({})),
                vec![],
            )
        }
        "POST /v1/ledgers/{id}/closings" => {
            let (ledger, _) = fresh_ledger(app, fx).await;
            (
                format!("/v1/ledgers/{ledger}/closings"),
                Some(json!({"closed_through": "2026-01-31"})),
                vec![],
            )
        }
        "POST /v1/ledgers/{id}/close" => {
            let (ledger, _) = fresh_ledger(app, fx).await;
            (format!("/v1/ledgers/{ledger}/close"), None, vec![])
        }
        "POST /v1/exchange-rates" => {
            let day = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()
                + chrono::Duration::days(n as i64);
            (
                "/v1/exchange-rates".to_owned(),
                Some(json!({"currency": "PEN", "effective_on": day, "rate": "0.2671"})),
                vec![],
            )
        }
        "GET /v1/exchange-rates/{id}" => {
            let day = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap()
                + chrono::Duration::days(n as i64);
            let res = app
                .post(
                    "/v1/exchange-rates",
                    &json!({"currency": "COP", "effective_on": day, "rate": "0.00025"}),
                )
                .await;
            (
                format!("/v1/exchange-rates/{}", res.json()["id"].as_str().unwrap()),
                None,
                vec![],
            )
        }
        "GET /v1/stats/spending"
        | "GET /v1/stats/budget-execution"
        | "GET /v1/stats/projects"
        | "GET /v1/exports/iati-activities.xml" => {
            (op.split_once(' ').unwrap().1.to_owned(), None, vec![])
        }
        "GET /v1/projects/{id}/budget-execution" => (
            format!("/v1/projects/{}/budget-execution", fx.project),
            None,
            vec![],
        ),
        "GET /v1/mandates/{id}/expenditures" => {
            let id = created(app, "/v1/mandates", &new_mandate_body(n)).await;
            (format!("/v1/mandates/{id}/expenditures"), None, vec![])
        }
        "GET /v1/memoranda"
        | "GET /v1/memorandum-compliance"
        | "GET /v1/accomplishments"
        | "GET /v1/feeds/accomplishments"
        | "GET /v1/feeds/accomplishments.atom" => {
            (op.split_once(' ').unwrap().1.to_owned(), None, vec![])
        }
        "POST /v1/memoranda" => ("/v1/memoranda".to_owned(), Some(new_memo(fx, n)), vec![]),
        "GET /v1/memoranda/{id}"
        | "PATCH /v1/memoranda/{id}"
        | "GET /v1/memoranda/{id}/offices"
        | "GET /v1/memoranda/{id}/offices/{office_id}"
        | "POST /v1/memoranda/{id}/offices/{office_id}/acknowledgement"
        | "POST /v1/memoranda/{id}/offices/{office_id}/compliance"
        | "POST /v1/memoranda/{id}/offices/{office_id}/review" => {
            let id = created(app, "/v1/memoranda", &new_memo(fx, n)).await;
            let path = format!("/v1/memoranda/{id}");
            let standing = format!("{path}/offices/{}", fx.own_office);
            let compliance = json!({"text": "Done.", "complied_on": "2026-01-20"});
            match op {
                "GET /v1/memoranda/{id}" => (path, None, vec![]),
                "PATCH /v1/memoranda/{id}" => {
                    let etag = etag_of(&path).await;
                    (
                        path,
                        Some(json!({"deadline": "2026-12-31"})),
                        vec![("if-match".to_owned(), etag)],
                    )
                }
                "GET /v1/memoranda/{id}/offices" => (format!("{path}/offices"), None, vec![]),
                "GET /v1/memoranda/{id}/offices/{office_id}" => (standing, None, vec![]),
                "POST /v1/memoranda/{id}/offices/{office_id}/acknowledgement" => {
                    (format!("{standing}/acknowledgement"), None, vec![])
                }
                "POST /v1/memoranda/{id}/offices/{office_id}/compliance" => {
                    (format!("{standing}/compliance"), Some(compliance), vec![])
                }
                _ => {
                    let staff = fx.token(app, Who::OfficeStaff { own: true });
                    let res = call(
                        app,
                        "POST",
                        &format!("{standing}/compliance"),
                        Some(&compliance),
                        &[],
                        &staff,
                    )
                    .await;
                    assert_eq!(res.status, 200, "{}", res.text());
                    (
                        format!("{standing}/review"),
                        Some(json!({"decision": "accepted"})),
                        vec![],
                    )
                }
            }
        }
        "POST /v1/accomplishments" => (
            "/v1/accomplishments".to_owned(),
            Some(new_accomplishment(fx, n)),
            vec![],
        ),
        "GET /v1/accomplishments/{id}"
        | "PATCH /v1/accomplishments/{id}"
        | "POST /v1/accomplishments/{id}/submit"
        | "POST /v1/accomplishments/{id}/publish"
        | "POST /v1/accomplishments/{id}/return" => {
            let id = created(app, "/v1/accomplishments", &new_accomplishment(fx, n)).await;
            let path = format!("/v1/accomplishments/{id}");
            if op.ends_with("/publish") || op.ends_with("/return") {
                created(app, &format!("{path}/submit"), &json!(null)).await;
            }
            match op {
                "GET /v1/accomplishments/{id}" => (path, None, vec![]),
                "PATCH /v1/accomplishments/{id}" => {
                    let etag = etag_of(&path).await;
                    (
                        path,
                        Some(json!({"kind": "visit"})),
                        vec![("if-match".to_owned(), etag)],
                    )
                }
                "POST /v1/accomplishments/{id}/return" => (
                    format!("{path}/return"),
                    Some(json!({"reason": "Add the partner's name."})),
                    vec![],
                ),
                _ => (
                    format!("{path}/{}", op.rsplit('/').next().unwrap()),
                    None,
                    vec![],
                ),
            }
        }
        "GET /v1/offices/{id}/reconciliation" => (
            format!(
                "/v1/offices/{}/reconciliation?fiscal_year=2026",
                fx.own_office
            ),
            None,
            vec![],
        ),
        "GET /v1/reconciliation" => (
            "/v1/reconciliation?fiscal_year=2026&period=3".to_owned(),
            None,
            vec![],
        ),
        other => panic!("no request is defined for {other}: add one to request_for"),
    }
}

/// A valid new asset, its tag unique by `n`.
fn new_asset(n: usize) -> Value {
    json!({
        "tag_number": format!("AZ-ASSET-{n}"),
        "category": "it_equipment",
        "description": "Laptop",
        "acquired_on": "2025-01-01",
        "cost": {"amount": "1200.00", "currency": "USD"}
    })
}

/// A new asset of the own office; returns its path.
async fn fresh_asset(app: &TestApp, fx: &Fixture, n: usize) -> String {
    let id = created(
        app,
        &format!("/v1/offices/{}/assets", fx.own_office),
        &new_asset(n),
    )
    .await;
    format!("/v1/offices/{}/assets/{id}", fx.own_office)
}

/// Closes the own office's open physical count, if any (one may be open at a time).
async fn close_open_counts(app: &TestApp, fx: &Fixture) {
    let counts = format!("/v1/offices/{}/asset-counts", fx.own_office);
    for c in app.collect(&format!("{counts}?status=open")).await {
        let res = app
            .post(
                &format!("{counts}/{}/close", c["id"].as_str().unwrap()),
                &json!({"closed_on": "2026-06-02"}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text());
    }
}

/// A new open physical count of the own office; returns its path.
async fn fresh_count(app: &TestApp, fx: &Fixture) -> String {
    close_open_counts(app, fx).await;
    let counts = format!("/v1/offices/{}/asset-counts", fx.own_office);
    let id = created(app, &counts, &json!({"counted_on": "2026-06-01"})).await;
    format!("{counts}/{id}")
}

/// An expense of the own office's DECO project.
fn expense(fx: &Fixture, amount: &str) -> Value {
    json!({
        "kind": "expense",
        "category": "travel",
        "entry_date": "2026-06-15",
        "description": "Airfare",
        "project_id": fx.project,
        "amount": {"amount": amount, "currency": "USD"}
    })
}

/// A new ledger of the own office with an allocation and an expense tagged to the own
/// department's project (so that the HQ department sees it); returns it and the expense.
async fn fresh_ledger(app: &TestApp, fx: &Fixture) -> (String, String) {
    let n = next();
    let res = app
        .post(
            "/v1/ledgers",
            &json!({"office_id": fx.own_office, "fiscal_year": 2026, "fund": "specific_fund", "fund_code": format!("AG-{n}")}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let ledger = res.json()["id"].as_str().unwrap().to_owned();
    let allocation = json!({"kind": "allocation", "entry_date": "2026-06-01", "description": "Budget", "amount": {"amount": "1000.00", "currency": "USD"}});
    assert_eq!(
        app.post(&format!("/v1/ledgers/{ledger}/entries"), &allocation)
            .await
            .status,
        201
    );
    let res = app
        .post(
            &format!("/v1/ledgers/{ledger}/entries"),
            &expense(fx, "10.00"),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    (ledger, res.json()["id"].as_str().unwrap().to_owned())
}

/// A memorandum to the own office only, with evidence required, its number unique by `n`.
fn new_memo(fx: &Fixture, n: usize) -> Value {
    json!({
        "number": format!("AZ/{n}"),
        "title": {"en": format!("Memorandum {n}")},
        "text": {"en": "Comply."},
        "issued_on": "2026-01-10",
        "applies_to_all": false,
        "office_ids": [fx.own_office],
        "evidence_required": {"en": "A report."}
    })
}

/// A draft item of the own office.
fn new_accomplishment(fx: &Fixture, n: usize) -> Value {
    json!({
        "office_id": fx.own_office,
        "occurred_on": "2026-05-04",
        "kind": "event",
        "title": {"en": format!("Event {n}")},
        "text": {"en": "It happened."}
    })
}

/// A valid new mandate, its reference unique by `n`.
fn new_mandate_body(n: usize) -> Value {
    json!({
        "reference": format!("AG/RES. {} (LII-O/22)", 5000 + n),
        "adopted_on": "2022-10-07",
        "pillar": "democracy",
        "title": {"en": format!("Mandate {n}")}
    })
}

/// A valid new executing agency, its registration number unique by `n`.
fn new_agency_body(n: usize) -> Value {
    json!({
        "name": {"es": format!("Agencia {n}")},
        "member_state": "PE",
        "kind": "ngo",
        "registration_number": format!("RUC-{n}")
    })
}

/// POSTs as the coordinator, asserting a 2xx; returns the `id` of the answer.
async fn created(app: &TestApp, path: &str, body: &Value) -> String {
    let res = if body.is_null() {
        app.request(Method::POST, path, &[], None).await
    } else {
        app.post(path, body).await
    };
    assert!(res.status.is_success(), "{path}: {}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

/// A new project of the own office and department.
fn new_project(fx: &Fixture, n: usize) -> Value {
    json!({
        "code": format!("AZ-{n}"),
        "title": {"en": format!("Project {n}")},
        "office_id": fx.own_office,
        "department_id": fx.own_department,
        "pillar": "democracy",
        "starts_on": "2026-01-01",
        "budget": {"amount": "1000.00", "currency": "USD"},
        "funding_source": "regular_fund"
    })
}

fn new_report() -> Value {
    json!({"period": "2026-01", "physical_progress": 10, "risk_level": "low",
           "narrative": {"en": "Started"}})
}

/// The path of a new project of the own office and department, made as the coordinator.
async fn project(app: &TestApp, fx: &Fixture, n: usize) -> String {
    let res = app.post("/v1/projects", &new_project(fx, n)).await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.header("location").unwrap()
}

/// The path of a new monitoring report of a new project, made as the coordinator.
async fn report(app: &TestApp, fx: &Fixture, n: usize) -> String {
    let project = project(app, fx, n).await;
    let res = app
        .post(&format!("{project}/monitoring-reports"), &new_report())
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.header("location").unwrap()
}

/// A staff appointment in the caller's "own" office, for the appointment operations.
fn staff_appointment(n: usize) -> Value {
    json!({
        "person_name": format!("Staff {n}"),
        "email": format!("staff{n}@oas.org"),
        "position": "staff",
        "starts_on": "2025-01-01"
    })
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(String, String)],
    auth: &str,
) -> Resp {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut hs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    hs.push(("authorization", auth));
    app.request(method, path, &hs, body).await
}

/// Records the tables a refused write changed (rows or audit events), if any.
fn unchanged(
    failures: &mut Vec<String>,
    before: &std::collections::BTreeMap<String, String>,
    after: &std::collections::BTreeMap<String, String>,
    what: impl FnOnce() -> String,
) {
    let changed: Vec<&str> = after
        .iter()
        .filter(|(t, d)| before.get(*t) != Some(*d))
        .map(|(t, _)| t.as_str())
        .collect();
    if !changed.is_empty() || before.len() != after.len() {
        failures.push(format!(
            "{}: refused, but changed {}",
            what(),
            changed.join(", ")
        ));
    }
}

#[actix_web::test]
async fn every_operation_answers_every_role_as_the_table_says() {
    let app = TestApp::demo().await;
    let fx = Fixture::load(&app).await;
    let mut failures = Vec::new();
    for op in operations() {
        let (_, expected) = TABLE
            .iter()
            .find(|(k, _)| *k == op)
            .expect("covered by the table test");
        let (method, _) = op.split_once(' ').unwrap();
        for (who, want) in EVERYONE.iter().zip(expected.iter()) {
            let (path, body, headers) = request_for(&app, &fx, &op).await;
            // A write that must be refused: the database is digested before and after.
            let refused_write = method != "GET" && *want >= 400;
            let before = refused_write.then(|| app.db.table_digests());
            let res = call(
                &app,
                method,
                &path,
                body.as_ref(),
                &headers,
                &fx.token(&app, *who),
            )
            .await;
            if let Some(before) = before {
                unchanged(&mut failures, &before, &app.db.table_digests(), || {
                    format!("{op} as {who:?}")
                });
            }
            if res.status.as_u16() != *want {
                failures.push(format!(
                    "{op} as {who:?}: expected {want}, got {} {}",
                    res.status,
                    res.text()
                ));
            } else if *want >= 400 {
                assert_eq!(
                    res.header("content-type").as_deref(),
                    Some("application/problem+json"),
                    "{op} as {who:?}"
                );
            }
        }
        // And without a token.
        let (path, body, headers) = request_for(&app, &fx, &op).await;
        let want = if PUBLIC.contains(&op.as_str()) {
            expected[0]
        } else {
            401
        };
        let before = (method != "GET" && want >= 400).then(|| app.db.table_digests());
        let res = call(&app, method, &path, body.as_ref(), &headers, "none").await;
        if let Some(before) = before {
            unchanged(&mut failures, &before, &app.db.table_digests(), || {
                format!("{op} without a token")
            });
        }
        if res.status.as_u16() != want {
            failures.push(format!(
                "{op} without a token: expected {want}, got {}",
                res.status
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
