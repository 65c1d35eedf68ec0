//! The audit trail: every successful write leaves exactly one event (in the write's own
//! transaction, so a failed write leaves none), the table is append-only in the database,
//! only auditors and the Coordinating Office read it, and its filters, sorts and pages.

use std::time::Duration;

use actix_web::http::Method;
use chrono::{DateTime, SecondsFormat, Utc};
use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::common::{TestApp, new_office};

const MISSING_ID: &str = "0193a6f0-0000-7000-8000-000000000000";

/// Total rows of the audit table, read directly in SQL.
fn count(app: &TestApp) -> i64 {
    app.db
        .scalar("SELECT count(*) FROM audit_events")
        .parse()
        .unwrap()
}

/// Every row of the audit table as one string, to see that nothing changed.
fn snapshot(app: &TestApp) -> String {
    app.db.scalar(
        "SELECT coalesce(string_agg(concat_ws('|', id, occurred_at, actor_sub, actor_role, action, \
         resource_type, resource_id, request_id, before, after), E'\\n' ORDER BY id), '') \
         FROM audit_events",
    )
}

/// Every audit event matching `query`, page by page, as the coordinator.
async fn events(app: &TestApp, query: &str) -> Vec<Value> {
    app.collect(&format!("/v1/audit-events?{query}")).await
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id).collect()
}

fn actions(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Creates an office as the caller of `auth` (the default coordinator when `None`).
async fn create_office(app: &TestApp, code: &str, auth: Option<&str>) -> Value {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
    let res = app
        .request(
            Method::POST,
            "/v1/offices",
            &headers,
            Some(&new_office(code, "PE")),
        )
        .await;
    assert_eq!(res.status, 201, "creating {code}: {}", res.text());
    res.json()
}

fn secretariat(code: &str) -> Value {
    json!({
        "code": code,
        "kind": "secretariat",
        "name": {"en": format!("Secretariat {code}"), "es": format!("Secretaría {code}")}
    })
}

async fn create_secretariat(app: &TestApp, code: &str, auth: Option<&str>) -> Value {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
    let res = app
        .request(
            Method::POST,
            "/v1/departments",
            &headers,
            Some(&secretariat(code)),
        )
        .await;
    assert_eq!(res.status, 201, "creating {code}: {}", res.text());
    res.json()
}

/// The current ETag of the resource at `path`.
async fn etag(app: &TestApp, path: &str) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.header("etag").expect("an ETag")
}

/// Patches the resource at `path` as the caller of `auth` (default coordinator).
async fn patch_ok(app: &TestApp, path: &str, body: &Value, auth: Option<&str>) -> Value {
    let tag = etag(app, path).await;
    let mut headers = vec![("if-match", tag.as_str())];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    let res = app.request(Method::PATCH, path, &headers, Some(body)).await;
    assert_eq!(res.status, 200, "patching {path}: {}", res.text());
    res.json()
}

async fn close_ok(app: &TestApp, office: &Value, auth: Option<&str>) -> Value {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
    let res = app
        .request(
            Method::POST,
            &format!("/v1/offices/{}/close", id(office)),
            &headers,
            Some(&json!({"closed_on": "2020-01-31"})),
        )
        .await;
    assert_eq!(res.status, 200, "closing: {}", res.text());
    res.json()
}

