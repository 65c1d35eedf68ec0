//! Executing agencies: creation and validation, the registration number's uniqueness per
//! member state, updates, suspension, deletion of unreferenced agencies, the list's
//! filters, text search and pagination, role rules and the audit trail.

use actix_web::http::Method;
use chrono::{DateTime, SecondsFormat, Utc};
use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::common::{Resp, TestApp};

const MISSING_ID: &str = "0193a6f0-0000-7000-8000-000000000000";

fn body(registration_number: &str, member_state: &str) -> Value {
    json!({
        "name": {"en": format!("Agency {registration_number}"), "es": format!("Agencia {registration_number}")},
        "acronym": format!("A{registration_number}"),
        "member_state": member_state,
        "kind": "ngo",
        "registration_number": registration_number,
        "contacts": {"email": "info@agency.org", "phone": "+51 1 222 3333", "website": "https://agency.org"}
    })
}

async fn create_body(app: &TestApp, body: &Value) -> Value {
    let res = app.post("/v1/executing-agencies", body).await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()
}

async fn create(app: &TestApp, registration_number: &str, member_state: &str) -> Value {
    create_body(app, &body(registration_number, member_state)).await
}

fn path_of(agency: &Value) -> String {
    format!("/v1/executing-agencies/{}", agency["id"].as_str().unwrap())
}

async fn etag(app: &TestApp, agency: &Value) -> String {
    let res = app.get(&path_of(agency)).await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.header("etag").unwrap()
}

async fn patch(app: &TestApp, agency: &Value, body: &Value) -> Resp {
    let tag = etag(app, agency).await;
    app.patch(&path_of(agency), Some(&tag), body).await
}

async fn action(app: &TestApp, agency: &Value, what: &str, auth: Option<&str>) -> Resp {
    let mut headers = vec![];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    app.request(
        Method::POST,
        &format!("{}/{what}", path_of(agency)),
        &headers,
        None,
    )
    .await
}

fn numbers(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|a| a["registration_number"].as_str().unwrap().to_owned())
        .collect()
}

fn audit_count(app: &TestApp, action: &str) -> i64 {
    app.db
        .scalar(&format!(
            "SELECT count(*) FROM audit_events WHERE resource_type = 'executing_agency' AND action = '{action}'"
        ))
        .parse()
        .unwrap()
}

fn bearer(app: &TestApp, role: Role, office: Option<uuid::Uuid>) -> String {
    format!("Bearer {}", app.token(role, office, None))
}

fn demo_office(code: &str) -> uuid::Uuid {
    ogsms::seed::demo_id("office", code)
}

// ---------------------------------------------------------------------------------------
// Creation and reads
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn create_returns_201_with_location_etag_and_the_agency() {
    let app = TestApp::new().await;
    let res = app
        .post("/v1/executing-agencies", &body("20504915523", "PE"))
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let a = res.json();
    assert_eq!(
        res.header("location").unwrap(),
        format!("/v1/executing-agencies/{}", a["id"].as_str().unwrap())
    );
    assert_eq!(a["status"], "active");
    assert_eq!(a["kind"], "ngo");
    assert_eq!(a["member_state"], "PE");
    assert_eq!(a["acronym"], "A20504915523");
    assert_eq!(a["contacts"]["email"], "info@agency.org");
    let tag = res.header("etag").unwrap();

    let got = app.get(&path_of(&a)).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), a);
    assert_eq!(got.header("etag").unwrap(), tag);
    let not_modified = app.get_with(&path_of(&a), &[("if-none-match", &tag)]).await;
    assert_eq!(not_modified.status, 304);

    app.get(&format!("/v1/executing-agencies/{MISSING_ID}"))
        .await
        .problem(404, "not-found");
    assert_eq!(audit_count(&app, "create"), 1);
}

