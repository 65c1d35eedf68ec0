//! Appointments: one representative at a time (409 on overlap, handover in one request),
//! dates, who may write (a representative manages their office's appointments except
//! their own), the office's `current_representative` and its ETag, the list's filters,
//! and the audit trail.

use actix_web::http::Method;
use chrono::{Duration, Utc};
use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::common::{Resp, TestApp, new_office};

const MISSING_ID: &str = "0193a6f0-0000-7000-8000-000000000000";

/// Creates an open country office; returns its id.
async fn office(app: &TestApp, code: &str) -> String {
    let res = app.post("/v1/offices", &new_office(code, "PE")).await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

fn appointment(name: &str, email: &str, position: &str, starts_on: &str) -> Value {
    json!({"person_name": name, "email": email, "position": position, "starts_on": starts_on})
}

async fn create_as(app: &TestApp, office: &str, body: &Value, auth: Option<&str>) -> Resp {
    let path = format!("/v1/offices/{office}/appointments");
    match auth {
        Some(a) => {
            app.request(Method::POST, &path, &[("authorization", a)], Some(body))
                .await
        }
        None => app.post(&path, body).await,
    }
}

/// Creates an appointment as the coordinator, asserting the 201; returns it.
async fn create(app: &TestApp, office: &str, body: &Value) -> Value {
    let res = create_as(app, office, body, None).await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()
}

fn path_of(a: &Value) -> String {
    format!(
        "/v1/offices/{}/appointments/{}",
        a["office_id"].as_str().unwrap(),
        a["id"].as_str().unwrap()
    )
}

async fn etag(app: &TestApp, path: &str) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.header("etag").unwrap()
}

/// A bearer token of `role` for `office` whose subject is `sub` (an e-mail address).
fn token_with_sub(app: &TestApp, role: Role, office: &str, sub: &str) -> String {
    let office = Some(office.parse().unwrap());
    let t = app
        .state
        .auth
        .sign(&app.state.auth.claims(sub, role, office, None, None))
        .unwrap();
    format!("Bearer {t}")
}

fn audit_count(app: &TestApp, resource_id: &str, action: &str) -> i64 {
    app.db
        .scalar(&format!(
            "SELECT count(*) FROM audit_events WHERE resource_type = 'appointment' \
             AND resource_id = '{resource_id}' AND action = '{action}'"
        ))
        .parse()
        .unwrap()
}

