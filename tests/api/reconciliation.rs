//! Reconciliation per office, fund and period (issue 21 §4): the figures equal the sums
//! computed here from the entries posted through the API (opening = the earlier periods,
//! closing = opening + movements), each variance flag raised and not raised, the
//! cross-office variant, CSV, and bad parameters.

use chrono::{Datelike, Utc};
use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::common::{Resp, TestApp, new_office};

async fn created(app: &TestApp, path: &str, body: &Value) -> String {
    let res = app.post(path, body).await;
    assert_eq!(res.status, 201, "{path}: {}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

/// Cents of a decimal amount string ("-12.30" → -1230).
fn cents(v: &Value) -> i64 {
    let s = v["amount"].as_str().unwrap();
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (i, f) = s.split_once('.').unwrap();
    let c = i.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap();
    if neg { -c } else { c }
}

/// A posted entry as the test knows it: month, kind, category, signed effect in cents,
/// amount in cents.
struct Posted {
    month: u32,
    kind: &'static str,
    category: Option<&'static str>,
    effect: i64,
}

async fn reconciliation(app: &TestApp, office: &str, year: i32, period: Option<u32>) -> Value {
    let q = period.map_or(String::new(), |m| format!("&period={m}"));
    let res = app
        .get(&format!(
            "/v1/offices/{office}/reconciliation?fiscal_year={year}{q}"
        ))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert_eq!(body["ledgers"].as_array().unwrap().len(), 1, "{body}");
    body["ledgers"][0].clone()
}

struct World {
    office: String,
    ledger: String,
    year: i32,
    p1: String,
    posted: Vec<Posted>,
}

/// An office, three projects (two approved: 1,000.00 from February to June and
/// 5,000.00 all year; one in the pipeline), a regular-fund ledger of last year and
/// entries of every kind; one expense before its project's start, one after its end
/// (reversed), and the first project spends more than its budget from February.
async fn world(app: &TestApp) -> World {
    let year = Utc::now().year() - 1;
    let office = created(app, "/v1/offices", &new_office("RC-PE", "PE")).await;
    let department = created(
        app,
        "/v1/departments",
        &json!({"code": "RC-DECO", "kind": "secretariat", "name": {"en": "Electoral Cooperation"}}),
    )
    .await;
    let project = |code: &str, starts: String, ends: String, budget: &str| {
        json!({"code": code, "title": {"en": code}, "office_id": office, "department_id": department,
               "pillar": "democracy", "starts_on": starts, "ends_on": ends,
               "budget": {"amount": budget, "currency": "USD"}, "funding_source": "regular_fund"})
    };
    let p1 = created(
        app,
        "/v1/projects",
        &project(
            "RC-1",
            format!("{year}-02-01"),
            format!("{year}-06-30"),
            "1000.00",
        ),
    )
    .await;
    let p2 = created(
        app,
        "/v1/projects",
        &project(
            "RC-2",
            format!("{year}-01-01"),
            format!("{year}-12-31"),
            "5000.00",
        ),
    )
    .await;
    created(
        app,
        "/v1/projects",
        &project(
            "RC-3",
            format!("{year}-01-01"),
            format!("{year}-12-31"),
            "777.00",
        ),
    )
    .await;
    for p in [&p1, &p2] {
        let path = format!("/v1/projects/{p}");
        let etag = app.get(&path).await.header("etag").unwrap();
        let res = app
            .patch(&path, Some(&etag), &json!({"status": "approved"}))
            .await;
        assert_eq!(res.status, 200, "{}", res.text());
    }
    let ledger = created(
        app,
        "/v1/ledgers",
        &json!({"office_id": office, "fiscal_year": year, "fund": "regular_fund"}),
    )
    .await;
    let mut posted = Vec::new();
    /// Month, day, kind, category, amount, project.
    type Planned<'p> = (
        u32,
        u32,
        &'static str,
        Option<&'static str>,
        &'static str,
        Option<&'p String>,
    );
    let entries: [Planned; 8] = [
        (1, 5, "allocation", None, "10000.00", None),
        (1, 20, "expense", Some("travel"), "300.00", Some(&p1)),
        (2, 10, "expense", Some("rent"), "200.00", Some(&p2)),
        (2, 15, "expense", Some("personnel"), "900.00", Some(&p1)),
        (3, 1, "refund", Some("travel"), "50.00", None),
        (3, 5, "expense", Some("supplies"), "100.00", Some(&p2)),
        (3, 10, "adjustment", None, "25.00", None),
        (7, 10, "expense", Some("other"), "40.00", Some(&p1)),
    ];
    let mut last = String::new();
    for (month, day, kind, category, amount, project) in entries {
        let mut body = json!({"kind": kind, "entry_date": format!("{year}-{month:02}-{day:02}"),
                              "description": format!("{kind} {month}-{day}"),
                              "amount": {"amount": amount, "currency": "USD"}});
        if let Some(c) = category {
            body["category"] = json!(c);
        }
        if let Some(p) = project {
            body["project_id"] = json!(p);
        }
        if kind == "adjustment" {
            body["direction"] = json!("decrease");
        }
        last = created(app, &format!("/v1/ledgers/{ledger}/entries"), &body).await;
        let c = cents(&json!({"amount": amount}));
        let effect = match kind {
            "allocation" | "refund" => c,
            _ => -c,
        };
        posted.push(Posted {
            month,
            kind,
            category,
            effect,
        });
    }
    // The July expense (after the first project's end) is reversed in August.
    created(
        app,
        &format!("/v1/ledgers/{ledger}/entries/{last}/reversal"),
        &json!({"entry_date": format!("{year}-08-01")}),
    )
    .await;
    posted.push(Posted {
        month: 8,
        kind: "reversal",
        category: Some("other"),
        effect: 4000,
    });
    World {
        office,
        ledger,
        year,
        p1,
        posted,
    }
}

/// The figures of months `from..=to` computed from the posted entries.
fn expected(posted: &[Posted], from: u32, to: u32) -> Value {
    let within = |p: &&Posted| p.month >= from && p.month <= to;
    let sum = |f: &dyn Fn(&Posted) -> bool| -> i64 {
        posted
            .iter()
            .filter(within)
            .filter(|p| f(p))
            .map(|p| p.effect)
            .sum()
    };
    let opening: i64 = posted
        .iter()
        .filter(|p| p.month < from)
        .map(|p| p.effect)
        .sum();
    let movement = sum(&|_| true);
    json!({
        "opening": opening,
        "allocations": sum(&|p| p.kind == "allocation"),
        "expenses": -sum(&|p| p.kind == "expense"),
        "refunds": sum(&|p| p.kind == "refund"),
        "adjustments": sum(&|p| p.kind == "adjustment"),
        "reversals": sum(&|p| p.kind == "reversal"),
        "closing": opening + movement,
        "net_spending": -sum(&|p| p.category.is_some()),
        "personnel": -sum(&|p| p.kind == "expense" && p.category == Some("personnel")),
        "travel": -sum(&|p| p.kind == "expense" && p.category == Some("travel")),
    })
}

fn figures(row: &Value) -> Value {
    json!({
        "opening": cents(&row["opening_balance"]),
        "allocations": cents(&row["allocations"]),
        "expenses": cents(&row["expenses"]),
        "refunds": cents(&row["refunds"]),
        "adjustments": cents(&row["adjustments"]),
        "reversals": cents(&row["reversals"]),
        "closing": cents(&row["closing_balance"]),
        "net_spending": cents(&row["net_spending"]),
        "personnel": cents(&row["expenses_by_category"]["personnel"]),
        "travel": cents(&row["expenses_by_category"]["travel"]),
    })
}

#[actix_web::test]
async fn reconciliation_figures_equal_the_entries_and_chain_month_to_month() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let mut previous_closing = 0;
    for m in 1..=12 {
        let row = reconciliation(&app, &w.office, w.year, Some(m)).await;
        assert_eq!(figures(&row), expected(&w.posted, m, m), "month {m}: {row}");
        // Opening = the previous month's closing.
        assert_eq!(
            cents(&row["opening_balance"]),
            previous_closing,
            "month {m}"
        );
        previous_closing = cents(&row["closing_balance"]);
        assert_eq!(row["ledger_id"], json!(w.ledger));
        assert_eq!(row["opening_balance"]["currency"], "USD");
    }
    let year = reconciliation(&app, &w.office, w.year, None).await;
    assert_eq!(figures(&year), expected(&w.posted, 1, 12), "{year}");
    assert_eq!(cents(&year["closing_balance"]), previous_closing);
    // The ledger's own balance agrees.
    let balance = app
        .get(&format!("/v1/ledgers/{}/balance", w.ledger))
        .await
        .json();
    assert_eq!(
        cents(&year["closing_balance"]),
        cents(&balance["available"]),
        "{balance}"
    );
    // Commitments: the two approved projects (the pipeline one is not committed).
    assert_eq!(cents(&year["commitments"]), 600_000);
    assert_eq!(year["commitment_projects"], 2);
    // Execution: net spending 1,540.00 − 50.00 − 40.00 (reversed) of 10,000.00 to date.
    assert_eq!(year["execution_percent"], "14.50");
    let march = reconciliation(&app, &w.office, w.year, Some(3)).await;
    // To March: expenses 1,500.00 − refund 50.00 = 1,450.00 of 10,000.00.
    assert_eq!(cents(&march["net_spending_to_date"]), 145_000);
    assert_eq!(march["execution_percent"], "14.50");
    assert_eq!(march["entries"], 3);
}

