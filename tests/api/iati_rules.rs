//! What IATI's rules need of projects and agencies (issue 24): sectors (DAC codes,
//! percentages summing to 100), budget lines summing to the budget, organisation
//! identifiers validated by prefix; the `sector=` filter, the CSV columns, and the export
//! that carries them.

use serde_json::{Value, json};

use crate::common::TestApp;
use crate::projects::{create, create_as, new_project, patch_as, patch_ok, path_of};

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

async fn refused(app: &TestApp, body: &Value) -> Vec<String> {
    let res = create_as(app, body, None).await;
    assert_eq!(res.status, 422, "{}", res.text());
    res.problem(422, "validation-failed");
    res.problem_fields()
}

fn line(start: &str, end: &str, amount: &str, status: &str) -> Value {
    json!({"period_start": start, "period_end": end,
           "amount": {"amount": amount, "currency": "USD"}, "status": status})
}

#[actix_web::test]
async fn sectors_default_to_the_pillar_and_must_be_dac_codes_summing_to_100() {
    let app = TestApp::demo().await;
    // Omitted: the pillar's sector (existing clients keep working).
    let p = create(&app, &new_project("SEC-1")).await;
    assert_eq!(
        p["sectors"],
        json!([{"code": "15150", "percentage": "100"}])
    );
    assert_eq!(p["budget_lines"], json!([]));
    let body = with(
        new_project("SEC-2"),
        "sectors",
        json!([{"code": "15151", "percentage": "60.50"}, {"code": "15160", "percentage": "39.5"}]),
    );
    let p2 = create(&app, &body).await;
    assert_eq!(
        p2["sectors"],
        json!([{"code": "15151", "percentage": "60.5"}, {"code": "15160", "percentage": "39.5"}])
    );

    let two = |a: &str, b: &str| json!([{"code": "15151", "percentage": a}, {"code": "15160", "percentage": b}]);
    // Percentages that do not sum to 100.
    let body = with(new_project("SEC-3"), "sectors", two("60", "30"));
    assert_eq!(refused(&app, &body).await, vec!["sectors"]);
    // An unknown DAC code, a withdrawn one, a duplicate, a bad percentage.
    let body = with(
        new_project("SEC-3"),
        "sectors",
        json!([{"code": "99999", "percentage": "100"}]),
    );
    assert_eq!(refused(&app, &body).await, vec!["sectors[0].code"]);
    let body = with(
        new_project("SEC-3"),
        "sectors",
        json!([{"code": "15161", "percentage": "100"}]),
    );
    assert_eq!(refused(&app, &body).await, vec!["sectors[0].code"]);
    let body = with(
        new_project("SEC-3"),
        "sectors",
        json!([{"code": "15151", "percentage": "50"}, {"code": "15151", "percentage": "50"}]),
    );
    assert_eq!(refused(&app, &body).await, vec!["sectors[1].code"]);
    for bad in ["0", "100.001", "abc", "-5", "101"] {
        let body = with(
            new_project("SEC-3"),
            "sectors",
            json!([{"code": "15151", "percentage": bad}]),
        );
        assert_eq!(
            refused(&app, &body).await,
            vec!["sectors[0].percentage"],
            "{bad}"
        );
    }
    let body = with(new_project("SEC-3"), "sectors", json!([]));
    assert_eq!(refused(&app, &body).await, vec!["sectors"]);

    // PATCH replaces them, with the same rules; null is refused.
    let p = patch_ok(&app, &p, &json!({"sectors": two("50", "50")})).await;
    assert_eq!(p["sectors"], two("50", "50"));
    let res = patch_as(&app, &p, &json!({"sectors": two("50", "49.99")}), None).await;
    assert_eq!(res.status, 422);
    assert_eq!(res.problem_fields(), vec!["sectors"]);
    let res = patch_as(&app, &p, &json!({"sectors": null}), None).await;
    assert_eq!(res.status, 422, "{}", res.text());

    // The filter.
    let res = app.get("/v1/projects?sector=15160&limit=100").await;
    assert_eq!(res.status, 200);
    let mut codes: Vec<String> = res.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_owned())
        .collect();
    codes.sort();
    assert_eq!(codes, vec!["SEC-1", "SEC-2"]);
    let res = app.get("/v1/projects?sector=15151,43060").await;
    assert_eq!(res.json()["items"].as_array().unwrap().len(), 2);
    let res = app.get("/v1/projects?sector=43060").await;
    assert_eq!(res.json()["items"].as_array().unwrap().len(), 0);
    app.get("/v1/projects?sector=elections")
        .await
        .problem(400, "invalid-parameter");

    // CSV: a column of code:percentage pairs.
    let res = app.get("/v1/projects?format=csv&sector=15151").await;
    assert_eq!(res.status, 200);
    let csv = res.text();
    let header = csv.lines().next().unwrap();
    assert!(header.split(',').any(|h| h == "sectors"), "{header}");
    assert!(csv.contains("15151:50;15160:50"), "{csv}");
}

