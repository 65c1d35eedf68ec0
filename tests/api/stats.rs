//! Statistics: every figure equals the same sum computed in SQL from the raw entries of
//! a randomized dataset; filters; every role reads them; CSV. And the finance reports of
//! a project (budget execution) and of a mandate (expenditures), with their visibility.

use std::collections::BTreeMap;

use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::common::{Resp, TestApp};

/// A dataset: two offices, two departments, four projects, two mandates, five ledgers
/// and a few hundred pseudo-random entries.
pub struct World {
    pub pe: String,
    pub co: String,
    pub deco: String,
    pub sare: String,
    /// Project ids by code.
    pub projects: BTreeMap<&'static str, String>,
    pub m1: String,
    pub m2: String,
    /// (id, office id, fiscal year) of each ledger.
    pub ledgers: Vec<(String, String, i32)>,
}

pub async fn created(app: &TestApp, path: &str, body: &Value) -> String {
    let res = app.post(path, body).await;
    assert_eq!(res.status, 201, "{path}: {}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

/// A deterministic pseudo-random sequence (xorshift).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub const CATEGORIES: [&str; 6] = [
    "travel",
    "rent",
    "supplies",
    "personnel",
    "bank_charges",
    "project_disbursement",
];

impl World {
    /// The offices, departments, mandates, projects and ledgers, without entries.
    pub async fn bare(app: &TestApp) -> World {
        let pe = created(
            app,
            "/v1/offices",
            &crate::common::new_office("ST-PE", "PE"),
        )
        .await;
        let co = created(
            app,
            "/v1/offices",
            &crate::common::new_office("ST-CO", "CO"),
        )
        .await;
        let deco = created(
            app,
            "/v1/departments",
            &json!({"code": "ST-DECO", "kind": "secretariat", "name": {"en": "Electoral Cooperation", "es": "Cooperación Electoral"}}),
        )
        .await;
        let sare = created(
            app,
            "/v1/departments",
            &json!({"code": "ST-SARE", "kind": "secretariat", "name": {"en": "Access to Rights"}}),
        )
        .await;
        let mandate = |n: u32| {
            json!({"reference": format!("AG/RES. {n} (LII-O/22)"), "adopted_on": "2022-10-07",
                   "pillar": "democracy", "title": {"en": format!("Mandate {n}")}})
        };
        let m1 = created(app, "/v1/mandates", &mandate(3001)).await;
        let m2 = created(app, "/v1/mandates", &mandate(3002)).await;
        let mut projects = BTreeMap::new();
        for (code, office, department, pillar, budget, currency, fund, mandates) in [
            (
                "ST-PE-1",
                &pe,
                &deco,
                "democracy",
                "10000.00",
                "USD",
                "regular_fund",
                vec![&m1],
            ),
            (
                "ST-PE-2",
                &pe,
                &sare,
                "human_rights",
                "5000.00",
                "USD",
                "specific_fund",
                vec![&m1, &m2],
            ),
            (
                "ST-CO-1",
                &co,
                &deco,
                "democracy",
                "8000.00",
                "EUR",
                "trust_fund",
                vec![&m1],
            ),
            (
                "ST-CO-2",
                &co,
                &sare,
                "integral_development",
                "3000.00",
                "USD",
                "regular_fund",
                vec![],
            ),
        ] {
            let mut body = json!({
                "code": code,
                "title": {"en": format!("Project {code}"), "es": format!("Proyecto {code}")},
                "office_id": office,
                "department_id": department,
                "pillar": pillar,
                "starts_on": "2025-01-01",
                "ends_on": "2026-12-31",
                "budget": {"amount": budget, "currency": currency},
                "funding_source": fund,
                "mandate_ids": mandates,
            });
            if fund == "specific_fund" || fund == "trust_fund" {
                body["donor"] = json!("Government of Canada");
                body["donor_agreement"] = json!("CA-2025-1");
            }
            projects.insert(code, created(app, "/v1/projects", &body).await);
        }
        let mut ledgers = Vec::new();
        for (office, year, fund, code) in [
            (&pe, 2026, "regular_fund", None),
            (&pe, 2026, "specific_fund", Some("CA-2025-1")),
            (&pe, 2025, "regular_fund", None),
            (&co, 2026, "regular_fund", None),
            (&co, 2026, "trust_fund", Some("CA-2025-1")),
        ] {
            let id = created(
                app,
                "/v1/ledgers",
                &json!({"office_id": office, "fiscal_year": year, "fund": fund, "fund_code": code}),
            )
            .await;
            ledgers.push((id, office.clone(), year));
        }
        World {
            pe,
            co,
            deco,
            sare,
            projects,
            m1,
            m2,
            ledgers,
        }
    }

    /// The same, with pseudo-random entries of every kind, some tagged to projects,
    /// some in another currency, some reversed.
    pub async fn random(app: &TestApp, seed: u64, n: usize) -> World {
        let w = World::bare(app).await;
        created(
            app,
            "/v1/exchange-rates",
            &json!({"currency": "PEN", "effective_on": "2025-01-01", "rate": "0.2671"}),
        )
        .await;
        for (ledger, _, year) in &w.ledgers {
            created(
                app,
                &format!("/v1/ledgers/{ledger}/entries"),
                &json!({"kind": "allocation", "entry_date": format!("{year}-01-01"), "description": "Allotment",
                        "amount": {"amount": "1000000.00", "currency": "USD"}}),
            )
            .await;
        }
        let mut rng = Rng::new(seed);
        let mut posted: Vec<(String, String)> = Vec::new();
        for i in 0..n {
            let (ledger, office, year) = &w.ledgers[rng.below(w.ledgers.len() as u64) as usize];
            let own: Vec<&String> = w
                .projects
                .iter()
                .filter(|(code, _)| {
                    code.starts_with(if *office == w.pe { "ST-PE" } else { "ST-CO" })
                })
                .map(|(_, id)| id)
                .collect();
            let project = match rng.below(4) {
                0 => None,
                k => own.get(k as usize % own.len()).copied(),
            };
            let cents = rng.below(300_000) + 1;
            let amount = format!("{}.{:02}", cents / 100, cents % 100);
            let currency = if rng.below(8) == 0 { "PEN" } else { "USD" };
            let day = format!("{year}-{:02}-{:02}", 1 + rng.below(11), 1 + rng.below(28));
            let category = CATEGORIES[rng.below(CATEGORIES.len() as u64) as usize];
            let body = match rng.below(20) {
                0..=10 => {
                    json!({"kind": "expense", "category": category, "entry_date": day, "description": format!("Expense {i}"),
                           "project_id": project, "amount": {"amount": amount, "currency": currency}})
                }
                11..=12 => {
                    json!({"kind": "refund", "category": category, "entry_date": day, "description": "Refund",
                           "project_id": project, "amount": {"amount": amount, "currency": currency}})
                }
                13..=14 => {
                    json!({"kind": "allocation", "entry_date": day, "description": "Allotment",
                           "project_id": project, "amount": {"amount": amount, "currency": "USD"}})
                }
                15 => {
                    json!({"kind": "adjustment", "direction": "increase", "entry_date": day, "description": "Adjustment",
                           "project_id": project, "amount": {"amount": amount, "currency": "USD"}})
                }
                _ if !posted.is_empty() => {
                    let (l, e) = &posted[rng.below(posted.len() as u64) as usize];
                    let year = w.ledgers.iter().find(|x| &x.0 == l).unwrap().2;
                    let day = format!("{year}-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28));
                    let res = app
                        .post(
                            &format!("/v1/ledgers/{l}/entries/{e}/reversal"),
                            &json!({"entry_date": day}),
                        )
                        .await;
                    assert!(res.status == 201 || res.status == 409, "{}", res.text());
                    continue;
                }
                _ => continue,
            };
            let res = app
                .post(&format!("/v1/ledgers/{ledger}/entries"), &body)
                .await;
            assert_eq!(res.status, 201, "{}", res.text());
            posted.push((
                ledger.clone(),
                res.json()["id"].as_str().unwrap().to_owned(),
            ));
        }
        w
    }

    pub fn token(
        &self,
        app: &TestApp,
        role: Role,
        office: Option<&str>,
        department: Option<&str>,
    ) -> String {
        format!(
            "Bearer {}",
            app.token(
                role,
                office.map(|o| o.parse().unwrap()),
                department.map(|d| d.parse().unwrap())
            )
        )
    }
}

/// USD minor units of a `{amount, currency}` (signed).
pub fn minor(v: &Value) -> i64 {
    assert_eq!(v["currency"], "USD", "{v}");
    let s = v["amount"].as_str().unwrap();
    match s.strip_prefix('-') {
        Some(neg) => -ogsms::core::money::parse_decimal(neg, 2).unwrap(),
        None => ogsms::core::money::parse_decimal(s, 2).unwrap(),
    }
}

/// `key=spent/entries;…` from SQL, as a map.
fn parse_oracle(s: &str) -> BTreeMap<String, (i64, i64)> {
    s.split(';')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.rsplit_once('=').unwrap();
            let (a, b) = v.split_once('/').unwrap();
            (k.to_owned(), (a.parse().unwrap(), b.parse().unwrap()))
        })
        .collect()
}

