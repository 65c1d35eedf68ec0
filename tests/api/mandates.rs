//! Mandates and their assignments to offices: reference shapes and what they derive,
//! uniqueness, the year check, updates, deletion of unreferenced mandates, the list's
//! filters, search and pagination; assignments' status edges, role rules and mass
//! assignment of the due date; an office's mandates; the audit trail.

use actix_web::http::Method;
use chrono::{DateTime, SecondsFormat, Utc};
use ogsms::auth::policy::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{Resp, TestApp};

const MISSING_ID: &str = "0193a6f0-0000-7000-8000-000000000000";

fn mandate(reference: &str, adopted_on: &str) -> Value {
    json!({
        "reference": reference,
        "adopted_on": adopted_on,
        "pillar": "democracy",
        "title": {
            "en": format!("Mandate {reference}").trim(),
            "es": format!("Mandato {reference}").trim()
        },
        "summary": {"en": "What it asks for."}
    })
}

async fn create_body(app: &TestApp, body: &Value) -> Value {
    let res = app.post("/v1/mandates", body).await;
    assert_eq!(res.status, 201, "{}: {}", body["reference"], res.text());
    res.json()
}

async fn create(app: &TestApp, reference: &str, adopted_on: &str) -> Value {
    create_body(app, &mandate(reference, adopted_on)).await
}

fn path_of(m: &Value) -> String {
    format!("/v1/mandates/{}", m["id"].as_str().unwrap())
}

async fn etag(app: &TestApp, path: &str) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.header("etag").unwrap()
}

async fn patch(app: &TestApp, path: &str, body: &Value) -> Resp {
    let tag = etag(app, path).await;
    app.patch(path, Some(&tag), body).await
}

fn references(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|m| m["reference"].as_str().unwrap().to_owned())
        .collect()
}

fn audit_count(app: &TestApp, resource_type: &str, action: &str) -> i64 {
    app.db
        .scalar(&format!(
            "SELECT count(*) FROM audit_events WHERE resource_type = '{resource_type}' AND action = '{action}'"
        ))
        .parse()
        .unwrap()
}

fn office(code: &str) -> Uuid {
    ogsms::seed::demo_id("office", code)
}

fn bearer(app: &TestApp, role: Role, office: Option<Uuid>) -> String {
    format!("Bearer {}", app.token(role, office, None))
}

