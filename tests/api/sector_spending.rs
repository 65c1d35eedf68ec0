//! Spending by sector: a project's spending split across its sectors by percentage,
//! exactly (largest remainder), the untagged rest as a null sector, the `sector` filter.
//! Expected figures are worked out by hand in the comments, not by the service's rule.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::common::TestApp;
use crate::stats::{World, created, minor};

/// Two projects in one ledger: A at 15151 60 % / 15160 40 %, B at 15151 33.33 % /
/// 15160 33.33 % / 43060 33.34 %; entries in March and April 2026.
async fn world(app: &TestApp) {
    let office = created(
        app,
        "/v1/offices",
        &crate::common::new_office("SS-PE", "PE"),
    )
    .await;
    let department = created(
        app,
        "/v1/departments",
        &json!({"code": "SS-DECO", "kind": "secretariat", "name": {"en": "Electoral Cooperation"}}),
    )
    .await;
    let project = |code: &str, sectors: Value| {
        json!({
            "code": code,
            "title": {"en": format!("Project {code}")},
            "office_id": office,
            "department_id": department,
            "pillar": "democracy",
            "starts_on": "2025-01-01",
            "ends_on": "2026-12-31",
            "budget": {"amount": "50000.00", "currency": "USD"},
            "funding_source": "regular_fund",
            "sectors": sectors,
        })
    };
    let a = created(
        app,
        "/v1/projects",
        &project(
            "SS-A",
            json!([{"code": "15151", "percentage": "60"}, {"code": "15160", "percentage": "40"}]),
        ),
    )
    .await;
    let b = created(
        app,
        "/v1/projects",
        &project(
            "SS-B",
            json!([{"code": "15151", "percentage": "33.33"}, {"code": "15160", "percentage": "33.33"},
                   {"code": "43060", "percentage": "33.34"}]),
        ),
    )
    .await;
    let ledger = created(
        app,
        "/v1/ledgers",
        &json!({"office_id": office, "fiscal_year": 2026, "fund": "regular_fund"}),
    )
    .await;
    let entries = format!("/v1/ledgers/{ledger}/entries");
    created(
        app,
        &entries,
        &json!({"kind": "allocation", "entry_date": "2026-01-01", "description": "Allotment",
                "amount": {"amount": "1000000.00", "currency": "USD"}}),
    )
    .await;
    for (kind, day, project, amount) in [
        ("expense", "2026-03-10", Some(&a), "100.01"),
        ("expense", "2026-04-02", Some(&a), "0.03"),
        ("refund", "2026-04-20", Some(&a), "0.01"),
        ("expense", "2026-03-15", Some(&b), "1.00"),
        ("expense", "2026-03-20", None, "7.77"),
    ] {
        created(
            app,
            &entries,
            &json!({"kind": kind, "category": "travel", "entry_date": day, "description": "Trip",
                    "project_id": project, "amount": {"amount": amount, "currency": "USD"}}),
        )
        .await;
    }
}

async fn ok(app: &TestApp, path: &str) -> Value {
    let res = app.get(path).await;
    assert_eq!(res.status, 200, "{path}: {}", res.text());
    res.json()
}

/// `key → (spent, entries)` of the rows, the key the named fields joined with `|`
/// (`-` for null).
fn rows(body: &Value, keys: &[&str]) -> BTreeMap<String, (i64, i64)> {
    let mut out = BTreeMap::new();
    for r in body["rows"].as_array().unwrap() {
        let key: Vec<&str> = keys.iter().map(|k| r[*k].as_str().unwrap_or("-")).collect();
        let prev = out.insert(
            key.join("|"),
            (minor(&r["spent"]), r["entries"].as_i64().unwrap()),
        );
        assert!(prev.is_none(), "one row per group: {r}");
    }
    out
}

fn map(v: &[(&str, i64, i64)]) -> BTreeMap<String, (i64, i64)> {
    v.iter()
        .map(|(k, s, e)| ((*k).to_owned(), (*s, *e)))
        .collect()
}