/// Net spending by `dims`, computed from the raw entries.
fn spending_oracle(app: &TestApp, dims: &[&str], filter: &str) -> BTreeMap<String, (i64, i64)> {
    let key: Vec<&str> = dims
        .iter()
        .map(|d| match *d {
            "office" => "o.code",
            "month" => "to_char(e.entry_date, 'YYYY-MM')",
            "category" => "e.category",
            "project" => "coalesce(p.code, '-')",
            "fund" => "l.fund",
            other => panic!("{other}"),
        })
        .collect();
    let key = if key.is_empty() {
        "''".to_owned()
    } else {
        format!("concat_ws('|', {})", key.join(", "))
    };
    parse_oracle(&app.db.scalar(&format!(
        "SELECT coalesce(string_agg(k || '=' || s || '/' || n, ';'), '') FROM ( \
           SELECT {key} AS k, -sum(e.effect_minor) AS s, count(*) AS n \
             FROM ledger_entries e JOIN ledgers l ON l.id = e.ledger_id \
             JOIN offices o ON o.id = l.office_id LEFT JOIN projects p ON p.id = e.project_id \
            WHERE e.category IS NOT NULL {filter} GROUP BY 1) x"
    )))
}

fn spending_of(body: &Value, dims: &[&str]) -> BTreeMap<String, (i64, i64)> {
    let mut out = BTreeMap::new();
    for r in body["rows"].as_array().unwrap() {
        let key: Vec<String> = dims
            .iter()
            .map(|d| match *d {
                "office" => r["office_code"].as_str().unwrap().to_owned(),
                "month" => r["month"].as_str().unwrap().to_owned(),
                "category" => r["category"].as_str().unwrap().to_owned(),
                "project" => r["project_code"].as_str().unwrap_or("-").to_owned(),
                "fund" => r["fund"].as_str().unwrap().to_owned(),
                other => panic!("{other}"),
            })
            .collect();
        let prev = out.insert(
            key.join("|"),
            (minor(&r["spent"]), r["entries"].as_i64().unwrap()),
        );
        assert!(prev.is_none(), "one row per group: {r}");
    }
    out
}