#[actix_web::test]
async fn budget_lines_must_sum_to_the_budget_and_cover_at_most_a_year() {
    let app = TestApp::demo().await;
    let mut body = new_project("BL-1");
    body["ends_on"] = json!("2027-06-30");
    body["budget"] = json!({"amount": "1500.00", "currency": "USD"});
    let lines = json!([
        line("2027-01-01", "2027-06-30", "500", "original"),
        line("2026-01-01", "2026-12-31", "1200.00", "original"),
        line("2026-01-01", "2026-12-31", "1000.00", "revised"),
    ]);
    let p = create(&app, &with(body.clone(), "budget_lines", lines)).await;
    // Sorted by period and status, amounts in canonical form.
    assert_eq!(
        p["budget_lines"],
        json!([
            line("2026-01-01", "2026-12-31", "1200.00", "original"),
            line("2026-01-01", "2026-12-31", "1000.00", "revised"),
            line("2027-01-01", "2027-06-30", "500.00", "original"),
        ])
    );

    let refuse = |lines: Value| {
        with(
            with(body.clone(), "code", json!("BL-2")),
            "budget_lines",
            lines,
        )
    };
    // Not summing to the budget.
    let fields = refused(
        &app,
        &refuse(json!([line(
            "2026-01-01",
            "2026-12-31",
            "1000.00",
            "original"
        )])),
    )
    .await;
    assert_eq!(fields, vec!["budget_lines"]);
    // Longer than a year, outside the project, another currency, overlapping.
    let fields = refused(
        &app,
        &refuse(json!([line(
            "2026-01-01",
            "2027-01-02",
            "1500.00",
            "original"
        )])),
    )
    .await;
    assert_eq!(fields, vec!["budget_lines[0].period_end"]);
    let fields = refused(
        &app,
        &refuse(json!([line(
            "2025-12-31",
            "2026-06-30",
            "1500.00",
            "original"
        )])),
    )
    .await;
    assert_eq!(fields, vec!["budget_lines[0].period_start"]);
    let mut eur = line("2026-01-01", "2026-12-31", "1500.00", "original");
    eur["amount"]["currency"] = json!("EUR");
    assert_eq!(
        refused(&app, &refuse(json!([eur]))).await,
        vec!["budget_lines[0].amount.currency"]
    );
    let fields = refused(
        &app,
        &refuse(json!([
            line("2026-01-01", "2026-12-31", "750.00", "original"),
            line("2026-06-01", "2027-05-31", "750.00", "original"),
        ])),
    )
    .await;
    assert_eq!(fields, vec!["budget_lines"]);

    // A new budget the lines no longer sum to is refused, naming the lines; with new
    // lines it is taken.
    let res = patch_as(
        &app,
        &p,
        &json!({"budget": {"amount": "2000.00", "currency": "USD"}}),
        None,
    )
    .await;
    assert_eq!(res.status, 422, "{}", res.text());
    assert_eq!(res.problem_fields(), vec!["budget_lines"]);
    let p = patch_ok(
        &app,
        &p,
        &json!({"budget": {"amount": "2000.00", "currency": "USD"},
                "budget_lines": [line("2026-01-01", "2026-12-31", "2000.00", "original")]}),
    )
    .await;
    assert_eq!(p["budget_lines"].as_array().unwrap().len(), 1);
    let p = patch_ok(&app, &p, &json!({"budget_lines": []})).await;
    assert_eq!(p["budget_lines"], json!([]));
    assert_eq!(
        path_of(&p),
        format!("/v1/projects/{}", p["id"].as_str().unwrap())
    );
}