/// An instant between two writes, as a query parameter value.
fn instant_param(t: DateTime<Utc>) -> String {
    percent_encoding::utf8_percent_encode(
        &t.to_rfc3339_opts(SecondsFormat::Micros, true),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string()
}

/// A moment clearly between the writes before it and the writes after it.
async fn between() -> DateTime<Utc> {
    tokio::time::sleep(Duration::from_millis(30)).await;
    let t = Utc::now();
    tokio::time::sleep(Duration::from_millis(30)).await;
    t
}

#[actix_web::test]
async fn office_writes_leave_exactly_one_event_each_with_actor_and_states() {
    let app = TestApp::new().await;
    assert_eq!(count(&app), 0);

    // Create.
    let res = app
        .request(
            Method::POST,
            "/v1/offices",
            &[("x-request-id", "audit-test-1")],
            Some(&new_office("OGSMS-PE", "PE")),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let created = res.json();
    let office_id = id(&created);
    assert_eq!(count(&app), 1);
    let trail = events(&app, &format!("resource_id={office_id}")).await;
    assert_eq!(trail.len(), 1, "{trail:?}");
    let e = &trail[0];
    assert_eq!(e["action"], "create");
    assert_eq!(e["resource_type"], "office");
    assert_eq!(e["resource_id"], office_id.as_str());
    assert_eq!(e["actor"]["sub"], "test-coordinator");
    assert_eq!(e["actor"]["role"], "coordinator");
    assert_eq!(e["request_id"], "audit-test-1");
    assert!(e["before"].is_null(), "{e}");
    assert_eq!(e["after"]["id"], created["id"]);
    assert_eq!(e["after"]["code"], "OGSMS-PE");
    assert_eq!(
        e["after"], created,
        "the event's after is the created office"
    );
    assert!(e["id"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
    assert!(
        e["occurred_at"]
            .as_str()
            .is_some_and(|s| s.parse::<DateTime<Utc>>().is_ok()),
        "{e}"
    );

    // Update.
    let path = format!("/v1/offices/{office_id}");
    let tag = res.header("etag").expect("an ETag on 201");
    let res = app
        .request(
            Method::PATCH,
            &path,
            &[("if-match", tag.as_str())],
            Some(&json!({"city": "Cusco"})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let updated = res.json();
    assert_eq!(count(&app), 2);
    let trail = events(&app, &format!("resource_id={office_id}")).await;
    assert_eq!(actions(&trail), ["create", "update"], "{trail:?}");
    let e = &trail[1];
    assert_eq!(e["resource_type"], "office");
    assert_eq!(e["resource_id"], office_id.as_str());
    assert_eq!(e["actor"]["sub"], "test-coordinator");
    assert_eq!(e["actor"]["role"], "coordinator");
    // Without an x-request-id, the one the service assigned (and answered with).
    let request_id = res.header("x-request-id").expect("an x-request-id");
    assert_eq!(e["request_id"], request_id.as_str());
    assert_eq!(e["before"]["city"], "Lima");
    assert_eq!(e["after"]["city"], "Cusco");
    assert_eq!(e["before"], created, "before is the old value");
    assert_eq!(e["after"], updated, "after is the new value");

    // Close.
    let closed = close_ok(&app, &created, None).await;
    assert_eq!(count(&app), 3);
    let trail = events(&app, &format!("resource_id={office_id}")).await;
    assert_eq!(actions(&trail), ["create", "update", "close"], "{trail:?}");
    let e = &trail[2];
    assert_eq!(e["resource_type"], "office");
    assert_eq!(e["actor"]["sub"], "test-coordinator");
    assert_eq!(e["before"]["status"], "open");
    assert_eq!(e["after"]["status"], "closed");
    assert_eq!(e["after"]["closed_on"], "2020-01-31");
    assert_eq!(e["before"], updated);
    assert_eq!(e["after"], closed);

    // Nothing else was recorded anywhere.
    assert_eq!(events(&app, "").await.len(), 3);
}

#[actix_web::test]
async fn department_writes_leave_exactly_one_event_each() {
    let app = TestApp::new().await;
    let res = app
        .request(
            Method::POST,
            "/v1/departments",
            &[("x-request-id", "audit-dept-1")],
            Some(&secretariat("SECA")),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let created = res.json();
    let dept_id = id(&created);
    assert_eq!(count(&app), 1);
    let trail = events(&app, &format!("resource_id={dept_id}")).await;
    assert_eq!(trail.len(), 1, "{trail:?}");
    let e = &trail[0];
    assert_eq!(e["action"], "create");
    assert_eq!(e["resource_type"], "department");
    assert_eq!(e["resource_id"], dept_id.as_str());
    assert_eq!(e["actor"]["sub"], "test-coordinator");
    assert_eq!(e["actor"]["role"], "coordinator");
    assert_eq!(e["request_id"], "audit-dept-1");
    assert!(e["before"].is_null(), "{e}");
    assert_eq!(e["after"], created);

    let updated = patch_ok(
        &app,
        &format!("/v1/departments/{dept_id}"),
        &json!({"name": {"en": "Renamed", "es": "Renombrada"}}),
        None,
    )
    .await;
    assert_eq!(count(&app), 2);
    let trail = events(&app, &format!("resource_id={dept_id}")).await;
    assert_eq!(actions(&trail), ["create", "update"], "{trail:?}");
    let e = &trail[1];
    assert_eq!(e["resource_type"], "department");
    assert_eq!(e["resource_id"], dept_id.as_str());
    assert_eq!(e["actor"]["sub"], "test-coordinator");
    assert_eq!(e["before"], created);
    assert_eq!(e["after"], updated);
    assert_eq!(e["after"]["name"]["en"], "Renamed");
    assert_eq!(e["before"]["name"]["en"], "Secretariat SECA");
}

#[actix_web::test]
async fn failed_writes_leave_no_event() {
    let app = TestApp::new().await;
    let a = create_office(&app, "OGSMS-AA", None).await;
    let b = create_office(&app, "OGSMS-BB", None).await;
    let s = create_secretariat(&app, "SECA", None).await;
    let a_path = format!("/v1/offices/{}", id(&a));
    let b_path = format!("/v1/offices/{}", id(&b));
    let before = snapshot(&app);
    assert_eq!(count(&app), 3);
    let unchanged = |what: &str| {
        assert_eq!(count(&app), 3, "{what} left an audit event");
        assert_eq!(snapshot(&app), before, "{what} changed the audit trail");
    };

    // 422 on create: an empty name.
    let mut body = new_office("OGSMS-CC", "PE");
    body["name"] = json!({"en": ""});
    app.post("/v1/offices", &body)
        .await
        .problem(422, "validation-failed");
    unchanged("a 422 create");

    // 422 on update, found inside the write's transaction.
    let tag = etag(&app, &a_path).await;
    app.patch(&a_path, Some(&tag), &json!({"city": ""}))
        .await
        .problem(422, "validation-failed");
    unchanged("a 422 update");

    // 422 on close: a closing date in the future.
    app.post(
        &format!("{a_path}/close"),
        &json!({"closed_on": "2999-01-01"}),
    )
    .await
    .problem(422, "validation-failed");
    unchanged("a 422 close");

    // 422 on a department whose Secretariat does not exist (checked in the transaction).
    app.post(
        "/v1/departments",
        &json!({"code": "DEPX", "kind": "department", "parent_id": MISSING_ID, "name": {"en": "X"}}),
    )
    .await
    .problem(422, "validation-failed");
    unchanged("a 422 department create");

    // 409: a duplicate code, on create and on update (the database refuses it).
    app.post("/v1/offices", &new_office("OGSMS-AA", "PE"))
        .await
        .problem(409, "duplicate");
    unchanged("a 409 create");
    let tag = etag(&app, &b_path).await;
    app.patch(&b_path, Some(&tag), &json!({"code": "OGSMS-AA"}))
        .await
        .problem(409, "duplicate");
    unchanged("a 409 update");
    app.post("/v1/departments", &secretariat("SECA"))
        .await
        .problem(409, "duplicate");
    unchanged("a 409 department create");

    // 412: a stale If-Match.
    app.patch(
        &a_path,
        Some("\"0000000000000000\""),
        &json!({"city": "Cusco"}),
    )
    .await
    .problem(412, "precondition-failed");
    unchanged("a 412 office update");
    app.patch(
        &format!("/v1/departments/{}", id(&s)),
        Some("\"0000000000000000\""),
        &json!({"name": {"en": "Renamed"}}),
    )
    .await
    .problem(412, "precondition-failed");
    unchanged("a 412 department update");

    // 428: no If-Match.
    app.patch(&a_path, None, &json!({"city": "Cusco"}))
        .await
        .problem(428, "precondition-required");
    unchanged("a 428 update");

    // 403: a viewer may not write.
    let viewer = bearer(&app.token(Role::Viewer, None, None));
    app.request(
        Method::POST,
        "/v1/offices",
        &[("authorization", viewer.as_str())],
        Some(&new_office("OGSMS-DD", "PE")),
    )
    .await
    .problem(403, "forbidden");
    unchanged("a 403 create");

    // 404: an unknown id.
    app.patch(
        &format!("/v1/offices/{MISSING_ID}"),
        Some("*"),
        &json!({"city": "Cusco"}),
    )
    .await
    .problem(404, "not-found");
    unchanged("a 404 update");

    // And the resources themselves did not change either.
    assert_eq!(app.get(&a_path).await.json(), a);
    assert_eq!(app.get(&b_path).await.json(), b);
}

#[actix_web::test]
async fn the_audit_table_is_append_only_in_the_database() {
    let app = TestApp::new().await;
    create_office(&app, "OGSMS-AA", None).await;
    create_office(&app, "OGSMS-BB", None).await;
    let before = snapshot(&app);
    assert_eq!(count(&app), 2);

    for sql in [
        "UPDATE audit_events SET action = 'x'",
        "UPDATE audit_events SET after = NULL WHERE action = 'create'",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE resource_type = 'office'",
        "TRUNCATE audit_events",
        "TRUNCATE audit_events CASCADE",
    ] {
        let err = app
            .db
            .execute(sql)
            .expect_err(&format!("{sql} was allowed"));
        // Refused by the append-only rule, not for some other reason.
        assert!(err.contains("append-only"), "{sql}: {err}");
        assert_eq!(count(&app), 2, "after {sql}");
        assert_eq!(snapshot(&app), before, "{sql} changed the audit trail");
    }
    // Appending is still allowed.
    create_office(&app, "OGSMS-CC", None).await;
    assert_eq!(count(&app), 3);
}

#[actix_web::test]
async fn only_auditors_and_the_coordinating_office_read_the_trail() {
    let app = TestApp::new().await;
    let office = create_office(&app, "OGSMS-AA", None).await;
    let dept = create_secretariat(&app, "SECA", None).await;
    let office_id: uuid::Uuid = id(&office).parse().unwrap();
    let dept_id: uuid::Uuid = id(&dept).parse().unwrap();

    let allowed = [
        app.token(Role::Auditor, None, None),
        app.token(Role::Coordinator, None, None),
    ];
    for token in &allowed {
        let auth = bearer(token);
        let res = app
            .get_with("/v1/audit-events", &[("authorization", auth.as_str())])
            .await;
        assert_eq!(res.status, 200, "{}", res.text());
        let items = res.json()["items"].as_array().unwrap().clone();
        assert_eq!(actions(&items), ["create", "create"], "{items:?}");
    }

    let refused = [
        (Role::Viewer, app.token(Role::Viewer, None, None)),
        (
            Role::Representative,
            app.token(Role::Representative, Some(office_id), None),
        ),
        (
            Role::OfficeStaff,
            app.token(Role::OfficeStaff, Some(office_id), None),
        ),
        (
            Role::HqDepartment,
            app.token(Role::HqDepartment, None, Some(dept_id)),
        ),
    ];
    for (role, token) in &refused {
        let auth = bearer(token);
        // The token itself is good: the same caller may read offices.
        let ok = app
            .get_with("/v1/offices", &[("authorization", auth.as_str())])
            .await;
        assert_eq!(ok.status, 200, "{role:?}: {}", ok.text());
        let res = app
            .get_with("/v1/audit-events", &[("authorization", auth.as_str())])
            .await;
        let p = res.problem(403, "forbidden");
        assert!(p.get("items").is_none(), "{role:?}: {p}");
    }

    let res = app
        .get_with("/v1/audit-events", &[("authorization", "none")])
        .await;
    res.problem(401, "unauthorized");
    let challenge = res.header("www-authenticate").expect("a WWW-Authenticate");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
}

#[actix_web::test]
async fn the_trail_filters_by_actor_type_action_and_resource() {
    let app = TestApp::new().await;
    let other = app.state.auth.sign(&app.state.auth.claims(
        "someone-else",
        Role::Coordinator,
        None,
        None,
        None,
    ));
    let other = bearer(&other.unwrap());
    let me_token = bearer(&app.token(Role::Coordinator, None, None));

    let a = create_office(&app, "OGSMS-AA", Some(&me_token)).await; // test-coordinator
    let b = create_office(&app, "OGSMS-BB", Some(&other)).await; // someone-else
    let s = create_secretariat(&app, "SECA", Some(&other)).await; // someone-else
    patch_ok(
        &app,
        &format!("/v1/offices/{}", id(&a)),
        &json!({"city": "Cusco"}),
        Some(&other),
    )
    .await; // someone-else
    close_ok(&app, &b, None).await; // test-coordinator (the default token)

    let all = events(&app, "").await;
    assert_eq!(all.len(), 5, "{all:?}");
    let (a_id, b_id, s_id) = (id(&a), id(&b), id(&s));
    let described = |items: &[Value]| -> Vec<(String, String, String)> {
        items
            .iter()
            .map(|e| {
                (
                    e["actor"]["sub"].as_str().unwrap().to_owned(),
                    e["action"].as_str().unwrap().to_owned(),
                    e["resource_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let ev =
        |sub: &str, action: &str, rid: &str| (sub.to_owned(), action.to_owned(), rid.to_owned());
    let me = "test-coordinator";
    let else_ = "someone-else";
    assert_eq!(
        described(&all),
        [
            ev(me, "create", &a_id),
            ev(else_, "create", &b_id),
            ev(else_, "create", &s_id),
            ev(else_, "update", &a_id),
            ev(me, "close", &b_id),
        ]
    );

    // actor
    assert_eq!(
        described(&events(&app, "actor=someone-else").await),
        [
            ev(else_, "create", &b_id),
            ev(else_, "create", &s_id),
            ev(else_, "update", &a_id),
        ]
    );
    assert_eq!(
        described(&events(&app, "actor=test-coordinator").await),
        [ev(me, "create", &a_id), ev(me, "close", &b_id)]
    );
    assert!(events(&app, "actor=nobody").await.is_empty());

    // resource_type
    let offices = events(&app, "resource_type=office").await;
    assert_eq!(offices.len(), 4, "{offices:?}");
    assert!(offices.iter().all(|e| e["resource_type"] == "office"));
    assert_eq!(
        described(&events(&app, "resource_type=department").await),
        [ev(else_, "create", &s_id)]
    );
    assert_eq!(events(&app, "resource_type=office,department").await, all);

    // action
    assert_eq!(
        actions(&events(&app, "action=create").await),
        ["create", "create", "create"]
    );
    assert_eq!(
        described(&events(&app, "action=update").await),
        [ev(else_, "update", &a_id)]
    );
    assert_eq!(
        actions(&events(&app, "action=create,update").await),
        ["create", "create", "create", "update"]
    );
    assert_eq!(
        described(&events(&app, "action=close").await),
        [ev(me, "close", &b_id)]
    );

    // resource_id
    assert_eq!(
        described(&events(&app, &format!("resource_id={a_id}")).await),
        [ev(me, "create", &a_id), ev(else_, "update", &a_id)]
    );
    assert_eq!(
        described(&events(&app, &format!("resource_id={s_id}")).await),
        [ev(else_, "create", &s_id)]
    );
    assert!(
        events(&app, &format!("resource_id={MISSING_ID}"))
            .await
            .is_empty()
    );

    // Combined, the filters all apply.
    assert_eq!(
        described(&events(&app, "actor=someone-else&resource_type=office").await),
        [ev(else_, "create", &b_id), ev(else_, "update", &a_id)]
    );
    assert_eq!(
        described(&events(&app, &format!("actor=test-coordinator&resource_id={b_id}")).await),
        [ev(me, "close", &b_id)]
    );
}

#[actix_web::test]
async fn the_trail_filters_by_time() {
    let app = TestApp::new().await;
    let t0 = between().await;
    let a = create_office(&app, "OGSMS-AA", None).await;
    let t1 = between().await;
    let b = create_office(&app, "OGSMS-BB", None).await;
    let t2 = between().await;
    let c = create_office(&app, "OGSMS-CC", None).await;
    let t3 = between().await;
    let (a, b, c) = (id(&a), id(&b), id(&c));
    let resources = |items: Vec<Value>| -> Vec<String> {
        items
            .iter()
            .map(|e| e["resource_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (p0, p1, p2, p3) = (
        instant_param(t0),
        instant_param(t1),
        instant_param(t2),
        instant_param(t3),
    );

    assert_eq!(
        resources(events(&app, &format!("occurred_from={p0}")).await),
        [a.as_str(), b.as_str(), c.as_str()]
    );
    assert_eq!(
        resources(events(&app, &format!("occurred_from={p1}")).await),
        [b.as_str(), c.as_str()]
    );
    assert_eq!(
        resources(events(&app, &format!("occurred_from={p2}")).await),
        [c.as_str()]
    );
    assert!(
        events(&app, &format!("occurred_from={p3}"))
            .await
            .is_empty()
    );
    assert!(events(&app, &format!("occurred_to={p0}")).await.is_empty());
    assert_eq!(
        resources(events(&app, &format!("occurred_to={p1}")).await),
        [a.as_str()]
    );
    assert_eq!(
        resources(events(&app, &format!("occurred_to={p2}")).await),
        [a.as_str(), b.as_str()]
    );
    assert_eq!(
        resources(events(&app, &format!("occurred_from={p1}&occurred_to={p2}")).await),
        [b.as_str()]
    );
    assert_eq!(
        resources(events(&app, &format!("occurred_from={p0}&occurred_to={p3}")).await),
        [a.as_str(), b.as_str(), c.as_str()]
    );
    // updated_since is occurred_from under another name.
    assert_eq!(
        resources(events(&app, &format!("updated_since={p1}")).await),
        [b.as_str(), c.as_str()]
    );
    // The boundary of occurred_from is inclusive, of occurred_to exclusive.
    let all = events(&app, "").await;
    let at = instant_param(all[1]["occurred_at"].as_str().unwrap().parse().unwrap());
    assert_eq!(
        resources(events(&app, &format!("occurred_from={at}")).await),
        [b.as_str(), c.as_str()]
    );
    assert_eq!(
        resources(events(&app, &format!("occurred_to={at}")).await),
        [a.as_str()]
    );
}

#[actix_web::test]
async fn the_trail_sorts_and_pages_every_event_exactly_once() {
    let app = TestApp::new().await;
    let mut offices = Vec::new();
    for code in ["OGSMS-AA", "OGSMS-BB", "OGSMS-CC"] {
        offices.push(create_office(&app, code, None).await);
    }
    create_secretariat(&app, "SECA", None).await;
    patch_ok(
        &app,
        &format!("/v1/offices/{}", id(&offices[0])),
        &json!({"city": "Cusco"}),
        None,
    )
    .await;
    close_ok(&app, &offices[1], None).await;
    assert_eq!(count(&app), 6);

    // One page: oldest first by default.
    let res = app.get("/v1/audit-events?limit=500").await;
    assert_eq!(res.status, 200, "{}", res.text());
    let one_page = res.json()["items"].as_array().unwrap().clone();
    assert_eq!(one_page.len(), 6);
    assert_eq!(
        actions(&one_page),
        ["create", "create", "create", "create", "update", "close"]
    );
    let times: Vec<DateTime<Utc>> = one_page
        .iter()
        .map(|e| e["occurred_at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    // The same order as the database's own.
    let sql_order = app
        .db
        .scalar("SELECT string_agg(id::text, ',' ORDER BY occurred_at, id) FROM audit_events");
    assert_eq!(ids(&one_page).join(","), sql_order);

    // Pages of two: every event exactly once, in the same order.
    let res = app.get("/v1/audit-events?limit=2").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["items"].as_array().unwrap().len(), 2);
    assert!(res.json()["next_cursor"].is_string());
    let paged = events(&app, "limit=2").await;
    assert_eq!(ids(&paged), ids(&one_page));
    assert_eq!(
        events(&app, "sort=occurred_at&limit=2").await,
        one_page,
        "sort=occurred_at is the default"
    );

    // Newest first reverses the order, also across pages.
    let mut reversed = ids(&one_page);
    reversed.reverse();
    let res = app
        .get("/v1/audit-events?sort=-occurred_at&limit=500")
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(ids(res.json()["items"].as_array().unwrap()), reversed);
    assert_eq!(
        ids(&events(&app, "sort=-occurred_at&limit=2").await),
        reversed
    );

    // Filters and pages together.
    let office_events = events(&app, "resource_type=office&limit=2").await;
    assert_eq!(
        ids(&office_events),
        ids(&one_page
            .iter()
            .filter(|e| e["resource_type"] == "office")
            .cloned()
            .collect::<Vec<_>>())
    );
    assert_eq!(office_events.len(), 5);
}

#[actix_web::test]
async fn invalid_trail_parameters_are_400_problems() {
    let app = TestApp::new().await;
    create_office(&app, "OGSMS-AA", None).await;
    for (query, field) in [
        ("occurred_from=yesterday", "occurred_from"),
        ("occurred_to=2026-13-01T00:00:00Z", "occurred_to"),
        ("updated_since=tomorrow", "updated_since"),
        ("frobnicate=1", "frobnicate"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("sort=action", "sort"),
        ("cursor=garbage", "cursor"),
        ("actor=", "actor"),
        // A NUL reached PostgreSQL, which cannot store or compare it.
        ("actor=a%00b", "actor"),
        ("action=post%0A", "action"),
        ("resource_id=", "resource_id"),
    ] {
        let res = app.get(&format!("/v1/audit-events?{query}")).await;
        let p = res.problem(400, "invalid-parameter");
        assert_eq!(p["errors"][0]["field"], field, "{query}: {p}");
    }
    // A cursor made for one sort is refused for the other.
    let res = app.get("/v1/audit-events?limit=1").await;
    assert_eq!(res.status, 200);
    create_office(&app, "OGSMS-BB", None).await;
    let res = app.get("/v1/audit-events?limit=1").await;
    let cursor = res.json()["next_cursor"].as_str().unwrap().to_owned();
    app.get(&format!(
        "/v1/audit-events?sort=-occurred_at&cursor={cursor}"
    ))
    .await
    .problem(400, "invalid-parameter");
}

#[actix_web::test]
async fn issuing_a_token_is_audited_without_the_token() {
    let app = TestApp::new().await;
    let (account, secret) = {
        let mut conn = app.state.pool.get().await.expect("a connection");
        ogsms::resources::service_accounts::create(
            &mut conn,
            &ogsms::db::audit::Actor::cli(),
            "dash-1",
            "Dashboard",
            Role::Viewer,
            None,
            None,
        )
        .await
        .expect("creating the account")
    };
    assert_eq!(count(&app), 1);
    let created = events(&app, "action=service_account.create").await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["resource_type"], "service_account");
    assert_eq!(created[0]["resource_id"], account.id.to_string());
    assert_eq!(created[0]["after"]["client_id"], "dash-1");
    assert!(
        created[0]["actor"]["sub"]
            .as_str()
            .is_some_and(|s| s.starts_with("cli:")),
        "{}",
        created[0]
    );
    assert_eq!(created[0]["actor"]["role"], "admin_cli");
    // The secret and its hash are in no event.
    let hash = app
        .db
        .scalar("SELECT secret_hash FROM service_accounts WHERE client_id = 'dash-1'");
    for needle in [&secret[..20], &hash[hash.len() - 20..]] {
        let n: i64 = app
            .db
            .scalar(&format!(
                "SELECT count(*) FROM audit_events WHERE concat(before::text, after::text) LIKE '%{needle}%'"
            ))
            .parse()
            .unwrap();
        assert_eq!(n, 0, "a secret is in the audit trail");
    }

    let body = format!("grant_type=client_credentials&client_id=dash-1&client_secret={secret}");
    let res = app
        .raw(
            Method::POST,
            "/v1/auth/token",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", "none"),
                ("x-request-id", "audit-token-1"),
            ],
            body.into_bytes(),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let token = res.json()["access_token"].as_str().unwrap().to_owned();
    let claims = app.state.auth.verify(&token).expect("a valid token");
    assert_eq!(count(&app), 2);

    let trail = events(&app, &format!("resource_id={}", account.id)).await;
    assert_eq!(
        actions(&trail),
        ["service_account.create", "token.issue"],
        "{trail:?}"
    );
    let issued = events(&app, "action=token.issue").await;
    assert_eq!(issued.len(), 1, "{issued:?}");
    let e = &issued[0];
    assert_eq!(e["resource_type"], "service_account");
    assert_eq!(e["resource_id"], account.id.to_string());
    assert_eq!(e["actor"]["sub"], "dash-1");
    assert_eq!(e["actor"]["role"], "viewer");
    assert_eq!(e["request_id"], "audit-token-1");
    assert!(e["before"].is_null(), "{e}");
    assert_eq!(e["after"]["jti"], claims.jti.as_str());
    // The token itself is nowhere in the trail, nor any part of it that identifies it.
    let everything = serde_json::to_string(&events(&app, "").await).unwrap();
    assert!(!everything.contains(&token[..40]), "{everything}");
    let signature = token.rsplit('.').next().unwrap();
    assert!(!everything.contains(signature), "{everything}");
    for sql in [
        format!(
            "SELECT count(*) FROM audit_events WHERE after::text LIKE '%{}%'",
            &token[..40]
        ),
        format!(
            "SELECT count(*) FROM audit_events WHERE concat_ws('|', actor_sub, resource_id, request_id, \
             before, after) LIKE '%{signature}%'"
        ),
    ] {
        assert_eq!(app.db.scalar(&sql), "0", "{sql}");
    }

    // A refused token request is not audited.
    let res = app
        .raw(
            Method::POST,
            "/v1/auth/token",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", "none"),
            ],
            b"grant_type=client_credentials&client_id=dash-1&client_secret=wrong".to_vec(),
        )
        .await;
    res.problem(401, "unauthorized");
    assert_eq!(count(&app), 2);
}

#[actix_web::test]
async fn racing_conditional_updates_leave_one_event_for_the_one_that_won() {
    let app = TestApp::new().await;
    let office = create_office(&app, "OGSMS-AA", None).await;
    let path = format!("/v1/offices/{}", id(&office));
    let tag = etag(&app, &path).await;
    let bodies: Vec<Value> = (0..8)
        .map(|i| json!({"city": format!("City {i}")}))
        .collect();
    let results = futures_util::future::join_all(
        bodies.iter().map(|body| app.patch(&path, Some(&tag), body)),
    )
    .await;
    let won: Vec<Value> = results
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.json())
        .collect();
    assert_eq!(won.len(), 1, "exactly one update wins");
    for r in results.iter().filter(|r| r.status != 200) {
        r.problem(412, "precondition-failed");
    }
    assert_eq!(count(&app), 2);
    let updates = events(&app, "action=update").await;
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0]["before"], office);
    assert_eq!(updates[0]["after"], won[0]);
}

/// A PATCH that changes nothing (the same values again) writes nothing: no audit event,
/// the same `updated_at` and ETag. Offices and departments here; the other resources
/// have their own tests.
#[actix_web::test]
async fn a_patch_that_changes_nothing_leaves_no_event() {
    let app = TestApp::new().await;
    let office = create_office(&app, "OGSMS-AA", None).await;
    let dept = create_secretariat(&app, "SECA", None).await;
    for (path, body) in [
        (
            format!("/v1/offices/{}", id(&office)),
            json!({"code": office["code"], "city": office["city"], "name": office["name"]}),
        ),
        (
            format!("/v1/departments/{}", id(&dept)),
            json!({"code": dept["code"], "name": dept["name"], "status": dept["status"]}),
        ),
    ] {
        let before = app.get(&path).await;
        let etag = before.header("etag").unwrap();
        let events = count(&app);
        let res = app.patch(&path, Some(&etag), &body).await;
        assert_eq!(res.status, 200, "{path}: {}", res.text());
        assert_eq!(res.header("etag").unwrap(), etag, "{path}: new ETag");
        assert_eq!(res.json(), before.json(), "{path}: changed");
        assert_eq!(count(&app), events, "{path}: audit event for no change");
        // A real change still writes and audits.
        let res = app
            .patch(&path, Some(&etag), &json!({"name": {"en": "Renamed"}}))
            .await;
        assert_eq!(res.status, 200, "{path}: {}", res.text());
        assert_ne!(res.header("etag").unwrap(), etag);
        assert_eq!(count(&app), events + 1, "{path}: one event per change");
    }
}