fn appointment_events(app: &TestApp) -> i64 {
    app.db
        .scalar("SELECT count(*) FROM audit_events WHERE resource_type = 'appointment'")
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// One representative at a time
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_representative_overlapping_another_is_a_409_naming_starts_on() {
    let app = TestApp::new().await;
    let o = office(&app, "OGSMS-A1").await;
    let first = create(
        &app,
        &o,
        &appointment(
            "Ana Quispe",
            "aquispe@oas.org",
            "representative",
            "2020-01-01",
        ),
    )
    .await;
    assert_eq!(first["position"], "representative");
    assert_eq!(first["ends_on"], Value::Null);
    let events = appointment_events(&app);

    // Open-ended first representative: a later one overlaps.
    let res = create_as(
        &app,
        &o,
        &appointment(
            "Luis Vargas",
            "lvargas@oas.org",
            "representative",
            "2025-01-01",
        ),
        None,
    )
    .await;
    res.problem(409, "invalid-state");
    assert_eq!(res.problem_fields(), ["starts_on"]);
    // Nor one that ends inside the first's term.
    let mut body = appointment(
        "Luis Vargas",
        "lvargas@oas.org",
        "representative",
        "2019-01-01",
    );
    body["ends_on"] = json!("2020-01-01");
    create_as(&app, &o, &body, None)
        .await
        .problem(409, "invalid-state");
    assert_eq!(
        appointment_events(&app),
        events,
        "a failed write leaves no event"
    );

    // A predecessor whose term ended the day before is no overlap.
    body["ends_on"] = json!("2019-12-31");
    create(&app, &o, &body).await;
    // Other positions may overlap freely.
    create(
        &app,
        &o,
        &appointment("Rosa Díaz", "rdiaz@oas.org", "staff", "2021-01-01"),
    )
    .await;
    create(
        &app,
        &o,
        &appointment("Raúl Díaz", "raul@oas.org", "staff", "2021-01-01"),
    )
    .await;
    // Another office's representative is no overlap either.
    let other = office(&app, "OGSMS-A2").await;
    create(
        &app,
        &other,
        &appointment(
            "Luis Vargas",
            "lvargas@oas.org",
            "representative",
            "2025-01-01",
        ),
    )
    .await;
}

#[actix_web::test]
async fn a_handover_ends_the_old_representative_and_appoints_the_new_in_one_request() {
    let app = TestApp::new().await;
    let o = office(&app, "OGSMS-H1").await;
    let old = create(
        &app,
        &o,
        &appointment(
            "Ana Quispe",
            "aquispe@oas.org",
            "representative",
            "2020-01-01",
        ),
    )
    .await;
    let old_id = old["id"].as_str().unwrap();
    let mut body = appointment(
        "Luis Vargas",
        "lvargas@oas.org",
        "representative",
        "2025-01-01",
    );

    // An end that still overlaps the new term: 409, and nothing changes.
    body["replaces"] = json!({"appointment_id": old_id, "ends_on": "2025-01-01"});
    create_as(&app, &o, &body, None)
        .await
        .problem(409, "invalid-state");
    let unchanged = app.get(&path_of(&old)).await.json();
    assert_eq!(unchanged["ends_on"], Value::Null, "rolled back");
    assert_eq!(audit_count(&app, old_id, "end"), 0);

    // An appointment of another office cannot be replaced.
    let other = office(&app, "OGSMS-H2").await;
    let foreign = create(
        &app,
        &other,
        &appointment("Rosa Díaz", "rdiaz@oas.org", "representative", "2020-01-01"),
    )
    .await;
    body["replaces"] = json!({"appointment_id": foreign["id"], "ends_on": "2024-12-31"});
    let res = create_as(&app, &o, &body, None).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["replaces.appointment_id"]);
    // Nor ended before it started.
    body["replaces"] = json!({"appointment_id": old_id, "ends_on": "2019-12-31"});
    let res = create_as(&app, &o, &body, None).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["replaces.ends_on"]);

    body["replaces"] = json!({"appointment_id": old_id, "ends_on": "2024-12-31"});
    let new = create(&app, &o, &body).await;
    assert_eq!(new["starts_on"], "2025-01-01");
    assert!(new.get("replaces").is_none());
    let ended = app.get(&path_of(&old)).await.json();
    assert_eq!(ended["ends_on"], "2024-12-31");

    // Two events: the end of the old (before and after) and the creation of the new.
    assert_eq!(audit_count(&app, old_id, "end"), 1);
    assert_eq!(audit_count(&app, new["id"].as_str().unwrap(), "create"), 1);
    let before = app.db.scalar(&format!(
        "SELECT before->>'ends_on' IS NULL AND after->>'ends_on' = '2024-12-31' FROM audit_events \
         WHERE resource_id = '{old_id}' AND action = 'end'"
    ));
    assert_eq!(before, "true");
    let office_now = app.get(&format!("/v1/offices/{o}")).await.json();
    assert_eq!(
        office_now["current_representative"]["appointment_id"],
        new["id"]
    );
}