#[actix_web::test]
async fn spending_by_sector_splits_each_project_exactly_by_its_percentages() {
    let app = TestApp::new().await;
    world(&app).await;
    // Unsplit: A 100.01 + 0.03 − 0.01 = 100.03, B 1.00, untagged 7.77: 108.80, 5 entries.
    let overall = ok(&app, "/v1/stats/spending?group_by=").await;
    assert_eq!(minor(&overall["total_spent"]), 10_880);
    assert_eq!(overall["total_entries"], 5);

    // By sector. A's 10 003 cents at 60/40: 6 001.8 and 4 001.2, floors 6 001 + 4 001,
    // the cent left goes to the larger remainder (0.8): 6 002 / 4 001. B's 100 cents at
    // 33.33/33.33/33.34: floors 33/33/33, remainders .33/.33/.34: 33/33/34.
    let body = ok(&app, "/v1/stats/spending?group_by=sector").await;
    assert_eq!(body["group_by"], json!(["sector"]));
    assert_eq!(
        rows(&body, &["sector"]),
        map(&[
            ("15151", 6_002 + 33, 3 + 1),
            ("15160", 4_001 + 33, 3 + 1),
            ("43060", 34, 1),
            ("-", 777, 1),
        ])
    );
    // The total is the unsplit total; each entry counted once.
    assert_eq!(body["total_spent"], overall["total_spent"]);
    assert_eq!(body["total_entries"], 5);
    let names: BTreeMap<&str, &str> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["sector"].as_str().unwrap_or("-"),
                r["sector_name"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(names["15151"], "Elections");
    assert_eq!(names["15160"], "Human rights");
    assert_eq!(names["-"], "-");
    // The null sector (untagged spending) comes last.
    assert!(body["rows"][3]["sector"].is_null(), "{body}");
    // CSV: the code and its name, the untagged row with empty ones.
    let csv = app
        .get("/v1/stats/spending?group_by=sector&format=csv")
        .await
        .text();
    assert!(csv.contains(",15151,Elections,60.35,USD,4"), "{csv}");
    assert!(csv.contains(",,7.77,USD,1"), "{csv}");

    // By month and sector, each month's spending of a project is split on its own.
    // March: A 10 001 → 6 000.6 / 4 000.4 → 6 001 / 4 000; B 33/33/34; untagged 777.
    // April: A 3 − 1 = 2 → 1.2 / 0.8 → floors 1 / 0, the cent to 0.8: 1 / 1.
    let body = ok(&app, "/v1/stats/spending?group_by=month,sector").await;
    assert_eq!(
        rows(&body, &["month", "sector"]),
        map(&[
            ("2026-03|15151", 6_001 + 33, 2),
            ("2026-03|15160", 4_000 + 33, 2),
            ("2026-03|43060", 34, 1),
            ("2026-03|-", 777, 1),
            ("2026-04|15151", 1, 2),
            ("2026-04|15160", 1, 2),
        ])
    );
    assert_eq!(body["total_spent"], overall["total_spent"]);
    assert_eq!(body["total_entries"], 5);

    // A refund alone: −1 cent at 60/40 → −0.6 / −0.4, the cent to the larger remainder.
    let body = ok(
        &app,
        "/v1/stats/spending?group_by=sector&from=2026-04-20&to=2026-04-20",
    )
    .await;
    assert_eq!(
        rows(&body, &["sector"]),
        map(&[("15151", -1, 1), ("15160", 0, 1)])
    );
    assert_eq!(minor(&body["total_spent"]), -1);

    // By project and sector: the same split, a row per project and sector.
    let body = ok(&app, "/v1/stats/spending?group_by=project,sector").await;
    assert_eq!(
        rows(&body, &["project_code", "sector"]),
        map(&[
            ("SS-A|15151", 6_002, 3),
            ("SS-A|15160", 4_001, 3),
            ("SS-B|15151", 33, 1),
            ("SS-B|15160", 33, 1),
            ("SS-B|43060", 34, 1),
            ("-|-", 777, 1),
        ])
    );
    assert_eq!(body["total_spent"], overall["total_spent"]);
}

#[actix_web::test]
async fn the_sector_filter_keeps_the_shares_in_those_sectors() {
    let app = TestApp::new().await;
    world(&app).await;
    // Not grouped by sector: the shares of 15151 only (A 6 002 + B 33), untagged left out.
    let body = ok(&app, "/v1/stats/spending?group_by=&sector=15151").await;
    assert_eq!(rows(&body, &[]), map(&[("", 6_035, 4)]));
    assert_eq!(minor(&body["total_spent"]), 6_035);
    assert_eq!(body["total_entries"], 4);
    // By project.
    let body = ok(&app, "/v1/stats/spending?group_by=project&sector=15151").await;
    assert_eq!(
        rows(&body, &["project_code"]),
        map(&[("SS-A", 6_002, 3), ("SS-B", 33, 1)])
    );
    // Several, grouped: the rows of those sectors as in the unfiltered grouping; an entry
    // of B in both counts once in the total.
    let body = ok(
        &app,
        "/v1/stats/spending?group_by=sector&sector=43060,15160",
    )
    .await;
    assert_eq!(
        rows(&body, &["sector"]),
        map(&[("15160", 4_034, 4), ("43060", 34, 1)])
    );
    assert_eq!(minor(&body["total_spent"]), 4_068);
    assert_eq!(body["total_entries"], 4);
    // With the other filters.
    let body = ok(
        &app,
        "/v1/stats/spending?group_by=office&sector=43060&category=rent",
    )
    .await;
    assert_eq!(body["rows"], json!([]));
    // A sector no project is in: nothing.
    let body = ok(&app, "/v1/stats/spending?sector=11330").await;
    assert_eq!(body["rows"], json!([]));
    assert_eq!(minor(&body["total_spent"]), 0);
}

#[actix_web::test]
async fn a_sector_not_in_the_dac_codelist_is_a_422_and_a_malformed_one_a_400() {
    let app = TestApp::new().await;
    let res = app.get("/v1/stats/spending?sector=15151,99999").await;
    let p = res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["sector".to_owned()], "{p}");
    assert!(p.to_string().contains("99999"), "{p}");
    for bad in ["1515", "elections", "15151,", "151510"] {
        let res = app.get(&format!("/v1/stats/spending?sector={bad}")).await;
        res.problem(400, "invalid-parameter");
        assert_eq!(res.problem_fields(), vec!["sector".to_owned()], "{bad}");
    }
}

