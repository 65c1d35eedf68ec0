//! Monitoring reports: one per project and period, periods as months or quarters,
//! validation, who may write them, the read-only reports of closed projects, and the
//! list's filters.

use actix_web::http::Method;
use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::common::{Resp, TestApp};
use crate::projects::{
    MISSING_ID, bearer, create, department, force_status, new_project, office, path_of,
};

fn report(period: &str) -> Value {
    json!({
        "period": period,
        "physical_progress": 40,
        "risk_level": "medium",
        "narrative": {"es": "Avance según lo previsto", "en": "Progress as planned"}
    })
}

fn reports_of(project: &Value) -> String {
    format!("{}/monitoring-reports", path_of(project))
}

fn report_path(r: &Value) -> String {
    format!(
        "/v1/projects/{}/monitoring-reports/{}",
        r["project_id"].as_str().unwrap(),
        r["id"].as_str().unwrap()
    )
}

async fn post_as(app: &TestApp, project: &Value, body: &Value, auth: Option<&str>) -> Resp {
    let mut headers = vec![];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    app.request(Method::POST, &reports_of(project), &headers, Some(body))
        .await
}

async fn create_report(app: &TestApp, project: &Value, body: &Value) -> Value {
    let res = post_as(app, project, body, None).await;
    assert_eq!(res.status, 201, "{body}: {}", res.text());
    res.json()
}

async fn patch_as(app: &TestApp, r: &Value, body: &Value, auth: Option<&str>) -> Resp {
    let path = report_path(r);
    let etag = app.get(&path).await.header("etag").unwrap();
    let mut headers = vec![("if-match", etag.as_str())];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    app.request(Method::PATCH, &path, &headers, Some(body))
        .await
}

fn periods(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|r| r["period"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn create_derives_the_period_dates_and_records_the_author() {
    let app = TestApp::demo().await;
    let p = create(&app, &new_project("PE-MON-1")).await;
    let staff = bearer(&app, Role::OfficeStaff, Some(&office("PE")), None);
    let res = post_as(&app, &p, &report("2026-02"), Some(&staff)).await;
    assert_eq!(res.status, 201, "{}", res.text());
    let r = res.json();
    assert_eq!(res.header("location").unwrap(), report_path(&r));
    assert_eq!(r["project_id"], p["id"]);
    assert_eq!(r["period"], "2026-02");
    assert_eq!(r["period_start"], "2026-02-01");
    assert_eq!(r["period_end"], "2026-02-28");
    assert_eq!(r["physical_progress"], 40);
    assert_eq!(r["risk_level"], "medium");
    assert_eq!(
        r["narrative"],
        json!({"en": "Progress as planned", "es": "Avance según lo previsto"})
    );
    assert_eq!(r["created_by"], "test-office_staff");
    assert!(r.get("financial_progress").is_none());

    let got = app.get(&report_path(&r)).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), r);
    let etag = got.header("etag").unwrap();
    assert_eq!(
        app.get_with(&report_path(&r), &[("if-none-match", &etag)])
            .await
            .status,
        304
    );

    // Quarters, leap years (a lower-case q is refused, as the schema's pattern says).
    post_as(&app, &p, &report("2026-q4"), None)
        .await
        .problem(422, "validation-failed");
    for (period, normalized, start, end) in [
        ("2026-Q1", "2026-Q1", "2026-01-01", "2026-03-31"),
        ("2026-Q4", "2026-Q4", "2026-10-01", "2026-12-31"),
        ("2024-02", "2024-02", "2024-02-01", "2024-02-29"),
        ("2025-12", "2025-12", "2025-12-01", "2025-12-31"),
    ] {
        let r = create_report(&app, &p, &report(period)).await;
        assert_eq!(r["period"], normalized);
        assert_eq!(r["period_start"], start, "{period}");
        assert_eq!(r["period_end"], end, "{period}");
    }
    assert_eq!(
        app.db.scalar(
            "SELECT count(*) FROM audit_events WHERE resource_type = 'monitoring_report' AND action = 'create'"
        ),
        "5"
    );

    // Unknown project, or a report read through another project: 404.
    app.get(&format!("/v1/projects/{MISSING_ID}/monitoring-reports"))
        .await
        .problem(404, "not-found");
    let res = app
        .post(
            &format!("/v1/projects/{MISSING_ID}/monitoring-reports"),
            &report("2026-01"),
        )
        .await;
    res.problem(404, "not-found");
    let q = create(&app, &new_project("PE-MON-2")).await;
    app.get(&format!("{}/{}", reports_of(&q), r["id"].as_str().unwrap()))
        .await
        .problem(404, "not-found");
}