async fn assign(app: &TestApp, m: &Value, office_code: &str) -> Value {
    let res = app
        .post(
            &format!("{}/assignments", path_of(m)),
            &json!({"office_id": office(office_code), "due_on": "2030-06-30"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()
}

fn assignment_path(a: &Value) -> String {
    format!(
        "/v1/mandates/{}/assignments/{}",
        a["mandate_id"].as_str().unwrap(),
        a["id"].as_str().unwrap()
    )
}

async fn patch_as(app: &TestApp, path: &str, auth: &str, body: &Value) -> Resp {
    let tag = etag(app, path).await;
    app.request(
        Method::PATCH,
        path,
        &[("authorization", auth), ("if-match", &tag)],
        Some(body),
    )
    .await
}

// ---------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn valid_references_derive_the_issuing_body_and_the_document_kind() {
    let app = TestApp::new().await;
    let cases = [
        (
            "AG/RES. 2976 (LII-O/22)",
            "2022-10-07",
            "general_assembly",
            "resolution",
        ),
        (
            "AG/DEC. 74 (XLIV-O/14)",
            "2014-06-05",
            "general_assembly",
            "declaration",
        ),
        (
            "AG/RES. 2814 (XLIV-O/14)",
            "2014-06-05",
            "general_assembly",
            "resolution",
        ),
        (
            "AG/RES. 1 (XLIX-E/19)",
            "2019-12-01",
            "general_assembly",
            "resolution",
        ),
        (
            "AG/RES. 1080 (XXI-O/91)",
            "1991-06-05",
            "general_assembly",
            "resolution",
        ),
        (
            "AG/RES. 9 (C-O/99)",
            "1999-01-01",
            "general_assembly",
            "resolution",
        ),
        (
            "AG/RES. 10 (I-E/70)",
            "1970-01-01",
            "general_assembly",
            "resolution",
        ),
        (
            "CP/RES. 1234 (2345/22)",
            "2022-03-02",
            "permanent_council",
            "resolution",
        ),
        (
            "CP/RES. 996 (1832/11)",
            "2011-10-20",
            "permanent_council",
            "resolution",
        ),
        (
            "CP/DEC. 5 (1832/11)",
            "2011-10-20",
            "permanent_council",
            "declaration",
        ),
        (
            "CIDI/RES. 123 (XX-O/15)",
            "2015-05-10",
            "cidi",
            "resolution",
        ),
        (
            "CIDI/DEC. 9 (XCIX-E/21)",
            "2021-02-01",
            "cidi",
            "declaration",
        ),
    ];
    for (reference, adopted_on, body, kind) in cases {
        let m = create(&app, reference, adopted_on).await;
        assert_eq!(m["reference"], reference);
        assert_eq!(m["issuing_body"], body, "{reference}");
        assert_eq!(m["document_kind"], kind, "{reference}");
        assert_eq!(m["status"], "in_force");
    }
    assert_eq!(audit_count(&app, "mandate", "create"), cases.len() as i64);
}

#[actix_web::test]
async fn malformed_references_are_422_naming_reference() {
    let app = TestApp::new().await;
    let cases = [
        "",
        "AG/RES.2976 (LII-O/22)",    // no space after the point
        "AG/RES 2976 (LII-O/22)",    // no point
        "ag/res. 2976 (LII-O/22)",   // lower case
        "AG/RES. 2976 (LII/22)",     // no O or E
        "AG/RES. 2976 (LII-X/22)",   // neither O nor E
        "AG/RES. 2976 (LII-O/2022)", // four-digit year
        "AG/RES. 2976 (LII-O-22)",   // no slash
        "AG/RES. 2976 (IIII-O/22)",  // not a numeral
        "AG/RES. 2976 (IC-O/22)",    // not a canonical numeral
        "AG/RES. 2976 (VX-O/22)",    // not a canonical numeral
        "AG/RES. 2976 (CI-O/22)",    // beyond C
        "AG/RES. 2976 (lii-O/22)",   // lower-case numeral
        "AG/RES. 2976 (2345/22)",    // an Assembly names its session, not a meeting
        "CP/RES. 1234 (LII-O/22)",   // the Council names a meeting, not a session
        "CIDI/RES. 123 (2345/15)",   // CIDI names its session
        "OAS/RES. 1 (I-O/22)",       // no such body
        "AG/RESOLUTION 1 (I-O/22)",  // no such kind
        "AG/RES. 0 (I-O/22)",        // no number zero
        "AG/RES. 0123 (I-O/22)",     // leading zero
        "AG/RES. 2976 (LII-O/22) rev. 1",
        "AG/RES. 2976  (LII-O/22)", // two spaces
    ];
    for reference in cases {
        let res = app
            .post("/v1/mandates", &mandate(reference, "2022-10-07"))
            .await;
        res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec!["reference"], "{reference:?}");
    }
    let res = app
        .post(
            "/v1/mandates",
            &mandate("AG/RES. 2976 (IIII-O/22)", "2022-10-07"),
        )
        .await;
    assert_eq!(res.json()["errors"][0]["code"], "invalid_session");
    assert_eq!(app.db.scalar("SELECT count(*) FROM mandates"), "0");
    assert_eq!(audit_count(&app, "mandate", "create"), 0);
}

#[actix_web::test]
async fn the_references_year_agrees_with_adopted_on() {
    let app = TestApp::new().await;
    let res = app
        .post(
            "/v1/mandates",
            &mandate("AG/RES. 2976 (LII-O/22)", "2021-10-07"),
        )
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["adopted_on"]);
    let res = app
        .post(
            "/v1/mandates",
            &mandate("CP/RES. 1234 (2345/22)", "2012-03-02"),
        )
        .await;
    assert_eq!(res.problem_fields(), vec!["adopted_on"]);
    // Not in the future.
    let res = app
        .post(
            "/v1/mandates",
            &mandate("AG/RES. 1 (XC-O/99)", "2099-01-01"),
        )
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["adopted_on"]);

    let m = create(&app, "AG/RES. 2976 (LII-O/22)", "2022-10-07").await;
    // A PATCH of the reference alone blames the reference, of the date alone the date.
    let res = patch(
        &app,
        &path_of(&m),
        &json!({"reference": "AG/RES. 2976 (LII-O/23)"}),
    )
    .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["reference"]);
    let res = patch(&app, &path_of(&m), &json!({"adopted_on": "2023-01-01"})).await;
    assert_eq!(res.problem_fields(), vec!["adopted_on"]);
    // Both together agree.
    let res = patch(
        &app,
        &path_of(&m),
        &json!({"reference": "AG/RES. 2976 (LIII-O/23)", "adopted_on": "2023-06-21"}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(audit_count(&app, "mandate", "update"), 1);
}

#[actix_web::test]
async fn a_given_issuing_body_or_kind_must_agree_with_the_reference() {
    let app = TestApp::new().await;
    let mut b = mandate("AG/RES. 2976 (LII-O/22)", "2022-10-07");
    b["issuing_body"] = json!("permanent_council");
    b["document_kind"] = json!("declaration");
    let res = app.post("/v1/mandates", &b).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["issuing_body", "document_kind"]);
    b["issuing_body"] = json!("general_assembly");
    b["document_kind"] = json!("resolution");
    let m = create_body(&app, &b).await;

    // A new reference derives them anew; a contradicting one is refused.
    let res = patch(
        &app,
        &path_of(&m),
        &json!({"reference": "CP/DEC. 12 (2300/22)", "issuing_body": "general_assembly"}),
    )
    .await;
    assert_eq!(res.problem_fields(), vec!["issuing_body"]);
    let res = patch(
        &app,
        &path_of(&m),
        &json!({"reference": "CP/DEC. 12 (2300/22)"}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["issuing_body"], "permanent_council");
    assert_eq!(res.json()["document_kind"], "declaration");
    let res = patch(&app, &path_of(&m), &json!({"issuing_body": "cidi"})).await;
    assert_eq!(res.problem_fields(), vec!["issuing_body"]);
    app.get("/v1/mandates?issuing_body=council")
        .await
        .problem(400, "invalid-parameter");
}

#[actix_web::test]
async fn the_reference_is_unique() {
    let app = TestApp::new().await;
    create(&app, "AG/RES. 2976 (LII-O/22)", "2022-10-07").await;
    let res = app
        .post(
            "/v1/mandates",
            &mandate("AG/RES. 2976 (LII-O/22)", "2022-06-01"),
        )
        .await;
    res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["reference"]);
    // Surrounding blanks make no reference at all (nothing is trimmed).
    let res = app
        .post(
            "/v1/mandates",
            &mandate("  AG/RES. 2976 (LII-O/22) ", "2022-06-01"),
        )
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["reference"]);
    let other = create(&app, "AG/RES. 2977 (LII-O/22)", "2022-10-07").await;
    let res = patch(
        &app,
        &path_of(&other),
        &json!({"reference": "AG/RES. 2976 (LII-O/22)"}),
    )
    .await;
    res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["reference"]);
    assert_eq!(audit_count(&app, "mandate", "create"), 2);
    assert_eq!(audit_count(&app, "mandate", "update"), 0);
}

