//! Projects: creation and its validation (money above all), links to mandates and
//! executing agencies, the status life cycle and who may move it, deletion, and the
//! list's filters, text search and pagination.

use std::collections::HashSet;

use actix_web::http::Method;
use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::common::{Resp, TestApp};

pub(crate) const MISSING_ID: &str = "0193a6f0-0000-7000-8000-000000000000";

/// The id of a demo office or department.
pub(crate) fn demo(kind: &str, code: &str) -> String {
    ogsms::seed::demo_id(kind, code).to_string()
}

pub(crate) fn office(code: &str) -> String {
    demo("office", &format!("OGSMS-{code}"))
}

pub(crate) fn department(code: &str) -> String {
    demo("department", code)
}

/// A valid new project of the Peru office and DECO.
pub(crate) fn new_project(code: &str) -> Value {
    json!({
        "code": code,
        "title": {"en": format!("Project {code}"), "es": format!("Proyecto {code}")},
        "office_id": office("PE"),
        "department_id": department("DECO"),
        "pillar": "democracy",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "budget": {"amount": "1000.00", "currency": "USD"},
        "funding_source": "regular_fund"
    })
}

/// Inserts a mandate directly (its endpoints live elsewhere); returns its id.
pub(crate) fn insert_mandate(app: &TestApp, reference: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    app.db
        .execute(&format!(
            "INSERT INTO mandates (id, reference, issuing_body, document_kind, adopted_on, pillar, title) \
             VALUES ('{id}', '{reference}', 'general_assembly', 'resolution', '2022-10-07', 'democracy', \
             '{{\"en\": \"Mandate {reference}\"}}')"
        ))
        .unwrap();
    id
}

/// Inserts an executing agency directly, `active` or `suspended`; returns its id.
pub(crate) fn insert_agency(app: &TestApp, name: &str, status: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    app.db
        .execute(&format!(
            "INSERT INTO executing_agencies (id, name, member_state, kind, registration_number, status) \
             VALUES ('{id}', '{{\"es\": \"{name}\"}}', 'PE', 'ngo', '{id}', '{status}')"
        ))
        .unwrap();
    id
}

pub(crate) fn set_agency_status(app: &TestApp, id: &str, status: &str) {
    app.db
        .execute(&format!(
            "UPDATE executing_agencies SET status = '{status}' WHERE id = '{id}'"
        ))
        .unwrap();
}

/// `Bearer …` for a role of an office or a department.
pub(crate) fn bearer(
    app: &TestApp,
    role: Role,
    office: Option<&str>,
    department: Option<&str>,
) -> String {
    let parse = |s: Option<&str>| s.map(|s| s.parse().unwrap());
    format!(
        "Bearer {}",
        app.token(role, parse(office), parse(department))
    )
}

pub(crate) fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

pub(crate) fn path_of(p: &Value) -> String {
    format!("/v1/projects/{}", id(p))
}

pub(crate) async fn create_as(app: &TestApp, body: &Value, auth: Option<&str>) -> Resp {
    let mut headers = vec![];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    app.request(Method::POST, "/v1/projects", &headers, Some(body))
        .await
}

/// Creates a project, asserting the 201; returns it.
pub(crate) async fn create(app: &TestApp, body: &Value) -> Value {
    let res = create_as(app, body, None).await;
    assert_eq!(res.status, 201, "creating {}: {}", body["code"], res.text());
    res.json()
}

/// PATCHes a project with its current ETag, as `auth` (the coordinator when None).
pub(crate) async fn patch_as(app: &TestApp, p: &Value, body: &Value, auth: Option<&str>) -> Resp {
    let path = path_of(p);
    let etag = app.get(&path).await.header("etag").unwrap();
    let mut headers = vec![("if-match", etag.as_str())];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    app.request(Method::PATCH, &path, &headers, Some(body))
        .await
}

pub(crate) async fn patch_ok(app: &TestApp, p: &Value, body: &Value) -> Value {
    let res = patch_as(app, p, body, None).await;
    assert_eq!(res.status, 200, "{body}: {}", res.text());
    res.json()
}

/// Puts a project into `status` directly in the database.
pub(crate) fn force_status(app: &TestApp, p: &Value, status: &str) {
    app.db
        .execute(&format!(
            "UPDATE projects SET status = '{status}' WHERE id = '{}'",
            id(p)
        ))
        .unwrap();
}

fn codes(items: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = items
        .iter()
        .map(|o| o["code"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

fn count(app: &TestApp, sql_from: &str) -> i64 {
    app.db
        .scalar(&format!("SELECT count(*) FROM {sql_from}"))
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Creation and reads
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn create_returns_201_with_location_etag_and_links() {
    let app = TestApp::demo().await;
    let m1 = insert_mandate(&app, "AG/RES. 2976 (LII-O/22)");
    let m2 = insert_mandate(&app, "CP/RES. 996 (1832/11)");
    let lead = insert_agency(&app, "Jurado Nacional de Elecciones", "active");
    let partner = insert_agency(&app, "Transparencia", "active");
    let mut body = new_project("PE-DEM-2026-01");
    body["description"] = json!({"es": "Observación electoral"});
    body["funding_source"] = json!("specific_fund");
    body["donor"] = json!("Government of Canada");
    body["donor_agreement"] = json!("CAN-2026-07");
    body["mandate_ids"] = json!([m2, m1]);
    body["agencies"] = json!([
        {"agency_id": partner, "role": "partner"},
        {"agency_id": lead, "role": "lead"},
    ]);
    let res = create_as(&app, &body, None).await;
    assert_eq!(res.status, 201, "{}", res.text());
    let p = res.json();
    assert_eq!(res.header("location").unwrap(), path_of(&p));
    let etag = res.header("etag").unwrap();

    assert_eq!(p["code"], "PE-DEM-2026-01");
    assert_eq!(p["status"], "pipeline");
    assert_eq!(p["description"], json!({"es": "Observación electoral"}));
    assert_eq!(p["office_id"], office("PE"));
    assert_eq!(p["department_id"], department("DECO"));
    assert_eq!(p["pillar"], "democracy");
    assert_eq!(p["starts_on"], "2026-01-01");
    assert_eq!(p["ends_on"], "2026-12-31");
    assert_eq!(p["budget"], json!({"amount": "1000.00", "currency": "USD"}));
    assert_eq!(p["funding_source"], "specific_fund");
    assert_eq!(p["donor"], "Government of Canada");
    assert_eq!(p["donor_agreement"], "CAN-2026-07");
    let mut mandates = vec![m1.clone(), m2.clone()];
    mandates.sort();
    assert_eq!(p["mandate_ids"], json!(mandates));
    // The lead first.
    assert_eq!(
        p["agencies"],
        json!([
            {"agency_id": lead, "role": "lead"},
            {"agency_id": partner, "role": "partner"},
        ])
    );

    let got = app.get(&path_of(&p)).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), p);
    assert_eq!(got.header("etag").unwrap(), etag);
    let res = app
        .get_with(&path_of(&p), &[("if-none-match", &etag)])
        .await;
    assert_eq!(res.status, 304);

    assert_eq!(
        count(
            &app,
            &format!(
                "audit_events WHERE resource_type = 'project' AND action = 'create' AND resource_id = '{}'",
                id(&p)
            )
        ),
        1
    );
    app.get(&format!("/v1/projects/{MISSING_ID}"))
        .await
        .problem(404, "not-found");
}

#[actix_web::test]
async fn money_is_exact_in_minor_units() {
    let app = TestApp::demo().await;
    let mut body = new_project("MONEY-1");
    body["budget"] = json!({"amount": "0.10", "currency": "USD"});
    let a = create(&app, &body).await;
    body["code"] = json!("MONEY-2");
    body["budget"] = json!({"amount": "0.20", "currency": "USD"});
    let b = create(&app, &body).await;
    let minor = |p: &Value| {
        app.db.scalar(&format!(
            "SELECT budget_amount::text || ' ' || budget_currency FROM projects WHERE id = '{}'",
            id(p)
        ))
    };
    assert_eq!(minor(&a), "10 USD");
    assert_eq!(minor(&b), "20 USD");
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT sum(budget_amount) FROM projects WHERE id IN ('{}', '{}')",
            id(&a),
            id(&b)
        )),
        "30"
    );
    assert_eq!(a["budget"]["amount"], "0.10");

    for (code, amount, currency, stored, shown) in [
        ("MONEY-3", "100", "JPY", "100 JPY", "100"),
        ("MONEY-4", "1.005", "KWD", "1005 KWD", "1.005"),
        ("MONEY-5", "15000", "CLP", "15000 CLP", "15000"),
        ("MONEY-6", "1234.5", "EUR", "123450 EUR", "1234.50"),
        (
            "MONEY-7",
            "9999999999999.99",
            "USD",
            "999999999999999 USD",
            "9999999999999.99",
        ),
    ] {
        body["code"] = json!(code);
        body["budget"] = json!({"amount": amount, "currency": currency});
        let p = create(&app, &body).await;
        assert_eq!(minor(&p), stored, "{amount} {currency}");
        assert_eq!(
            p["budget"],
            json!({"amount": shown, "currency": currency}),
            "{amount} {currency}"
        );
    }

    // A PATCH of the budget is exact too.
    let p = patch_ok(
        &app,
        &a,
        &json!({"budget": {"amount": "70.07", "currency": "USD"}}),
    )
    .await;
    assert_eq!(minor(&p), "7007 USD");
}