async fn ok(app: &TestApp, path: &str) -> Value {
    let res = app.get(path).await;
    assert_eq!(res.status, 200, "{path}: {}", res.text());
    res.json()
}

#[actix_web::test]
async fn spending_equals_the_sums_of_the_raw_entries_for_every_grouping() {
    let app = TestApp::new().await;
    let w = World::random(&app, 0x5EED_0001, 260).await;
    for dims in [
        vec![],
        vec!["office"],
        vec!["month"],
        vec!["category"],
        vec!["project"],
        vec!["fund"],
        vec!["office", "fund"],
        vec!["office", "month"],
        vec!["month", "category"],
        vec!["project", "category"],
        vec!["fund", "project", "month"],
        vec!["office", "month", "category", "project", "fund"],
    ] {
        let body = ok(
            &app,
            &format!("/v1/stats/spending?group_by={}", dims.join(",")),
        )
        .await;
        assert_eq!(body["group_by"], json!(dims));
        let got = spending_of(&body, &dims);
        assert_eq!(got, spending_oracle(&app, &dims, ""), "group_by {dims:?}");
        assert!(!got.is_empty());
        let total: i64 = got.values().map(|v| v.0).sum();
        assert_eq!(minor(&body["total_spent"]), total);
        assert_eq!(
            body["total_entries"].as_i64().unwrap(),
            got.values().map(|v| v.1).sum::<i64>()
        );
    }
    // Grouped by project, the untagged rest is a row of its own, and everything adds up
    // to the ledgers' totals.
    let body = ok(&app, "/v1/stats/spending?group_by=project").await;
    assert!(
        body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["project_id"].is_null())
    );
    let overall = ok(&app, "/v1/stats/spending?group_by=").await;
    assert_eq!(overall["total_spent"], body["total_spent"]);
    assert_eq!(overall["rows"].as_array().unwrap().len(), 1);
    // The default grouping is by office.
    let body = ok(&app, "/v1/stats/spending").await;
    assert_eq!(body["group_by"], json!(["office"]));
    let offices: Vec<&str> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["office_id"].as_str().unwrap())
        .collect();
    assert_eq!(offices, vec![w.co.as_str(), w.pe.as_str()]);
}

#[actix_web::test]
async fn spending_filters_narrow_the_entries_counted() {
    let app = TestApp::new().await;
    let w = World::random(&app, 0x5EED_0002, 200).await;
    let pe1 = &w.projects["ST-PE-1"];
    let pe2 = &w.projects["ST-PE-2"];
    let cases: Vec<(String, String)> = vec![
        // Whole months (read from the monthly totals) and parts of months (the daily).
        (
            "from=2026-03-01&to=2026-06-30".to_owned(),
            "AND e.entry_date BETWEEN '2026-03-01' AND '2026-06-30'".to_owned(),
        ),
        (
            "from=2026-03-15&to=2026-06-10".to_owned(),
            "AND e.entry_date BETWEEN '2026-03-15' AND '2026-06-10'".to_owned(),
        ),
        (
            "to=2026-04-30".to_owned(),
            "AND e.entry_date <= '2026-04-30'".to_owned(),
        ),
        (
            format!("office_id={}", w.co),
            format!("AND l.office_id = '{}'", w.co),
        ),
        (
            "fund=specific_fund,trust_fund".to_owned(),
            "AND l.fund IN ('specific_fund', 'trust_fund')".to_owned(),
        ),
        (
            "fiscal_year=2025".to_owned(),
            "AND l.fiscal_year = 2025".to_owned(),
        ),
        (
            "category=travel,rent".to_owned(),
            "AND e.category IN ('travel', 'rent')".to_owned(),
        ),
        (
            format!("project_id={pe1},{pe2}"),
            format!("AND e.project_id IN ('{pe1}', '{pe2}')"),
        ),
        (
            format!("department_id={}", w.deco),
            format!("AND p.department_id = '{}'", w.deco),
        ),
        (
            format!("from=2026-02-01&fund=regular_fund&office_id={}", w.pe),
            format!(
                "AND e.entry_date >= '2026-02-01' AND l.fund = 'regular_fund' AND l.office_id = '{}'",
                w.pe
            ),
        ),
    ];
    for dims in [
        vec!["office", "category"],
        vec!["project", "month"],
        vec!["office", "month"],
        vec!["month", "category"],
    ] {
        for (query, filter) in &cases {
            let body = ok(
                &app,
                &format!("/v1/stats/spending?group_by={}&{query}", dims.join(",")),
            )
            .await;
            assert_eq!(
                spending_of(&body, &dims),
                spending_oracle(&app, &dims, filter),
                "{query} by {dims:?}"
            );
        }
    }
    let body = ok(&app, "/v1/stats/spending?from=2026-03-01&to=2026-03-31").await;
    assert_eq!(body["from"], "2026-03-01");
    assert_eq!(body["to"], "2026-03-31");
}