#[actix_web::test]
async fn invalid_new_agencies_are_422_naming_the_field() {
    let app = TestApp::new().await;
    let cases: Vec<(&str, Value)> = vec![
        ("member_state", json!({"member_state": "ZZ"})),
        ("member_state", json!({"member_state": "Peru"})),
        ("kind", json!({"kind": "charity"})),
        ("name", json!({"name": {}})),
        ("name.es", json!({"name": {"es": "  "}})),
        ("acronym", json!({"acronym": "X".repeat(31)})),
        ("registration_number", json!({"registration_number": " "})),
        (
            "contacts.email",
            json!({"contacts": {"email": "not-an-email"}}),
        ),
        (
            "contacts.website",
            json!({"contacts": {"website": "ftp://x.org"}}),
        ),
        ("status", json!({"status": "suspended"})),
    ];
    for (field, change) in cases {
        let mut b = body("R-1", "PE");
        for (k, v) in change.as_object().unwrap() {
            b[k] = v.clone();
        }
        let res = app.post("/v1/executing-agencies", &b).await;
        res.problem(422, "validation-failed");
        assert!(
            res.problem_fields().contains(&field.to_owned()),
            "{field}: {}",
            res.text()
        );
    }
    assert_eq!(
        app.db.scalar("SELECT count(*) FROM executing_agencies"),
        "0"
    );
    assert_eq!(audit_count(&app, "create"), 0);
}

#[actix_web::test]
async fn the_registration_number_is_unique_per_member_state() {
    let app = TestApp::new().await;
    let first = create(&app, "123", "PE").await;
    let res = app.post("/v1/executing-agencies", &body("123", "PE")).await;
    res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["registration_number"]);
    // The same number in another member state is another agency.
    let other = create(&app, "123", "CO").await;
    assert_eq!(audit_count(&app, "create"), 2);

    // Moving the second into the first's member state collides too.
    let res = patch(&app, &other, &json!({"member_state": "PE"})).await;
    res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["registration_number"]);
    let second = create(&app, "456", "PE").await;
    let res = patch(&app, &second, &json!({"registration_number": "123"})).await;
    res.problem(409, "duplicate");
    assert_eq!(audit_count(&app, "update"), 0);
    assert_eq!(app.get(&path_of(&first)).await.json(), first);
}

// ---------------------------------------------------------------------------------------
// Updates
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn patch_needs_a_current_etag_and_applies_the_change() {
    let app = TestApp::new().await;
    let a = create(&app, "R-1", "PE").await;
    app.patch(&path_of(&a), None, &json!({"acronym": "X"}))
        .await
        .problem(428, "precondition-required");
    let stale = etag(&app, &a).await;
    let res = patch(
        &app,
        &a,
        &json!({"acronym": "APCI", "kind": "government", "contacts": {"phone": null}}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let changed = res.json();
    assert_eq!(changed["acronym"], "APCI");
    assert_eq!(changed["kind"], "government");
    assert!(changed["contacts"]["phone"].is_null());
    assert_eq!(changed["contacts"]["email"], "info@agency.org");
    app.patch(&path_of(&a), Some(&stale), &json!({"acronym": "Y"}))
        .await
        .problem(412, "precondition-failed");
    // Clearing the acronym.
    let res = patch(&app, &a, &json!({"acronym": null})).await;
    assert!(res.json()["acronym"].is_null());
    assert_eq!(audit_count(&app, "update"), 2);
    // A change to what is already there writes nothing.
    let unchanged = res.json();
    let res = patch(&app, &a, &json!({"kind": "government", "acronym": null})).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json(), unchanged);
    assert_eq!(audit_count(&app, "update"), 2);

    // The status has operations of its own; required fields cannot be cleared.
    let res = patch(&app, &a, &json!({"status": "suspended"})).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["status"]);
    let res = patch(&app, &a, &json!({"name": null})).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["name"]);
    let res = patch(&app, &a, &json!({"member_state": "ZZ"})).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["member_state"]);
    assert_eq!(audit_count(&app, "update"), 2);

    app.patch(
        &format!("/v1/executing-agencies/{MISSING_ID}"),
        Some("\"x\""),
        &json!({}),
    )
    .await
    .problem(404, "not-found");
}