#[actix_web::test]
async fn invalid_money_is_422_naming_budget_amount_or_currency() {
    let app = TestApp::demo().await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"amount": "1.005", "currency": "USD"}),
            "budget.amount",
            "too_many_decimals",
        ),
        (
            json!({"amount": "100.5", "currency": "JPY"}),
            "budget.amount",
            "too_many_decimals",
        ),
        (
            json!({"amount": "1.0001", "currency": "BHD"}),
            "budget.amount",
            "too_many_decimals",
        ),
        (
            json!({"amount": "-5.00", "currency": "USD"}),
            "budget.amount",
            "negative",
        ),
        (
            json!({"amount": "1e3", "currency": "USD"}),
            "budget.amount",
            "exponent_notation",
        ),
        (
            json!({"amount": "12,50", "currency": "USD"}),
            "budget.amount",
            "not_a_decimal",
        ),
        (
            json!({"amount": "", "currency": "USD"}),
            "budget.amount",
            "not_a_decimal",
        ),
        (
            json!({"amount": "10000000000000.00", "currency": "USD"}),
            "budget.amount",
            "too_large",
        ),
        (
            json!({"amount": "1000000000000000", "currency": "JPY"}),
            "budget.amount",
            "too_large",
        ),
        (
            json!({"amount": "10.00", "currency": "XXX"}),
            "budget.currency",
            "unknown_currency",
        ),
        (
            json!({"amount": "10.00", "currency": "usd"}),
            "budget.currency",
            "unknown_currency",
        ),
        // A JSON number is refused: amounts are strings.
        (
            json!({"amount": 10.5, "currency": "USD"}),
            "budget.amount",
            "invalid",
        ),
        (json!({"amount": "10.00"}), "budget.currency", "required"),
    ];
    for (budget, field, code) in cases {
        let mut body = new_project("MONEY-BAD");
        body["budget"] = budget.clone();
        let res = create_as(&app, &body, None).await;
        let p = res.problem(422, "validation-failed");
        assert_eq!(p["errors"][0]["field"], field, "{budget}: {p}");
        assert_eq!(p["errors"][0]["code"], code, "{budget}: {p}");
    }
    assert_eq!(count(&app, "projects"), 0);

    // On PATCH too; nothing changes.
    let p = create(&app, &new_project("MONEY-OK")).await;
    let res = patch_as(
        &app,
        &p,
        &json!({"budget": {"amount": "100.5", "currency": "JPY"}}),
        None,
    )
    .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["budget.amount"]);
    assert_eq!(
        app.get(&path_of(&p)).await.json()["budget"]["amount"],
        "1000.00"
    );
}

#[actix_web::test]
async fn the_code_is_unique() {
    let app = TestApp::demo().await;
    create(&app, &new_project("PE-UNIQ-1")).await;
    let res = create_as(&app, &new_project("PE-UNIQ-1"), None).await;
    res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["code"]);

    let other = create(&app, &new_project("PE-UNIQ-2")).await;
    let res = patch_as(&app, &other, &json!({"code": "PE-UNIQ-1"}), None).await;
    res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["code"]);
    assert_eq!(count(&app, "projects"), 2);
}

#[actix_web::test]
async fn invalid_fields_are_422_naming_each() {
    let app = TestApp::demo().await;
    let set = |field: &str, value: Value| {
        let mut b = new_project("PE-BAD");
        b[field] = value;
        b
    };
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "lower-case code",
            set("code", json!("pe-bad")),
            vec!["code"],
        ),
        ("empty title", set("title", json!({})), vec!["title"]),
        (
            "blank title",
            set("title", json!({"fr": " "})),
            vec!["title.fr"],
        ),
        (
            "empty description",
            set("description", json!({"pt": ""})),
            vec!["description.pt"],
        ),
        (
            "unknown pillar",
            set("pillar", json!("economy")),
            vec!["pillar"],
        ),
        (
            "ends before it starts",
            set("ends_on", json!("2025-12-31")),
            vec!["ends_on"],
        ),
        (
            "not a date",
            set("starts_on", json!("2026-02-30")),
            vec!["starts_on"],
        ),
        (
            "status on create",
            set("status", json!("active")),
            vec!["status"],
        ),
        (
            "a specific fund without donor",
            set("funding_source", json!("specific_fund")),
            vec!["donor", "donor_agreement"],
        ),
        (
            "a trust fund with a donor only",
            {
                let mut b = set("funding_source", json!("trust_fund"));
                b["donor"] = json!("Spain");
                b
            },
            vec!["donor_agreement"],
        ),
        (
            "a regular fund with a donor",
            {
                let mut b = set("donor", json!("Spain"));
                b["donor_agreement"] = json!("ES-1");
                b
            },
            vec!["donor", "donor_agreement"],
        ),
        (
            "unknown fund",
            set("funding_source", json!("loan")),
            vec!["funding_source"],
        ),
        (
            "mandate id not a uuid",
            set("mandate_ids", json!(["nope"])),
            vec!["mandate_ids[0]"],
        ),
        (
            "unknown agency role",
            set(
                "agencies",
                json!([{"agency_id": MISSING_ID, "role": "sponsor"}]),
            ),
            vec!["agencies[0].role"],
        ),
    ];
    for (case, body, fields) in cases {
        let res = create_as(&app, &body, None).await;
        res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), fields, "{case}");
    }
    assert_eq!(count(&app, "projects"), 0);
}