#[actix_web::test]
async fn each_variance_flag_is_raised_and_not_raised() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let y = w.year;
    let flags = |row: &Value| row["flags"].clone();

    // Expense outside its project's dates: January's travel (before the start) is
    // flagged; July's expense after the end is reversed, so not; February's are in dates.
    let jan = reconciliation(&app, &w.office, y, Some(1)).await;
    assert_eq!(flags(&jan)["expense_outside_project_dates"], true, "{jan}");
    let outside = jan["expenses_outside_project_dates"].as_array().unwrap();
    assert_eq!(outside.len(), 1);
    assert_eq!(outside[0]["project_id"], json!(w.p1));
    assert_eq!(outside[0]["entry_date"], format!("{y}-01-20"));
    let feb = reconciliation(&app, &w.office, y, Some(2)).await;
    assert_eq!(flags(&feb)["expense_outside_project_dates"], false);
    let jul = reconciliation(&app, &w.office, y, Some(7)).await;
    assert_eq!(flags(&jul)["expense_outside_project_dates"], false, "{jul}");

    // Project over budget: the first project spent 300.00 by January's end (of
    // 1,000.00), 1,200.00 by February's.
    assert_eq!(flags(&jan)["project_over_budget"], false);
    assert_eq!(flags(&feb)["project_over_budget"], true, "{feb}");
    assert_eq!(feb["over_budget_projects"][0]["project_code"], "RC-1");
    assert_eq!(feb["over_budget_projects"][0]["executed_percent"], "120.00");

    // Chain: not verified, then verified, then a new entry makes it stale again.
    assert_eq!(flags(&feb)["chain_not_verified"], true);
    assert_eq!(feb["verified_entries"], 0);
    let v = app
        .get(&format!("/v1/ledgers/{}/verification", w.ledger))
        .await;
    assert_eq!(v.status, 200, "{}", v.text());
    let feb = reconciliation(&app, &w.office, y, Some(2)).await;
    assert_eq!(flags(&feb)["chain_not_verified"], false, "{feb}");
    assert_eq!(feb["verified_entries"], feb["ledger_entries"]);
    created(
        &app,
        &format!("/v1/ledgers/{}/entries", w.ledger),
        &json!({"kind": "allocation", "entry_date": format!("{y}-12-01"), "description": "More",
                "amount": {"amount": "1.00", "currency": "USD"}}),
    )
    .await;
    let feb = reconciliation(&app, &w.office, y, Some(2)).await;
    assert_eq!(flags(&feb)["chain_not_verified"], true);

    // Periods closed on time: last year's months are all past their deadline and none
    // is closed, so each is late.
    let year = reconciliation(&app, &w.office, y, None).await;
    assert_eq!(flags(&year)["period_not_closed_on_time"], true);
    assert_eq!(year["late_periods"].as_array().unwrap().len(), 12);
    assert_eq!(year["late_periods"][0]["closed_on"], Value::Null);
    // Closing January now is late (it is more than 30 days after its end).
    let res = app
        .post(
            &format!("/v1/ledgers/{}/closings", w.ledger),
            &json!({"closed_through": format!("{y}-01-31")}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let jan = reconciliation(&app, &w.office, y, Some(1)).await;
    assert_eq!(flags(&jan)["period_not_closed_on_time"], true);
    let today = Utc::now().date_naive().to_string();
    assert_eq!(jan["late_periods"][0]["closed_on"], today);
    assert_eq!(jan["late_periods"][0]["deadline"], format!("{y}-03-02"));
    // A closing of February made on March 15 (within 30 days; written as it would have
    // been then) is on time.
    app.db
        .execute(&format!(
            "INSERT INTO ledger_closings (id, ledger_id, closed_through, created_by, created_at) \
             VALUES (gen_random_uuid(), '{}', '{y}-02-28', 'test', '{y}-03-15T12:00:00Z')",
            w.ledger
        ))
        .unwrap();
    let feb = reconciliation(&app, &w.office, y, Some(2)).await;
    assert_eq!(flags(&feb)["period_not_closed_on_time"], false, "{feb}");
    assert_eq!(feb["late_periods"], json!([]));
    // This year's current month is not yet due: not flagged.
    let now = Utc::now().date_naive();
    let current = created(
        &app,
        "/v1/ledgers",
        &json!({"office_id": w.office, "fiscal_year": now.year(), "fund": "regular_fund"}),
    )
    .await;
    let res = app
        .get(&format!(
            "/v1/offices/{}/reconciliation?fiscal_year={}&period={}",
            w.office,
            now.year(),
            now.month()
        ))
        .await;
    let row = &res.json()["ledgers"][0];
    assert_eq!(row["ledger_id"], json!(current));
    assert_eq!(row["flags"]["period_not_closed_on_time"], false, "{row}");
    // An empty ledger has nothing to verify.
    assert_eq!(row["flags"]["chain_not_verified"], false);
}

#[actix_web::test]
async fn reconciliation_across_offices_csv_visibility_and_bad_parameters() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let y = w.year;
    let other = created(&app, "/v1/offices", &new_office("RC-CO", "CO")).await;
    created(
        &app,
        "/v1/ledgers",
        &json!({"office_id": other, "fiscal_year": y, "fund": "regular_fund"}),
    )
    .await;
    let all = app
        .get(&format!("/v1/reconciliation?fiscal_year={y}&period=2"))
        .await;
    assert_eq!(all.status, 200, "{}", all.text());
    let body = all.json();
    let codes: Vec<&str> = body["ledgers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["office_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["RC-CO", "RC-PE"]);
    let one = app
        .get(&format!(
            "/v1/reconciliation?fiscal_year={y}&office_id={}",
            w.office
        ))
        .await
        .json();
    assert_eq!(one["ledgers"].as_array().unwrap().len(), 1);
    assert_eq!(one["office_id"], json!(w.office));
    assert!(one["as_of"].is_string());

    // CSV: one row per ledger, money as amount and currency columns.
    let csv = app
        .get(&format!(
            "/v1/offices/{}/reconciliation?fiscal_year={y}&period=2&format=csv",
            w.office
        ))
        .await;
    assert_eq!(csv.status, 200, "{}", csv.text());
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let text = csv.text();
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .split(',')
        .collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert!(lines.next().is_none(), "{text}");
    let col = |name: &str| {
        let i = header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{name} in {header:?}"));
        row[i]
    };
    assert_eq!(col("office_code"), "RC-PE");
    assert_eq!(col("opening_balance_amount"), "9700.00");
    assert_eq!(col("closing_balance_amount"), "8600.00");
    assert_eq!(col("expenses_by_category_personnel_amount"), "900.00");
    assert_eq!(col("flags_project_over_budget"), "true");

    // Visibility: the office's staff see it, another office's get 404, an HQ department
    // 404; across offices only the Coordinating Office and auditors.
    let office: uuid::Uuid = w.office.parse().unwrap();
    let other: uuid::Uuid = other.parse().unwrap();
    let path = format!("/v1/offices/{office}/reconciliation?fiscal_year={y}");
    let as_ = |role, o: Option<uuid::Uuid>| format!("Bearer {}", app.token(role, o, None));
    let get = async |path: &str, auth: String| -> Resp {
        app.get_with(path, &[("authorization", auth.as_str())])
            .await
    };
    assert_eq!(
        get(&path, as_(Role::OfficeStaff, Some(office)))
            .await
            .status,
        200
    );
    assert_eq!(
        get(&path, as_(Role::Representative, Some(other)))
            .await
            .status,
        404
    );
    assert_eq!(get(&path, as_(Role::Viewer, None)).await.status, 404);
    assert_eq!(get(&path, as_(Role::Auditor, None)).await.status, 200);
    let all_path = format!("/v1/reconciliation?fiscal_year={y}");
    assert_eq!(
        get(&all_path, as_(Role::Representative, Some(office)))
            .await
            .status,
        403
    );
    assert_eq!(get(&all_path, as_(Role::Auditor, None)).await.status, 200);
    // An unknown office is a 404.
    let res = app
        .get(&format!(
            "/v1/offices/{}/reconciliation?fiscal_year={y}",
            uuid::Uuid::new_v4()
        ))
        .await;
    res.problem(404, "not-found");

    // Bad parameters: 400 naming the parameter.
    for (query, field) in [
        ("", "fiscal_year"),
        ("fiscal_year=abc", "fiscal_year"),
        ("fiscal_year=1900", "fiscal_year"),
        ("fiscal_year=2025&period=0", "period"),
        ("fiscal_year=2025&period=13", "period"),
    ] {
        let res = app
            .get(&format!("/v1/offices/{office}/reconciliation?{query}"))
            .await;
        assert_eq!(res.status, 400, "{query}: {}", res.text());
        assert!(res.text().contains(field), "{query}: {}", res.text());
    }
    let res = app
        .get("/v1/reconciliation?fiscal_year=2025&office_id=nope")
        .await;
    assert_eq!(res.status, 400);
    assert!(res.text().contains("office_id"));
}

