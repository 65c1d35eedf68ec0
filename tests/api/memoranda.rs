//! Administrative Memoranda: issuing (the Coordinating Office), who sees which (offices
//! only those that apply to them), each office's acknowledgement and compliance, the
//! Coordinating Office's acceptance or return, the compliance view with overdue flags,
//! validation naming fields, ETags and If-Match, pagination and the audit trail.

use actix_web::http::Method;
use chrono::{Duration, Utc};
use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::common::{Resp, TestApp, new_office};

async fn office(app: &TestApp, code: &str, member_state: &str) -> String {
    let res = app
        .post("/v1/offices", &new_office(code, member_state))
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

fn bearer(app: &TestApp, role: Role, office: Option<&str>) -> String {
    format!(
        "Bearer {}",
        app.token(role, office.map(|o| o.parse().unwrap()), None)
    )
}

async fn as_(app: &TestApp, auth: &str, method: Method, path: &str, body: Option<&Value>) -> Resp {
    app.request(method, path, &[("authorization", auth)], body)
        .await
}

fn memo(number: &str, offices: Option<Vec<&str>>, evidence: bool, deadline: Option<&str>) -> Value {
    let mut m = json!({
        "number": number,
        "title": {"en": "Annual physical count", "es": "Recuento físico anual"},
        "text": {"en": "Each office counts its assets.", "fr": "Chaque bureau compte ses biens."},
        "issued_on": "2026-01-10",
        "applies_to_all": offices.is_none(),
    });
    if let Some(o) = offices {
        m["office_ids"] = json!(o);
    }
    if evidence {
        m["evidence_required"] = json!({"en": "The signed count report."});
    }
    if let Some(d) = deadline {
        m["deadline"] = json!(d);
    }
    m
}

fn audit_count(app: &TestApp, resource_type: &str) -> i64 {
    app.db
        .scalar(&format!(
            "SELECT count(*) FROM audit_events WHERE resource_type = '{resource_type}'"
        ))
        .parse()
        .unwrap()
}

#[actix_web::test]
async fn an_office_acknowledges_complies_and_the_coordinating_office_reviews() {
    let app = TestApp::new().await;
    let pe = office(&app, "MM-PE", "PE").await;
    let co = office(&app, "MM-CO", "CO").await;
    let res = app
        .post(
            "/v1/memoranda",
            &memo(
                "AM/2026/01",
                Some(vec![pe.as_str()]),
                true,
                Some("2026-02-01"),
            ),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let m = res.json();
    let id = m["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/memoranda/{id}");
    assert_eq!(res.header("location").as_deref(), Some(path.as_str()));
    assert!(res.header("etag").is_some());
    assert_eq!(m["office_ids"], json!([pe]));
    assert_eq!(m["text"]["fr"], "Chaque bureau compte ses biens.");
    assert_eq!(m["created_by"], "test-coordinator");

    // Who sees it: the office it applies to, the coordinator and auditors; not another
    // office, an HQ department or a viewer.
    let rep_pe = bearer(&app, Role::Representative, Some(&pe));
    let staff_pe = bearer(&app, Role::OfficeStaff, Some(&pe));
    let rep_co = bearer(&app, Role::Representative, Some(&co));
    let auditor = bearer(&app, Role::Auditor, None);
    let viewer = bearer(&app, Role::Viewer, None);
    assert_eq!(
        as_(&app, &rep_pe, Method::GET, &path, None).await.status,
        200
    );
    assert_eq!(
        as_(&app, &auditor, Method::GET, &path, None).await.status,
        200
    );
    as_(&app, &rep_co, Method::GET, &path, None)
        .await
        .problem(404, "not-found");
    as_(&app, &viewer, Method::GET, &path, None)
        .await
        .problem(404, "not-found");
    let listed = |r: Resp| {
        r.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id.as_str())
    };
    assert!(listed(
        as_(&app, &rep_pe, Method::GET, "/v1/memoranda", None).await
    ));
    assert!(!listed(
        as_(&app, &rep_co, Method::GET, "/v1/memoranda", None).await
    ));
    assert!(!listed(
        as_(&app, &viewer, Method::GET, "/v1/memoranda", None).await
    ));
    assert!(listed(
        app.get(&format!("/v1/memoranda?office_id={pe}")).await
    ));
    assert!(!listed(
        app.get(&format!("/v1/memoranda?office_id={co}")).await
    ));
    // Another office's standing is not there for the office (404), nor is an office the
    // memorandum does not apply to.
    as_(
        &app,
        &rep_co,
        Method::GET,
        &format!("{path}/offices/{co}"),
        None,
    )
    .await
    .problem(404, "not-found");
    app.get(&format!("{path}/offices/{co}"))
        .await
        .problem(404, "not-found");

    // Pending and overdue (the deadline has passed).
    let standing = format!("{path}/offices/{pe}");
    let s = app.get(&standing).await.json();
    assert_eq!(s["status"], "pending");
    assert_eq!(s["overdue"], true);
    assert_eq!(s["office_code"], "MM-PE");
    assert_eq!(s["memorandum_number"], "AM/2026/01");

    // Only the office acknowledges (not the coordinator on its behalf), once.
    as_(
        &app,
        &bearer(&app, Role::Coordinator, None),
        Method::POST,
        &format!("{standing}/acknowledgement"),
        None,
    )
    .await
    .problem(403, "forbidden");
    let res = as_(
        &app,
        &staff_pe,
        Method::POST,
        &format!("{standing}/acknowledgement"),
        None,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let s = res.json();
    assert_eq!(s["status"], "acknowledged");
    assert_eq!(s["acknowledged_by"], "test-office_staff");
    assert!(s["acknowledged_at"].is_string());
    // Acknowledged but without the evidence it asks: still overdue.
    assert_eq!(s["overdue"], true);
    as_(
        &app,
        &staff_pe,
        Method::POST,
        &format!("{standing}/acknowledgement"),
        None,
    )
    .await
    .problem(409, "invalid-state");

    // Compliance: fields at fault are named.
    let tomorrow = (Utc::now() + Duration::days(1)).date_naive().to_string();
    let res = as_(
        &app,
        &staff_pe,
        Method::POST,
        &format!("{standing}/compliance"),
        Some(&json!({"text": " ", "attachments": ["", "x"], "complied_on": tomorrow})),
    )
    .await;
    res.problem(422, "validation-failed");
    let mut fields = res.problem_fields();
    fields.sort();
    assert_eq!(fields, ["attachments[0]", "complied_on", "text"]);
    let res = as_(
        &app,
        &staff_pe,
        Method::POST,
        &format!("{standing}/compliance"),
        Some(&json!({"text": "Counted.", "complied_on": "2025-12-31"})),
    )
    .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["complied_on"]);
    // A stale If-Match is a 412.
    let res = app
        .request(
            Method::POST,
            &format!("{standing}/compliance"),
            &[("authorization", &staff_pe), ("if-match", "\"stale\"")],
            Some(&json!({"text": "Counted.", "complied_on": "2026-01-20"})),
        )
        .await;
    res.problem(412, "precondition-failed");
    let etag = app.get(&standing).await.header("etag").unwrap();
    let body = json!({"text": "Counted on 20 January.", "attachments": ["PE/2026/count.pdf"], "complied_on": "2026-01-20"});
    let res = app
        .request(
            Method::POST,
            &format!("{standing}/compliance"),
            &[("authorization", &staff_pe), ("if-match", &etag)],
            Some(&body),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let s = res.json();
    assert_eq!(s["status"], "submitted");
    assert_eq!(s["overdue"], false);
    assert_eq!(s["compliance"]["attachments"], json!(["PE/2026/count.pdf"]));
    assert_eq!(s["compliance"]["complied_on"], "2026-01-20");
    assert_eq!(s["compliance"]["submitted_by"], "test-office_staff");
    // Awaiting review: not again.
    as_(
        &app,
        &staff_pe,
        Method::POST,
        &format!("{standing}/compliance"),
        Some(&body),
    )
    .await
    .problem(409, "invalid-state");

    // Review: the coordinator's; returning needs a reason.
    as_(
        &app,
        &rep_pe,
        Method::POST,
        &format!("{standing}/review"),
        Some(&json!({"decision": "accepted"})),
    )
    .await
    .problem(403, "forbidden");
    let res = app
        .post(
            &format!("{standing}/review"),
            &json!({"decision": "returned"}),
        )
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["reason"]);
    let res = app
        .post(
            &format!("{standing}/review"),
            &json!({"decision": "returned", "reason": "The report is not signed."}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let s = res.json();
    assert_eq!(s["status"], "returned");
    assert_eq!(s["overdue"], true);
    assert_eq!(s["review"]["decision"], "returned");
    assert_eq!(s["review"]["reason"], "The report is not signed.");
    assert_eq!(s["review"]["reviewed_by"], "test-coordinator");
    // Returned: the office submits again, and it is accepted.
    let res = as_(
        &app,
        &rep_pe,
        Method::POST,
        &format!("{standing}/compliance"),
        Some(&json!({"text": "Signed report attached.", "attachments": ["PE/2026/count-signed.pdf"], "complied_on": "2026-01-25"})),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.json()["compliance"]["submitted_by"],
        "test-representative"
    );
    let res = app
        .post(
            &format!("{standing}/review"),
            &json!({"decision": "accepted"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "accepted");
    app.post(
        &format!("{standing}/review"),
        &json!({"decision": "accepted"}),
    )
    .await
    .problem(409, "invalid-state");
    // If-None-Match on the standing.
    let etag = app.get(&standing).await.header("etag").unwrap();
    assert_eq!(
        app.get_with(&standing, &[("if-none-match", &etag)])
            .await
            .status,
        304
    );

    // Every write is in the audit trail, with before and after.
    assert_eq!(audit_count(&app, "memorandum"), 1);
    assert_eq!(audit_count(&app, "memorandum_response"), 5);
    assert_eq!(
        app.db.scalar(
            "SELECT after->>'status' FROM audit_events WHERE resource_type = 'memorandum_response' \
             ORDER BY occurred_at DESC LIMIT 1"
        ),
        "accepted"
    );

    // Updating the memorandum: If-Match required; an office that answered stays.
    app.patch(&path, None, &json!({"deadline": "2026-03-01"}))
        .await
        .problem(428, "precondition-required");
    app.patch(&path, Some("\"stale\""), &json!({"deadline": "2026-03-01"}))
        .await
        .problem(412, "precondition-failed");
    let etag = app.get(&path).await.header("etag").unwrap();
    let res = app
        .patch(&path, Some(&etag), &json!({"office_ids": [co]}))
        .await;
    res.problem(409, "invalid-state");
    assert_eq!(res.problem_fields(), ["office_ids"]);
    let res = app
        .patch(&path, Some(&etag), &json!({"number": "AM/9"}))
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["number"]);
    let res = app
        .patch(
            &path,
            Some(&etag),
            &json!({"office_ids": [co, pe], "deadline": "2026-03-01"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let mut ids = vec![co.clone(), pe.clone()];
    ids.sort();
    assert_eq!(res.json()["office_ids"], json!(ids));
    as_(
        &app,
        &bearer(&app, Role::Representative, Some(&pe)),
        Method::PATCH,
        &path,
        Some(&json!({"deadline": null})),
    )
    .await
    .problem(403, "forbidden");
    // The other office now sees it, pending.
    assert_eq!(
        as_(&app, &rep_co, Method::GET, &path, None).await.status,
        200
    );
    let s = as_(
        &app,
        &rep_co,
        Method::GET,
        &format!("{path}/offices/{co}"),
        None,
    )
    .await
    .json();
    assert_eq!(s["status"], "pending");
    // An office sees only its own row of the memorandum's offices.
    let rows = as_(&app, &rep_co, Method::GET, &format!("{path}/offices"), None)
        .await
        .json();
    assert_eq!(rows["items"].as_array().unwrap().len(), 1);
    assert_eq!(rows["items"][0]["office_id"], co.as_str());
    assert_eq!(
        app.get(&format!("{path}/offices")).await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[actix_web::test]
async fn the_compliance_view_covers_memoranda_times_offices() {
    let app = TestApp::new().await;
    let mut offices = Vec::new();
    for (code, ms) in [
        ("CV-AR", "AR"),
        ("CV-BR", "BR"),
        ("CV-CL", "CL"),
        ("CV-MX", "MX"),
    ] {
        offices.push(office(&app, code, ms).await);
    }
    // A closed office: not part of a memorandum issued after its closing.
    let closed = office(&app, "CV-UY", "UY").await;
    let res = app
        .post(
            &format!("/v1/offices/{closed}/close"),
            &json!({"closed_on": "2025-06-30"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());

    // Validation names the fields.
    let mut bad = memo("AM/2026/02", None, false, Some("2025-12-31"));
    bad["office_ids"] = json!([offices[0]]);
    let res = app.post("/v1/memoranda", &bad).await;
    res.problem(422, "validation-failed");
    let mut fields = res.problem_fields();
    fields.sort();
    assert_eq!(fields, ["deadline", "office_ids"]);
    let res = app
        .post(
            "/v1/memoranda",
            &json!({"number": "/bad", "title": {}, "text": {"en": ""}, "issued_on": "2026-01-10",
                    "applies_to_all": false, "office_ids": ["0193a6f0-0000-7000-8000-000000000000"]}),
        )
        .await;
    res.problem(422, "validation-failed");
    let mut fields = res.problem_fields();
    fields.sort();
    assert_eq!(fields, ["number", "office_ids[0]", "text.en", "title"]);
    as_(
        &app,
        &bearer(&app, Role::Representative, Some(&offices[0])),
        Method::POST,
        "/v1/memoranda",
        Some(&memo("AM/2026/03", None, false, None)),
    )
    .await
    .problem(403, "forbidden");

    // To all offices, acknowledgement only, deadline passed; and one with evidence, no
    // deadline (never overdue).
    let all = app
        .post(
            "/v1/memoranda",
            &memo("AM/2026/02", None, false, Some("2026-01-31")),
        )
        .await;
    assert_eq!(all.status, 201, "{}", all.text());
    let all = all.json()["id"].as_str().unwrap().to_owned();
    app.post("/v1/memoranda", &memo("AM/2026/02", None, false, None))
        .await
        .problem(409, "duplicate");
    let evidence = app
        .post(
            "/v1/memoranda",
            &memo(
                "AM/2026/04",
                Some(vec![offices[1].as_str(), offices[2].as_str()]),
                true,
                None,
            ),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ack = |office: &str| {
        let office = office.to_owned();
        let all = all.clone();
        let app = &app;
        async move {
            let token = bearer(app, Role::Representative, Some(&office));
            as_(
                app,
                &token,
                Method::POST,
                &format!("/v1/memoranda/{all}/offices/{office}/acknowledgement"),
                None,
            )
            .await
        }
    };
    assert_eq!(ack(&offices[0]).await.status, 200);
    assert_eq!(ack(&offices[1]).await.status, 200);
    // No evidence to give for this one.
    as_(
        &app,
        &bearer(&app, Role::Representative, Some(&offices[0])),
        Method::POST,
        &format!("/v1/memoranda/{all}/offices/{}/compliance", offices[0]),
        Some(&json!({"text": "Done.", "complied_on": "2026-01-20"})),
    )
    .await
    .problem(409, "invalid-state");
    // The closed office is not one of its offices.
    app.get(&format!("/v1/memoranda/{all}/offices/{closed}"))
        .await
        .problem(404, "not-found");

    // The view: 4 offices for the first, 2 for the second.
    let rows = app.collect("/v1/memorandum-compliance?limit=2").await;
    assert_eq!(rows.len(), 6);
    let mut seen: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["memorandum_id"].as_str().unwrap().to_owned(),
                r["office_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6, "no row twice across pages");
    let overdue = app
        .collect(&format!(
            "/v1/memorandum-compliance?overdue=true&memorandum_id={all}"
        ))
        .await;
    let mut overdue: Vec<&str> = overdue
        .iter()
        .map(|r| r["office_id"].as_str().unwrap())
        .collect();
    overdue.sort();
    let mut expected = vec![offices[2].as_str(), offices[3].as_str()];
    expected.sort();
    assert_eq!(overdue, expected);
    assert!(
        app.collect(&format!(
            "/v1/memorandum-compliance?memorandum_id={evidence}"
        ))
        .await
        .iter()
        .all(|r| r["status"] == "pending"
            && r["overdue"] == false
            && r["evidence_required"] == true)
    );
    let acknowledged = app
        .collect("/v1/memorandum-compliance?status=acknowledged")
        .await;
    assert_eq!(acknowledged.len(), 2);
    app.get("/v1/memorandum-compliance?status=done")
        .await
        .problem(400, "invalid-parameter");
    app.get("/v1/memorandum-compliance?overdue=maybe")
        .await
        .problem(400, "invalid-parameter");
    // CSV for spreadsheets.
    let csv = app
        .get("/v1/memorandum-compliance?format=csv&limit=500")
        .await;
    assert_eq!(csv.status, 200);
    let text = csv.text();
    assert!(
        text.lines().next().unwrap().contains("memorandum_number"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 7);
    // The Coordinating Office and auditors only.
    let auditor = bearer(&app, Role::Auditor, None);
    assert_eq!(
        as_(
            &app,
            &auditor,
            Method::GET,
            "/v1/memorandum-compliance",
            None
        )
        .await
        .status,
        200
    );
    as_(
        &app,
        &bearer(&app, Role::Representative, Some(&offices[0])),
        Method::GET,
        "/v1/memorandum-compliance",
        None,
    )
    .await
    .problem(403, "forbidden");
    // The reporting view agrees.
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM reporting.memoranda_compliance WHERE overdue"),
        "2"
    );
    assert_eq!(
        app.db.scalar(
            "SELECT string_agg(status_label, ',' ORDER BY status_label) FROM reporting.memoranda_compliance \
             WHERE memorandum_number = 'AM/2026/02'"
        ),
        "Acknowledged,Acknowledged,Pending,Pending"
    );
    // Memoranda pages.
    let page = app.get("/v1/memoranda?limit=1&sort=-issued_on").await;
    assert_eq!(page.json()["items"].as_array().unwrap().len(), 1);
    assert!(
        page.header("link")
            .is_some_and(|l| l.contains("rel=\"next\""))
    );
    assert_eq!(app.collect("/v1/memoranda?limit=1").await.len(), 2);
}

#[actix_web::test]
async fn the_demo_data_has_memoranda_with_answers_and_published_accomplishments() {
    let app = TestApp::full_demo().await;
    let memoranda = app.collect("/v1/memoranda?limit=500").await;
    assert_eq!(memoranda.len(), 4);
    let rows = app.collect("/v1/memorandum-compliance?limit=500").await;
    let count = |status: &str| rows.iter().filter(|r| r["status"] == status).count();
    for status in [
        "pending",
        "acknowledged",
        "submitted",
        "accepted",
        "returned",
    ] {
        assert!(count(status) > 0, "some offices are {status}");
    }
    assert!(rows.iter().any(|r| r["overdue"] == true));
    assert!(rows.iter().any(|r| r["review"]["reason"].is_string()));
    let feed = app
        .get_with(
            "/v1/feeds/accomplishments?limit=500",
            &[("authorization", "none")],
        )
        .await
        .json();
    let items = feed["items"].as_array().unwrap();
    assert!(items.len() > 20, "{}", items.len());
    assert!(
        items
            .iter()
            .any(|i| !i["project_ids"].as_array().unwrap().is_empty())
    );
    // Unpublished ones wait for the Coordinating Office.
    assert!(
        !app.collect("/v1/accomplishments?status=submitted")
            .await
            .is_empty()
    );
    // Deterministic: ids are derived from codes.
    assert_eq!(
        app.db
            .scalar("SELECT id FROM memoranda WHERE number = 'AM/2026/02'"),
        ogsms::seed::demo_id("memorandum", "AM/2026/02").to_string()
    );
}