#[actix_web::test]
async fn referenced_rows_must_exist_and_be_usable() {
    let app = TestApp::demo().await;
    let m = insert_mandate(&app, "AG/RES. 1 (L-O/20)");
    let a = insert_agency(&app, "Agencia", "active");
    // A closed office and an inactive department.
    let closed = app
        .post("/v1/offices", &crate::common::new_office("OGSMS-ZZ", "PE"))
        .await
        .json();
    let res = app
        .post(
            &format!("/v1/offices/{}/close", id(&closed)),
            &json!({"closed_on": "2020-01-01"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    app.db
        .execute(&format!(
            "UPDATE departments SET status = 'inactive' WHERE id = '{}'",
            department("DLS")
        ))
        .unwrap();

    let set = |field: &str, value: Value| {
        let mut b = new_project("PE-REF");
        b[field] = value;
        b
    };
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "unknown office",
            set("office_id", json!(MISSING_ID)),
            "office_id",
            "unknown",
        ),
        (
            "closed office",
            set("office_id", json!(id(&closed))),
            "office_id",
            "closed",
        ),
        (
            "unknown department",
            set("department_id", json!(MISSING_ID)),
            "department_id",
            "unknown",
        ),
        (
            "inactive department",
            set("department_id", json!(department("DLS"))),
            "department_id",
            "inactive",
        ),
        (
            "unknown mandate",
            set("mandate_ids", json!([m, MISSING_ID])),
            "mandate_ids[1]",
            "unknown",
        ),
        (
            "mandate twice",
            set("mandate_ids", json!([m, m])),
            "mandate_ids[1]",
            "duplicate",
        ),
        (
            "unknown agency",
            set(
                "agencies",
                json!([{"agency_id": MISSING_ID, "role": "partner"}]),
            ),
            "agencies[0].agency_id",
            "unknown",
        ),
        (
            "agency twice",
            set(
                "agencies",
                json!([{"agency_id": a, "role": "partner"}, {"agency_id": a, "role": "lead"}]),
            ),
            "agencies[1].agency_id",
            "duplicate",
        ),
    ];
    for (case, body, field, code) in cases {
        let res = create_as(&app, &body, None).await;
        let p = res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec![field], "{case}: {p}");
        assert_eq!(p["errors"][0]["code"], code, "{case}");
    }
    assert_eq!(count(&app, "projects"), 0);

    // A project of DLS made before it became inactive keeps it, and can be edited.
    app.db
        .execute(&format!(
            "UPDATE departments SET status = 'active' WHERE id = '{}'",
            department("DLS")
        ))
        .unwrap();
    let p = create(&app, &set("department_id", json!(department("DLS")))).await;
    app.db
        .execute(&format!(
            "UPDATE departments SET status = 'inactive' WHERE id = '{}'",
            department("DLS")
        ))
        .unwrap();
    patch_ok(&app, &p, &json!({"title": {"en": "Still DLS"}})).await;
    // But no project moves to it.
    let q = create(&app, &new_project("PE-REF-2")).await;
    let res = patch_as(&app, &q, &json!({"department_id": department("DLS")}), None).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["department_id"]);
}

// ---------------------------------------------------------------------------------------
// Executing agencies and the lead
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn lead_rules() {
    let app = TestApp::demo().await;
    let a = insert_agency(&app, "A", "active");
    let b = insert_agency(&app, "B", "active");

    // At most one lead.
    let mut body = new_project("PE-LEAD");
    body["agencies"] = json!([
        {"agency_id": a, "role": "lead"},
        {"agency_id": b, "role": "lead"},
    ]);
    let res = create_as(&app, &body, None).await;
    let p = res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["agencies"]);
    assert_eq!(p["errors"][0]["code"], "too_many_leads");

    // No lead is fine until the project becomes active.
    body["agencies"] = json!([{"agency_id": a, "role": "partner"}]);
    let p = create(&app, &body).await;
    let p = patch_ok(&app, &p, &json!({"status": "approved"})).await;
    let res = patch_as(&app, &p, &json!({"status": "active"}), None).await;
    let problem = res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["agencies"]);
    assert_eq!(problem["errors"][0]["code"], "lead_required");
    assert_eq!(app.get(&path_of(&p)).await.json()["status"], "approved");

    // Naming the lead in the same PATCH activates it.
    let p = patch_ok(
        &app,
        &p,
        &json!({"status": "active", "agencies": [
            {"agency_id": a, "role": "partner"},
            {"agency_id": b, "role": "lead"},
        ]}),
    )
    .await;
    assert_eq!(p["status"], "active");
    assert_eq!(p["agencies"][0], json!({"agency_id": b, "role": "lead"}));

    // An active project cannot lose its lead, nor get a second one.
    for agencies in [
        json!([{"agency_id": a, "role": "partner"}]),
        json!([]),
        json!([{"agency_id": a, "role": "lead"}, {"agency_id": b, "role": "lead"}]),
    ] {
        let res = patch_as(&app, &p, &json!({"agencies": agencies}), None).await;
        res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec!["agencies"], "{agencies}");
    }
    // Swapping the lead is fine.
    let p = patch_ok(
        &app,
        &p,
        &json!({"agencies": [{"agency_id": a, "role": "lead"}, {"agency_id": b, "role": "partner"}]}),
    )
    .await;
    assert_eq!(p["agencies"][0], json!({"agency_id": a, "role": "lead"}));
    // A suspended project may do without a lead; it needs one again to resume.
    let p = patch_ok(&app, &p, &json!({"status": "suspended", "agencies": []})).await;
    let res = patch_as(&app, &p, &json!({"status": "active"}), None).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["agencies"]);
    assert_eq!(
        count(
            &app,
            &format!("project_agencies WHERE project_id = '{}'", id(&p))
        ),
        0
    );
}

#[actix_web::test]
async fn a_suspended_agency_cannot_be_linked_but_an_existing_link_survives() {
    let app = TestApp::demo().await;
    let a = insert_agency(&app, "A", "active");
    let b = insert_agency(&app, "B", "active");
    let mut body = new_project("PE-SUSP-1");
    body["agencies"] = json!([{"agency_id": a, "role": "lead"}]);
    let p = create(&app, &body).await;
    set_agency_status(&app, &a, "suspended");

    // The project keeps it, through edits of other fields and of its agencies.
    let p = patch_ok(&app, &p, &json!({"title": {"en": "Renamed"}})).await;
    assert_eq!(p["agencies"], json!([{"agency_id": a, "role": "lead"}]));
    let p = patch_ok(
        &app,
        &p,
        &json!({"agencies": [{"agency_id": a, "role": "lead"}, {"agency_id": b, "role": "partner"}]}),
    )
    .await;
    assert_eq!(p["agencies"].as_array().unwrap().len(), 2);
    // It still counts as the lead when the project is activated.
    let p = patch_ok(&app, &p, &json!({"status": "approved"})).await;
    let p = patch_ok(&app, &p, &json!({"status": "active"})).await;
    assert_eq!(p["status"], "active");

    // But no new link is made to it: not by a new project…
    let mut body = new_project("PE-SUSP-2");
    body["agencies"] =
        json!([{"agency_id": b, "role": "lead"}, {"agency_id": a, "role": "partner"}]);
    let res = create_as(&app, &body, None).await;
    let problem = res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["agencies[1].agency_id"]);
    assert_eq!(problem["errors"][0]["code"], "suspended");
    // …nor by another project's PATCH…
    body["agencies"] = json!([{"agency_id": b, "role": "lead"}]);
    let q = create(&app, &body).await;
    let res = patch_as(
        &app,
        &q,
        &json!({"agencies": [{"agency_id": b, "role": "lead"}, {"agency_id": a, "role": "partner"}]}),
        None,
    )
    .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["agencies[1].agency_id"]);
    // …nor by the same project once it dropped it.
    let p = patch_ok(
        &app,
        &p,
        &json!({"agencies": [{"agency_id": b, "role": "lead"}]}),
    )
    .await;
    let res = patch_as(
        &app,
        &p,
        &json!({"agencies": [{"agency_id": b, "role": "lead"}, {"agency_id": a, "role": "partner"}]}),
        None,
    )
    .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["agencies[1].agency_id"]);
    // Active again, it can be linked.
    set_agency_status(&app, &a, "active");
    patch_ok(
        &app,
        &p,
        &json!({"agencies": [{"agency_id": b, "role": "lead"}, {"agency_id": a, "role": "partner"}]}),
    )
    .await;
}

