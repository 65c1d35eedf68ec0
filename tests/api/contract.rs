//! The contract's promises beyond single resources: authorization before the body is
//! read, and what reports are as of (provenance).

use actix_web::http::Method;
use ogsms::auth::policy::Role;
use serde_json::json;

use crate::common::TestApp;

fn bearer(app: &TestApp, role: Role, office: Option<uuid::Uuid>) -> String {
    format!("Bearer {}", app.token(role, office, None))
}

/// A caller whose role may not write a resource gets 403 whatever body it sends: it
/// never learns the validation rules from a 400 or 422.
#[actix_web::test]
async fn a_role_that_may_not_write_gets_403_before_its_body_is_read() {
    let app = TestApp::demo().await;
    let office = app
        .post("/v1/offices", &crate::common::new_office("OGSMS-AZ", "PE"))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let office_id: uuid::Uuid = office.parse().unwrap();
    let close = format!("/v1/offices/{office}/close");
    let bodies: [&[u8]; 3] = [b"{\"closed_on\": 5}", b"{not json", b"[]"];
    for (role, own) in [
        (Role::Viewer, None),
        (Role::Auditor, None),
        (Role::Representative, Some(office_id)),
        (Role::OfficeStaff, Some(office_id)),
    ] {
        let auth = bearer(&app, role, own);
        for body in bodies {
            for (path, what) in [
                (close.as_str(), "close"),
                ("/v1/offices", "create office"),
                ("/v1/exchange-rates", "rate"),
                ("/v1/departments", "department"),
            ] {
                let res = app
                    .raw(
                        Method::POST,
                        path,
                        &[
                            ("authorization", &auth),
                            ("content-type", "application/json"),
                        ],
                        body.to_vec(),
                    )
                    .await;
                assert_eq!(
                    res.status,
                    403,
                    "{role:?} {what} {}: {}",
                    String::from_utf8_lossy(body),
                    res.text()
                );
            }
        }
    }
    // Without a token: 401, not a body error.
    let res = app
        .raw(
            Method::POST,
            &close,
            &[
                ("authorization", "none"),
                ("content-type", "application/json"),
            ],
            b"{not json".to_vec(),
        )
        .await;
    res.problem(401, "unauthorized");
    // Who may write still learns what is wrong with the body.
    let res = app
        .raw(
            Method::POST,
            &close,
            &[("content-type", "application/json")],
            b"{\"closed_on\": 5}".to_vec(),
        )
        .await;
    assert_eq!(res.problem_fields(), vec!["closed_on"], "{}", res.text());
    // A representative may write projects (of their office): their malformed body is
    // a 400, and finance a caller may not see stays a 404 (the handler decides).
    let rep = bearer(&app, Role::Representative, Some(office_id));
    let res = app
        .raw(
            Method::POST,
            "/v1/projects",
            &[
                ("authorization", &rep),
                ("content-type", "application/json"),
            ],
            b"{not json".to_vec(),
        )
        .await;
    res.problem(400, "malformed-body");
}