#[actix_web::test]
async fn bad_statistics_parameters_are_400_naming_the_parameter() {
    let app = TestApp::new().await;
    for (path, param) in [
        ("/v1/stats/spending?group_by=office,planet", "group_by"),
        ("/v1/stats/spending?from=2026-13-01", "from"),
        ("/v1/stats/spending?from=2026-05-01&to=2026-04-30", "to"),
        ("/v1/stats/spending?fund=gold", "fund"),
        ("/v1/stats/spending?fiscal_year=soon", "fiscal_year"),
        ("/v1/stats/spending?fiscal_year=1200", "fiscal_year"),
        ("/v1/stats/spending?category=food", "category"),
        ("/v1/stats/spending?office_id=PE", "office_id"),
        // Whitespace is not an id, and trimming it left an empty list that matched nothing.
        ("/v1/stats/projects?office_id=%0B", "office_id"),
        ("/v1/stats/projects?department_id=%20", "department_id"),
        ("/v1/stats/spending?project_id=,", "project_id"),
        ("/v1/stats/budget-execution?status=%0B", "status"),
        ("/v1/stats/projects?pillar=human_rights,", "pillar"),
        ("/v1/stats/projects?member_state=PE,,CO", "member_state"),
        ("/v1/stats/spending?fiscal_year=%202026", "fiscal_year"),
        ("/v1/stats/spending?from=2026-01-01%20", "from"),
        ("/v1/stats/spending?format=xlsx", "format"),
        ("/v1/stats/projects?bom=maybe", "bom"),
        ("/v1/stats/spending?colour=red", "colour"),
        ("/v1/stats/budget-execution?group_by=fund", "group_by"),
        ("/v1/stats/budget-execution?status=dreaming", "status"),
        ("/v1/stats/budget-execution?pillar=peace", "pillar"),
        ("/v1/stats/projects?group_by=month", "group_by"),
        ("/v1/stats/projects?member_state=Peru", "member_state"),
    ] {
        let res = app.get(path).await;
        let p = res.problem(400, "invalid-parameter");
        assert_eq!(res.problem_fields(), vec![param.to_owned()], "{path}: {p}");
    }
    // A project's and a mandate's figures read their dates once the caller may see them
    // (tests/api/contract.rs): of an unknown one, a 404 whatever the dates.
    let unknown = "00000000-0000-0000-0000-000000000000";
    for path in [
        format!("/v1/projects/{unknown}/budget-execution?to=x"),
        format!("/v1/mandates/{unknown}/expenditures?from=x"),
    ] {
        app.get(&path).await.problem(404, "not-found");
    }
}

#[actix_web::test]
async fn an_empty_list_filter_is_the_empty_set() {
    let app = TestApp::new().await;
    World::random(&app, 0x5EED_0013, 30).await;
    let total = |v: &Value| v["total_projects"].as_i64().unwrap();
    assert!(total(&ok(&app, "/v1/stats/projects").await) > 0);
    for filter in ["office_id=", "department_id=", "status=", "pillar="] {
        let none = ok(&app, &format!("/v1/stats/projects?{filter}")).await;
        assert_eq!(total(&none), 0, "{filter}: {none}");
    }
}

#[actix_web::test]
async fn every_role_reads_the_statistics_viewers_included() {
    let app = TestApp::new().await;
    let w = World::random(&app, 0x5EED_0003, 60).await;
    let coordinator = ok(&app, "/v1/stats/spending?group_by=office,project").await;
    for (role, office, department) in [
        (Role::Viewer, None, None),
        (Role::Auditor, None, None),
        (Role::Representative, Some(w.pe.as_str()), None),
        (Role::OfficeStaff, Some(w.co.as_str()), None),
        (Role::HqDepartment, None, Some(w.sare.as_str())),
    ] {
        let auth = w.token(&app, role, office, department);
        for path in [
            "/v1/stats/spending?group_by=office,project",
            "/v1/stats/budget-execution",
            "/v1/stats/projects",
            "/v1/stats/spending?format=csv",
        ] {
            let res = app.get_with(path, &[("authorization", &auth)]).await;
            assert_eq!(res.status, 200, "{role:?} {path}: {}", res.text());
            if path == "/v1/stats/spending?group_by=office,project" {
                // Aggregates are the same for everyone: every office's figures.
                // (Each answer has its own watermark.)
                let (mut theirs, mut ours) = (res.json(), coordinator.clone());
                theirs["as_of"].take();
                ours["as_of"].take();
                assert_eq!(theirs, ours, "{role:?}");
            }
        }
    }
    let res = app
        .get_with("/v1/stats/spending", &[("authorization", "none")])
        .await;
    assert_eq!(res.status, 401);
}

fn csv_rows(res: &Resp) -> Vec<BTreeMap<String, String>> {
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    assert!(
        res.header("content-disposition")
            .unwrap()
            .starts_with("attachment; filename=\"stats-")
    );
    let mut r = csv::Reader::from_reader(res.body.as_slice());
    let head: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    let mut out = vec![head.iter().map(|h| (h.clone(), h.clone())).collect()];
    for rec in r.records() {
        out.push(
            head.iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_owned))
                .collect(),
        );
    }
    out
}

fn header_of(res: &Resp) -> Vec<String> {
    csv::Reader::from_reader(res.body.as_slice())
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect()
}