/// In the randomized dataset every project has its pillar's single sector (100 %): by
/// sector is by project summed by pillar, for any other grouping too.
#[actix_web::test]
async fn spending_by_sector_of_single_sector_projects_is_their_projects_spending() {
    let app = TestApp::new().await;
    World::random(&app, 0x5EED_0024, 200).await;
    let sector_of = |code: &str| match code {
        "ST-PE-1" | "ST-CO-1" => "15150",
        "ST-PE-2" => "15160",
        "ST-CO-2" => "43010",
        "-" => "-",
        other => panic!("{other}"),
    };
    for other in [&[][..], &["month"], &["office", "category"], &["fund"]] {
        let mut keys: Vec<&str> = other
            .iter()
            .map(|d| match *d {
                "office" => "office_code",
                d => d,
            })
            .collect();
        let with = |d: &str| {
            let mut v = other.to_vec();
            v.push(d);
            v.join(",")
        };
        let by_project = ok(
            &app,
            &format!("/v1/stats/spending?group_by={}", with("project")),
        )
        .await;
        let by_sector = ok(
            &app,
            &format!("/v1/stats/spending?group_by={}", with("sector")),
        )
        .await;
        keys.push("project_code");
        let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for (k, (s, e)) in rows(&by_project, &keys) {
            let (rest, project) = k.rsplit_once('|').unwrap_or(("", &k));
            let key = if rest.is_empty() && other.is_empty() {
                sector_of(project).to_owned()
            } else {
                format!("{rest}|{}", sector_of(project))
            };
            let v = expected.entry(key).or_default();
            v.0 += s;
            v.1 += e;
        }
        expected.retain(|_, v| v.1 != 0);
        keys.pop();
        keys.push("sector");
        assert_eq!(rows(&by_sector, &keys), expected, "{other:?}");
        assert_eq!(by_sector["total_spent"], by_project["total_spent"]);
        assert_eq!(by_sector["total_entries"], by_project["total_entries"]);
    }
}