#[actix_web::test]
async fn one_report_per_project_and_period() {
    let app = TestApp::demo().await;
    let p = create(&app, &new_project("PE-MON-1")).await;
    let q = create(&app, &new_project("PE-MON-2")).await;
    create_report(&app, &p, &report("2026-03")).await;
    let res = post_as(&app, &p, &report("2026-03"), None).await;
    res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["period"]);
    // The same period of another project, and a quarter over the month, are fine.
    create_report(&app, &q, &report("2026-03")).await;
    let quarter = create_report(&app, &p, &report("2026-Q1")).await;
    // A PATCH onto a taken period is a duplicate too.
    let res = patch_as(&app, &quarter, &json!({"period": "2026-03"}), None).await;
    res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["period"]);
    assert_eq!(
        app.db.scalar("SELECT count(*) FROM monitoring_reports"),
        "3"
    );
}

#[actix_web::test]
async fn invalid_reports_are_422_naming_the_field() {
    let app = TestApp::demo().await;
    let p = create(&app, &new_project("PE-MON-1")).await;
    let set = |field: &str, value: Value| {
        let mut b = report("2026-01");
        b[field] = value;
        b
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("month 13", set("period", json!("2026-13")), "period"),
        ("quarter 5", set("period", json!("2026-Q5")), "period"),
        ("a date", set("period", json!("2026-01-01")), "period"),
        ("a half", set("period", json!("2026-H1")), "period"),
        ("a year", set("period", json!("2026")), "period"),
        (
            "progress 101",
            set("physical_progress", json!(101)),
            "physical_progress",
        ),
        (
            "progress -1",
            set("physical_progress", json!(-1)),
            "physical_progress",
        ),
        (
            "progress 50.5",
            set("physical_progress", json!(50.5)),
            "physical_progress",
        ),
        (
            "progress as text",
            set("physical_progress", json!("50")),
            "physical_progress",
        ),
        (
            "unknown risk",
            set("risk_level", json!("extreme")),
            "risk_level",
        ),
        ("empty narrative", set("narrative", json!({})), "narrative"),
        (
            "blank narrative",
            set("narrative", json!({"fr": "  "})),
            "narrative.fr",
        ),
        (
            "financial progress",
            set("financial_progress", json!(30)),
            "financial_progress",
        ),
        (
            "created_by",
            set("created_by", json!("someone")),
            "created_by",
        ),
    ];
    for (case, body, field) in cases {
        let res = post_as(&app, &p, &body, None).await;
        res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec![field], "{case}");
    }
    for progress in [0, 100] {
        let mut body = report(&format!("2026-0{}", 2 + progress / 100));
        body["physical_progress"] = json!(progress);
        create_report(&app, &p, &body).await;
    }
    assert_eq!(
        app.db.scalar("SELECT count(*) FROM monitoring_reports"),
        "2"
    );
}