#[actix_web::test]
async fn statistics_answer_csv_like_the_lists_with_codes_and_labels() {
    let app = TestApp::new().await;
    let w = World::random(&app, 0x5EED_0004, 120).await;
    let json = ok(&app, "/v1/stats/spending?group_by=office,fund,category").await;
    let res = app
        .get("/v1/stats/spending?group_by=office,fund,category&format=csv")
        .await;
    let by_param = csv_rows(&res);
    let by_accept = csv_rows(
        &app.get_with(
            "/v1/stats/spending?group_by=office,fund,category",
            &[("accept", "text/csv")],
        )
        .await,
    );
    assert_eq!(by_param, by_accept);
    // The row schema's columns, a label after each code, money in two columns.
    assert_eq!(
        header_of(&res),
        vec![
            "office_id",
            "office_code",
            "month",
            "category",
            "category_label",
            "project_id",
            "project_code",
            "fund",
            "fund_label",
            "sector",
            "sector_name",
            "spent_amount",
            "spent_currency",
            "entries"
        ]
    );
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(by_param.len(), rows.len() + 1);
    for (csv, row) in by_param[1..].iter().zip(rows) {
        assert_eq!(csv["office_code"], row["office_code"].as_str().unwrap());
        assert_eq!(csv["fund"], row["fund"].as_str().unwrap());
        assert_eq!(csv["category"], row["category"].as_str().unwrap());
        assert_eq!(
            csv["spent_amount"],
            row["spent"]["amount"].as_str().unwrap()
        );
        assert_eq!(csv["spent_currency"], "USD");
        assert_eq!(csv["entries"], row["entries"].to_string());
        assert_eq!(csv["month"], "");
    }
    let travel = by_param[1..]
        .iter()
        .find(|r| r["category"] == "travel")
        .unwrap();
    assert_eq!(travel["category_label"], "Travel");
    // Labels in the caller's language; a byte order mark on request.
    let res = app
        .get_with(
            "/v1/stats/spending?group_by=fund,category&format=csv&bom=true",
            &[("accept-language", "es")],
        )
        .await;
    assert!(res.body.starts_with(b"\xEF\xBB\xBF"));
    let es = csv_rows(&res);
    assert!(
        es.iter()
            .any(|r| r["category"] == "travel" && r["category_label"] == "Viajes")
    );
    assert!(es.iter().any(|r| r["fund_label"] == "Fondo Regular"));
    // The other statistics too.
    let res = app
        .get("/v1/stats/projects?group_by=office,pillar&format=csv")
        .await;
    let projects = csv_rows(&res);
    assert!(header_of(&res).contains(&"pillar_label".to_owned()));
    assert!(projects[1..].iter().any(|r| r["office_code"] == "ST-PE"
        && r["office_id"] == w.pe
        && r["pillar_label"] == "Democracy"
        && r["projects"] == "1"));
    let res = app
        .get("/v1/stats/budget-execution?group_by=department&format=csv")
        .await;
    let execution = csv_rows(&res);
    assert_eq!(execution.len(), 3);
    assert!(
        execution[1..]
            .iter()
            .any(|r| r["department_code"] == "ST-DECO"
                && r["budget_amount"] == "10000.00"
                && r["budget_currency"] == "USD")
    );
    // Another representation is a 400.
    app.get("/v1/stats/spending?format=ndjson")
        .await
        .problem(400, "invalid-parameter");
}

#[actix_web::test]
async fn budget_execution_compares_usd_budgets_with_their_projects_spending() {
    let app = TestApp::new().await;
    let w = World::random(&app, 0x5EED_0005, 240).await;
    let oracle = |dims: &str, filter: &str| {
        parse_multi(&app.db.scalar(&format!(
            "SELECT coalesce(string_agg(k || '=' || n || '/' || b || '/' || s || '/' || on_ || '/' || os, ';'), '') FROM ( \
               SELECT concat_ws('|', {dims}) AS k, count(*) AS n, \
                      coalesce(sum(p.budget_amount) FILTER (WHERE p.budget_currency = 'USD'), 0) AS b, \
                      coalesce(sum(s.spent) FILTER (WHERE p.budget_currency = 'USD'), 0) AS s, \
                      count(*) FILTER (WHERE p.budget_currency <> 'USD') AS on_, \
                      coalesce(sum(s.spent) FILTER (WHERE p.budget_currency <> 'USD'), 0) AS os \
                 FROM projects p JOIN offices o ON o.id = p.office_id JOIN departments d ON d.id = p.department_id \
                 LEFT JOIN (SELECT project_id, -sum(effect_minor) AS spent FROM ledger_entries \
                             WHERE category IS NOT NULL {filter} GROUP BY project_id) s ON s.project_id = p.id \
                GROUP BY 1) x"
        )))
    };
    for (group, dims) in [
        ("office", "o.code"),
        ("department", "d.code"),
        ("pillar", "p.pillar"),
        ("office,department,pillar", "o.code, d.code, p.pillar"),
    ] {
        let body = ok(
            &app,
            &format!("/v1/stats/budget-execution?group_by={group}"),
        )
        .await;
        let mut got = BTreeMap::new();
        for r in body["rows"].as_array().unwrap() {
            let key: Vec<&str> = group
                .split(',')
                .map(|d| match d {
                    "office" => r["office_code"].as_str().unwrap(),
                    "department" => r["department_code"].as_str().unwrap(),
                    _ => r["pillar"].as_str().unwrap(),
                })
                .collect();
            let budget = minor(&r["budget"]);
            let spent = minor(&r["spent"]);
            got.insert(
                key.join("|"),
                vec![
                    r["projects"].as_i64().unwrap(),
                    budget,
                    spent,
                    r["other_currency_projects"].as_i64().unwrap(),
                    minor(&r["other_currency_spent"]),
                ],
            );
            // The percentage is spent / budget (none without a USD budget).
            match r["executed_percent"].as_str() {
                Some(pct) => {
                    let expected = (spent as f64) * 100.0 / budget as f64;
                    assert!(
                        (pct.parse::<f64>().unwrap() - expected).abs() < 0.006,
                        "{r}"
                    );
                }
                None => assert_eq!(budget, 0, "{r}"),
            }
        }
        assert_eq!(got, oracle(dims, ""), "group_by {group}");
    }
    // The EUR project is counted apart, never added to a USD budget.
    let body = ok(
        &app,
        &format!("/v1/stats/budget-execution?office_id={}", w.co),
    )
    .await;
    let co = &body["rows"][0];
    assert_eq!(co["projects"], 2);
    assert_eq!(co["other_currency_projects"], 1);
    assert_eq!(
        co["budget"],
        json!({"amount": "3000.00", "currency": "USD"})
    );
    // Filters and a spending period.
    let body = ok(
        &app,
        &format!(
            "/v1/stats/budget-execution?group_by=pillar&from=2026-04-01&to=2026-09-30&department_id={}&status=pipeline",
            w.deco
        ),
    )
    .await;
    let got: Vec<(String, i64, i64)> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["pillar"].as_str().unwrap().to_owned(),
                r["projects"].as_i64().unwrap(),
                minor(&r["spent"]) + minor(&r["other_currency_spent"]),
            )
        })
        .collect();
    let deco_only: Vec<(String, i64, i64)> = {
        let s = app.db.scalar(&format!(
            "SELECT string_agg(p.pillar || '=' || count || '/' || spent, ';') FROM ( \
               SELECT p.pillar, count(*) AS count, coalesce(sum(s.spent), 0) AS spent FROM projects p \
                 LEFT JOIN (SELECT project_id, -sum(effect_minor) AS spent FROM ledger_entries \
                  WHERE category IS NOT NULL AND entry_date BETWEEN '2026-04-01' AND '2026-09-30' GROUP BY project_id) s \
                 ON s.project_id = p.id WHERE p.department_id = '{}' GROUP BY p.pillar) p",
            w.deco
        ));
        s.split(';')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                let (n, s) = v.split_once('/').unwrap();
                (k.to_owned(), n.parse().unwrap(), s.parse().unwrap())
            })
            .collect()
    };
    assert!(!deco_only.is_empty());
    assert_eq!(got, deco_only);
    let none = ok(&app, "/v1/stats/budget-execution?status=closed").await;
    assert_eq!(none["rows"], json!([]));
}