#[actix_web::test]
async fn a_balance_says_what_it_is_as_of() {
    let app = TestApp::new().await;
    let office = app
        .post("/v1/offices", &crate::common::new_office("OGSMS-PV", "PE"))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ledger = app
        .post(
            "/v1/ledgers",
            &json!({"office_id": office, "fiscal_year": 2026, "fund": "regular_fund"}),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let entries = format!("/v1/ledgers/{ledger}/entries");
    let balance = format!("/v1/ledgers/{ledger}/balance");
    let started = chrono::Utc::now();

    // Empty: as of today, nothing closed, never verified, no rates.
    let b = app.get(&balance).await.json();
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(b["as_of"], today.as_str(), "{b}");
    let p = &b["provenance"];
    let data_as_of: chrono::DateTime<chrono::Utc> =
        p["data_as_of"].as_str().unwrap().parse().unwrap();
    assert!(data_as_of >= started - chrono::Duration::seconds(5), "{p}");
    assert_eq!(p["closed_through"], json!(null));
    assert_eq!(p["last_verification"], json!(null));
    assert_eq!(p["exchange_rates"], json!([]));

    // Entries dated before today (no entry may be dated later): `as_of` stays today.
    app.post(
        "/v1/exchange-rates",
        &json!({"currency": "PEN", "effective_on": "2026-01-01", "rate": "0.2671"}),
    )
    .await;
    for body in [
        json!({"kind": "allocation", "entry_date": "2026-01-10", "description": "Allotment",
               "amount": {"amount": "1000.00", "currency": "USD"}}),
        json!({"kind": "expense", "category": "rent", "entry_date": "2026-02-10", "description": "Rent",
               "amount": {"amount": "100.00", "currency": "PEN"}}),
        json!({"kind": "expense", "category": "rent", "entry_date": "2026-03-10", "description": "Rent",
               "amount": {"amount": "100.00", "currency": "PEN"}}),
    ] {
        let res = app.post(&entries, &body).await;
        assert_eq!(res.status, 201, "{}", res.text());
    }
    let res = app
        .post(
            &format!("/v1/ledgers/{ledger}/closings"),
            &json!({"closed_through": "2026-01-31"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let b = app.get(&balance).await.json();
    assert_eq!(b["as_of"], today.as_str(), "{b}");
    let p = &b["provenance"];
    assert_eq!(p["closed_through"], "2026-01-31");
    assert_eq!(
        p["exchange_rates"],
        json!([{"currency": "PEN", "rate": "0.2671", "entries": 2,
                "first_entry_date": "2026-02-10", "last_entry_date": "2026-03-10"}])
    );
    assert_eq!(p["last_verification"], json!(null));
    // With `as_of`, only the rates of the entries counted.
    let b = app.get(&format!("{balance}?as_of=2026-02-28")).await.json();
    assert_eq!(b["as_of"], "2026-02-28");
    assert_eq!(b["provenance"]["exchange_rates"][0]["entries"], 1);

    // A verification that finds the chain intact is shown with the balance.
    let v = app
        .get(&format!("/v1/ledgers/{ledger}/verification"))
        .await
        .json();
    assert_eq!(v["ok"], true, "{v}");
    let b = app.get(&balance).await.json();
    let last = &b["provenance"]["last_verification"];
    assert_eq!(last["head_hash"], v["head_hash"], "{b}");
    assert_eq!(last["entry_count"], 3);
    assert_eq!(last["verified_at"], v["verified_at"]);

    // A broken chain is not a successful verification: the last good one stays.
    app.db
        .execute(
            "SET session_replication_role = replica; \
             UPDATE ledger_entries SET description = 'Tampered' WHERE seq = 2; \
             SET session_replication_role = origin;",
        )
        .unwrap();
    let broken = app
        .get(&format!("/v1/ledgers/{ledger}/verification"))
        .await
        .json();
    assert_eq!(broken["ok"], false, "{broken}");
    let b = app.get(&balance).await.json();
    assert_eq!(
        b["provenance"]["last_verification"]["verified_at"],
        v["verified_at"]
    );
}

#[actix_web::test]
async fn reports_carry_their_watermark() {
    let app = TestApp::demo().await;
    let started = chrono::Utc::now() - chrono::Duration::seconds(5);
    for path in [
        "/v1/stats/spending",
        "/v1/stats/budget-execution",
        "/v1/stats/projects",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status, 200, "{path}: {}", res.text());
        let as_of: chrono::DateTime<chrono::Utc> = res.json()["as_of"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: {}", res.text()))
            .parse()
            .unwrap();
        assert!(as_of >= started && as_of <= chrono::Utc::now(), "{path}");
    }
}

/// Parse errors (path, query, JSON body) speak the caller's language: no English text
/// of the framework inside a Spanish message.
#[actix_web::test]
async fn parse_errors_have_their_own_spanish_messages() {
    let app = TestApp::new().await;
    let es = [("accept-language", "es")];
    let english = [
        "expected",
        "invalid",
        "parsing",
        "deserialize",
        "unknown",
        "missing",
        "must",
        "line ",
    ];
    let check = |what: &str, p: &serde_json::Value| {
        let mut texts = vec![p["detail"].as_str().unwrap_or_default().to_owned()];
        for e in p["errors"].as_array().into_iter().flatten() {
            texts.push(e["message"].as_str().unwrap_or_default().to_owned());
        }
        for t in texts {
            assert!(!t.is_empty(), "{what}: {p}");
            for word in english {
                assert!(!t.contains(word), "{what}: English `{word}` in `{t}`: {p}");
            }
        }
    };
    let res = app.get_with("/v1/offices/not-a-uuid", &es).await;
    let p = res.problem(400, "invalid-parameter");
    check("path", &p);
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("UUID"));
    let res = app.get_with("/v1/offices?colour=red", &es).await;
    let p = res.problem(400, "invalid-parameter");
    check("unknown parameter", &p);
    assert_eq!(res.problem_fields(), vec!["colour"]);
    let res = app.get_with("/v1/member-states?limit=many", &es).await;
    check("query type", &res.problem(400, "invalid-parameter"));
    let mut body = crate::common::new_office("OGSMS-ES", "PE");
    body["kind"] = json!("embassy");
    let res = app
        .request(Method::POST, "/v1/offices", &es, Some(&body))
        .await;
    let p = res.problem(422, "validation-failed");
    check("enum", &p);
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`country_office`"),
        "{p}"
    );
    let mut body = crate::common::new_office("OGSMS-ES", "PE");
    body["city"] = json!(5);
    let res = app
        .request(Method::POST, "/v1/offices", &es, Some(&body))
        .await;
    let p = res.problem(422, "validation-failed");
    check("type", &p);
    assert_eq!(
        p["errors"][0]["message"],
        "debe ser una cadena, no un número entero"
    );
    let res = app
        .raw(
            Method::POST,
            "/v1/offices",
            &[
                ("accept-language", "es"),
                ("content-type", "application/json"),
            ],
            b"{\"code\": ".to_vec(),
        )
        .await;
    check("syntax", &res.problem(400, "malformed-body"));
}

#[actix_web::test]
async fn member_states_take_updated_since() {
    let app = TestApp::new().await;
    let all = app.collect("/v1/member-states?limit=500").await;
    assert_eq!(all.len(), 35);
    assert!(all.iter().all(|m| m["updated_at"].is_string()));
    let res = app
        .get("/v1/member-states?updated_since=1970-01-01T00:00:00Z&limit=500")
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(res.header("x-sync-watermark").is_some());
    assert_eq!(res.json()["items"].as_array().unwrap().len(), 35);
    // A correction (by a migration) moves the row past a poller's watermark.
    let watermark = res.header("x-sync-watermark").unwrap();
    app.db
        .execute("UPDATE member_states SET currency = currency WHERE code = 'PE'")
        .unwrap();
    let res = app
        .get(&format!(
            "/v1/member-states?updated_since={}",
            watermark.replace('+', "%2B")
        ))
        .await;
    let codes: Vec<String> = res.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes, vec!["PE"]);
    app.get("/v1/member-states?updated_since=yesterday")
        .await
        .problem(400, "invalid-parameter");
}

/// Every finance report and export says what it is as of: JSON reports a `provenance`
/// (the balance's shape), CSV and streamed exports the `OGSMS-*` headers.
#[actix_web::test]
async fn reports_and_exports_carry_their_provenance() {
    let app = TestApp::demo().await;
    let started = chrono::Utc::now() - chrono::Duration::seconds(5);
    let office = crate::projects::office("PE");
    let project = app
        .post("/v1/projects", &crate::projects::new_project("PV-PROV"))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mandate = crate::projects::insert_mandate(&app, "AG/RES. 1 (PROV)");
    app.db
        .execute(&format!(
            "INSERT INTO project_mandates (project_id, mandate_id) VALUES ('{project}', '{mandate}')"
        ))
        .unwrap();
    let ledger = app
        .post(
            "/v1/ledgers",
            &json!({"office_id": office, "fiscal_year": 2026, "fund": "regular_fund"}),
        )
        .await;
    assert_eq!(ledger.status, 201, "{}", ledger.text());
    let ledger = ledger.json()["id"].as_str().unwrap().to_owned();
    app.post(
        "/v1/exchange-rates",
        &json!({"currency": "PEN", "effective_on": "2026-01-01", "rate": "0.2671"}),
    )
    .await;
    for body in [
        json!({"kind": "allocation", "entry_date": "2026-01-10", "description": "Allotment",
               "amount": {"amount": "1000.00", "currency": "USD"}}),
        json!({"kind": "expense", "category": "rent", "entry_date": "2026-02-10", "description": "Rent",
               "project_id": project, "amount": {"amount": "100.00", "currency": "PEN"}}),
    ] {
        let res = app
            .post(&format!("/v1/ledgers/{ledger}/entries"), &body)
            .await;
        assert_eq!(res.status, 201, "{}", res.text());
    }
    let res = app
        .post(
            &format!("/v1/ledgers/{ledger}/closings"),
            &json!({"closed_through": "2026-01-31"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let v = app
        .get(&format!("/v1/ledgers/{ledger}/verification"))
        .await
        .json();
    assert_eq!(v["ok"], true, "{v}");
    let pen = json!([{"currency": "PEN", "rate": "0.2671", "entries": 1,
                      "first_entry_date": "2026-02-10", "last_entry_date": "2026-02-10"}]);
    let check = |what: &str, p: &serde_json::Value| {
        let data_as_of: chrono::DateTime<chrono::Utc> = p["data_as_of"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: {p}"))
            .parse()
            .unwrap();
        assert!(
            data_as_of >= started && data_as_of <= chrono::Utc::now(),
            "{what}"
        );
        assert_eq!(p["exchange_rates"], pen, "{what}: {p}");
        assert_eq!(p["closed_through"], "2026-01-31", "{what}: {p}");
        assert_eq!(
            p["last_verification"]["head_hash"], v["head_hash"],
            "{what}: {p}"
        );
        assert_eq!(
            p["last_verification"]["ledger_id"],
            ledger.as_str(),
            "{what}: {p}"
        );
    };
    let body = app
        .get(&format!("/v1/projects/{project}/budget-execution"))
        .await
        .json();
    check("budget execution", &body["provenance"]);
    let body = app
        .get(&format!("/v1/mandates/{mandate}/expenditures"))
        .await
        .json();
    check("mandate expenditures", &body["provenance"]);
    let path = format!("/v1/offices/{office}/reconciliation?fiscal_year=2026");
    let body = app.get(&path).await.json();
    let p = &body["provenance"];
    check("reconciliation", p);
    // The ledger balance has the same shape.
    let balance = app
        .get(&format!("/v1/ledgers/{ledger}/balance"))
        .await
        .json();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&balance["provenance"]), keys(p));
    // In CSV, the headers.
    let res = app.get(&format!("{path}&format=csv")).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(res.header("ogsms-as-of").is_some());
    assert_eq!(
        res.header("ogsms-closed-through").as_deref(),
        Some("2026-01-31")
    );
    assert_eq!(
        res.header("ogsms-exchange-rates").as_deref(),
        Some("PEN=0.2671;2026-02-10/2026-02-10;1")
    );
    // A ledger never closed nor verified: no bound for the reconciliation of all offices.
    let other = crate::projects::office("AR");
    app.post(
        "/v1/ledgers",
        &json!({"office_id": other, "fiscal_year": 2026, "fund": "regular_fund"}),
    )
    .await;
    let body = app.get("/v1/reconciliation?fiscal_year=2026").await.json();
    assert_eq!(body["provenance"]["closed_through"], json!(null), "{body}");
    assert_eq!(
        body["provenance"]["last_verification"],
        json!(null),
        "{body}"
    );
    // Streamed exports and IATI: the watermark in `OGSMS-As-Of`.
    for path in [
        "/v1/exports/projects?format=csv",
        "/v1/exports/ledger-entries",
        "/v1/exports/iati-activities.xml",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status, 200, "{path}: {}", res.text());
        let as_of: chrono::DateTime<chrono::Utc> = res
            .header("ogsms-as-of")
            .unwrap_or_else(|| panic!("{path}"))
            .parse()
            .unwrap();
        assert!(as_of >= started && as_of <= chrono::Utc::now(), "{path}");
    }
}

/// Reads are authorized before their parameters are read too: a caller who may not see
/// a list or a report gets its 403 (or the 404 of a resource it may not see) whatever
/// the cursor or the dates, and never a 400 about them; who may see it gets the 400.
#[actix_web::test]
async fn a_read_is_authorized_before_its_parameters_are_read() {
    let app = TestApp::demo().await;
    let first = |path: &str| {
        let app = &app;
        let path = path.to_owned();
        async move {
            let res = app.get(&path).await;
            assert_eq!(res.status, 200, "{path}: {}", res.text());
            let id = res.json()["items"][0]["id"].as_str().map(str::to_owned);
            id.unwrap_or_else(|| panic!("{path} lists nothing: {}", res.text()))
        }
    };
    let office = first("/v1/offices").await;
    let res = app
        .post(
            "/v1/ledgers",
            &json!({"office_id": office, "fiscal_year": 2026, "fund": "indirect_cost_recovery"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let ledger = res.json()["id"].as_str().unwrap().to_owned();
    let project = crate::projects::id(
        &crate::projects::create(&app, &crate::projects::new_project("PE-DEM-2026-77")).await,
    );
    let mandate = crate::projects::insert_mandate(&app, "AG/RES. 2999 (LIV-O/24)");
    let res = app
        .post(
            "/v1/memoranda",
            &json!({"number": "CONTRACT/1", "title": {"en": "A memorandum"},
                    "text": {"en": "Comply."}, "issued_on": "2026-01-05", "applies_to_all": true}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let memo = res.json()["id"].as_str().unwrap().to_owned();
    let res = app
        .post(
            "/v1/webhooks",
            &json!({"url": "https://hooks.example.org/contract"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let hook = res.json()["id"].as_str().unwrap().to_owned();
    let viewer = bearer(&app, Role::Viewer, None);
    let dates = "from=2026-02-01&to=2026-01-01";
    for (path, refused) in [
        ("/v1/webhooks?cursor=garbage".to_owned(), 403),
        (
            format!("/v1/webhooks/{hook}/deliveries?cursor=garbage"),
            403,
        ),
        (
            format!("/v1/projects/{project}/budget-execution?{dates}"),
            403,
        ),
        (format!("/v1/mandates/{mandate}/expenditures?{dates}"), 403),
        (format!("/v1/ledgers/{ledger}/entries?cursor=garbage"), 404),
        (format!("/v1/memoranda/{memo}/offices?cursor=garbage"), 404),
    ] {
        let res = app
            .request(Method::GET, &path, &[("authorization", &viewer)], None)
            .await;
        assert_eq!(res.status, refused, "viewer {path}: {}", res.text());
        // The coordinator sees them all, so the parameters decide: 400 naming one.
        let res = app.get(&path).await;
        res.problem(400, "invalid-parameter");
    }
}