#[actix_web::test]
async fn suspending_keeps_the_agency_and_reactivating_restores_it() {
    let app = TestApp::new().await;
    let a = create(&app, "R-1", "PE").await;
    let res = action(&app, &a, "suspend", None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "suspended");
    assert_eq!(res.json()["name"], a["name"]);
    // Twice is a conflict, and changes nothing.
    let res = action(&app, &a, "suspend", None).await;
    res.problem(409, "invalid-state");
    assert_eq!(res.problem_fields(), vec!["status"]);
    assert_eq!(audit_count(&app, "suspend"), 1);
    let suspended = app.collect("/v1/executing-agencies?status=suspended").await;
    assert_eq!(numbers(&suspended), vec!["R-1"]);

    // If-Match, when given, must be current.
    let stale = app
        .request(
            Method::POST,
            &format!("{}/reactivate", path_of(&a)),
            &[("if-match", "\"stale\"")],
            None,
        )
        .await;
    stale.problem(412, "precondition-failed");
    let res = action(&app, &a, "reactivate", None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "active");
    action(&app, &a, "reactivate", None)
        .await
        .problem(409, "invalid-state");
    assert_eq!(audit_count(&app, "reactivate"), 1);
    let event = app.db.scalar(
        "SELECT before->>'status' || '>' || (after->>'status') FROM audit_events WHERE action = 'reactivate'",
    );
    assert_eq!(event, "suspended>active");

    app.request(
        Method::POST,
        &format!("/v1/executing-agencies/{MISSING_ID}/suspend"),
        &[],
        None,
    )
    .await
    .problem(404, "not-found");
}

// ---------------------------------------------------------------------------------------
// Deletion
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn an_agency_linked_to_a_project_cannot_be_deleted() {
    let app = TestApp::demo().await;
    let linked = create(&app, "R-1", "PE").await;
    let free = create(&app, "R-2", "PE").await;
    app.db
        .execute(&format!(
            "INSERT INTO projects (id, code, title, office_id, department_id, pillar, starts_on,
                                   budget_amount, budget_currency, funding_source)
             SELECT gen_random_uuid(), 'PE-001', '{{\"en\": \"A project\"}}', o.id, d.id, 'democracy',
                    '2024-01-01', 100, 'USD', 'regular_fund'
             FROM offices o, departments d WHERE o.code = 'OGSMS-PE' AND d.code = 'DECO';
             INSERT INTO project_agencies (project_id, agency_id, role)
             SELECT id, '{}', 'lead' FROM projects WHERE code = 'PE-001';",
            linked["id"].as_str().unwrap()
        ))
        .unwrap();

    let res = app
        .request(Method::DELETE, &path_of(&linked), &[], None)
        .await;
    let p = res.problem(409, "still-referenced");
    assert_eq!(res.problem_fields(), vec!["projects"], "{p}");
    assert_eq!(app.get(&path_of(&linked)).await.status, 200);
    assert_eq!(audit_count(&app, "delete"), 0);

    // Unreferenced: gone, with an audit event holding what it was.
    let res = app
        .request(Method::DELETE, &path_of(&free), &[], None)
        .await;
    assert_eq!(res.status, 204, "{}", res.text());
    assert!(res.body.is_empty());
    app.get(&path_of(&free)).await.problem(404, "not-found");
    assert_eq!(audit_count(&app, "delete"), 1);
    assert_eq!(
        app.db.scalar(
            "SELECT before->>'registration_number' FROM audit_events WHERE action = 'delete'"
        ),
        "R-2"
    );
    app.request(Method::DELETE, &path_of(&free), &[], None)
        .await
        .problem(404, "not-found");

    // Once the link is gone, so may the agency be.
    app.db.execute("DELETE FROM project_agencies").unwrap();
    let res = app
        .request(Method::DELETE, &path_of(&linked), &[], None)
        .await;
    assert_eq!(res.status, 204, "{}", res.text());
}