// ---------------------------------------------------------------------------------------
// Updates and roles
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn only_the_coordinator_writes_mandates() {
    let app = TestApp::demo().await;
    let m = create(&app, "AG/RES. 2976 (LII-O/22)", "2022-10-07").await;
    let pe = office("OGSMS-PE");
    for auth in [
        bearer(&app, Role::Viewer, None),
        bearer(&app, Role::Representative, Some(pe)),
        bearer(&app, Role::OfficeStaff, Some(pe)),
        bearer(&app, Role::Auditor, None),
    ] {
        app.request(
            Method::POST,
            "/v1/mandates",
            &[("authorization", &auth)],
            Some(&mandate("AG/RES. 1 (LII-O/22)", "2022-10-07")),
        )
        .await
        .problem(403, "forbidden");
        patch_as(&app, &path_of(&m), &auth, &json!({"status": "fulfilled"}))
            .await
            .problem(403, "forbidden");
        app.request(
            Method::DELETE,
            &path_of(&m),
            &[("authorization", &auth)],
            None,
        )
        .await
        .problem(403, "forbidden");
        let res = app
            .request(Method::GET, &path_of(&m), &[("authorization", &auth)], None)
            .await;
        assert_eq!(res.status, 200);
    }
    assert_eq!(app.db.scalar("SELECT count(*) FROM audit_events"), "1");
}

