//! Controls on money and life cycles (issue 21 §5): an office closes only when nothing
//! of it is still running, and its closing ends its appointments; no entry is dated in
//! the future or after its office's closing; no payment to a suspended agency.

use actix_web::http::Method;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::common::{Resp, TestApp, new_office};

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

async fn created(app: &TestApp, path: &str, body: &Value) -> Value {
    let res = app.post(path, body).await;
    assert_eq!(res.status, 201, "{path}: {}", res.text());
    res.json()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn ledger(app: &TestApp, office: &str) -> String {
    let year = today().year();
    id(&created(
        app,
        "/v1/ledgers",
        &json!({"office_id": office, "fiscal_year": year, "fund": "regular_fund"}),
    )
    .await)
}

fn entry(kind: &str, date: NaiveDate, amount: &str) -> Value {
    let mut e = json!({"kind": kind, "entry_date": date.to_string(), "description": format!("{kind} on {date}"),
                       "amount": {"amount": amount, "currency": "USD"}});
    if kind == "expense" || kind == "refund" {
        e["category"] = json!("project_disbursement");
    }
    e
}

async fn post(app: &TestApp, ledger: &str, body: &Value) -> Resp {
    app.post(&format!("/v1/ledgers/{ledger}/entries"), body)
        .await
}

/// The codes of a problem's errors for `field`.
fn codes_of(res: &Resp, field: &str) -> Vec<String> {
    res.json()["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["field"] == field)
        .map(|e| e["code"].as_str().unwrap().to_owned())
        .collect()
}

fn entries_in_db(app: &TestApp, ledger: &str) -> i64 {
    app.db
        .scalar(&format!(
            "SELECT count(*) FROM ledger_entries WHERE ledger_id = '{ledger}'"
        ))
        .parse()
        .unwrap()
}

#[actix_web::test]
async fn an_office_closes_only_when_nothing_runs_and_its_closing_ends_appointments() {
    let app = TestApp::demo().await;
    let office = id(&created(&app, "/v1/offices", &new_office("OGSMS-CLOSE", "PE")).await);
    let dept = ogsms::seed::demo_id("department", "DECO").to_string();
    let project = created(
        &app,
        "/v1/projects",
        &json!({"code": "CLOSE-01", "title": {"en": "Closing test"}, "office_id": office,
                "department_id": dept, "pillar": "democracy", "starts_on": "2025-01-01",
                "ends_on": "2026-06-30", "budget": {"amount": "5000.00", "currency": "USD"},
                "funding_source": "regular_fund"}),
    )
    .await;
    let pid = id(&project);
    app.db
        .execute(&format!(
            "UPDATE projects SET status = 'active' WHERE id = '{pid}'"
        ))
        .unwrap();
    let ledger = ledger(&app, &office).await;
    let rep = created(
        &app,
        &format!("/v1/offices/{office}/appointments"),
        &json!({"person_name": "Ana Torres", "email": "atorres@oas.org",
                "position": "representative", "starts_on": "2020-01-01"}),
    )
    .await;
    let later = created(
        &app,
        &format!("/v1/offices/{office}/appointments"),
        &json!({"person_name": "Luis Rojas", "position": "staff",
                "starts_on": (today() + Duration::days(30)).to_string()}),
    )
    .await;
    let closed_on = (today() - Duration::days(1)).to_string();
    let close = async || {
        app.request(
            Method::POST,
            &format!("/v1/offices/{office}/close"),
            &[],
            Some(&json!({ "closed_on": closed_on })),
        )
        .await
    };

    // Everything in the way is named, and nothing changes.
    let before = app.db.table_digests();
    let res = close().await;
    res.problem(409, "invalid-state");
    assert_eq!(app.db.table_digests(), before);
    let mut fields = res.problem_fields();
    fields.sort();
    let mut want = vec![
        format!("projects/{pid}"),
        format!("ledgers/{ledger}"),
        format!("appointments/{}", id(&later)),
    ];
    want.sort();
    assert_eq!(fields, want, "{}", res.text());
    assert_eq!(
        codes_of(&res, &format!("projects/{pid}")),
        ["project_not_finished"]
    );
    assert_eq!(
        codes_of(&res, &format!("ledgers/{ledger}")),
        ["ledger_open"]
    );
    assert!(
        res.text().contains("project CLOSE-01 is active"),
        "{}",
        res.text()
    );

    // Still in the way while any one remains.
    app.db
        .execute(&format!(
            "UPDATE projects SET status = 'completed' WHERE id = '{pid}'"
        ))
        .unwrap();
    let res = app
        .request(
            Method::POST,
            &format!("/v1/ledgers/{ledger}/close"),
            &[],
            None,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let res = close().await;
    res.problem(409, "invalid-state");
    assert_eq!(
        res.problem_fields(),
        [format!("appointments/{}", id(&later))]
    );
    app.db
        .execute(&format!(
            "DELETE FROM appointments WHERE id = '{}'",
            id(&later)
        ))
        .unwrap();

    // Now it closes, and the representative's appointment ends on the closing date.
    let res = close().await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["closed_on"], closed_on.as_str());
    assert!(
        res.json()["current_representative"].is_null(),
        "{}",
        res.text()
    );
    let rep_now = app
        .get(&format!("/v1/offices/{office}/appointments/{}", id(&rep)))
        .await
        .json();
    assert_eq!(rep_now["ends_on"], closed_on.as_str());
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM audit_events WHERE resource_type = 'appointment' \
             AND resource_id = '{}' AND action = 'end'",
            id(&rep)
        )),
        "1"
    );
}