#[actix_web::test]
async fn organisation_identifiers_are_checked_by_their_prefix() {
    let app = TestApp::demo().await;
    let agency = |n: &str, org: Value| {
        json!({"name": {"es": format!("Agencia {n}")}, "member_state": "PE", "kind": "government",
               "registration_number": format!("2050491552{n}"), "org_identifier": org})
    };
    let res = app
        .post("/v1/executing-agencies", &agency("1", json!("ZZ-NOPE-1")))
        .await;
    assert_eq!(res.status, 422, "{}", res.text());
    assert_eq!(res.problem_fields(), vec!["org_identifier"]);
    let res = app
        .post(
            "/v1/executing-agencies",
            &agency("1", json!("PE-RUC-2050/1")),
        )
        .await;
    assert_eq!(res.problem_fields(), vec!["org_identifier"]);
    let res = app
        .post(
            "/v1/executing-agencies",
            &agency("1", json!("PE-RUC-20504915521")),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let a = res.json();
    assert_eq!(a["org_identifier"], "PE-RUC-20504915521");
    // Unique.
    let res = app
        .post(
            "/v1/executing-agencies",
            &agency("2", json!("PE-RUC-20504915521")),
        )
        .await;
    assert_eq!(res.status, 409, "{}", res.text());
    assert_eq!(res.problem_fields(), vec!["org_identifier"]);
    // Optional, and patchable.
    let res = app
        .post("/v1/executing-agencies", &agency("3", Value::Null))
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let b = res.json();
    assert_eq!(b["org_identifier"], Value::Null);
    let path = format!("/v1/executing-agencies/{}", b["id"].as_str().unwrap());
    let etag = app.get(&path).await.header("etag").unwrap();
    let res = app
        .patch(&path, Some(&etag), &json!({"org_identifier": "QQ-1"}))
        .await;
    assert_eq!(res.status, 422);
    assert_eq!(res.problem_fields(), vec!["org_identifier"]);

    // A donor's identifier, only for earmarked funds.
    let mut body = new_project("ORG-1");
    body["donor_org_identifier"] = json!("XM-DAC-7");
    assert_eq!(refused(&app, &body).await, vec!["donor_org_identifier"]);
    body["funding_source"] = json!("specific_fund");
    body["donor"] = json!("Government of Canada");
    body["donor_agreement"] = json!("CAN-1");
    body["donor_org_identifier"] = json!("NOPE-7");
    assert_eq!(refused(&app, &body).await, vec!["donor_org_identifier"]);
    body["donor_org_identifier"] = json!("XM-DAC-301");
    body["agencies"] = json!([{"agency_id": a["id"], "role": "lead"}]);
    body["sectors"] =
        json!([{"code": "15151", "percentage": "75"}, {"code": "15160", "percentage": "25"}]);
    body["budget_lines"] = json!([line("2026-01-01", "2026-12-31", "1000.00", "revised")]);
    let p = create(&app, &body).await;
    assert_eq!(p["donor_org_identifier"], "XM-DAC-301");

    // The export carries them: refs, DAC sectors and the pillar (vocabulary 99), the
    // budget line.
    let res = app.get("/v1/exports/iati-activities.xml").await;
    assert_eq!(res.status, 200);
    let xml = res.text();
    let start = xml.find("XI-IATI-OAS-ORG-1<").expect("the activity");
    let activity = &xml[start..start + xml[start..].find("</iati-activity>").unwrap()];
    for want in [
        r#"<participating-org role="1" ref="XM-DAC-301">"#,
        r#"<participating-org role="4" ref="PE-RUC-20504915521" type="10">"#,
        r#"<sector vocabulary="1" code="15151" percentage="75"><narrative xml:lang="en">Elections</narrative></sector>"#,
        r#"<sector vocabulary="1" code="15160" percentage="25">"#,
        r#"<sector vocabulary="99" code="democracy" percentage="100"><narrative xml:lang="en">Democracy</narrative><narrative xml:lang="es">Democracia</narrative><narrative xml:lang="fr">Démocratie</narrative><narrative xml:lang="pt">Democracia</narrative></sector>"#,
        r#"<budget type="2" status="1"><period-start iso-date="2026-01-01"/><period-end iso-date="2026-12-31"/><value currency="USD" value-date="2026-01-01">1000.00</value></budget>"#,
    ] {
        assert!(activity.contains(want), "{want} in {activity}");
    }
    assert_eq!(activity.matches("<budget ").count(), 1);
}

#[actix_web::test]
async fn the_demo_data_has_sectors_and_organisation_identifiers() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    let db = crate::common::TestDb::new();
    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();
    ogsms::seed::demo(&mut conn).await.unwrap();
    let int = |sql: &str| db.scalar(sql).parse::<i64>().unwrap();
    // Every demo project has its theme's sectors (one theme per title).
    assert_eq!(
        int("SELECT count(*) FROM projects WHERE jsonb_array_length(sectors) = 0"),
        0
    );
    assert!(
        int(
            "SELECT count(*) FROM projects WHERE title->>'en' LIKE '%electoral%' \
             AND sectors @> '[{\"code\": \"15151\"}]'"
        ) > 0
    );
    assert_eq!(
        int(
            "SELECT count(*) FROM projects WHERE title->>'en' LIKE '%isaster risk%' \
             AND NOT sectors @> '[{\"code\": \"43060\"}]'"
        ),
        0
    );
    assert_eq!(
        int(
            "SELECT count(*) FROM executing_agencies WHERE member_state = 'PE' \
             AND org_identifier NOT LIKE 'PE-RUC-%'"
        ),
        0
    );
    assert!(int("SELECT count(*) FROM executing_agencies WHERE org_identifier IS NOT NULL") > 0);
}