#[actix_web::test]
async fn patch_changes_a_mandate_under_if_match() {
    let app = TestApp::new().await;
    let m = create(&app, "AG/RES. 2976 (LII-O/22)", "2022-10-07").await;
    let path = path_of(&m);
    app.patch(&path, None, &json!({"status": "fulfilled"}))
        .await
        .problem(428, "precondition-required");
    let stale = etag(&app, &path).await;
    let res = patch(
        &app,
        &path,
        &json!({"status": "superseded", "pillar": "human_rights", "title": {"fr": "Mandat"}, "summary": null}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let changed = res.json();
    assert_eq!(changed["status"], "superseded");
    assert_eq!(changed["pillar"], "human_rights");
    assert_eq!(changed["title"], json!({"fr": "Mandat"}));
    assert!(changed["summary"].is_null());
    app.patch(&path, Some(&stale), &json!({"status": "in_force"}))
        .await
        .problem(412, "precondition-failed");
    for (body, field) in [
        (json!({"id": MISSING_ID}), "id"),
        (json!({"title": null}), "title"),
        (json!({"pillar": "economy"}), "pillar"),
        (json!({"title": {"en": ""}}), "title.en"),
    ] {
        let res = patch(&app, &path, &body).await;
        res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec![field], "{body}");
    }
    assert_eq!(audit_count(&app, "mandate", "update"), 1);
    app.patch(
        &format!("/v1/mandates/{MISSING_ID}"),
        Some("\"x\""),
        &json!({}),
    )
    .await
    .problem(404, "not-found");
}

// ---------------------------------------------------------------------------------------
// Deletion
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_referenced_mandate_cannot_be_deleted() {
    let app = TestApp::demo().await;
    let free = create(&app, "AG/RES. 1 (LII-O/22)", "2022-10-07").await;
    let assigned = create(&app, "AG/RES. 2 (LII-O/22)", "2022-10-07").await;
    let in_project = create(&app, "AG/RES. 3 (LII-O/22)", "2022-10-07").await;
    let both = create(&app, "AG/RES. 4 (LII-O/22)", "2022-10-07").await;
    assign(&app, &assigned, "OGSMS-PE").await;
    assign(&app, &both, "OGSMS-PE").await;
    app.db
        .execute(&format!(
            "INSERT INTO projects (id, code, title, office_id, department_id, pillar, starts_on,
                                   budget_amount, budget_currency, funding_source)
             SELECT gen_random_uuid(), 'PE-001', '{{\"en\": \"A project\"}}', o.id, d.id, 'democracy',
                    '2024-01-01', 100, 'USD', 'regular_fund'
             FROM offices o, departments d WHERE o.code = 'OGSMS-PE' AND d.code = 'DECO';
             INSERT INTO project_mandates (project_id, mandate_id)
             SELECT p.id, m.id FROM projects p, mandates m
             WHERE p.code = 'PE-001' AND m.id IN ('{}', '{}');",
            in_project["id"].as_str().unwrap(),
            both["id"].as_str().unwrap()
        ))
        .unwrap();

    for (m, fields) in [
        (&assigned, vec!["assignments"]),
        (&in_project, vec!["projects"]),
        (&both, vec!["projects", "assignments"]),
    ] {
        let res = app.request(Method::DELETE, &path_of(m), &[], None).await;
        res.problem(409, "still-referenced");
        assert_eq!(res.problem_fields(), fields);
        assert_eq!(app.get(&path_of(m)).await.status, 200);
    }
    assert_eq!(audit_count(&app, "mandate", "delete"), 0);

    app.request(
        Method::DELETE,
        &path_of(&free),
        &[("if-match", "\"stale\"")],
        None,
    )
    .await
    .problem(412, "precondition-failed");
    let res = app
        .request(Method::DELETE, &path_of(&free), &[], None)
        .await;
    assert_eq!(res.status, 204, "{}", res.text());
    app.get(&path_of(&free)).await.problem(404, "not-found");
    assert_eq!(audit_count(&app, "mandate", "delete"), 1);
    app.request(Method::DELETE, &path_of(&free), &[], None)
        .await
        .problem(404, "not-found");
}

// ---------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------

/// Mandates of every body, kind, pillar and status.
async fn sample(app: &TestApp) -> Vec<Value> {
    let rows = [
        (
            "AG/RES. 2976 (LII-O/22)",
            "2022-10-07",
            "democracy",
            json!({"es": "Cooperación para el desarrollo"}),
        ),
        (
            "AG/DEC. 74 (XLIV-O/14)",
            "2014-06-05",
            "human_rights",
            json!({"fr": "Déclaration sur l'égalité"}),
        ),
        (
            "CP/RES. 996 (1832/11)",
            "2011-10-20",
            "integral_development",
            json!({"en": "Support to the Haiti office"}),
        ),
        (
            "CIDI/RES. 123 (XX-O/15)",
            "2015-05-10",
            "integral_development",
            json!({"pt": "Cooperação técnica"}),
        ),
        (
            "CP/DEC. 5 (2100/17)",
            "2017-01-15",
            "multidimensional_security",
            json!({"en": "Security declaration"}),
        ),
    ];
    let mut out = Vec::new();
    for (reference, adopted_on, pillar, title) in rows {
        let mut b = mandate(reference, adopted_on);
        b["pillar"] = json!(pillar);
        b["title"] = title;
        out.push(create_body(app, &b).await);
    }
    out
}

