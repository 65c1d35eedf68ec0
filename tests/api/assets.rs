//! Assets (#21 §1): the inventory's life cycle (ETags, If-Match, disposal keeping the
//! record, audit events), tag numbers unique across the organisation, 422s naming the
//! fields at fault, transfers seen by both offices, the physical count with its
//! discrepancies, exact straight-line depreciation as of any date (and the reporting
//! view agreeing with it), and who sees and writes what.

use actix_web::http::Method;
use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::common::{Resp, TestApp, new_office};

async fn office(app: &TestApp, code: &str) -> String {
    let res = app.post("/v1/offices", &new_office(code, "PE")).await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

async fn appointment(app: &TestApp, office: &str, name: &str) -> String {
    let res = app
        .post(
            &format!("/v1/offices/{office}/appointments"),
            &json!({"person_name": name, "position": "staff", "starts_on": "2024-01-01"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

fn asset(tag: &str, category: &str, acquired_on: &str, cost: &str) -> Value {
    json!({
        "tag_number": tag,
        "category": category,
        "description": format!("Asset {tag}"),
        "acquired_on": acquired_on,
        "cost": {"amount": cost, "currency": "USD"},
        "location": "Main office",
        "condition": "good",
    })
}

async fn create(app: &TestApp, office: &str, body: &Value) -> Value {
    let res = app
        .post(&format!("/v1/offices/{office}/assets"), body)
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()
}

fn bearer(app: &TestApp, role: Role, office: Option<&str>) -> String {
    format!(
        "Bearer {}",
        app.token(role, office.map(|o| o.parse().unwrap()), None)
    )
}

async fn as_(app: &TestApp, auth: &str, method: Method, path: &str, body: Option<&Value>) -> Resp {
    let mut headers = vec![("authorization", auth)];
    if method == Method::PATCH {
        headers.push(("if-match", "*"));
    }
    app.request(method, path, &headers, body).await
}

fn audit_count(app: &TestApp, resource_type: &str, id: &str) -> i64 {
    app.db
        .scalar(&format!(
            "SELECT count(*) FROM audit_events WHERE resource_type = '{resource_type}' AND resource_id = '{id}'"
        ))
        .parse()
        .unwrap()
}

#[actix_web::test]
async fn an_asset_lives_from_purchase_to_disposal_and_keeps_its_record() {
    let app = TestApp::new().await;
    let pe = office(&app, "AS-PE").await;
    let custodian = appointment(&app, &pe, "Ana Torres").await;
    let ledger = app
        .post(
            "/v1/ledgers",
            &json!({"office_id": pe, "fiscal_year": 2026, "fund": "regular_fund"}),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let entries = format!("/v1/ledgers/{ledger}/entries");
    let res = app
        .post(
            &entries,
            &json!({"kind": "allocation", "entry_date": "2026-02-01", "description": "Budget", "amount": {"amount": "5000.00", "currency": "USD"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let res = app
        .post(
            &entries,
            &json!({"kind": "expense", "category": "equipment", "entry_date": "2026-03-10", "description": "Laptop", "amount": {"amount": "1450.99", "currency": "USD"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let entry = res.json()["id"].as_str().unwrap().to_owned();

    let mut body = asset("OAS-PE-0001", "it_equipment", "2026-03-10", "1450.99");
    body["ledger_id"] = json!(ledger);
    body["entry_id"] = json!(entry);
    body["custodian_id"] = json!(custodian);
    let res = app.post(&format!("/v1/offices/{pe}/assets"), &body).await;
    assert_eq!(res.status, 201, "{}", res.text());
    let created = res.json();
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/offices/{pe}/assets/{id}");
    assert_eq!(res.header("location").as_deref(), Some(path.as_str()));
    assert_eq!(
        created["cost"],
        json!({"amount": "1450.99", "currency": "USD"})
    );
    assert_eq!(created["status"], "in_use");
    assert_eq!(created["custodian_id"], custodian);
    assert_eq!(created["entry_id"], entry);
    assert_eq!(created["disposal"], Value::Null);

    // Reads with ETags.
    let res = app.get(&path).await;
    assert_eq!(res.status, 200);
    let etag = res.header("etag").unwrap();
    let res = app.get_with(&path, &[("if-none-match", &etag)]).await;
    assert_eq!(res.status, 304);

    // Updates need a fresh If-Match.
    let change = json!({"status": "under_repair", "condition": "fair", "location": "Repair shop"});
    assert_eq!(app.patch(&path, None, &change).await.status, 428);
    let res = app.patch(&path, Some("\"stale\""), &change).await;
    res.problem(412, "precondition-failed");
    let res = app.patch(&path, Some(&etag), &change).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "under_repair");
    assert_eq!(res.json()["location"], "Repair shop");
    let etag = res.header("etag").unwrap();
    // Transferred and disposed have their own operations.
    let res = app
        .patch(&path, Some(&etag), &json!({"status": "disposed"}))
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["status"]);
    // The office is read-only.
    let res = app
        .patch(&path, Some(&etag), &json!({"office_id": pe}))
        .await;
    assert_eq!(res.status, 422, "{}", res.text());

    // Disposal: proceeds only for a sale; the record stays.
    let res = app
        .post(
            &format!("{path}/disposal"),
            &json!({"disposed_on": "2026-11-30", "reason": "scrapped", "proceeds": {"amount": "10.00", "currency": "USD"}}),
        )
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["proceeds"]);
    let res = app
        .post(
            &format!("{path}/disposal"),
            &json!({"disposed_on": "2026-11-30", "reason": "sold", "proceeds": {"amount": "300.00", "currency": "USD"}, "note": "Auction"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let disposed = res.json();
    assert_eq!(disposed["status"], "disposed");
    assert_eq!(
        disposed["disposal"],
        json!({"disposed_on": "2026-11-30", "reason": "sold", "proceeds": {"amount": "300.00", "currency": "USD"}, "note": "Auction"})
    );
    assert_eq!(disposed["custodian_id"], Value::Null);
    // A disposed asset no longer changes, and is still there.
    let etag = app.get(&path).await.header("etag").unwrap();
    app.patch(&path, Some(&etag), &json!({"location": "Bin"}))
        .await
        .problem(409, "invalid-state");
    app.post(
        &format!("{path}/disposal"),
        &json!({"disposed_on": "2026-11-30", "reason": "scrapped"}),
    )
    .await
    .problem(409, "invalid-state");
    let list = app
        .get(&format!("/v1/offices/{pe}/assets?status=disposed"))
        .await
        .json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(&format!("/v1/offices/{pe}/assets?status=in_use"))
            .await
            .json()["items"],
        json!([])
    );
    assert_eq!(app.db.scalar("SELECT count(*) FROM assets"), "1");
    // Every write is in the audit trail: create, update, dispose.
    assert_eq!(audit_count(&app, "asset", &id), 3);
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT string_agg(action, ',' ORDER BY occurred_at) FROM audit_events WHERE resource_id = '{id}'"
        )),
        "create,update,dispose"
    );
}

#[actix_web::test]
async fn a_tag_number_is_unique_across_the_organisation() {
    let app = TestApp::new().await;
    let pe = office(&app, "AS-PE").await;
    let co = office(&app, "AS-CO").await;
    create(
        &app,
        &pe,
        &asset("OAS-0042", "furniture", "2025-01-10", "300.00"),
    )
    .await;
    let res = app
        .post(
            &format!("/v1/offices/{co}/assets"),
            &asset("OAS-0042", "vehicles", "2025-01-10", "30000.00"),
        )
        .await;
    res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), ["tag_number"]);
    // Renaming another asset onto it is the same 409.
    let other = create(
        &app,
        &co,
        &asset("OAS-0043", "vehicles", "2025-01-10", "30000.00"),
    )
    .await;
    let path = format!("/v1/offices/{co}/assets/{}", other["id"].as_str().unwrap());
    let etag = app.get(&path).await.header("etag").unwrap();
    let res = app
        .patch(&path, Some(&etag), &json!({"tag_number": "OAS-0042"}))
        .await;
    res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), ["tag_number"]);
}

#[actix_web::test]
async fn bad_input_is_a_422_naming_each_field() {
    let app = TestApp::new().await;
    let pe = office(&app, "AS-PE").await;
    let co = office(&app, "AS-CO").await;
    let foreign_custodian = appointment(&app, &co, "Luis Gómez").await;
    let foreign_ledger = app
        .post(
            "/v1/ledgers",
            &json!({"office_id": co, "fiscal_year": 2026, "fund": "regular_fund"}),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .post(
            &format!("/v1/offices/{pe}/assets"),
            &json!({
                "tag_number": "lower case",
                "category": "it_equipment",
                "description": " ",
                "acquired_on": "2999-01-01",
                "cost": {"amount": "12.345", "currency": "USD"},
                "custodian_id": foreign_custodian,
                "ledger_id": foreign_ledger,
                "status": "transferred",
            }),
        )
        .await;
    res.problem(422, "validation-failed");
    let mut fields = res.problem_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "acquired_on",
            "cost.amount",
            "custodian_id",
            "description",
            "ledger_id",
            "status",
            "tag_number"
        ]
    );
    // An entry needs its ledger, and must be an expense of it.
    let mut body = asset("OAS-1", "furniture", "2025-01-01", "10.00");
    body["entry_id"] = json!("0193a6f0-0000-7000-8000-000000000000");
    let res = app.post(&format!("/v1/offices/{pe}/assets"), &body).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["ledger_id"]);
    // An unknown category is a 422 naming it, too.
    let res = app
        .post(
            &format!("/v1/offices/{pe}/assets"),
            &asset("OAS-2", "spaceships", "2025-01-01", "10.00"),
        )
        .await;
    assert_eq!(res.status, 422, "{}", res.text());
    assert!(res.text().contains("category"), "{}", res.text());
    assert_eq!(app.db.scalar("SELECT count(*) FROM assets"), "0");
}

#[actix_web::test]
async fn a_transfer_moves_the_asset_and_both_offices_see_it() {
    let app = TestApp::new().await;
    let pe = office(&app, "AS-PE").await;
    let co = office(&app, "AS-CO").await;
    let bo = office(&app, "AS-BO").await;
    let co_custodian = appointment(&app, &co, "Luis Gómez").await;
    let pe_rep = bearer(&app, Role::Representative, Some(&pe));
    let co_staff = bearer(&app, Role::OfficeStaff, Some(&co));
    let bo_rep = bearer(&app, Role::Representative, Some(&bo));
    let vehicle = create(
        &app,
        &pe,
        &asset("OAS-PE-V1", "vehicles", "2024-05-01", "28000.00"),
    )
    .await;
    let id = vehicle["id"].as_str().unwrap().to_owned();
    let transfers = format!("/v1/offices/{pe}/assets/{id}/transfers");

    // The fields at fault first.
    let res = as_(
        &app,
        &pe_rep,
        Method::POST,
        &transfers,
        Some(&json!({"to_office_id": pe, "transferred_on": "2024-04-01", "reason": "x"})),
    )
    .await;
    res.problem(422, "validation-failed");
    let mut fields = res.problem_fields();
    fields.sort();
    assert_eq!(fields, ["to_office_id", "transferred_on"]);
    // Another office's representative does not see it at all.
    as_(
        &app,
        &bo_rep,
        Method::POST,
        &transfers,
        Some(&json!({"to_office_id": co, "transferred_on": "2025-03-01", "reason": "x"})),
    )
    .await
    .problem(404, "not-found");

    let res = as_(
        &app,
        &pe_rep,
        Method::POST,
        &transfers,
        Some(&json!({"to_office_id": co, "transferred_on": "2025-03-01", "reason": "Electoral mission", "custodian_id": co_custodian, "location": "Bogotá garage"})),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let transfer = res.json();
    let transfer_id = transfer["id"].as_str().unwrap().to_owned();
    assert_eq!(transfer["from_office_id"], pe);
    assert_eq!(transfer["to_office_id"], co);
    assert_eq!(transfer["tag_number"], "OAS-PE-V1");

    // The asset is the receiving office's now, waiting to be placed.
    let now = as_(
        &app,
        &co_staff,
        Method::GET,
        &format!("/v1/offices/{co}/assets/{id}"),
        None,
    )
    .await;
    assert_eq!(now.status, 200, "{}", now.text());
    assert_eq!(now.json()["office_id"], co);
    assert_eq!(now.json()["status"], "transferred");
    assert_eq!(now.json()["custodian_id"], co_custodian);
    // The sending office still reads it (its history), but no longer changes it.
    let seen = as_(
        &app,
        &pe_rep,
        Method::GET,
        &format!("/v1/offices/{pe}/assets/{id}"),
        None,
    )
    .await;
    assert_eq!(seen.status, 200);
    as_(
        &app,
        &pe_rep,
        Method::PATCH,
        &format!("/v1/offices/{pe}/assets/{id}"),
        Some(&json!({"location": "Lima"})),
    )
    .await
    .problem(409, "invalid-state");
    // Its list no longer holds it; the receiving office's does.
    let pe_list = as_(
        &app,
        &pe_rep,
        Method::GET,
        &format!("/v1/offices/{pe}/assets"),
        None,
    )
    .await;
    assert_eq!(pe_list.json()["items"], json!([]));
    let co_list = as_(
        &app,
        &co_staff,
        Method::GET,
        &format!("/v1/offices/{co}/assets"),
        None,
    )
    .await;
    assert_eq!(co_list.json()["items"][0]["id"], id);
    // Both offices see the transfer, in and out.
    for (auth, office, direction) in [(&pe_rep, &pe, "out"), (&co_staff, &co, "in")] {
        let res = as_(
            &app,
            auth,
            Method::GET,
            &format!("/v1/offices/{office}/asset-transfers?direction={direction}"),
            None,
        )
        .await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(res.json()["items"][0]["id"], transfer_id);
        let res = as_(
            &app,
            auth,
            Method::GET,
            &format!("/v1/offices/{office}/asset-transfers/{transfer_id}"),
            None,
        )
        .await;
        assert_eq!(res.status, 200, "{}", res.text());
    }
    let res = as_(
        &app,
        &pe_rep,
        Method::GET,
        &format!("/v1/offices/{pe}/asset-transfers?direction=in"),
        None,
    )
    .await;
    assert_eq!(res.json()["items"], json!([]));
    // A third office sees neither.
    as_(
        &app,
        &bo_rep,
        Method::GET,
        &format!("/v1/offices/{bo}/asset-transfers/{transfer_id}"),
        None,
    )
    .await
    .problem(404, "not-found");
    as_(
        &app,
        &bo_rep,
        Method::GET,
        &format!("/v1/offices/{pe}/asset-transfers"),
        None,
    )
    .await
    .problem(404, "not-found");
    // The receiving office places it.
    let res = as_(
        &app,
        &co_staff,
        Method::PATCH,
        &format!("/v1/offices/{co}/assets/{id}"),
        Some(&json!({"status": "in_use"})),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    // The history is append-only, in the database too.
    assert!(
        app.db
            .execute("UPDATE asset_transfers SET reason = 'x'")
            .is_err()
    );
    assert!(app.db.execute("DELETE FROM asset_transfers").is_err());
    assert_eq!(audit_count(&app, "asset_transfer", &transfer_id), 1);
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM audit_events WHERE resource_id = '{id}' AND action = 'transfer'"
        )),
        "1"
    );
}

#[actix_web::test]
async fn a_physical_count_closes_with_its_discrepancies() {
    let app = TestApp::new().await;
    let pe = office(&app, "AS-PE").await;
    let mut ids = Vec::new();
    for (tag, category) in [
        ("C-1", "it_equipment"),
        ("C-2", "furniture"),
        ("C-3", "vehicles"),
        ("C-4", "office_equipment"),
        ("C-5", "other"),
    ] {
        let a = create(&app, &pe, &asset(tag, category, "2025-01-15", "100.00")).await;
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    // A disposed asset is not counted.
    let res = app
        .post(
            &format!("/v1/offices/{pe}/assets/{}/disposal", ids[4]),
            &json!({"disposed_on": "2025-06-01", "reason": "stolen"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());

    let counts = format!("/v1/offices/{pe}/asset-counts");
    let res = app
        .post(
            &counts,
            &json!({"counted_on": "2026-12-01", "note": "Yearly count"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let count = res.json();
    let count_id = count["id"].as_str().unwrap().to_owned();
    assert_eq!(count["status"], "open");
    assert_eq!(count["summary"]["items"], 4);
    assert_eq!(count["summary"]["pending"], 4);
    // One open count at a time.
    let res = app
        .post(&counts, &json!({"counted_on": "2026-12-02"}))
        .await;
    res.problem(409, "invalid-state");
    assert_eq!(res.problem_fields(), ["counted_on"]);

    let item = |i: usize| format!("{counts}/{count_id}/items/{}", ids[i]);
    let put =
        async |i: usize, body: Value| app.request(Method::PUT, &item(i), &[], Some(&body)).await;
    // C-1 found as registered; C-2 found elsewhere and worn; C-3 missing; C-4 never counted.
    assert_eq!(
        put(
            0,
            json!({"result": "found", "location": "Main office", "condition": "good"})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        put(
            1,
            json!({"result": "found", "location": "Basement", "condition": "poor"})
        )
        .await
        .status,
        200
    );
    let res = put(2, json!({"result": "missing", "location": "Garage"})).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["location"]);
    let res = put(2, json!({"result": "pending"})).await;
    assert_eq!(res.status, 422, "{}", res.text());
    assert!(res.text().contains("result"), "{}", res.text());
    let res = put(2, json!({"result": "missing", "note": "Not in the garage"})).await;
    assert_eq!(res.status, 200, "{}", res.text());
    // The disposed asset is not an item of the count.
    put(4, json!({"result": "found"}))
        .await
        .problem(404, "not-found");

    let res = app
        .post(
            &format!("{counts}/{count_id}/close"),
            &json!({"closed_on": "2026-11-01"}),
        )
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["closed_on"]);
    let res = app
        .post(
            &format!("{counts}/{count_id}/close"),
            &json!({"closed_on": "2026-12-03"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let closed = res.json();
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["closed_on"], "2026-12-03");
    assert_eq!(
        closed["summary"],
        json!({"items": 4, "found": 2, "missing": 1, "pending": 1, "discrepancies": 4})
    );
    let found: Vec<(String, String, Value, Value)> = closed["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["tag_number"].as_str().unwrap().to_owned(),
                d["kind"].as_str().unwrap().to_owned(),
                d["expected"].clone(),
                d["found"].clone(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "C-2".to_owned(),
                "condition_changed".to_owned(),
                json!("good"),
                json!("poor")
            ),
            (
                "C-2".to_owned(),
                "location_changed".to_owned(),
                json!("Main office"),
                json!("Basement")
            ),
            (
                "C-3".to_owned(),
                "missing".to_owned(),
                Value::Null,
                Value::Null
            ),
            (
                "C-4".to_owned(),
                "not_counted".to_owned(),
                Value::Null,
                Value::Null
            ),
        ]
    );
    // Closed means final.
    put(0, json!({"result": "missing"}))
        .await
        .problem(409, "invalid-state");
    app.post(
        &format!("{counts}/{count_id}/close"),
        &json!({"closed_on": "2026-12-03"}),
    )
    .await
    .problem(409, "invalid-state");
    // The list has it, and a new count may open.
    let list = app.get(&format!("{counts}?status=closed")).await.json();
    assert_eq!(list["items"][0]["id"], count_id);
    let next = app
        .post(&counts, &json!({"counted_on": "2026-12-04"}))
        .await;
    assert_eq!(next.status, 201, "{}", next.text());
    // Closed without a date: today.
    let res = app
        .post(
            &format!("{counts}/{}/close", next.json()["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.json()["closed_on"],
        chrono::Utc::now().date_naive().to_string()
    );
    assert_eq!(audit_count(&app, "asset_count", &count_id), 2);
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM audit_events WHERE resource_type = 'asset_count_item'"),
        "3"
    );
}

#[actix_web::test]
async fn depreciation_is_straight_line_to_the_cent_as_of_any_date() {
    let app = TestApp::new().await;
    let pe = office(&app, "AS-PE").await;
    let co = office(&app, "AS-CO").await;
    create(
        &app,
        &pe,
        &asset("D-LAPTOP", "it_equipment", "2024-01-01", "3000.00"),
    )
    .await;
    create(
        &app,
        &pe,
        &asset("D-DESK", "furniture", "2020-03-15", "1200.00"),
    )
    .await;
    let vehicle = create(
        &app,
        &pe,
        &asset("D-TRUCK", "vehicles", "2023-07-01", "25000.00"),
    )
    .await;
    let scrapped = create(
        &app,
        &pe,
        &asset("D-OLD", "it_equipment", "2024-06-01", "500.00"),
    )
    .await;
    create(
        &app,
        &pe,
        &asset("D-NEW", "furniture", "2025-02-01", "800.00"),
    )
    .await;
    let res = app
        .post(
            &format!(
                "/v1/offices/{pe}/assets/{}/disposal",
                scrapped["id"].as_str().unwrap()
            ),
            &json!({"disposed_on": "2024-12-01", "reason": "scrapped"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let res = app
        .post(
            &format!("/v1/offices/{pe}/assets/{}/transfers", vehicle["id"].as_str().unwrap()),
            &json!({"to_office_id": co, "transferred_on": "2025-03-01", "reason": "Needed in Bogotá"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());

    let usd = |s: &str| json!({"amount": s, "currency": "USD"});
    // As of 2025-01-01 the truck was still Peru's, the old laptop gone, the new desk not
    // bought. Laptop: 300000 × 366 / 1096 days = 100182 cents; desk: 120000 × 1753 /
    // 3652 = 57601; truck: 2500000 × 550 / 1827 = 752599.
    let res = app
        .get(&format!(
            "/v1/offices/{pe}/asset-depreciation?as_of=2025-01-01"
        ))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let report = res.json();
    assert_eq!(report["method"], "straight_line");
    let categories: Vec<(Value, Value, Value, Value, Value)> = report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["category"].clone(),
                c["assets"].clone(),
                c["cost"].clone(),
                c["accumulated_depreciation"].clone(),
                c["book_value"].clone(),
            )
        })
        .collect();
    assert_eq!(
        categories,
        [
            (
                json!("vehicles"),
                json!(1),
                usd("25000.00"),
                usd("7525.99"),
                usd("17474.01")
            ),
            (
                json!("it_equipment"),
                json!(1),
                usd("3000.00"),
                usd("1001.82"),
                usd("1998.18")
            ),
            (
                json!("furniture"),
                json!(1),
                usd("1200.00"),
                usd("576.01"),
                usd("623.99")
            ),
        ]
    );
    let laptop = &report["assets"].as_array().unwrap()[1];
    assert_eq!(laptop["tag_number"], "D-LAPTOP");
    assert_eq!(laptop["useful_life_months"], 36);
    assert_eq!(laptop["fully_depreciated_on"], "2027-01-01");

    // As of 2025-06-30 the truck is Colombia's: 2500000 × 730 / 1827 = 998905.
    let co_report = app
        .get(&format!(
            "/v1/offices/{co}/asset-depreciation?as_of=2025-06-30"
        ))
        .await
        .json();
    assert_eq!(co_report["assets"].as_array().unwrap().len(), 1);
    assert_eq!(
        co_report["assets"][0]["accumulated_depreciation"],
        usd("9989.05")
    );
    assert_eq!(co_report["assets"][0]["book_value"], usd("15010.95"));
    let pe_report = app
        .get(&format!(
            "/v1/offices/{pe}/asset-depreciation?as_of=2025-06-30"
        ))
        .await
        .json();
    let tags: Vec<&str> = pe_report["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["tag_number"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["D-DESK", "D-LAPTOP", "D-NEW"]);
    // Before the office had anything, and after everything is written off.
    let early = app
        .get(&format!(
            "/v1/offices/{co}/asset-depreciation?as_of=2025-01-01"
        ))
        .await
        .json();
    assert_eq!(early["categories"], json!([]));
    let late = app
        .get(&format!(
            "/v1/offices/{pe}/asset-depreciation?as_of=2040-01-01"
        ))
        .await
        .json();
    for c in late["categories"].as_array().unwrap() {
        assert_eq!(c["book_value"]["amount"], "0.00", "{c}");
    }
    app.get(&format!(
        "/v1/offices/{pe}/asset-depreciation?as_of=yesterday"
    ))
    .await
    .problem(400, "invalid-parameter");

    // The reporting view's book value today is the API's.
    let today = app
        .get(&format!("/v1/offices/{pe}/asset-depreciation"))
        .await
        .json();
    for line in today["assets"].as_array().unwrap() {
        let tag = line["tag_number"].as_str().unwrap();
        assert_eq!(
            app.db.scalar(&format!(
                "SELECT book_value_today FROM reporting.assets WHERE tag_number = '{tag}'"
            )),
            line["book_value"]["amount"].as_str().unwrap(),
            "{tag}"
        );
    }
}

#[actix_web::test]
async fn other_offices_do_not_see_assets_and_auditors_only_read_them() {
    let app = TestApp::new().await;
    let pe = office(&app, "AS-PE").await;
    let co = office(&app, "AS-CO").await;
    let a = create(
        &app,
        &pe,
        &asset("AZ-1", "furniture", "2025-01-01", "100.00"),
    )
    .await;
    let path = format!("/v1/offices/{pe}/assets/{}", a["id"].as_str().unwrap());
    let list = format!("/v1/offices/{pe}/assets");
    let new = asset("AZ-2", "furniture", "2025-01-01", "100.00");
    let outsiders = [
        bearer(&app, Role::Representative, Some(&co)),
        bearer(&app, Role::OfficeStaff, Some(&co)),
        format!(
            "Bearer {}",
            app.token(Role::HqDepartment, None, Some(uuid::Uuid::now_v7()))
        ),
        bearer(&app, Role::Viewer, None),
    ];
    // Roles that may write no asset at all (HQ departments, viewers) are refused before
    // the body is read: 403, which tells nothing about this office's assets.
    for (i, auth) in outsiders.iter().enumerate() {
        let may_write_some = i < 2;
        for (method, p, body) in [
            (Method::GET, &list, None),
            (Method::GET, &path, None),
            (Method::POST, &list, Some(&new)),
            (Method::PATCH, &path, Some(&json!({"location": "x"}))),
            (
                Method::GET,
                &format!("/v1/offices/{pe}/asset-depreciation"),
                None,
            ),
            (Method::GET, &format!("/v1/offices/{pe}/asset-counts"), None),
        ] {
            let answer = as_(&app, auth, method.clone(), p, body).await;
            if body.is_some() && !may_write_some {
                answer.problem(403, "forbidden");
            } else {
                answer.problem(404, "not-found");
            }
        }
    }
    let auditor = bearer(&app, Role::Auditor, None);
    assert_eq!(
        as_(&app, &auditor, Method::GET, &list, None).await.status,
        200
    );
    assert_eq!(
        as_(&app, &auditor, Method::GET, &path, None).await.status,
        200
    );
    as_(&app, &auditor, Method::POST, &list, Some(&new))
        .await
        .problem(403, "forbidden");
    as_(
        &app,
        &auditor,
        Method::PATCH,
        &path,
        Some(&json!({"location": "x"})),
    )
    .await
    .problem(403, "forbidden");
    // The office's own staff writes.
    let staff = bearer(&app, Role::OfficeStaff, Some(&pe));
    assert_eq!(
        as_(&app, &staff, Method::POST, &list, Some(&new))
            .await
            .status,
        201
    );
    // Nothing refused left a trace.
    assert_eq!(app.db.scalar("SELECT count(*) FROM assets"), "2");
}