#[actix_web::test]
async fn mandates_are_replaced_as_a_whole() {
    let app = TestApp::demo().await;
    let m1 = insert_mandate(&app, "AG/RES. 1 (L-O/20)");
    let m2 = insert_mandate(&app, "AG/RES. 2 (L-O/20)");
    let mut body = new_project("PE-MAND");
    body["mandate_ids"] = json!([m1]);
    let p = create(&app, &body).await;
    assert_eq!(p["mandate_ids"], json!([m1]));
    let p = patch_ok(&app, &p, &json!({"mandate_ids": [m2]})).await;
    assert_eq!(p["mandate_ids"], json!([m2]));
    let p = patch_ok(&app, &p, &json!({"mandate_ids": []})).await;
    assert_eq!(p["mandate_ids"], json!([]));
    let res = patch_as(&app, &p, &json!({"mandate_ids": [m1, MISSING_ID]}), None).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["mandate_ids[1]"]);
    let res = patch_as(&app, &p, &json!({"mandate_ids": null}), None).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["mandate_ids"]);
}

// ---------------------------------------------------------------------------------------
// The status life cycle
// ---------------------------------------------------------------------------------------

const STATUSES: [&str; 7] = [
    "pipeline",
    "approved",
    "active",
    "suspended",
    "completed",
    "closed",
    "cancelled",
];

const ALLOWED: &[(&str, &str)] = &[
    ("pipeline", "approved"),
    ("approved", "active"),
    ("active", "suspended"),
    ("suspended", "active"),
    ("active", "completed"),
    ("suspended", "completed"),
    ("completed", "closed"),
    ("pipeline", "cancelled"),
    ("approved", "cancelled"),
    ("active", "cancelled"),
    ("suspended", "cancelled"),
];

#[actix_web::test]
async fn every_status_pair_is_allowed_or_409() {
    let app = TestApp::demo().await;
    let lead = insert_agency(&app, "Lead", "active");
    let mut failures = Vec::new();
    let mut n = 0;
    for from in STATUSES {
        for to in STATUSES {
            n += 1;
            let mut body = new_project(&format!("PE-EDGE-{n}"));
            body["agencies"] = json!([{"agency_id": lead, "role": "lead"}]);
            let p = create(&app, &body).await;
            force_status(&app, &p, from);
            let res = patch_as(&app, &p, &json!({"status": to}), None).await;
            let allowed = ALLOWED.contains(&(from, to));
            let now = app.get(&path_of(&p)).await.json()["status"].clone();
            if allowed {
                if res.status != 200 || now != to {
                    failures.push(format!("{from} -> {to}: {} {}", res.status, res.text()));
                }
            } else {
                let ok = res.status == 409
                    && res.json()["type"] == "/problems/invalid-state"
                    && res.problem_fields() == vec!["status"]
                    && now == from;
                if !ok {
                    failures.push(format!(
                        "{from} -> {to}: expected 409 naming status, got {} {}",
                        res.status,
                        res.text()
                    ));
                }
            }
        }
    }
    assert_eq!(n, 49);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[actix_web::test]
async fn a_full_life_cycle_is_audited() {
    let app = TestApp::demo().await;
    let lead = insert_agency(&app, "Lead", "active");
    let mut body = new_project("PE-LIFE");
    body["agencies"] = json!([{"agency_id": lead, "role": "lead"}]);
    let mut p = create(&app, &body).await;
    for to in [
        "approved",
        "active",
        "suspended",
        "active",
        "completed",
        "closed",
    ] {
        p = patch_ok(&app, &p, &json!({"status": to})).await;
        assert_eq!(p["status"], to);
    }
    assert_eq!(
        count(
            &app,
            &format!(
                "audit_events WHERE resource_id = '{}' AND action = 'update_status'",
                id(&p)
            )
        ),
        6
    );
    let last = app.db.scalar(&format!(
        "SELECT before->>'status' || '>' || (after->>'status') FROM audit_events \
         WHERE resource_id = '{}' ORDER BY occurred_at DESC LIMIT 1",
        id(&p)
    ));
    assert_eq!(last, "completed>closed");

    // Closed: read-only, whatever the field.
    let res = patch_as(&app, &p, &json!({"title": {"en": "Too late"}}), None).await;
    res.problem(409, "invalid-state");
    let res = patch_as(&app, &p, &json!({"status": "active"}), None).await;
    res.problem(409, "invalid-state");
    assert_eq!(res.problem_fields(), vec!["status"]);
}

#[actix_web::test]
async fn deciding_is_reserved_to_the_coordinator_and_the_projects_department() {
    let app = TestApp::demo().await;
    let lead = insert_agency(&app, "Lead", "active");
    let pe = office("PE");
    let deco = department("DECO");
    let representative = bearer(&app, Role::Representative, Some(&pe), None);
    let staff = bearer(&app, Role::OfficeStaff, Some(&pe), None);
    let hq = bearer(&app, Role::HqDepartment, None, Some(&deco));
    let other_hq = bearer(&app, Role::HqDepartment, None, Some(&department("SARE")));
    let mut body = new_project("PE-DECIDE");
    body["agencies"] = json!([{"agency_id": lead, "role": "lead"}]);

    // An office role may not approve, close or cancel: 422 naming status.
    let p = create(&app, &body).await;
    for (auth, to) in [
        (&representative, "approved"),
        (&staff, "approved"),
        (&staff, "cancelled"),
        (&representative, "cancelled"),
    ] {
        let res = patch_as(&app, &p, &json!({"status": to}), Some(auth)).await;
        let problem = res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec!["status"], "{to}");
        assert_eq!(problem["errors"][0]["code"], "not_allowed");
    }
    // The HQ department of another department may not touch it at all.
    let res = patch_as(&app, &p, &json!({"status": "approved"}), Some(&other_hq)).await;
    res.problem(403, "forbidden");
    // The project's HQ department approves it.
    let res = patch_as(&app, &p, &json!({"status": "approved"}), Some(&hq)).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT actor_role FROM audit_events WHERE resource_id = '{}' AND action = 'update_status'",
            id(&p)
        )),
        "hq_department"
    );
    // The office runs it: activate, suspend, resume, complete.
    for to in ["active", "suspended", "active", "completed"] {
        let res = patch_as(&app, &p, &json!({"status": to}), Some(&staff)).await;
        assert_eq!(res.status, 200, "{to}: {}", res.text());
    }
    // Closing is the department's again.
    let res = patch_as(
        &app,
        &p,
        &json!({"status": "closed"}),
        Some(&representative),
    )
    .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["status"]);
    let res = patch_as(&app, &p, &json!({"status": "closed"}), Some(&hq)).await;
    assert_eq!(res.status, 200, "{}", res.text());

    // An office role asking for a reserved and impossible move: the 422 comes first.
    let q = create(&app, &new_project("PE-DECIDE-2")).await;
    let res = patch_as(&app, &q, &json!({"status": "closed"}), Some(&staff)).await;
    res.problem(422, "validation-failed");
    // The coordinator gets the 409 for the impossible move.
    let res = patch_as(&app, &q, &json!({"status": "closed"}), None).await;
    res.problem(409, "invalid-state");
    // And may cancel.
    let res = patch_as(&app, &q, &json!({"status": "cancelled"}), None).await;
    assert_eq!(res.status, 200);
}