#[actix_web::test]
async fn filters_of_the_mandate_list() {
    let app = TestApp::new().await;
    let all = sample(&app).await;
    let res = patch(&app, &path_of(&all[4]), &json!({"status": "superseded"})).await;
    assert_eq!(res.status, 200);
    let get = async |q: &str| {
        let mut found = references(&app.collect(&format!("/v1/mandates?{q}")).await);
        found.sort();
        found
    };
    assert_eq!(
        get("pillar=integral_development").await,
        vec!["CIDI/RES. 123 (XX-O/15)", "CP/RES. 996 (1832/11)"]
    );
    assert_eq!(get("pillar=democracy,human_rights").await.len(), 2);
    assert_eq!(get("status=superseded").await, vec!["CP/DEC. 5 (2100/17)"]);
    assert_eq!(get("status=in_force").await.len(), 4);
    assert_eq!(
        get("issuing_body=permanent_council").await,
        vec!["CP/DEC. 5 (2100/17)", "CP/RES. 996 (1832/11)"]
    );
    assert_eq!(get("issuing_body=cidi,general_assembly").await.len(), 3);
    assert_eq!(
        get("document_kind=declaration").await,
        vec!["AG/DEC. 74 (XLIV-O/14)", "CP/DEC. 5 (2100/17)"]
    );
    assert_eq!(
        get("adopted_from=2015-05-10").await,
        vec![
            "AG/RES. 2976 (LII-O/22)",
            "CIDI/RES. 123 (XX-O/15)",
            "CP/DEC. 5 (2100/17)"
        ]
    );
    assert_eq!(
        get("adopted_to=2014-06-05").await,
        vec!["AG/DEC. 74 (XLIV-O/14)", "CP/RES. 996 (1832/11)"]
    );
    assert_eq!(
        get("adopted_from=2014-01-01&adopted_to=2016-12-31").await,
        vec!["AG/DEC. 74 (XLIV-O/14)", "CIDI/RES. 123 (XX-O/15)"]
    );
    assert_eq!(
        get("document_kind=resolution&pillar=integral_development&issuing_body=cidi").await,
        vec!["CIDI/RES. 123 (XX-O/15)"]
    );
    let since: DateTime<Utc> = res.json()["updated_at"].as_str().unwrap().parse().unwrap();
    let z = since.to_rfc3339_opts(SecondsFormat::Micros, true);
    assert_eq!(
        get(&format!("updated_since={z}")).await,
        vec!["CP/DEC. 5 (2100/17)"]
    );
    for bad in [
        "pillar=economy",
        "status=active",
        "document_kind=law",
        "adopted_from=2014",
        "adopted_to=yesterday",
        "updated_since=2024-01-01",
        "sort=title",
        "q=",
    ] {
        app.get(&format!("/v1/mandates?{bad}"))
            .await
            .problem(400, "invalid-parameter");
    }
}

#[actix_web::test]
async fn text_search_over_references_and_titles_in_every_language() {
    let app = TestApp::new().await;
    sample(&app).await;
    let search = async |q: &str| {
        let mut found = references(&app.collect(&format!("/v1/mandates?q={q}")).await);
        found.sort();
        found
    };
    // Spanish without accents finds "Cooperación"; Portuguese "Cooperação" too.
    assert_eq!(search("cooperacion").await, vec!["AG/RES. 2976 (LII-O/22)"]);
    assert_eq!(
        search("COOPERA").await,
        vec!["AG/RES. 2976 (LII-O/22)", "CIDI/RES. 123 (XX-O/15)"]
    );
    // French, accent-insensitive both ways.
    assert_eq!(search("egalite").await, vec!["AG/DEC. 74 (XLIV-O/14)"]);
    assert_eq!(
        search("D%C3%89CLARATION").await,
        vec!["AG/DEC. 74 (XLIV-O/14)", "CP/DEC. 5 (2100/17)"]
    );
    // The reference.
    assert_eq!(search("2976").await, vec!["AG/RES. 2976 (LII-O/22)"]);
    assert_eq!(
        search("cp%2F").await,
        vec!["CP/DEC. 5 (2100/17)", "CP/RES. 996 (1832/11)"]
    );
    // English title, combined with a filter.
    assert_eq!(
        references(
            &app.collect("/v1/mandates?q=declaration&issuing_body=permanent_council")
                .await
        ),
        vec!["CP/DEC. 5 (2100/17)"]
    );
    assert!(search("fr").await.is_empty());
}

#[actix_web::test]
async fn sorting_and_paging_a_filtered_list() {
    let app = TestApp::new().await;
    let mut ga = Vec::new();
    for i in 1..=7 {
        let reference = format!("AG/RES. {} (LII-O/22)", 3000 + i);
        // Adopted in an order that differs from the references'.
        create(&app, &reference, &format!("2022-0{}-01", 8 - i)).await;
        ga.push(reference);
        create(&app, &format!("CP/RES. {i} (2300/22)"), "2022-01-15").await;
    }
    let got = references(
        &app.collect("/v1/mandates?issuing_body=general_assembly&limit=2")
            .await,
    );
    assert_eq!(got, ga, "by reference, the default");
    let mut by_date = ga.clone();
    by_date.reverse();
    assert_eq!(
        references(
            &app.collect("/v1/mandates?issuing_body=general_assembly&limit=3&sort=adopted_on")
                .await
        ),
        by_date
    );
    assert_eq!(
        references(
            &app.collect("/v1/mandates?issuing_body=general_assembly&limit=3&sort=-adopted_on")
                .await
        ),
        ga
    );
    assert_eq!(
        references(
            &app.collect("/v1/mandates?issuing_body=general_assembly&limit=2&sort=-updated_at")
                .await
        ),
        by_date
    );
    let res = app.get("/v1/mandates?q=ag%2Fres&limit=4").await;
    assert_eq!(res.json()["items"].as_array().unwrap().len(), 4);
    assert!(res.header("link").unwrap().contains("q=ag%2Fres"));
    assert_eq!(
        app.collect("/v1/mandates?q=ag%2Fres&limit=4").await.len(),
        7
    );
    // A cursor of another sort is refused.
    let cursor = res.json()["next_cursor"].as_str().unwrap().to_owned();
    app.get(&format!("/v1/mandates?sort=adopted_on&cursor={cursor}"))
        .await
        .problem(400, "invalid-parameter");
}