#[actix_web::test]
async fn no_entry_is_dated_in_the_future_or_after_its_office_closed() {
    let app = TestApp::new().await;
    let office = id(&created(&app, "/v1/offices", &new_office("OGSMS-DATES", "PE")).await);
    let ledger = ledger(&app, &office).await;
    let year_start = NaiveDate::from_ymd_opt(today().year(), 1, 1).unwrap();
    let res = post(&app, &ledger, &entry("allocation", year_start, "1000.00")).await;
    assert_eq!(res.status, 201, "{}", res.text());

    // 24 days ahead: refused, whatever the kind.
    for kind in ["expense", "allocation", "refund"] {
        let res = post(
            &app,
            &ledger,
            &entry(kind, today() + Duration::days(24), "10.00"),
        )
        .await;
        res.problem(422, "validation-failed");
        assert!(
            codes_of(&res, "entry_date").contains(&"in_future".to_owned()),
            "{}",
            res.text()
        );
    }
    // Today is fine.
    let res = post(&app, &ledger, &entry("expense", today(), "10.00")).await;
    assert_eq!(res.status, 201, "{}", res.text());

    // An office closed (before this rule, with its ledger left open): nothing after
    // its closing date, what is dated before it still goes in.
    let closed_on = today() - Duration::days(10);
    if closed_on.year() != today().year() {
        return; // the first days of a year leave no room for the rest of the test
    }
    let early = post(&app, &ledger, &entry("expense", closed_on, "20.00")).await;
    assert_eq!(early.status, 201, "{}", early.text());
    app.db
        .execute(&format!(
            "UPDATE offices SET status = 'closed', closed_on = '{closed_on}' WHERE id = '{office}'"
        ))
        .unwrap();
    let n = entries_in_db(&app, &ledger);
    let res = post(
        &app,
        &ledger,
        &entry("expense", closed_on + Duration::days(1), "5.00"),
    )
    .await;
    res.problem(422, "validation-failed");
    assert_eq!(codes_of(&res, "entry_date"), ["after_office_closed"]);
    assert!(
        res.text().contains(&closed_on.to_string()),
        "{}",
        res.text()
    );
    assert_eq!(entries_in_db(&app, &ledger), n);
    let res = post(&app, &ledger, &entry("expense", closed_on, "5.00")).await;
    assert_eq!(res.status, 201, "{}", res.text());

    // Reversals keep their own date rules: a correction after the closing date goes in.
    let early_id = id(&early.json());
    let res = app
        .post(
            &format!("/v1/ledgers/{ledger}/entries/{early_id}/reversal"),
            &json!({"entry_date": today().to_string()}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(res.json()["kind"], "reversal");

    // The chain still verifies.
    let v = app
        .get(&format!("/v1/ledgers/{ledger}/verification"))
        .await
        .json();
    assert_eq!(v["ok"], true, "{v}");
}

#[actix_web::test]
async fn no_payment_to_an_agency_on_or_after_its_suspension() {
    let app = TestApp::new().await;
    let office = id(&created(&app, "/v1/offices", &new_office("OGSMS-PAY", "PE")).await);
    let ledger = ledger(&app, &office).await;
    let year_start = NaiveDate::from_ymd_opt(today().year(), 1, 1).unwrap();
    let res = post(&app, &ledger, &entry("allocation", year_start, "1000.00")).await;
    assert_eq!(res.status, 201, "{}", res.text());
    let agency = created(
        &app,
        "/v1/executing-agencies",
        &json!({"name": {"es": "Asociación Civil Transparencia"}, "member_state": "PE",
                "kind": "ngo", "registration_number": "20109849271"}),
    )
    .await;
    let agency_id = id(&agency);
    let pay = |date: NaiveDate, kind: &str| {
        let mut e = entry(kind, date, "50.00");
        e["payee_agency_id"] = json!(agency_id);
        e
    };
    // Before the suspension, paid.
    let res = post(&app, &ledger, &pay(today(), "expense")).await;
    assert_eq!(res.status, 201, "{}", res.text());

    let res = app
        .request(
            Method::POST,
            &format!("/v1/executing-agencies/{agency_id}/suspend"),
            &[],
            None,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT suspended_on FROM executing_agencies WHERE id = '{agency_id}'"
        )),
        today().to_string()
    );
    // Suspended today: a payment dated today is refused and names the agency.
    let n = entries_in_db(&app, &ledger);
    let res = post(&app, &ledger, &pay(today(), "expense")).await;
    res.problem(422, "validation-failed");
    assert_eq!(codes_of(&res, "payee_agency_id"), ["agency_suspended"]);
    assert!(res.text().contains(&agency_id), "{}", res.text());
    assert_eq!(entries_in_db(&app, &ledger), n);
    // Suspended since an earlier day: a payment dated between is refused, one dated
    // before goes in, and money coming back from the agency (a refund) still does.
    let since = today() - Duration::days(5);
    if since.year() == today().year() {
        app.db
            .execute(&format!(
                "UPDATE executing_agencies SET suspended_on = '{since}' WHERE id = '{agency_id}'"
            ))
            .unwrap();
        let res = post(&app, &ledger, &pay(since, "expense")).await;
        assert_eq!(codes_of(&res, "payee_agency_id"), ["agency_suspended"]);
        let res = post(&app, &ledger, &pay(since - Duration::days(1), "expense")).await;
        assert_eq!(res.status, 201, "{}", res.text());
    }
    let res = post(&app, &ledger, &pay(today(), "refund")).await;
    assert_eq!(res.status, 201, "{}", res.text());

    // Reactivated: paid again, and the suspension date is gone.
    let res = app
        .request(
            Method::POST,
            &format!("/v1/executing-agencies/{agency_id}/reactivate"),
            &[],
            None,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let res = post(&app, &ledger, &pay(today(), "expense")).await;
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT coalesce(suspended_on::text, 'none') FROM executing_agencies WHERE id = '{agency_id}'"
        )),
        "none"
    );
}