// ---------------------------------------------------------------------------------------
// Who may write
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn role_rules_on_create_and_update() {
    let app = TestApp::demo().await;
    let pe = office("PE");
    let co = office("CO");
    let deco = department("DECO");
    let sare = department("SARE");

    // Office roles create projects of their own office only.
    let rep_co = bearer(&app, Role::Representative, Some(&co), None);
    let res = create_as(&app, &new_project("PE-ROLE-1"), Some(&rep_co)).await;
    let p = res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["office_id"]);
    assert_eq!(p["errors"][0]["code"], "not_allowed");
    let staff_pe = bearer(&app, Role::OfficeStaff, Some(&pe), None);
    let res = create_as(&app, &new_project("PE-ROLE-1"), Some(&staff_pe)).await;
    assert_eq!(res.status, 201, "{}", res.text());
    let mine = res.json();
    // …with any responsible department.
    let mut body = new_project("PE-ROLE-2");
    body["department_id"] = json!(sare);
    let res = create_as(&app, &body, Some(&staff_pe)).await;
    assert_eq!(res.status, 201, "{}", res.text());

    // HQ departments create projects under themselves only, in any office.
    let hq_sare = bearer(&app, Role::HqDepartment, None, Some(&sare));
    let res = create_as(&app, &new_project("PE-ROLE-3"), Some(&hq_sare)).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["department_id"]);
    let hq_deco = bearer(&app, Role::HqDepartment, None, Some(&deco));
    let mut body = new_project("CO-ROLE-3");
    body["office_id"] = json!(co);
    let res = create_as(&app, &body, Some(&hq_deco)).await;
    assert_eq!(res.status, 201, "{}", res.text());

    // Roles that write nothing: 403, even with a body that would be invalid.
    for role in [Role::Viewer, Role::Auditor] {
        let auth = bearer(&app, role, None, None);
        let res = create_as(&app, &new_project("PE-ROLE-4"), Some(&auth)).await;
        res.problem(403, "forbidden");
        let res = create_as(&app, &json!({"code": 1}), Some(&auth)).await;
        res.problem(403, "forbidden");
    }

    // PATCH: the representative of another office gets a 403, and so do viewers.
    let res = patch_as(&app, &mine, &json!({"title": {"en": "X"}}), Some(&rep_co)).await;
    res.problem(403, "forbidden");
    let viewer = bearer(&app, Role::Viewer, None, None);
    let res = patch_as(&app, &mine, &json!({"title": {"en": "X"}}), Some(&viewer)).await;
    res.problem(403, "forbidden");
    // The 403 comes before the If-Match check: a stale ETag does not change it.
    let res = app
        .request(
            Method::PATCH,
            &path_of(&mine),
            &[("if-match", "\"stale\""), ("authorization", &rep_co)],
            Some(&json!({"title": {"en": "X"}})),
        )
        .await;
    res.problem(403, "forbidden");
    // An office role cannot move its project to another office…
    let res = patch_as(&app, &mine, &json!({"office_id": co}), Some(&staff_pe)).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["office_id"]);
    // …nor an HQ department hand it to another department.
    let res = patch_as(&app, &mine, &json!({"department_id": sare}), Some(&hq_deco)).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["department_id"]);
    // The coordinator can.
    let moved = patch_ok(&app, &mine, &json!({"office_id": co})).await;
    assert_eq!(moved["office_id"], co);
    // And then the Peru office no longer writes it.
    let res = patch_as(
        &app,
        &moved,
        &json!({"title": {"en": "X"}}),
        Some(&staff_pe),
    )
    .await;
    res.problem(403, "forbidden");
}

// ---------------------------------------------------------------------------------------
// PATCH protocol
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn patch_needs_if_match_and_refuses_read_only_and_null() {
    let app = TestApp::demo().await;
    let p = create(&app, &new_project("PE-PATCH")).await;
    let path = path_of(&p);
    let res = app.patch(&path, None, &json!({"title": {"en": "X"}})).await;
    res.problem(428, "precondition-required");
    let res = app
        .patch(&path, Some("\"stale\""), &json!({"title": {"en": "X"}}))
        .await;
    res.problem(412, "precondition-failed");
    let res = app
        .patch(
            &format!("/v1/projects/{MISSING_ID}"),
            Some("\"x\""),
            &json!({"title": {"en": "X"}}),
        )
        .await;
    res.problem(404, "not-found");

    for field in ["id", "created_at", "updated_at"] {
        let res = patch_as(&app, &p, &json!({ field: "x" }), None).await;
        res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec![field]);
    }
    for field in ["code", "title", "budget", "status", "agencies", "starts_on"] {
        let res = patch_as(&app, &p, &json!({ field: null }), None).await;
        res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec![field]);
    }
    let res = patch_as(&app, &p, &json!({"budget_amount": 5}), None).await;
    res.problem(422, "validation-failed");

    // Optional fields clear with null; ends_on is checked against starts_on.
    let q = patch_ok(
        &app,
        &p,
        &json!({"ends_on": null, "description": {"en": "D"}}),
    )
    .await;
    assert!(q["ends_on"].is_null());
    let q = patch_ok(&app, &q, &json!({"description": null})).await;
    assert!(q["description"].is_null());
    let res = patch_as(&app, &q, &json!({"ends_on": "2025-01-01"}), None).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["ends_on"]);
    // Changing the fund needs the donor fields to follow.
    let res = patch_as(&app, &q, &json!({"funding_source": "trust_fund"}), None).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["donor", "donor_agreement"]);
    let q = patch_ok(
        &app,
        &q,
        &json!({"funding_source": "trust_fund", "donor": "Spain", "donor_agreement": "ES-9"}),
    )
    .await;
    let res = patch_as(&app, &q, &json!({"funding_source": "regular_fund"}), None).await;
    assert_eq!(res.problem_fields(), vec!["donor", "donor_agreement"]);
    let q = patch_ok(
        &app,
        &q,
        &json!({"funding_source": "regular_fund", "donor": null, "donor_agreement": null}),
    )
    .await;
    assert!(q["donor"].is_null());
    assert_eq!(
        count(
            &app,
            &format!(
                "audit_events WHERE resource_id = '{}' AND action = 'update'",
                id(&p)
            )
        ),
        4
    );
}