// ---------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn offices_write_agencies_and_read_only_roles_do_not() {
    let app = TestApp::demo().await;
    let pe = demo_office("OGSMS-PE");
    let staff = bearer(&app, Role::OfficeStaff, Some(pe));
    let res = app
        .request(
            Method::POST,
            "/v1/executing-agencies",
            &[("authorization", &staff)],
            Some(&body("R-1", "PE")),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let a = res.json();
    assert_eq!(
        app.db
            .scalar("SELECT actor_role FROM audit_events WHERE resource_type = 'executing_agency'"),
        "office_staff"
    );

    let deco = ogsms::seed::demo_id("department", "DECO");
    for (role, department) in [
        (Role::Viewer, None),
        (Role::Auditor, None),
        (Role::HqDepartment, Some(deco)),
    ] {
        let token = format!("Bearer {}", app.token(role, None, department));
        app.request(
            Method::POST,
            "/v1/executing-agencies",
            &[("authorization", &token)],
            Some(&body("R-2", "PE")),
        )
        .await
        .problem(403, "forbidden");
        let tag = etag(&app, &a).await;
        app.request(
            Method::PATCH,
            &path_of(&a),
            &[("authorization", &token), ("if-match", &tag)],
            Some(&json!({"acronym": "NO"})),
        )
        .await
        .problem(403, "forbidden");
        action(&app, &a, "suspend", Some(&token))
            .await
            .problem(403, "forbidden");
        app.request(
            Method::DELETE,
            &path_of(&a),
            &[("authorization", &token)],
            None,
        )
        .await
        .problem(403, "forbidden");
        // But they read.
        let res = app
            .request(
                Method::GET,
                "/v1/executing-agencies",
                &[("authorization", &token)],
                None,
            )
            .await;
        assert_eq!(res.status, 200);
    }
    assert_eq!(
        app.db.scalar("SELECT count(*) FROM executing_agencies"),
        "1"
    );
    assert_eq!(app.db.scalar("SELECT count(*) FROM audit_events"), "1");
}

// ---------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn filter_by_member_state_kind_and_status() {
    let app = TestApp::new().await;
    let mut b = body("G-PE", "PE");
    b["kind"] = json!("government");
    create_body(&app, &b).await;
    create(&app, "N-PE", "PE").await;
    let mut b = body("U-CO", "CO");
    b["kind"] = json!("academic");
    let co = create_body(&app, &b).await;
    create(&app, "N-MX", "MX").await;
    action(&app, &co, "suspend", None).await;

    let get = async |q: &str| numbers(&app.collect(&format!("/v1/executing-agencies?{q}")).await);
    assert_eq!(get("member_state=PE").await, vec!["G-PE", "N-PE"]);
    assert_eq!(
        get("member_state=pe,MX").await,
        vec!["G-PE", "N-PE", "N-MX"]
    );
    assert_eq!(get("kind=ngo").await, vec!["N-PE", "N-MX"]);
    assert_eq!(get("kind=government,academic").await, vec!["G-PE", "U-CO"]);
    assert_eq!(get("status=suspended").await, vec!["U-CO"]);
    assert_eq!(get("status=active").await, vec!["G-PE", "N-PE", "N-MX"]);
    assert_eq!(
        get("status=active&kind=ngo&member_state=MX").await,
        vec!["N-MX"]
    );

    for bad in [
        "kind=charity",
        "status=closed",
        "member_state=Peru",
        "sort=name",
        "q=",
        "cursor=xyz",
    ] {
        let res = app.get(&format!("/v1/executing-agencies?{bad}")).await;
        res.problem(400, "invalid-parameter");
    }
}

#[actix_web::test]
async fn filter_by_updated_since() {
    let app = TestApp::new().await;
    let a = create(&app, "R-1", "PE").await;
    let b = create(&app, "R-2", "PE").await;
    let changed = patch(&app, &a, &json!({"acronym": "NEW"})).await.json();
    let since: DateTime<Utc> = changed["updated_at"].as_str().unwrap().parse().unwrap();
    let z = since.to_rfc3339_opts(SecondsFormat::Micros, true);
    let found = app
        .collect(&format!("/v1/executing-agencies?updated_since={z}"))
        .await;
    assert_eq!(numbers(&found), vec!["R-1"]);
    let first = b["created_at"].as_str().unwrap().replace('+', "%2B");
    let found = app
        .collect(&format!(
            "/v1/executing-agencies?updated_since={first}&sort=updated_at"
        ))
        .await;
    assert_eq!(numbers(&found), vec!["R-2", "R-1"]);
    app.get("/v1/executing-agencies?updated_since=yesterday")
        .await
        .problem(400, "invalid-parameter");
}

