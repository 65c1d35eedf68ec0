//! The authorization matrix, driven by the OpenAPI document: every operation the
//! document lists is called by every role, with the caller's own office or department
//! and with another one, and must answer the status the table below expects. An
//! operation missing from the table fails the test, so no endpoint can skip the check.

use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::http::Method;
use ogsms::policy::Role;
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
type Row = (&'static str, [u16; 9]);

const ALL_200: [u16; 9] = [200; 9];
const COORDINATOR_ONLY_201: [u16; 9] = [201, 403, 403, 403, 403, 403, 403, 403, 403];
const COORDINATOR_ONLY_200: [u16; 9] = [200, 403, 403, 403, 403, 403, 403, 403, 403];

const TABLE: &[Row] = &[
    ("GET /livez", ALL_200),
    ("GET /readyz", ALL_200),
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
    // Client credentials, not a bearer token: without them every caller gets a 400.
    ("POST /v1/auth/token", [400; 9]),
    ("POST /v1/auth/revocations", COORDINATOR_ONLY_201),
    ("GET /v1/me", ALL_200),
    (
        "GET /v1/audit-events",
        [200, 403, 403, 403, 403, 403, 403, 200, 403],
    ),
];

/// Operations that answer without a token.
const PUBLIC: &[&str] = &["GET /livez", "GET /readyz", "POST /v1/auth/token"];

fn operations() -> Vec<String> {
    let doc: Value = serde_json::from_str(&ogsms::openapi::document_json()).unwrap();
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
struct Fixture {
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
    async fn load(app: &TestApp) -> Fixture {
        Fixture {
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
async fn request_for(
    app: &TestApp,
    fx: &Fixture,
    op: &str,
) -> (String, Option<Value>, Vec<(String, String)>) {
    let n = next();
    let etag_of = async |path: &str| app.get(path).await.header("etag").unwrap();
    match op {
        "GET /livez"
        | "GET /readyz"
        | "GET /v1/member-states"
        | "GET /v1/departments"
        | "GET /v1/offices"
        | "GET /v1/me"
        | "GET /v1/audit-events" => (op.split_once(' ').unwrap().1.to_owned(), None, vec![]),
        "GET /v1/member-states/{code}" => ("/v1/member-states/PE".to_owned(), None, vec![]),
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
        other => panic!("no request is defined for {other}: add one to request_for"),
    }
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
            let res = call(
                &app,
                method,
                &path,
                body.as_ref(),
                &headers,
                &fx.token(&app, *who),
            )
            .await;
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
        let res = call(&app, method, &path, body.as_ref(), &headers, "none").await;
        let want = if PUBLIC.contains(&op.as_str()) {
            expected[0]
        } else {
            401
        };
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