// ---------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn ends_on_before_starts_on_is_a_422_everywhere() {
    let app = TestApp::new().await;
    let o = office(&app, "OGSMS-D1").await;
    let mut body = appointment("Ana Quispe", "aquispe@oas.org", "staff", "2024-05-01");
    body["ends_on"] = json!("2024-04-30");
    let res = create_as(&app, &o, &body, None).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["ends_on"]);

    let a = create(
        &app,
        &o,
        &appointment("Ana Quispe", "aquispe@oas.org", "staff", "2024-05-01"),
    )
    .await;
    let path = path_of(&a);
    let tag = etag(&app, &path).await;
    let res = app
        .patch(&path, Some(&tag), &json!({"ends_on": "2024-04-01"}))
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["ends_on"]);
    let res = app
        .patch(
            &path,
            Some(&tag),
            &json!({"starts_on": "2030-01-01", "ends_on": "2029-12-31"}),
        )
        .await;
    assert_eq!(res.problem_fields(), ["ends_on"]);
    let res = app
        .post(&format!("{path}/end"), &json!({"ends_on": "2024-04-30"}))
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["ends_on"]);

    // The end itself.
    let res = app
        .post(&format!("{path}/end"), &json!({"ends_on": "2024-12-31"}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["ends_on"], "2024-12-31");
    // Ended already: 409.
    app.post(&format!("{path}/end"), &json!({"ends_on": "2025-01-31"}))
        .await
        .problem(409, "invalid-state");
    assert_eq!(audit_count(&app, a["id"].as_str().unwrap(), "end"), 1);
}