#[actix_web::test]
async fn text_search_ignores_case_and_accents_in_every_language() {
    let app = TestApp::new().await;
    let agencies = [
        (
            "ES-1",
            json!({"es": "Agencia Peruana de Cooperación Internacional"}),
            Some("APCI"),
        ),
        (
            "FR-1",
            json!({"fr": "Agence française de développement", "en": "French Development Agency"}),
            Some("AFD"),
        ),
        (
            "PT-1",
            json!({"pt": "Agência Brasileira de Cooperação"}),
            None,
        ),
        ("EN-1", json!({"en": "Ministry of Health"}), Some("MINSA")),
    ];
    for (number, name, acronym) in agencies {
        let mut b = body(number, "PE");
        b["name"] = name;
        b["acronym"] = json!(acronym);
        create_body(&app, &b).await;
    }
    let search = async |q: &str| {
        let mut found = numbers(&app.collect(&format!("/v1/executing-agencies?q={q}")).await);
        found.sort();
        found
    };
    // Spanish, without the accent and in any case.
    assert_eq!(search("cooperacion").await, vec!["ES-1"]);
    assert_eq!(search("COOPERACI%C3%93N").await, vec!["ES-1"]);
    // Portuguese: "Cooperação" folds to "cooperacao".
    assert_eq!(search("cooperacao").await, vec!["PT-1"]);
    assert_eq!(search("coopera").await, vec!["ES-1", "PT-1"]);
    // French, with or without accents.
    assert_eq!(search("developpement").await, vec!["FR-1"]);
    assert_eq!(search("D%C3%89VELOPPEMENT").await, vec!["FR-1"]);
    assert_eq!(search("fran%C3%A7aise").await, vec!["FR-1"]);
    // English name of the same agency, and acronyms.
    assert_eq!(search("development%20agency").await, vec!["FR-1"]);
    assert_eq!(search("apci").await, vec!["ES-1"]);
    assert_eq!(search("minsa").await, vec!["EN-1"]);
    // Language codes of the stored JSON are not text.
    assert!(search("pt").await.is_empty());
    assert!(search("%22es%22").await.is_empty());
    // LIKE wildcards are plain characters.
    assert!(search("%25").await.is_empty());
    assert!(search("_").await.is_empty());
    // Combined with a filter.
    assert_eq!(
        numbers(
            &app.collect("/v1/executing-agencies?q=agenc&kind=ngo&member_state=PE")
                .await
        )
        .len(),
        3
    );
}

#[actix_web::test]
async fn pages_of_a_filtered_list_hold_exactly_the_filtered_set() {
    let app = TestApp::new().await;
    let mut expected = Vec::new();
    for i in 0..7 {
        let n = format!("PE-{i}");
        create(&app, &n, "PE").await;
        expected.push(n);
        create(&app, &format!("CO-{i}"), "CO").await;
    }
    // Default order: creation.
    assert_eq!(
        numbers(
            &app.collect("/v1/executing-agencies?member_state=PE&limit=2")
                .await
        ),
        expected
    );
    let res = app
        .get("/v1/executing-agencies?member_state=PE&limit=3")
        .await;
    assert_eq!(res.json()["items"].as_array().unwrap().len(), 3);
    let link = res.header("link").unwrap();
    assert!(link.contains("member%5Fstate=PE"), "{link}");
    // Descending, and by acronym with agencies lacking one first.
    let mut desc = expected.clone();
    desc.reverse();
    assert_eq!(
        numbers(
            &app.collect("/v1/executing-agencies?member_state=PE&limit=2&sort=-created_at")
                .await
        ),
        desc
    );
    let mut b = body("NO-ACR", "PE");
    b["acronym"] = Value::Null;
    create_body(&app, &b).await;
    let by_acronym = numbers(
        &app.collect("/v1/executing-agencies?member_state=PE&limit=2&sort=acronym")
            .await,
    );
    let mut want = vec!["NO-ACR".to_owned()];
    want.extend(expected.iter().cloned());
    assert_eq!(by_acronym, want);
    let by_acronym_desc = numbers(
        &app.collect("/v1/executing-agencies?member_state=PE&limit=3&sort=-acronym")
            .await,
    );
    want.reverse();
    assert_eq!(by_acronym_desc, want);
    // Search results page too.
    let found = app
        .collect("/v1/executing-agencies?q=agencia%20pe&limit=2")
        .await;
    assert_eq!(found.len(), 7);
}