fn parse_multi(s: &str) -> BTreeMap<String, Vec<i64>> {
    s.split(';')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.rsplit_once('=').unwrap();
            (
                k.to_owned(),
                v.split('/').map(|x| x.parse().unwrap()).collect(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn project_counts_group_by_status_pillar_office_member_state_and_department() {
    let app = TestApp::new().await;
    let w = World::bare(&app).await;
    // Move some projects along.
    for (code, status) in [("ST-PE-1", "approved"), ("ST-CO-2", "cancelled")] {
        let path = format!("/v1/projects/{}", w.projects[code]);
        let etag = app.get(&path).await.header("etag").unwrap();
        let res = app
            .patch(&path, Some(&etag), &json!({"status": status}))
            .await;
        assert_eq!(res.status, 200, "{}", res.text());
    }
    for (group, dims) in [
        ("status", "p.status"),
        ("pillar", "p.pillar"),
        ("office", "o.code"),
        ("member_state", "o.member_state"),
        ("department", "d.code"),
        ("pillar,status", "p.pillar, p.status"),
        (
            "member_state,department,status",
            "o.member_state, d.code, p.status",
        ),
    ] {
        let body = ok(&app, &format!("/v1/stats/projects?group_by={group}")).await;
        let mut got = BTreeMap::new();
        for r in body["rows"].as_array().unwrap() {
            let key: Vec<&str> = group
                .split(',')
                .map(|d| match d {
                    "office" => r["office_code"].as_str().unwrap(),
                    "department" => r["department_code"].as_str().unwrap(),
                    other => r[other].as_str().unwrap(),
                })
                .collect();
            got.insert(key.join("|"), vec![r["projects"].as_i64().unwrap()]);
        }
        let oracle = parse_multi(&app.db.scalar(&format!(
            "SELECT string_agg(k || '=' || n, ';') FROM (SELECT concat_ws('|', {dims}) AS k, count(*) AS n \
               FROM projects p JOIN offices o ON o.id = p.office_id JOIN departments d ON d.id = p.department_id \
              GROUP BY 1) x"
        )));
        assert_eq!(got, oracle, "{group}");
        assert_eq!(body["total_projects"], 4);
    }
    let body = ok(
        &app,
        &format!(
            "/v1/stats/projects?group_by=status&member_state=pe&department_id={}",
            w.deco
        ),
    )
    .await;
    assert_eq!(
        body["rows"],
        json!([{"status": "approved", "pillar": null, "office_id": null, "office_code": null,
                "member_state": null, "department_id": null, "department_code": null,
                "sector": null, "sector_name": null, "projects": 1}])
    );
    let body = ok(&app, "/v1/stats/projects?group_by=office&status=pipeline,cancelled&pillar=integral_development,human_rights").await;
    let got: Vec<(&str, i64)> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["office_code"].as_str().unwrap(),
                r["projects"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, vec![("ST-CO", 1), ("ST-PE", 1)]);
}

/// A summary table kept with every entry: `from_totals` (its rows as one string) equals
/// `from_entries` (the same computed from the raw entries), and still does after the
/// table is emptied and refilled by the migration's backfill (its `INSERT INTO {table}`
/// statement in `up`).
fn assert_kept_and_backfilled(
    app: &TestApp,
    table: &str,
    up: &str,
    from_entries: &str,
    from_totals: &str,
) {
    let expected = app.db.scalar(from_entries);
    assert!(expected.len() > 100);
    assert_eq!(app.db.scalar(from_totals), expected);
    let start = up.find(&format!("INSERT INTO {table}")).unwrap();
    let backfill = &up[start..start + up[start..].find(';').unwrap()];
    app.db
        .execute(&format!("DELETE FROM {table}; {backfill}"))
        .unwrap();
    assert_eq!(app.db.scalar(from_totals), expected);
}

#[actix_web::test]
async fn project_totals_are_kept_with_every_entry_and_backfilled_by_the_migration() {
    let app = TestApp::new().await;
    let _w = World::random(&app, 0x5EED_0006, 150).await;
    assert_kept_and_backfilled(
        &app,
        "project_daily_totals",
        include_str!("../../migrations/2026-11-28-000007_stats/up.sql"),
        "SELECT coalesce(string_agg(l, ';' ORDER BY l), '') FROM ( \
         SELECT concat_ws('|', project_id, ledger_id, entry_date, kind, coalesce(category, ''), sum(effect_minor), \
                          sum(usd_minor), count(*)) AS l \
           FROM ledger_entries WHERE project_id IS NOT NULL \
          GROUP BY project_id, ledger_id, entry_date, kind, coalesce(category, '')) x",
        "SELECT coalesce(string_agg(l, ';' ORDER BY l), '') FROM ( \
         SELECT concat_ws('|', project_id, ledger_id, entry_date, kind, category, effect_minor, usd_minor, entries) AS l \
           FROM project_daily_totals) x",
    );
}

#[actix_web::test]
async fn monthly_spending_is_kept_with_every_entry_and_backfilled_by_the_migration() {
    let app = TestApp::new().await;
    let _w = World::random(&app, 0x5EED_0008, 150).await;
    // The migration backfills from the monthly totals.
    assert_kept_and_backfilled(
        &app,
        "ledger_monthly_spending",
        include_str!("../../migrations/2026-11-29-000011_ledger_monthly_spending/up.sql"),
        "SELECT coalesce(string_agg(l, ';' ORDER BY l), '') FROM ( \
         SELECT concat_ws('|', ledger_id, date_trunc('month', entry_date)::date, sum(effect_minor), count(*)) AS l \
           FROM ledger_entries WHERE category IS NOT NULL \
          GROUP BY ledger_id, date_trunc('month', entry_date)::date) x",
        "SELECT coalesce(string_agg(l, ';' ORDER BY l), '') FROM ( \
         SELECT concat_ws('|', ledger_id, month, effect_minor, entries) AS l \
           FROM ledger_monthly_spending) x",
    );
}

// ---------------------------------------------------------------------------------
// Finance reports

#[actix_web::test]
async fn a_projects_budget_execution_is_its_budget_against_its_spending_by_ledger() {
    let app = TestApp::new().await;
    let w = World::random(&app, 0x5EED_0007, 240).await;
    let pe1 = &w.projects["ST-PE-1"];
    let body = ok(&app, &format!("/v1/projects/{pe1}/budget-execution")).await;
    assert_eq!(body["project_code"], "ST-PE-1");
    assert_eq!(
        body["budget"],
        json!({"amount": "10000.00", "currency": "USD"})
    );
    let by_ledger = parse_oracle(&app.db.scalar(&format!(
        "SELECT coalesce(string_agg(k || '=' || s || '/' || n, ';'), '') FROM ( \
           SELECT e.ledger_id::text AS k, -sum(e.effect_minor) AS s, count(*) AS n FROM ledger_entries e \
            WHERE e.project_id = '{pe1}' AND e.category IS NOT NULL GROUP BY 1) x"
    )));
    let got: BTreeMap<String, (i64, i64)> = body["by_ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ledger_id"].as_str().unwrap().to_owned(),
                (minor(&r["spent"]), r["entries"].as_i64().unwrap()),
            )
        })
        .collect();
    assert_eq!(got, by_ledger);
    assert!(got.len() >= 2, "spending in several ledgers: {got:?}");
    let spent: i64 = got.values().map(|v| v.0).sum();
    assert_eq!(minor(&body["spent"]), spent);
    assert_eq!(minor(&body["remaining"]), 1_000_000 - spent);
    let first = &body["by_ledger"][0];
    assert_eq!(first["office_code"], "ST-PE");
    assert!(first["fund"].is_string() && first["fiscal_year"].is_i64());
    // A date range.
    let body = ok(
        &app,
        &format!("/v1/projects/{pe1}/budget-execution?from=2026-01-01&to=2026-06-30"),
    )
    .await;
    let s = app.db.scalar(&format!(
        "SELECT coalesce(-sum(effect_minor), 0) FROM ledger_entries WHERE project_id = '{pe1}' \
           AND category IS NOT NULL AND entry_date BETWEEN '2026-01-01' AND '2026-06-30'"
    ));
    assert_eq!(minor(&body["spent"]).to_string(), s);
    // A budget in another currency gets no percentage.
    let co1 = &w.projects["ST-CO-1"];
    let body = ok(&app, &format!("/v1/projects/{co1}/budget-execution")).await;
    assert_eq!(body["budget"]["currency"], "EUR");
    assert!(body["executed_percent"].is_null() && body["remaining"].is_null());
    let res = app
        .get("/v1/projects/00000000-0000-0000-0000-000000000000/budget-execution")
        .await;
    res.problem(404, "not-found");
}