#[actix_web::test]
async fn patch_needs_if_match_and_rejects_read_only_fields() {
    let app = TestApp::new().await;
    let o = office(&app, "OGSMS-P1").await;
    let a = create(
        &app,
        &o,
        &appointment("Ana Quispe", "aquispe@oas.org", "staff", "2024-05-01"),
    )
    .await;
    let path = path_of(&a);
    app.patch(&path, None, &json!({"person_name": "Ana María Quispe"}))
        .await
        .problem(428, "precondition-required");
    app.patch(
        &path,
        Some("\"stale\""),
        &json!({"person_name": "Ana María Quispe"}),
    )
    .await
    .problem(412, "precondition-failed");
    let tag = etag(&app, &path).await;
    let res = app
        .patch(&path, Some(&tag), &json!({"position": "representative"}))
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["position"]);
    let res = app
        .patch(&path, Some(&tag), &json!({"person_name": null}))
        .await;
    assert_eq!(res.problem_fields(), ["person_name"]);
    let res = app
        .patch(&path, Some(&tag), &json!({"email": "not-an-address"}))
        .await;
    assert_eq!(res.problem_fields(), ["email"]);

    let res = app
        .patch(
            &path,
            Some(&tag),
            &json!({"person_name": "Ana María Quispe", "email": null, "ends_on": "2026-12-31"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert_eq!(body["person_name"], "Ana María Quispe");
    assert_eq!(body["email"], Value::Null);
    assert_eq!(body["ends_on"], "2026-12-31");
    assert_ne!(res.header("etag").unwrap(), tag);
    assert_eq!(audit_count(&app, a["id"].as_str().unwrap(), "update"), 1);
    // The same values again change nothing and record nothing.
    let tag = res.header("etag").unwrap();
    let res = app
        .patch(
            &path,
            Some(&tag),
            &json!({"person_name": "Ana María Quispe"}),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("etag").unwrap(), tag);
    assert_eq!(audit_count(&app, a["id"].as_str().unwrap(), "update"), 1);
}

// ---------------------------------------------------------------------------------------
// Who may write
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_representative_manages_their_office_but_not_their_own_appointment() {
    let app = TestApp::new().await;
    let o = office(&app, "OGSMS-R1").await;
    let own = create(
        &app,
        &o,
        &appointment(
            "Ana Quispe",
            "aquispe@oas.org",
            "representative",
            "2020-01-01",
        ),
    )
    .await;
    let staff = create(
        &app,
        &o,
        &appointment("Luis Vargas", "lvargas@oas.org", "staff", "2021-01-01"),
    )
    .await;
    let rep = token_with_sub(&app, Role::Representative, &o, "AQuispe@oas.org");
    let as_rep = [("authorization", rep.as_str())];

    // Their own appointment: 403 for every write.
    let own_path = path_of(&own);
    let tag = etag(&app, &own_path).await;
    let res = app
        .request(
            Method::PATCH,
            &own_path,
            &[("authorization", rep.as_str()), ("if-match", tag.as_str())],
            Some(&json!({"ends_on": "2030-12-31"})),
        )
        .await;
    res.problem(403, "forbidden");
    app.request(
        Method::POST,
        &format!("{own_path}/end"),
        &as_rep,
        Some(&json!({"ends_on": "2030-12-31"})),
    )
    .await
    .problem(403, "forbidden");
    // Nor may they appoint themselves, or hand over their own post.
    create_as(
        &app,
        &o,
        &appointment("Ana Quispe", "aquispe@oas.org", "staff", "2024-01-01"),
        Some(&rep),
    )
    .await
    .problem(403, "forbidden");
    let mut handover = appointment("Rosa Díaz", "rdiaz@oas.org", "representative", "2031-01-01");
    handover["replaces"] = json!({"appointment_id": own["id"], "ends_on": "2030-12-31"});
    create_as(&app, &o, &handover, Some(&rep))
        .await
        .problem(403, "forbidden");
    assert_eq!(app.get(&own_path).await.json()["ends_on"], Value::Null);

    // Staff of their office: allowed.
    let staff_path = path_of(&staff);
    let tag = etag(&app, &staff_path).await;
    let res = app
        .request(
            Method::PATCH,
            &staff_path,
            &[("authorization", rep.as_str()), ("if-match", tag.as_str())],
            Some(&json!({"person_name": "Luis Alberto Vargas"})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    // But not to make it their own.
    let tag = res.header("etag").unwrap();
    let res = app
        .request(
            Method::PATCH,
            &staff_path,
            &[("authorization", rep.as_str()), ("if-match", tag.as_str())],
            Some(&json!({"email": "aquispe@oas.org"})),
        )
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["email"]);
    let res = create_as(
        &app,
        &o,
        &appointment(
            "Rosa Díaz",
            "rdiaz@oas.org",
            "project_officer",
            "2024-01-01",
        ),
        Some(&rep),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let res = app
        .request(
            Method::POST,
            &format!("{staff_path}/end"),
            &as_rep,
            Some(&json!({"ends_on": "2025-06-30"})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    // The audit trail names the representative.
    let actor = app.db.scalar(&format!(
        "SELECT actor_sub || '/' || actor_role FROM audit_events WHERE resource_id = '{}' AND action = 'end'",
        staff["id"].as_str().unwrap()
    ));
    assert_eq!(actor, "AQuispe@oas.org/representative");
}

#[actix_web::test]
async fn other_offices_and_other_roles_may_not_write() {
    let app = TestApp::new().await;
    let o = office(&app, "OGSMS-F1").await;
    let elsewhere = office(&app, "OGSMS-F2").await;
    let staff = create(
        &app,
        &o,
        &appointment("Luis Vargas", "lvargas@oas.org", "staff", "2021-01-01"),
    )
    .await;
    let path = path_of(&staff);
    let tag = etag(&app, &path).await;
    let tokens = [
        token_with_sub(&app, Role::Representative, &elsewhere, "rep@oas.org"),
        token_with_sub(&app, Role::OfficeStaff, &o, "staff@oas.org"),
        format!("Bearer {}", app.token(Role::Auditor, None, None)),
        format!("Bearer {}", app.token(Role::Viewer, None, None)),
    ];
    for t in &tokens {
        create_as(
            &app,
            &o,
            &appointment("Rosa Díaz", "rdiaz@oas.org", "staff", "2024-01-01"),
            Some(t),
        )
        .await
        .problem(403, "forbidden");
        app.request(
            Method::PATCH,
            &path,
            &[("authorization", t.as_str()), ("if-match", tag.as_str())],
            Some(&json!({"person_name": "X"})),
        )
        .await
        .problem(403, "forbidden");
        app.request(
            Method::POST,
            &format!("{path}/end"),
            &[("authorization", t.as_str())],
            Some(&json!({"ends_on": "2025-01-01"})),
        )
        .await
        .problem(403, "forbidden");
        // Reading is open to every role.
        let res = app
            .request(Method::GET, &path, &[("authorization", t.as_str())], None)
            .await;
        assert_eq!(res.status, 200);
    }
    assert_eq!(appointment_events(&app), 1);
}

#[actix_web::test]
async fn missing_and_closed_offices() {
    let app = TestApp::new().await;
    let body = appointment("Ana Quispe", "aquispe@oas.org", "staff", "2020-01-01");
    app.get(&format!("/v1/offices/{MISSING_ID}/appointments"))
        .await
        .problem(404, "not-found");
    create_as(&app, MISSING_ID, &body, None)
        .await
        .problem(404, "not-found");
    let o = office(&app, "OGSMS-C1").await;
    let a = create(&app, &o, &body).await;
    // An appointment is found only under its own office.
    let other = office(&app, "OGSMS-C2").await;
    app.get(&format!(
        "/v1/offices/{other}/appointments/{}",
        a["id"].as_str().unwrap()
    ))
    .await
    .problem(404, "not-found");
    app.get(&format!("/v1/offices/{o}/appointments/{MISSING_ID}"))
        .await
        .problem(404, "not-found");
    // A closed office takes no new appointments.
    let res = app
        .post(
            &format!("/v1/offices/{o}/close"),
            &json!({"closed_on": "2025-01-01"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    create_as(&app, &o, &body, None)
        .await
        .problem(409, "invalid-state");
    // Unknown positions are refused.
    let res = create_as(
        &app,
        &other,
        &appointment("Ana Quispe", "aquispe@oas.org", "director", "2020-01-01"),
        None,
    )
    .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["position"]);
}

// ---------------------------------------------------------------------------------------
// The office's current representative
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn the_office_shows_its_current_representative_and_its_etag_follows() {
    let app = TestApp::new().await;
    let o = office(&app, "OGSMS-E1").await;
    let office_path = format!("/v1/offices/{o}");
    let res = app.get(&office_path).await;
    assert_eq!(res.json()["current_representative"], Value::Null);
    let tag0 = res.header("etag").unwrap();

    // A future representative is not current yet.
    let tomorrow = (Utc::now().date_naive() + Duration::days(1)).to_string();
    create(
        &app,
        &o,
        &appointment(
            "Luis Vargas",
            "lvargas@oas.org",
            "representative",
            &tomorrow,
        ),
    )
    .await;
    // Staff are never the representative.
    create(
        &app,
        &o,
        &appointment("Rosa Díaz", "rdiaz@oas.org", "staff", "2020-01-01"),
    )
    .await;
    let res = app.get(&office_path).await;
    assert_eq!(res.json()["current_representative"], Value::Null);
    assert_eq!(res.header("etag").unwrap(), tag0);

    let mut body = appointment(
        "Ana Quispe",
        "aquispe@oas.org",
        "representative",
        "2020-01-01",
    );
    body["ends_on"] = json!((Utc::now().date_naive()).to_string());
    let rep = create(&app, &o, &body).await;
    let res = app.get(&office_path).await;
    assert_eq!(
        res.json()["current_representative"],
        json!({
            "appointment_id": rep["id"],
            "person_name": "Ana Quispe",
            "email": "aquispe@oas.org",
            "starts_on": "2020-01-01"
        })
    );
    let tag1 = res.header("etag").unwrap();
    assert_ne!(
        tag1, tag0,
        "the representative is part of the representation"
    );
    // The old ETag no longer gives a 304.
    let res = app
        .get_with(&office_path, &[("if-none-match", &tag0)])
        .await;
    assert_eq!(res.status, 200);
    let res = app
        .get_with(&office_path, &[("if-none-match", &tag1)])
        .await;
    assert_eq!(res.status, 304);

    // The list shows it too.
    let listed = app.collect("/v1/offices?limit=500").await;
    let mine = listed.iter().find(|x| x["id"] == o.as_str()).unwrap();
    assert_eq!(mine["current_representative"]["appointment_id"], rep["id"]);

    // Ended yesterday: none again.
    let yesterday = (Utc::now().date_naive() - Duration::days(1)).to_string();
    let tag = etag(&app, &path_of(&rep)).await;
    let res = app
        .patch(&path_of(&rep), Some(&tag), &json!({"ends_on": yesterday}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let res = app.get(&office_path).await;
    assert_eq!(res.json()["current_representative"], Value::Null);
    assert_ne!(res.header("etag").unwrap(), tag1);
    // `current_representative` is not for clients to set.
    let tag = res.header("etag").unwrap();
    let res = app
        .patch(
            &office_path,
            Some(&tag),
            &json!({"current_representative": null}),
        )
        .await;
    assert_eq!(res.problem_fields(), ["current_representative"]);
}

#[actix_web::test]
async fn every_demo_country_office_has_a_current_representative() {
    let app = TestApp::full_demo().await;
    let offices = app.collect("/v1/offices?limit=7").await;
    assert_eq!(offices.len(), 29);
    for o in &offices {
        let rep = &o["current_representative"];
        if o["kind"] == "coordinating_office" {
            assert_eq!(*rep, Value::Null);
        } else {
            assert!(rep["person_name"].is_string(), "{o}");
            assert!(rep["email"].as_str().unwrap().ends_with("@oas.org"));
            let one = app
                .get(&format!("/v1/offices/{}", o["id"].as_str().unwrap()))
                .await
                .json();
            assert_eq!(one["current_representative"], *rep);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|a| a["person_name"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn the_list_filters_by_position_currency_and_change_and_sorts() {
    let app = TestApp::new().await;
    let o = office(&app, "OGSMS-L1").await;
    let mut past = appointment("Past Rep", "past@oas.org", "representative", "2010-01-01");
    past["ends_on"] = json!("2014-12-31");
    create(&app, &o, &past).await;
    create(
        &app,
        &o,
        &appointment("Current Rep", "rep@oas.org", "representative", "2015-01-01"),
    )
    .await;
    create(
        &app,
        &o,
        &appointment("Staff One", "s1@oas.org", "staff", "2018-03-01"),
    )
    .await;
    let future = (Utc::now().date_naive() + Duration::days(30)).to_string();
    create(
        &app,
        &o,
        &appointment("Future Officer", "po@oas.org", "project_officer", &future),
    )
    .await;
    let base = format!("/v1/offices/{o}/appointments");

    let all = app.collect(&format!("{base}?limit=1")).await;
    assert_eq!(
        names(&all),
        ["Past Rep", "Current Rep", "Staff One", "Future Officer"],
        "sorted by starts_on"
    );
    let desc = app
        .collect(&format!("{base}?sort=-starts_on&limit=2"))
        .await;
    assert_eq!(
        names(&desc),
        ["Future Officer", "Staff One", "Current Rep", "Past Rep"]
    );
    let reps = app
        .collect(&format!("{base}?position=representative"))
        .await;
    assert_eq!(names(&reps), ["Past Rep", "Current Rep"]);
    let some = app
        .collect(&format!("{base}?position=staff,project_officer"))
        .await;
    assert_eq!(names(&some), ["Staff One", "Future Officer"]);
    let current = app.collect(&format!("{base}?current=true")).await;
    assert_eq!(names(&current), ["Current Rep", "Staff One"]);
    let not_current = app.collect(&format!("{base}?current=false")).await;
    assert_eq!(names(&not_current), ["Past Rep", "Future Officer"]);
    let current_reps = app
        .collect(&format!("{base}?current=true&position=representative"))
        .await;
    assert_eq!(names(&current_reps), ["Current Rep"]);

    // updated_since: only what changed after the mark.
    let mark = Utc::now();
    let staff = &all[2];
    let tag = etag(&app, &path_of(staff)).await;
    app.patch(
        &path_of(staff),
        Some(&tag),
        &json!({"person_name": "Staff Uno"}),
    )
    .await;
    let since = mark.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let changed = app
        .collect(&format!(
            "{base}?updated_since={}",
            since.replace('+', "%2B")
        ))
        .await;
    assert_eq!(names(&changed), ["Staff Uno"]);
    let by_update = app.collect(&format!("{base}?sort=-updated_at")).await;
    assert_eq!(by_update[0]["person_name"], "Staff Uno");

    for bad in [
        "current=maybe",
        "position=director",
        "sort=person_name",
        "updated_since=yesterday",
        "limit=0",
        "office=PE",
    ] {
        let res = app.get(&format!("{base}?{bad}")).await;
        res.problem(400, "invalid-parameter");
    }
}