#[actix_web::test]
async fn patch_updates_with_if_match() {
    let app = TestApp::demo().await;
    let p = create(&app, &new_project("PE-MON-1")).await;
    let r = create_report(&app, &p, &report("2026-01")).await;
    let path = report_path(&r);
    app.patch(&path, None, &json!({"physical_progress": 50}))
        .await
        .problem(428, "precondition-required");
    app.patch(&path, Some("\"stale\""), &json!({"physical_progress": 50}))
        .await
        .problem(412, "precondition-failed");

    let res = patch_as(
        &app,
        &r,
        &json!({"physical_progress": 55, "risk_level": "high", "period": "2026-Q2"}),
        None,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let u = res.json();
    assert_eq!(u["physical_progress"], 55);
    assert_eq!(u["risk_level"], "high");
    assert_eq!(u["period"], "2026-Q2");
    assert_eq!(u["period_start"], "2026-04-01");
    assert_eq!(u["period_end"], "2026-06-30");
    assert_eq!(u["narrative"], r["narrative"]);
    assert_eq!(u["created_by"], r["created_by"]);

    for (body, field) in [
        (json!({"physical_progress": 101}), "physical_progress"),
        (json!({"period": "2026-00"}), "period"),
        (json!({"period_start": "2026-01-01"}), "period_start"),
        (json!({"created_by": "x"}), "created_by"),
        (json!({"project_id": MISSING_ID}), "project_id"),
        (json!({"narrative": null}), "narrative"),
        (json!({"financial_progress": 10}), "financial_progress"),
    ] {
        let res = patch_as(&app, &u, &body, None).await;
        res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec![field], "{body}");
    }
    assert_eq!(
        app.db.scalar(
            "SELECT count(*) FROM audit_events WHERE resource_type = 'monitoring_report' AND action = 'update'"
        ),
        "1"
    );
}

#[actix_web::test]
async fn who_may_write_reports() {
    let app = TestApp::demo().await;
    let p = create(&app, &new_project("PE-MON-1")).await;
    let pe = office("PE");
    let co = office("CO");
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "representative of PE",
            bearer(&app, Role::Representative, Some(&pe), None),
            201,
        ),
        (
            "staff of PE",
            bearer(&app, Role::OfficeStaff, Some(&pe), None),
            201,
        ),
        (
            "HQ of DECO",
            bearer(&app, Role::HqDepartment, None, Some(&department("DECO"))),
            201,
        ),
        (
            "representative of CO",
            bearer(&app, Role::Representative, Some(&co), None),
            403,
        ),
        (
            "staff of CO",
            bearer(&app, Role::OfficeStaff, Some(&co), None),
            403,
        ),
        (
            "HQ of SARE",
            bearer(&app, Role::HqDepartment, None, Some(&department("SARE"))),
            403,
        ),
        ("auditor", bearer(&app, Role::Auditor, None, None), 403),
        ("viewer", bearer(&app, Role::Viewer, None, None), 403),
    ];
    let mut month = 0;
    let mut last = None;
    for (who, auth, want) in &cases {
        month += 1;
        let res = post_as(&app, &p, &report(&format!("2025-{month:02}")), Some(auth)).await;
        assert_eq!(res.status.as_u16(), *want, "{who}: {}", res.text());
        if *want == 201 {
            last = Some(res.json());
        }
        // Everyone reads.
        assert_eq!(
            app.get_with(&reports_of(&p), &[("authorization", auth)])
                .await
                .status,
            200
        );
    }
    let r = last.unwrap();
    for (who, auth, want) in cases {
        let res = patch_as(&app, &r, &json!({"physical_progress": 60}), Some(&auth)).await;
        let want = if want == 201 { 200 } else { 403 };
        assert_eq!(res.status.as_u16(), want, "{who}: {}", res.text());
    }
}