#[actix_web::test]
async fn budget_execution_follows_the_finance_rules() {
    let app = TestApp::new().await;
    let w = World::bare(&app).await;
    let pe1 = w.projects["ST-PE-1"].clone();
    let (pe_ledger, co_ledger) = (&w.ledgers[0].0, &w.ledgers[3].0);
    let spend = async |ledger: &str, amount: &str| {
        created(&app, &format!("/v1/ledgers/{ledger}/entries"),
            &json!({"kind": "allocation", "entry_date": "2026-01-02", "description": "Allotment", "amount": {"amount": "1000.00", "currency": "USD"}})).await;
        created(&app, &format!("/v1/ledgers/{ledger}/entries"),
            &json!({"kind": "expense", "category": "travel", "entry_date": "2026-02-02", "description": "Trip",
                    "project_id": pe1, "amount": {"amount": amount, "currency": "USD"}})).await;
    };
    spend(pe_ledger, "100.00").await;
    // The project moves to the other office, which spends on it too.
    let path = format!("/v1/projects/{pe1}");
    let etag = app.get(&path).await.header("etag").unwrap();
    let res = app
        .patch(&path, Some(&etag), &json!({"office_id": w.co}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    spend(co_ledger, "30.00").await;
    let url = format!("/v1/projects/{pe1}/budget-execution");
    let spent_as = async |auth: &str| {
        let res = app.get_with(&url, &[("authorization", auth)]).await;
        (res.status.as_u16(), res)
    };
    for (who, role, office, department, want) in [
        ("coordinator", Role::Coordinator, None, None, Some("130.00")),
        ("auditor", Role::Auditor, None, None, Some("130.00")),
        (
            "its department",
            Role::HqDepartment,
            None,
            Some(w.deco.as_str()),
            Some("130.00"),
        ),
        // Its office now: only its own ledgers.
        (
            "its office",
            Role::OfficeStaff,
            Some(w.co.as_str()),
            None,
            Some("30.00"),
        ),
        (
            "its office's representative",
            Role::Representative,
            Some(w.co.as_str()),
            None,
            Some("30.00"),
        ),
        (
            "the former office",
            Role::Representative,
            Some(w.pe.as_str()),
            None,
            None,
        ),
        (
            "another department",
            Role::HqDepartment,
            None,
            Some(w.sare.as_str()),
            None,
        ),
        ("a viewer", Role::Viewer, None, None, None),
    ] {
        let (status, res) = spent_as(&w.token(&app, role, office, department)).await;
        match want {
            Some(amount) => {
                assert_eq!(status, 200, "{who}: {}", res.text());
                assert_eq!(res.json()["spent"]["amount"], amount, "{who}");
            }
            None => {
                res.problem(403, "forbidden");
            }
        }
    }
}

#[actix_web::test]
async fn a_mandates_expenditures_trace_its_projects_spending_by_office_fund_and_year() {
    let app = TestApp::new().await;
    let w = World::random(&app, 0x5EED_0008, 240).await;
    let oracle = |mandate: &str, filter: &str| {
        parse_oracle(&app.db.scalar(&format!(
            "SELECT coalesce(string_agg(k || '=' || s || '/' || n, ';'), '') FROM ( \
               SELECT concat_ws('|', o.code, l.fund, l.fiscal_year) AS k, -sum(e.effect_minor) AS s, count(*) AS n \
                 FROM ledger_entries e JOIN project_mandates pm ON pm.project_id = e.project_id \
                 JOIN projects p ON p.id = e.project_id \
                 JOIN ledgers l ON l.id = e.ledger_id JOIN offices o ON o.id = l.office_id \
                WHERE pm.mandate_id = '{mandate}' AND e.category IS NOT NULL {filter} GROUP BY 1) x"
        )))
    };
    let rows_of = |body: &Value| -> BTreeMap<String, (i64, i64)> {
        body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    format!(
                        "{}|{}|{}",
                        r["office_code"].as_str().unwrap(),
                        r["fund"].as_str().unwrap(),
                        r["fiscal_year"]
                    ),
                    (minor(&r["spent"]), r["entries"].as_i64().unwrap()),
                )
            })
            .collect()
    };
    let m1 = ok(&app, &format!("/v1/mandates/{}/expenditures", w.m1)).await;
    assert_eq!(m1["projects"], 3);
    assert_eq!(rows_of(&m1), oracle(&w.m1, ""));
    assert!(m1["rows"].as_array().unwrap().len() >= 3);
    // ST-PE-2 implements both mandates: it counts in full under each.
    let m2 = ok(&app, &format!("/v1/mandates/{}/expenditures", w.m2)).await;
    assert_eq!(m2["projects"], 1);
    let pe2 = app.db.scalar(&format!(
        "SELECT -sum(effect_minor) FROM ledger_entries WHERE project_id = '{}' AND category IS NOT NULL",
        w.projects["ST-PE-2"]
    ));
    assert_eq!(minor(&m2["spent"]).to_string(), pe2);
    assert_eq!(rows_of(&m2), oracle(&w.m2, ""));
    // Each caller within its finance scope.
    let pe_staff = w.token(&app, Role::OfficeStaff, Some(&w.pe), None);
    let res = app
        .get_with(
            &format!("/v1/mandates/{}/expenditures", w.m1),
            &[("authorization", &pe_staff)],
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        rows_of(&res.json()),
        oracle(&w.m1, &format!("AND l.office_id = '{}'", w.pe))
    );
    let sare = w.token(&app, Role::HqDepartment, None, Some(&w.sare));
    let res = app
        .get_with(
            &format!("/v1/mandates/{}/expenditures", w.m1),
            &[("authorization", &sare)],
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        rows_of(&res.json()),
        oracle(&w.m1, &format!("AND p.department_id = '{}'", w.sare))
    );
    let auditor = w.token(&app, Role::Auditor, None, None);
    let res = app
        .get_with(
            &format!("/v1/mandates/{}/expenditures?from=2026-05-01", w.m1),
            &[("authorization", &auditor)],
        )
        .await;
    assert_eq!(
        rows_of(&res.json()),
        oracle(&w.m1, "AND e.entry_date >= '2026-05-01'")
    );
    let viewer = w.token(&app, Role::Viewer, None, None);
    app.get_with(
        &format!("/v1/mandates/{}/expenditures", w.m1),
        &[("authorization", &viewer)],
    )
    .await
    .problem(403, "forbidden");
    app.get("/v1/mandates/00000000-0000-0000-0000-000000000000/expenditures")
        .await
        .problem(404, "not-found");
}