#[actix_web::test]
async fn the_demo_data_reconciles_with_real_figures() {
    let app = TestApp::full_demo().await;
    let year = Utc::now().year();
    for y in [year - 1, year] {
        let res = app
            .get(&format!("/v1/reconciliation?fiscal_year={y}"))
            .await;
        assert_eq!(res.status, 200, "{}", res.text());
        let rows = res.json()["ledgers"].as_array().unwrap().clone();
        assert!(rows.len() >= 10, "{y}: {} ledgers", rows.len());
        let with_spending = rows
            .iter()
            .filter(|r| cents(&r["allocations"]) > 0 && cents(&r["expenses"]) > 0)
            .count();
        assert!(with_spending >= 10, "{y}: {with_spending} ledgers spend");
        for r in &rows {
            // Whole year: opening zero, closing = the movements.
            assert_eq!(cents(&r["opening_balance"]), 0);
            let movements = cents(&r["allocations"]) - cents(&r["expenses"])
                + cents(&r["refunds"])
                + cents(&r["adjustments"])
                + cents(&r["reversals"]);
            assert_eq!(cents(&r["closing_balance"]), movements, "{r}");
            assert!(cents(&r["closing_balance"]) >= 0, "{r}");
            // The loader verifies every chain after its last entry.
            assert_eq!(r["flags"]["chain_not_verified"], false, "{r}");
            if y < year {
                // Closed through 31 December, within the deadline.
                assert_eq!(r["flags"]["period_not_closed_on_time"], false, "{r}");
            }
        }
    }
    // September: the ledgers the demo closed through September did so on time, those
    // closed through June are late (both kinds exist).
    let res = app
        .get(&format!("/v1/reconciliation?fiscal_year={year}&period=9"))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let late: Vec<bool> = res.json()["ledgers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["flags"]["period_not_closed_on_time"].as_bool().unwrap())
        .collect();
    assert!(late.iter().any(|l| *l), "no ledger late for September");
    assert!(late.iter().any(|l| !*l), "every ledger late for September");
}