#[actix_web::test]
async fn reports_of_closed_or_cancelled_projects_are_read_only() {
    let app = TestApp::demo().await;
    for status in ["closed", "cancelled"] {
        let p = create(
            &app,
            &new_project(&format!("PE-RO-{}", status.to_uppercase())),
        )
        .await;
        let r = create_report(&app, &p, &report("2026-01")).await;
        force_status(&app, &p, status);
        let res = post_as(&app, &p, &report("2026-02"), None).await;
        res.problem(409, "invalid-state");
        let res = patch_as(&app, &r, &json!({"physical_progress": 90}), None).await;
        res.problem(409, "invalid-state");
        // Still readable.
        assert_eq!(app.get(&report_path(&r)).await.json(), r);
        assert_eq!(app.collect(&reports_of(&p)).await.len(), 1);
    }
    // Completed is not yet closed: its final report can still be written.
    let p = create(&app, &new_project("PE-RO-COMPLETED")).await;
    force_status(&app, &p, "completed");
    create_report(&app, &p, &report("2026-12")).await;
}

#[actix_web::test]
async fn the_list_filters_and_pages() {
    let app = TestApp::demo().await;
    let p = create(&app, &new_project("PE-MON-1")).await;
    let other = create(&app, &new_project("PE-MON-2")).await;
    create_report(&app, &other, &report("2026-01")).await;
    let risks = ["low", "medium", "high", "critical"];
    let mut all = Vec::new();
    for m in 1..=12 {
        let mut body = report(&format!("2025-{m:02}"));
        body["risk_level"] = json!(risks[m % 4]);
        all.push(create_report(&app, &p, &body).await);
    }
    all.push(create_report(&app, &p, &report("2025-Q2")).await);
    let list =
        async |query: &str| periods(&app.collect(&format!("{}?{query}", reports_of(&p))).await);
    // Default order: by the period's first day (the quarter starts with April; ties
    // are broken by id).
    let everything = list("limit=5").await;
    assert_eq!(everything.len(), 13);
    assert_eq!(&everything[..3], ["2025-01", "2025-02", "2025-03"]);
    assert_eq!(
        {
            let mut a = everything[3..5].to_vec();
            a.sort();
            a
        },
        ["2025-04", "2025-Q2"]
    );
    assert_eq!(everything.last().unwrap(), "2025-12");
    let desc = list("sort=-period&limit=4").await;
    assert_eq!(desc.first().unwrap(), "2025-12");
    assert_eq!(desc.len(), 13);

    // Periods: overlap with [start of period_from, end of period_to].
    let mut mid = list("period_from=2025-05&period_to=2025-06").await;
    mid.sort();
    assert_eq!(mid, ["2025-05", "2025-06", "2025-Q2"]);
    let mut q3 = list("period_from=2025-Q3&period_to=2025-Q3").await;
    q3.sort();
    assert_eq!(q3, ["2025-07", "2025-08", "2025-09"]);
    let mut from = list("period_from=2025-11-15").await;
    from.sort();
    assert_eq!(from, ["2025-11", "2025-12"]);
    assert_eq!(list("period_to=2025-01-31").await, ["2025-01"]);
    assert!(list("period_from=2026-01").await.is_empty());

    // Risk levels.
    let mut critical = list("risk_level=critical").await;
    critical.sort();
    assert_eq!(critical, ["2025-03", "2025-07", "2025-11"]);
    assert_eq!(list("risk_level=high,critical").await.len(), 6);

    // updated_since.
    let r = &all[8];
    let res = patch_as(&app, r, &json!({"risk_level": "low"}), None).await;
    assert_eq!(res.status, 200);
    let since = res.json()["updated_at"].as_str().unwrap().to_owned();
    let since = percent_encoding::utf8_percent_encode(&since, percent_encoding::NON_ALPHANUMERIC);
    assert_eq!(list(&format!("updated_since={since}")).await, ["2025-09"]);

    for (query, field) in [
        ("period_from=2025-13", "period_from"),
        ("period_to=soon", "period_to"),
        ("period_from=2025-06&period_to=2025-05", "period_to"),
        ("risk_level=extreme", "risk_level"),
        ("sort=risk_level", "sort"),
        ("updated_since=x", "updated_since"),
        ("project_id=x", "project_id"),
    ] {
        let res = app.get(&format!("{}?{query}", reports_of(&p))).await;
        let problem = res.problem(400, "invalid-parameter");
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
    }
}