#[actix_web::test]
async fn project_statistics_have_a_sector_dimension() {
    let app = TestApp::demo().await;
    let both =
        json!([{"code": "15151", "percentage": "50"}, {"code": "15160", "percentage": "50"}]);
    create(&app, &with(new_project("ST-1"), "sectors", both)).await;
    create(
        &app,
        &with(
            new_project("ST-2"),
            "sectors",
            json!([{"code": "15151", "percentage": "100"}]),
        ),
    )
    .await;
    create(&app, &new_project("ST-3")).await; // 15150, its pillar's
    let res = app.get("/v1/stats/projects?group_by=sector").await;
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    let rows: Vec<(String, String, i64)> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["sector"].as_str().unwrap().to_owned(),
                r["sector_name"].as_str().unwrap().to_owned(),
                r["projects"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "15150".to_owned(),
                "Democratic participation and civil society".to_owned(),
                1
            ),
            ("15151".to_owned(), "Elections".to_owned(), 2),
            ("15160".to_owned(), "Human rights".to_owned(), 1),
        ]
    );
    // A project in two sectors counts once in the total.
    assert_eq!(body["total_projects"], 3);
    let res = app
        .get("/v1/stats/projects?group_by=status&sector=15160")
        .await;
    assert_eq!(res.json()["total_projects"], 1);
    app.get("/v1/stats/projects?sector=x")
        .await
        .problem(400, "invalid-parameter");
}