// ---------------------------------------------------------------------------------------
// Assignments
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn assigning_a_mandate_to_an_office() {
    let app = TestApp::demo().await;
    let m = create(&app, "AG/RES. 2976 (LII-O/22)", "2022-10-07").await;
    let path = format!("{}/assignments", path_of(&m));
    let res = app
        .post(
            &path,
            &json!({"office_id": office("OGSMS-PE"), "due_on": "2030-06-30", "progress_notes": "  "}),
        )
        .await;
    // Blank notes are refused (nothing is trimmed): absent or null is how to have none.
    assert_eq!(res.problem_fields(), ["progress_notes"], "{}", res.text());
    let res = app
        .post(
            &path,
            &json!({"office_id": office("OGSMS-PE"), "due_on": "2030-06-30", "progress_notes": null}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let a = res.json();
    assert_eq!(res.header("location").unwrap(), assignment_path(&a));
    assert_eq!(a["status"], "assigned");
    assert_eq!(a["mandate_id"], m["id"]);
    assert_eq!(a["due_on"], "2030-06-30");
    assert!(a["progress_notes"].is_null());
    let got = app.get(&assignment_path(&a)).await;
    assert_eq!(got.json(), a);
    assert_eq!(audit_count(&app, "mandate_assignment", "create"), 1);

    // Once per office.
    let res = app
        .post(&path, &json!({"office_id": office("OGSMS-PE")}))
        .await;
    res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["office_id"]);
    // An unknown office, a due date before adoption.
    let res = app.post(&path, &json!({"office_id": MISSING_ID})).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["office_id"]);
    let res = app
        .post(
            &path,
            &json!({"office_id": office("OGSMS-CO"), "due_on": "2022-10-06"}),
        )
        .await;
    assert_eq!(res.problem_fields(), vec!["due_on"]);
    let res = app
        .post(
            &path,
            &json!({"office_id": office("OGSMS-CO"), "progress_notes": "x".repeat(4001)}),
        )
        .await;
    assert_eq!(res.problem_fields(), vec!["progress_notes"]);
    // A closed office.
    let res = app
        .post(
            &format!("/v1/offices/{}/close", office("OGSMS-CO")),
            &json!({"closed_on": "2024-01-31"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let res = app
        .post(&path, &json!({"office_id": office("OGSMS-CO")}))
        .await;
    res.problem(409, "invalid-state");
    assert_eq!(res.problem_fields(), vec!["office_id"]);
    // A mandate no longer in force.
    let old = create(&app, "AG/RES. 1 (XL-O/10)", "2010-06-08").await;
    patch(&app, &path_of(&old), &json!({"status": "superseded"})).await;
    app.post(
        &format!("{}/assignments", path_of(&old)),
        &json!({"office_id": office("OGSMS-PE")}),
    )
    .await
    .problem(409, "invalid-state");
    // An unknown mandate; an assignment under another mandate.
    app.post(
        &format!("/v1/mandates/{MISSING_ID}/assignments"),
        &json!({"office_id": office("OGSMS-PE")}),
    )
    .await
    .problem(404, "not-found");
    app.get(&format!(
        "{}/assignments/{}",
        path_of(&old),
        a["id"].as_str().unwrap()
    ))
    .await
    .problem(404, "not-found");
    assert_eq!(audit_count(&app, "mandate_assignment", "create"), 1);

    // Only the coordinator assigns.
    for auth in [
        bearer(&app, Role::Viewer, None),
        bearer(&app, Role::Representative, Some(office("OGSMS-MX"))),
    ] {
        app.request(
            Method::POST,
            &path,
            &[("authorization", &auth)],
            Some(&json!({"office_id": office("OGSMS-MX")})),
        )
        .await
        .problem(403, "forbidden");
    }
    assert_eq!(audit_count(&app, "mandate_assignment", "create"), 1);
}

const STATUSES: [&str; 4] = ["assigned", "in_progress", "fulfilled", "not_applicable"];

/// The allowed moves; a PATCH to the current status is no move and changes nothing.
const ALLOWED: [(&str, &str); 4] = [
    ("assigned", "in_progress"),
    ("in_progress", "fulfilled"),
    ("assigned", "not_applicable"),
    ("in_progress", "not_applicable"),
];

#[actix_web::test]
async fn assignment_status_moves_only_forward_over_all_16_pairs() {
    let app = TestApp::demo().await;
    let m = create(&app, "AG/RES. 2976 (LII-O/22)", "2022-10-07").await;
    let offices: Vec<String> = app
        .collect("/v1/offices?kind=country_office&limit=500")
        .await
        .iter()
        .map(|o| o["code"].as_str().unwrap().to_owned())
        .collect();
    let mut pairs = 0;
    let mut moves: i64 = 0;
    for (i, from) in STATUSES.iter().enumerate() {
        for (j, to) in STATUSES.iter().enumerate() {
            let a = assign(&app, &m, &offices[i * 4 + j]).await;
            app.db
                .execute(&format!(
                    "UPDATE mandate_assignments SET status = '{from}' WHERE id = '{}'",
                    a["id"].as_str().unwrap()
                ))
                .unwrap();
            let res = patch(&app, &assignment_path(&a), &json!({ "status": to })).await;
            let stored = app.db.scalar(&format!(
                "SELECT status FROM mandate_assignments WHERE id = '{}'",
                a["id"].as_str().unwrap()
            ));
            if ALLOWED.contains(&(*from, *to)) {
                assert_eq!(res.status, 200, "{from} -> {to}: {}", res.text());
                assert_eq!(res.json()["status"], *to);
                assert_eq!(stored, *to);
                moves += 1;
            } else if from == to {
                assert_eq!(res.status, 200, "{from} -> {to}: {}", res.text());
                assert_eq!(stored, *from);
            } else {
                res.problem(409, "invalid-state");
                assert_eq!(res.problem_fields(), vec!["status"], "{from} -> {to}");
                assert_eq!(stored, *from, "{from} -> {to} changed nothing");
            }
            pairs += 1;
        }
    }
    assert_eq!(pairs, 16);
    // Only real moves are audited.
    assert_eq!(audit_count(&app, "mandate_assignment", "update"), moves);
    assert_eq!(moves, 4);
}

#[actix_web::test]
async fn who_updates_an_assignment_and_what_they_may_change() {
    let app = TestApp::demo().await;
    let m = create(&app, "AG/RES. 2976 (LII-O/22)", "2022-10-07").await;
    let a = assign(&app, &m, "OGSMS-PE").await;
    let path = assignment_path(&a);
    let own = bearer(&app, Role::Representative, Some(office("OGSMS-PE")));
    let other = bearer(&app, Role::Representative, Some(office("OGSMS-CO")));
    let staff = bearer(&app, Role::OfficeStaff, Some(office("OGSMS-PE")));
    let viewer = bearer(&app, Role::Viewer, None);

    for auth in [&other, &staff, &viewer] {
        patch_as(&app, &path, auth, &json!({"progress_notes": "No."}))
            .await
            .problem(403, "forbidden");
    }
    // The office's representative reports progress.
    let res = patch_as(
        &app,
        &path,
        &own,
        &json!({"status": "in_progress", "progress_notes": "Workshops held.\nMore to come."}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "in_progress");
    assert_eq!(
        app.db.scalar(
            "SELECT actor_role FROM audit_events WHERE resource_type = 'mandate_assignment' AND action = 'update'"
        ),
        "representative"
    );
    // But does not move the due date (mass assignment), alone or with other changes.
    for body in [
        json!({"due_on": "2031-01-01"}),
        json!({"due_on": null}),
        json!({"due_on": "2031-01-01", "progress_notes": "Also this."}),
    ] {
        let res = patch_as(&app, &path, &own, &body).await;
        res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec!["due_on"], "{body}");
    }
    // Sending the due date unchanged is no change.
    let res = patch_as(
        &app,
        &path,
        &own,
        &json!({"due_on": "2030-06-30", "progress_notes": "Same date."}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    // Read-only fields, notes too long.
    for (body, field) in [
        (json!({"office_id": office("OGSMS-CO")}), "office_id"),
        (json!({"mandate_id": MISSING_ID}), "mandate_id"),
        (json!({"status": null}), "status"),
        (
            json!({"progress_notes": "x".repeat(4001)}),
            "progress_notes",
        ),
    ] {
        let res = patch_as(&app, &path, &own, &body).await;
        res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec![field]);
    }
    let res = patch_as(
        &app,
        &path,
        &own,
        &json!({"progress_notes": "é".repeat(4000)}),
    )
    .await;
    assert_eq!(res.status, 200, "4000 characters are fine: {}", res.text());
    let res = patch_as(&app, &path, &own, &json!({"progress_notes": null})).await;
    assert!(res.json()["progress_notes"].is_null());
    assert_eq!(res.json()["due_on"], "2030-06-30");
    // The coordinator moves the due date, and clears it.
    let res = patch(&app, &path, &json!({"due_on": "2031-03-31"})).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["due_on"], "2031-03-31");
    let res = patch(&app, &path, &json!({"due_on": "2020-01-01"})).await;
    assert_eq!(res.problem_fields(), vec!["due_on"]);
    let res = patch(&app, &path, &json!({"due_on": null})).await;
    assert!(res.json()["due_on"].is_null());

    // If-Match is required and must be current.
    app.patch(&path, None, &json!({"progress_notes": "x"}))
        .await
        .problem(428, "precondition-required");
    app.patch(&path, Some("\"stale\""), &json!({"progress_notes": "x"}))
        .await
        .problem(412, "precondition-failed");
    app.patch(
        &format!("{}/assignments/{MISSING_ID}", path_of(&m)),
        Some("\"x\""),
        &json!({}),
    )
    .await
    .problem(404, "not-found");
    // Successful changes only: progress, same-date notes, 4000 chars, clear notes,
    // the coordinator's two due-date changes.
    assert_eq!(audit_count(&app, "mandate_assignment", "update"), 6);
}

#[actix_web::test]
async fn assignment_lists_filter_and_page() {
    let app = TestApp::demo().await;
    let m = create(&app, "AG/RES. 2976 (LII-O/22)", "2022-10-07").await;
    let other = create(&app, "CP/RES. 1234 (2345/22)", "2022-03-02").await;
    let codes = [
        "OGSMS-PE", "OGSMS-CO", "OGSMS-MX", "OGSMS-AR", "OGSMS-BO", "OGSMS-GT",
    ];
    let mut assigned = Vec::new();
    for c in codes {
        assigned.push(assign(&app, &m, c).await);
    }
    assign(&app, &other, "OGSMS-PE").await;
    let started = patch(
        &app,
        &assignment_path(&assigned[2]),
        &json!({"status": "in_progress"}),
    )
    .await
    .json();
    let ids = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = format!("{}/assignments", path_of(&m));
    let all = app.collect(&format!("{list}?limit=4")).await;
    assert_eq!(ids(&all), ids(&assigned));
    let waiting = app
        .collect(&format!("{list}?status=assigned&limit=2"))
        .await;
    assert_eq!(waiting.len(), 5);
    assert!(waiting.iter().all(|a| a["status"] == "assigned"));
    assert_eq!(
        ids(&app
            .collect(&format!("{list}?status=in_progress,fulfilled"))
            .await),
        vec![started["id"].as_str().unwrap()]
    );
    let z = started["updated_at"].as_str().unwrap().replace('+', "%2B");
    assert_eq!(
        ids(&app.collect(&format!("{list}?updated_since={z}")).await),
        vec![started["id"].as_str().unwrap()]
    );
    let mut desc = ids(&assigned);
    desc.reverse();
    assert_eq!(
        ids(&app
            .collect(&format!("{list}?sort=-created_at&limit=5"))
            .await),
        desc
    );
    app.get(&format!("{list}?status=done"))
        .await
        .problem(400, "invalid-parameter");
    app.get(&format!("/v1/mandates/{MISSING_ID}/assignments"))
        .await
        .problem(404, "not-found");

    // The office's view: both mandates, each with its reference and title.
    let pe = format!("/v1/offices/{}/mandates", office("OGSMS-PE"));
    let mine = app.collect(&format!("{pe}?limit=1")).await;
    assert_eq!(mine.len(), 2);
    assert_eq!(
        references(
            &mine
                .iter()
                .map(|a| a["mandate"].clone())
                .collect::<Vec<_>>()
        ),
        vec!["AG/RES. 2976 (LII-O/22)", "CP/RES. 1234 (2345/22)"]
    );
    assert_eq!(mine[0]["mandate"]["title"], m["title"]);
    assert_eq!(mine[0]["mandate"]["id"], m["id"]);
    assert_eq!(mine[0]["office_id"], json!(office("OGSMS-PE")));
    let mx = format!("/v1/offices/{}/mandates", office("OGSMS-MX"));
    let theirs = app.collect(&format!("{mx}?status=in_progress")).await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["status"], "in_progress");
    assert!(
        app.collect(&format!("{mx}?status=assigned"))
            .await
            .is_empty()
    );
    assert_eq!(
        app.collect(&format!("{mx}?updated_since={z}")).await.len(),
        1
    );
    assert!(
        app.collect(&format!("{pe}?updated_since={z}"))
            .await
            .is_empty()
    );
    // An office without assignments, and no office at all.
    assert!(
        app.collect(&format!("/v1/offices/{}/mandates", office("OGSMS-UY")))
            .await
            .is_empty()
    );
    app.get(&format!("/v1/offices/{MISSING_ID}/mandates"))
        .await
        .problem(404, "not-found");
}