// ---------------------------------------------------------------------------------------
// Deletion
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn only_a_pipeline_project_without_reports_is_deleted() {
    let app = TestApp::demo().await;
    let m = insert_mandate(&app, "AG/RES. 1 (L-O/20)");
    let a = insert_agency(&app, "A", "active");
    let mut body = new_project("PE-DEL-1");
    body["mandate_ids"] = json!([m]);
    body["agencies"] = json!([{"agency_id": a, "role": "lead"}]);
    let p = create(&app, &body).await;
    let res = app
        .request(
            Method::DELETE,
            &path_of(&p),
            &[("if-match", "\"stale\"")],
            None,
        )
        .await;
    res.problem(412, "precondition-failed");
    let viewer = bearer(&app, Role::Viewer, None, None);
    let res = app
        .request(
            Method::DELETE,
            &path_of(&p),
            &[("authorization", &viewer)],
            None,
        )
        .await;
    res.problem(403, "forbidden");
    let res = app.request(Method::DELETE, &path_of(&p), &[], None).await;
    assert_eq!(res.status, 204, "{}", res.text());
    assert!(res.body.is_empty());
    app.get(&path_of(&p)).await.problem(404, "not-found");
    assert_eq!(count(&app, "project_mandates"), 0);
    assert_eq!(count(&app, "project_agencies"), 0);
    assert_eq!(
        count(
            &app,
            &format!(
                "audit_events WHERE resource_id = '{}' AND action = 'delete' AND after IS NULL",
                id(&p)
            )
        ),
        1
    );
    app.request(Method::DELETE, &path_of(&p), &[], None)
        .await
        .problem(404, "not-found");

    // Not in pipeline: close or cancel it instead.
    let q = create(&app, &new_project("PE-DEL-2")).await;
    force_status(&app, &q, "approved");
    let res = app.request(Method::DELETE, &path_of(&q), &[], None).await;
    res.problem(409, "invalid-state");
    assert_eq!(res.problem_fields(), vec!["status"]);

    // With a monitoring report.
    let r = create(&app, &new_project("PE-DEL-3")).await;
    let res = app
        .post(
            &format!("{}/monitoring-reports", path_of(&r)),
            &json!({"period": "2026-01", "physical_progress": 0, "risk_level": "low",
                    "narrative": {"en": "Started"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let res = app.request(Method::DELETE, &path_of(&r), &[], None).await;
    res.problem(409, "still-referenced");
    assert_eq!(res.problem_fields(), vec!["monitoring_reports"]);
    assert_eq!(count(&app, "projects"), 2);
}

// ---------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------

/// Projects of several offices, departments, pillars and dates, with mandates and
/// agencies; returns (mandate, agency).
async fn seed_list(app: &TestApp) -> (String, String) {
    let m = insert_mandate(app, "AG/RES. 3000 (LIV-O/24)");
    let a = insert_agency(app, "Agencia", "active");
    let rows = [
        // code, office, department, pillar, starts, ends, title es, title fr
        (
            "PE-ELEC-01",
            "PE",
            "DECO",
            "democracy",
            "2024-01-01",
            Some("2024-12-31"),
            "Observación de elecciones municipales",
            "Observation des élections municipales",
        ),
        (
            "PE-DDHH-02",
            "PE",
            "SARE",
            "human_rights",
            "2025-03-01",
            None,
            "Derechos de los pueblos indígenas",
            "Droits des peuples autochtones",
        ),
        (
            "CO-SEG-03",
            "CO",
            "SMS",
            "multidimensional_security",
            "2026-01-01",
            Some("2026-06-30"),
            "Seguridad ciudadana en Bogotá",
            "Sécurité citoyenne à Bogotá",
        ),
        (
            "CO-ELEC-04",
            "CO",
            "DECO",
            "democracy",
            "2026-07-01",
            Some("2027-06-30"),
            "Misión electoral: ELECCIONES presidenciales",
            "Mission électorale présidentielle",
        ),
        (
            "MX-DEV-05",
            "MX",
            "SEDI",
            "integral_development",
            "2023-01-01",
            Some("2023-12-31"),
            "Educación técnica",
            "Éducation technique",
        ),
    ];
    for (code, off, dep, pillar, starts, ends, es, fr) in rows {
        let mut body = new_project(code);
        body["office_id"] = json!(office(off));
        body["department_id"] = json!(department(dep));
        body["pillar"] = json!(pillar);
        body["starts_on"] = json!(starts);
        body["ends_on"] = json!(ends);
        body["title"] = json!({"es": es, "fr": fr});
        if code.contains("ELEC") {
            body["mandate_ids"] = json!([m]);
        }
        if code.starts_with("CO") {
            body["agencies"] = json!([{"agency_id": a, "role": "lead"}]);
        }
        create(app, &body).await;
    }
    (m, a)
}

#[actix_web::test]
async fn each_filter_selects_its_projects() {
    let app = TestApp::demo().await;
    let (m, a) = seed_list(&app).await;
    let list = async |query: &str| codes(&app.collect(&format!("/v1/projects?{query}")).await);

    assert_eq!(list("").await.len(), 5);
    assert_eq!(
        list(&format!("office_id={}", office("CO"))).await,
        ["CO-ELEC-04", "CO-SEG-03"]
    );
    assert_eq!(
        list(&format!("office_id={},{}", office("CO"), office("MX"))).await,
        ["CO-ELEC-04", "CO-SEG-03", "MX-DEV-05"]
    );
    assert_eq!(
        list(&format!("department_id={}", department("DECO"))).await,
        ["CO-ELEC-04", "PE-ELEC-01"]
    );
    assert_eq!(
        list("pillar=human_rights,integral_development").await,
        ["MX-DEV-05", "PE-DDHH-02"]
    );
    assert_eq!(
        list(&format!("mandate_id={m}")).await,
        ["CO-ELEC-04", "PE-ELEC-01"]
    );
    assert_eq!(
        list(&format!("agency_id={a}")).await,
        ["CO-ELEC-04", "CO-SEG-03"]
    );
    assert!(list(&format!("agency_id={MISSING_ID}")).await.is_empty());
    assert_eq!(list("member_state=pe").await, ["PE-DDHH-02", "PE-ELEC-01"]);
    assert_eq!(
        list("member_state=MX,CO").await,
        ["CO-ELEC-04", "CO-SEG-03", "MX-DEV-05"]
    );

    // Status.
    let all = app.collect("/v1/projects?q=MX-DEV").await;
    force_status(&app, &all[0], "cancelled");
    assert_eq!(list("status=cancelled").await, ["MX-DEV-05"]);
    assert_eq!(list("status=pipeline").await.len(), 4);
    assert_eq!(list("status=pipeline,cancelled").await.len(), 5);

    // Dates: overlap of [starts_on, ends_on] with [active_from, active_to].
    assert_eq!(
        list("active_from=2026-01-01&active_to=2026-12-31").await,
        ["CO-ELEC-04", "CO-SEG-03", "PE-DDHH-02"]
    );
    assert_eq!(
        list("active_from=2024-12-31&active_to=2024-12-31").await,
        ["PE-ELEC-01"]
    );
    assert_eq!(list("active_to=2023-06-01").await, ["MX-DEV-05"]);
    assert_eq!(
        list("active_from=2026-07-01").await,
        ["CO-ELEC-04", "PE-DDHH-02"]
    );
    // Filters combine.
    assert_eq!(
        list(&format!("member_state=CO&pillar=democracy&mandate_id={m}")).await,
        ["CO-ELEC-04"]
    );

    // Invalid values are 400s naming the parameter.
    for (query, field) in [
        ("office_id=PE", "office_id"),
        ("pillar=economy", "pillar"),
        ("status=open", "status"),
        ("member_state=PER", "member_state"),
        ("active_from=2026-13-01", "active_from"),
        ("active_from=2026-02-01&active_to=2026-01-01", "active_to"),
        ("mandate_id=x", "mandate_id"),
        ("agency_id=x", "agency_id"),
        ("sort=title", "sort"),
        ("q=", "q"),
        ("q=water%00", "q"),
        ("updated_since=yesterday", "updated_since"),
        ("colour=red", "colour"),
    ] {
        let res = app.get(&format!("/v1/projects?{query}")).await;
        let p = res.problem(400, "invalid-parameter");
        assert_eq!(p["errors"][0]["field"], field, "{query}: {p}");
    }
}

#[actix_web::test]
async fn text_search_ignores_case_and_accents_in_every_language() {
    let app = TestApp::demo().await;
    seed_list(&app).await;
    let search = async |q: &str| {
        let q = percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC);
        codes(&app.collect(&format!("/v1/projects?q={q}")).await)
    };
    // Spanish.
    assert_eq!(search("elecciones").await, ["CO-ELEC-04", "PE-ELEC-01"]);
    assert_eq!(search("ELECCIÓNES").await, ["CO-ELEC-04", "PE-ELEC-01"]);
    assert_eq!(search("observacion").await, ["PE-ELEC-01"]);
    assert_eq!(search("Bogota").await, ["CO-SEG-03"]);
    assert_eq!(search("educacion tecnica").await, ["MX-DEV-05"]);
    assert_eq!(search("indigenas").await, ["PE-DDHH-02"]);
    // French.
    assert_eq!(search("élections").await, ["PE-ELEC-01"]);
    assert_eq!(search("ELECTIONS").await, ["PE-ELEC-01"]);
    assert_eq!(search("electorale").await, ["CO-ELEC-04"]);
    assert_eq!(search("securite citoyenne").await, ["CO-SEG-03"]);
    assert_eq!(search("ÉDUCATION").await, ["MX-DEV-05"]);
    assert_eq!(search("présidentielle").await, ["CO-ELEC-04"]);
    // The code, and words in different languages together.
    assert_eq!(search("pe-ddhh").await, ["PE-DDHH-02"]);
    assert_eq!(search("droits indígenas").await, ["PE-DDHH-02"]);
    assert!(search("elecciones bogota").await.is_empty());
    // LIKE wildcards are literal.
    assert!(search("%").await.is_empty());
    assert!(search("_").await.is_empty());
    // Search combines with filters.
    assert_eq!(
        codes(
            &app.collect(&format!(
                "/v1/projects?q=elecciones&office_id={}",
                office("PE")
            ))
            .await
        ),
        ["PE-ELEC-01"]
    );
    // A changed title is found by its new words.
    let p = app.collect("/v1/projects?q=MX-DEV-05").await.remove(0);
    patch_ok(&app, &p, &json!({"title": {"pt": "Formação profissional"}})).await;
    assert_eq!(search("formacao").await, ["MX-DEV-05"]);
    assert!(search("educacion").await.is_empty());
}

#[actix_web::test]
async fn a_filtered_list_pages_without_gaps_or_repeats() {
    let app = TestApp::demo().await;
    let a = insert_agency(&app, "A", "active");
    for i in 0..23 {
        let mut body = new_project(&format!("PE-PAGE-{i:02}"));
        if i % 3 == 0 {
            body["office_id"] = json!(office("CO"));
        }
        body["starts_on"] = json!(format!("2026-01-{:02}", 28 - i));
        body["agencies"] = json!([{"agency_id": a, "role": "partner"}]);
        create(&app, &body).await;
    }
    let expected: Vec<String> = (0..23)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("PE-PAGE-{i:02}"))
        .collect();
    for sort in [
        "code",
        "-code",
        "starts_on",
        "-starts_on",
        "created_at",
        "-updated_at",
    ] {
        let items = app
            .collect(&format!(
                "/v1/projects?office_id={}&sort={sort}&limit=4",
                office("PE")
            ))
            .await;
        let got: Vec<String> = items
            .iter()
            .map(|p| p["code"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got.len(), expected.len(), "{sort}");
        assert_eq!(
            got.iter().collect::<HashSet<_>>().len(),
            expected.len(),
            "{sort}: repeats"
        );
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(sorted, expected, "{sort}");
        // Every item of every page carries its links.
        assert!(
            items
                .iter()
                .all(|p| p["agencies"].as_array().unwrap().len() == 1)
        );
        if sort == "code" {
            assert_eq!(got, expected);
        }
        if sort == "-starts_on" {
            // Later starts first: smaller i first.
            assert_eq!(got, expected);
        }
    }
    // A page's Link header leads to the next page.
    let res = app
        .get(&format!("/v1/projects?office_id={}&limit=5", office("PE")))
        .await;
    assert!(res.header("link").unwrap().contains("rel=\"next\""));
    // A cursor made for another sort is refused.
    let cursor = res.json()["next_cursor"].as_str().unwrap().to_owned();
    let res = app
        .get(&format!("/v1/projects?sort=-code&cursor={cursor}"))
        .await;
    res.problem(400, "invalid-parameter");
}

#[actix_web::test]
async fn updated_since_sees_changes_of_links_too() {
    let app = TestApp::demo().await;
    let a = insert_agency(&app, "A", "active");
    let p = create(&app, &new_project("PE-UPD-1")).await;
    create(&app, &new_project("PE-UPD-2")).await;
    let p = patch_ok(
        &app,
        &p,
        &json!({"agencies": [{"agency_id": a, "role": "partner"}]}),
    )
    .await;
    let since = p["updated_at"].as_str().unwrap();
    let since = percent_encoding::utf8_percent_encode(since, percent_encoding::NON_ALPHANUMERIC);
    let found = app
        .collect(&format!("/v1/projects?updated_since={since}"))
        .await;
    assert_eq!(codes(&found), ["PE-UPD-1"]);
}

// ---------------------------------------------------------------------------------------
// The copy of the links on each project row (issue 19)
// ---------------------------------------------------------------------------------------

/// Projects whose copy of their links (read by the list and by GET) differs from the
/// links themselves, in the order a project lists them.
fn links_copy_drift(app: &TestApp) -> i64 {
    count(
        app,
        "projects p WHERE p.mandate_ids IS DISTINCT FROM ARRAY(SELECT m.mandate_id \
           FROM project_mandates m WHERE m.project_id = p.id ORDER BY m.mandate_id) \
         OR p.agency_ids IS DISTINCT FROM ARRAY(SELECT a.agency_id FROM project_agencies a \
           WHERE a.project_id = p.id ORDER BY a.role, a.agency_id) \
         OR p.agency_roles IS DISTINCT FROM ARRAY(SELECT a.role FROM project_agencies a \
           WHERE a.project_id = p.id ORDER BY a.role, a.agency_id)",
    )
}

#[actix_web::test]
async fn the_copy_of_the_links_on_each_project_always_equals_the_links() {
    let app = TestApp::full_demo().await;
    // The demo data (its links written in bulk).
    assert!(count(&app, "project_agencies") > 0);
    assert!(count(&app, "project_mandates") > 0);
    assert_eq!(links_copy_drift(&app), 0, "after the demo data");

    // Every write of the service: a creation with links, replacing each kind, emptying
    // them, deleting the project (the links cascade).
    let m1 = insert_mandate(&app, "AG/RES. 11 (L-O/20)");
    let m2 = insert_mandate(&app, "AG/RES. 12 (L-O/20)");
    let a1 = insert_agency(&app, "Uno", "active");
    let a2 = insert_agency(&app, "Dos", "active");
    let mut body = new_project("PE-COPY-1");
    body["mandate_ids"] = json!([m2, m1]);
    body["agencies"] = json!([
        {"agency_id": a2, "role": "partner"},
        {"agency_id": a1, "role": "lead"},
    ]);
    let p = create(&app, &body).await;
    assert_eq!(links_copy_drift(&app), 0, "after a creation");
    let etag = app.get(&path_of(&p)).await.header("etag").unwrap();
    let p = patch_ok(&app, &p, &json!({"mandate_ids": [m1]})).await;
    assert_eq!(links_copy_drift(&app), 0, "after replacing the mandates");
    let p = patch_ok(
        &app,
        &p,
        &json!({"agencies": [
            {"agency_id": a1, "role": "partner"},
            {"agency_id": a2, "role": "lead"},
        ]}),
    )
    .await;
    assert_eq!(links_copy_drift(&app), 0, "after swapping the roles");
    assert_eq!(
        p["agencies"],
        json!([{"agency_id": a2, "role": "lead"}, {"agency_id": a1, "role": "partner"}])
    );
    let got = app.get(&path_of(&p)).await;
    assert_eq!(got.json(), p, "GET answers what the PATCH answered");
    assert_ne!(got.header("etag").unwrap(), etag);
    let listed = app.collect("/v1/projects?q=PE-COPY-1").await;
    assert_eq!(listed, vec![p.clone()], "the list answers the same project");
    let p = patch_ok(&app, &p, &json!({"mandate_ids": [], "agencies": []})).await;
    assert_eq!(p["mandate_ids"], json!([]));
    assert_eq!(links_copy_drift(&app), 0, "after emptying the links");
    let p = patch_ok(
        &app,
        &p,
        &json!({"mandate_ids": [m1, m2], "agencies": [{"agency_id": a1, "role": "lead"}]}),
    )
    .await;
    // Rewriting the copy is not a change of the project: GET keeps the PATCH's ETag.
    let patched_etag = app.get(&path_of(&p)).await.header("etag").unwrap();
    assert_eq!(app.get(&path_of(&p)).await.json(), p);
    let res = app
        .request(
            Method::DELETE,
            &path_of(&p),
            &[("if-match", &patched_etag)],
            None,
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text());
    assert_eq!(
        count(
            &app,
            &format!("project_agencies WHERE project_id = '{}'", id(&p))
        ),
        0
    );
    assert_eq!(links_copy_drift(&app), 0, "after a deletion");

    // Writes of the links themselves, in SQL: inserts of several projects at once, an
    // update of a role, an update moving a link to another project, deletes; a
    // mandate or agency still linked is not deleted (no cascade from them).
    let q = create(&app, &new_project("PE-COPY-2")).await;
    let r = create(&app, &new_project("PE-COPY-3")).await;
    let (q, r) = (id(&q), id(&r));
    let sql = |s: String| app.db.execute(&s).unwrap();
    sql(format!(
        "INSERT INTO project_mandates VALUES ('{q}', '{m1}'), ('{q}', '{m2}'), ('{r}', '{m1}');
         INSERT INTO project_agencies VALUES ('{q}', '{a1}', 'partner'), ('{r}', '{a2}', 'lead')"
    ));
    assert_eq!(links_copy_drift(&app), 0, "after inserts");
    sql(format!(
        "UPDATE project_agencies SET role = 'lead' WHERE project_id = '{q}' AND agency_id = '{a1}'"
    ));
    assert_eq!(links_copy_drift(&app), 0, "after a role's update");
    sql(format!(
        "UPDATE project_mandates SET project_id = '{r}' WHERE project_id = '{q}' AND mandate_id = '{m2}'"
    ));
    assert_eq!(links_copy_drift(&app), 0, "after moving a link");
    sql(format!(
        "DELETE FROM project_mandates WHERE mandate_id = '{m1}'"
    ));
    assert_eq!(links_copy_drift(&app), 0, "after deleting links");
    assert!(
        app.db
            .execute(&format!("DELETE FROM executing_agencies WHERE id = '{a1}'"))
            .is_err()
    );
    assert!(
        app.db
            .execute(&format!("DELETE FROM mandates WHERE id = '{m2}'"))
            .is_err()
    );
    // A rolled back write leaves the copy as it was.
    sql(format!(
        "BEGIN; DELETE FROM project_agencies WHERE project_id = '{q}'; ROLLBACK"
    ));
    assert_eq!(links_copy_drift(&app), 0, "after a rollback");
    assert_eq!(
        app.db
            .scalar(&format!("SELECT agency_ids FROM projects WHERE id = '{q}'")),
        format!("{{{a1}}}")
    );
}

#[actix_web::test]
async fn two_transactions_linking_one_project_at_once_both_reach_its_copy() {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    type Conn = diesel_async::async_connection_wrapper::AsyncConnectionWrapper<
        diesel_async::AsyncPgConnection,
    >;
    let app = TestApp::demo().await;
    let p = create(&app, &new_project("PE-RACE-1")).await;
    let p = id(&p);
    let a1 = insert_agency(&app, "Uno", "active");
    let a2 = insert_agency(&app, "Dos", "active");
    let url = app.db.url.clone();
    let (first_linked, first_linked_rx) = std::sync::mpsc::channel::<()>();
    let (second_started, second_started_rx) = std::sync::mpsc::channel::<()>();
    // The first transaction links its agency and waits; the second links its own (and
    // waits for the first's lock on the project); the first commits, then the second.
    let first = {
        let (url, p, a1) = (url.clone(), p.clone(), a1.clone());
        std::thread::spawn(move || {
            let mut c = Conn::establish(&url).unwrap();
            c.batch_execute(&format!(
                "BEGIN; INSERT INTO project_agencies VALUES ('{p}', '{a1}', 'partner')"
            ))
            .unwrap();
            first_linked.send(()).unwrap();
            second_started_rx.recv().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
            c.batch_execute("COMMIT").unwrap();
        })
    };
    let second = {
        let (url, p, a2) = (url.clone(), p.clone(), a2.clone());
        std::thread::spawn(move || {
            let mut c = Conn::establish(&url).unwrap();
            first_linked_rx.recv().unwrap();
            second_started.send(()).unwrap();
            c.batch_execute(&format!(
                "BEGIN; INSERT INTO project_agencies VALUES ('{p}', '{a2}', 'partner'); COMMIT"
            ))
            .unwrap();
        })
    };
    first.join().unwrap();
    second.join().unwrap();
    assert_eq!(
        count(&app, &format!("project_agencies WHERE project_id = '{p}'")),
        2
    );
    assert_eq!(links_copy_drift(&app), 0);
    let got = app.get(&format!("/v1/projects/{p}")).await.json();
    assert_eq!(got["agencies"].as_array().unwrap().len(), 2, "{got}");
}
