//! CSV for every list: the same filters and authorization as JSON, columns from the
//! schema, labels and localized texts in the caller's language, money as amount and
//! currency, parents' context on child rows, RFC 4180 quoting, BOM, download headers.

use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::common::{Resp, TestApp};

/// A parsed CSV answer: the header row and the rows as maps.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn parse(body: &[u8]) -> Table {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let mut r = csv::ReaderBuilder::new().from_reader(body);
        let header = r.headers().unwrap().iter().map(str::to_owned).collect();
        let rows = r
            .records()
            .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
            .collect();
        Table { header, rows }
    }

    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    /// The row whose `key` column is `value`.
    pub fn row(&self, key: &str, value: &str) -> &Vec<String> {
        let i = self.col(key);
        self.rows
            .iter()
            .find(|r| r[i] == value)
            .unwrap_or_else(|| panic!("no row with {key} = {value}"))
    }

    pub fn get(&self, row: &[String], name: &str) -> String {
        row[self.col(name)].clone()
    }

    pub fn column(&self, name: &str) -> Vec<String> {
        let i = self.col(name);
        self.rows.iter().map(|r| r[i].clone()).collect()
    }
}

#[track_caller]
pub fn csv_of(res: &Resp) -> Table {
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    Table::parse(&res.body)
}

pub fn bearer(t: String) -> String {
    format!("Bearer {t}")
}

async fn id_by_code(app: &TestApp, list: &str, code: &str) -> String {
    app.collect(&format!("{list}?limit=500"))
        .await
        .into_iter()
        .find(|i| i["code"] == code)
        .unwrap_or_else(|| panic!("{code}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Offices, a department, a project of each office, a ledger of each office with an
/// allocation and an expense tagged to the office's project, and a monitoring report.
pub struct Books {
    pub pe: String,
    pub co: String,
    pub deco: String,
    pub sare: String,
    pub project_pe: String,
    pub project_co: String,
    pub ledger_pe: String,
    pub ledger_co: String,
}

async fn created(app: &TestApp, path: &str, body: &Value) -> String {
    let res = app.post(path, body).await;
    assert_eq!(res.status, 201, "{path}: {}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

pub async fn books(app: &TestApp) -> Books {
    let pe = id_by_code(app, "/v1/offices", "OGSMS-PE").await;
    let co = id_by_code(app, "/v1/offices", "OGSMS-CO").await;
    let deco = id_by_code(app, "/v1/departments", "DECO").await;
    let sare = id_by_code(app, "/v1/departments", "SARE").await;
    let project = |code: &str, office: &str, department: &str| {
        json!({
            "code": code,
            "title": {"en": format!("Elections {code}"), "es": format!("Elecciones {code}")},
            "office_id": office,
            "department_id": department,
            "pillar": "democracy",
            "starts_on": "2026-01-01",
            "budget": {"amount": "125000.50", "currency": "USD"},
            "funding_source": "regular_fund"
        })
    };
    let project_pe = created(app, "/v1/projects", &project("PE-DEM-01", &pe, &deco)).await;
    let project_co = created(app, "/v1/projects", &project("CO-DEM-01", &co, &sare)).await;
    let ledger =
        |office: &str| json!({"office_id": office, "fiscal_year": 2026, "fund": "regular_fund"});
    let ledger_pe = created(app, "/v1/ledgers", &ledger(&pe)).await;
    let ledger_co = created(app, "/v1/ledgers", &ledger(&co)).await;
    for (l, p) in [(&ledger_pe, &project_pe), (&ledger_co, &project_co)] {
        created(
            app,
            &format!("/v1/ledgers/{l}/entries"),
            &json!({"kind": "allocation", "entry_date": "2026-02-01", "description": "Allotment",
                    "amount": {"amount": "1000.00", "currency": "USD"}}),
        )
        .await;
        created(
            app,
            &format!("/v1/ledgers/{l}/entries"),
            &json!({"kind": "expense", "category": "travel", "entry_date": "2026-03-10",
                    "description": "Airfare, \"economy\"", "project_id": p,
                    "amount": {"amount": "250.75", "currency": "USD"}}),
        )
        .await;
    }
    created(
        app,
        &format!("/v1/projects/{project_pe}/monitoring-reports"),
        &json!({"period": "2026-01", "physical_progress": 10, "risk_level": "low",
                "narrative": {"en": "Started", "es": "Iniciado"}}),
    )
    .await;
    Books {
        pe,
        co,
        deco,
        sare,
        project_pe,
        project_co,
        ledger_pe,
        ledger_co,
    }
}

#[actix_web::test]
async fn offices_as_csv_quote_and_label_and_download() {
    let app = TestApp::demo().await;
    let mut office = crate::common::new_office("OGSMS-Q1", "PE");
    let tricky = "Lima, \"Norte\"\nsede";
    office["name"] = json!({"en": tricky, "es": "Oficina de Lima"});
    office["city"] = json!("Lima, Perú");
    let res = app.post("/v1/offices", &office).await;
    assert_eq!(res.status, 201, "{}", res.text());

    let res = app.get("/v1/offices?format=csv&limit=500").await;
    let t = csv_of(&res);
    let today = chrono::Utc::now().date_naive();
    assert_eq!(
        res.header("content-disposition").unwrap(),
        format!("attachment; filename=\"offices-{today}.csv\"")
    );
    // Columns come from the schema, in its order: nested objects flattened, codes with
    // their labels next to them.
    assert_eq!(
        t.header,
        [
            "id",
            "code",
            "kind",
            "kind_label",
            "member_state",
            "name",
            "city",
            "address",
            "contacts_email",
            "contacts_phone",
            "contacts_website",
            "opened_on",
            "closed_on",
            "status",
            "status_label",
            "current_representative_appointment_id",
            "current_representative_person_name",
            "current_representative_email",
            "current_representative_starts_on",
            "created_at",
            "updated_at"
        ]
    );
    let json_count = app.collect("/v1/offices?limit=500").await.len();
    assert_eq!(t.rows.len(), json_count);
    let row = t.row("code", "OGSMS-Q1");
    // RFC 4180: commas, quotes and line breaks survive inside quoted fields.
    assert_eq!(t.get(row, "name"), tricky);
    assert_eq!(t.get(row, "city"), "Lima, Perú");
    assert!(res.text().contains("\"Lima, \"\"Norte\"\"\nsede\""));
    assert!(res.text().contains("\r\n"), "CRLF line ends");
    assert_eq!(t.get(row, "kind"), "country_office");
    assert_eq!(t.get(row, "kind_label"), "Country office");
    assert_eq!(t.get(row, "status_label"), "Open");
    assert_eq!(t.get(row, "contacts_email"), "office@oas.org");
    assert_eq!(t.get(row, "closed_on"), "");
    assert!(
        !res.body.starts_with(b"\xEF\xBB\xBF"),
        "no BOM unless asked"
    );

    // Spanish: labels and texts.
    let res = app
        .get_with(
            "/v1/offices?format=csv&limit=500",
            &[("accept-language", "es")],
        )
        .await;
    let t = csv_of(&res);
    assert_eq!(res.header("content-language").as_deref(), Some("es"));
    let row = t.row("code", "OGSMS-Q1");
    assert_eq!(t.get(row, "name"), "Oficina de Lima");
    assert_eq!(t.get(row, "kind_label"), "Oficina nacional");
    assert_eq!(t.get(row, "status_label"), "Abierta");
    // French: no French name, so English; labels stay English (en, es only).
    let res = app
        .get_with(
            "/v1/offices?format=csv&limit=500",
            &[("accept-language", "fr")],
        )
        .await;
    let t = csv_of(&res);
    assert_eq!(t.get(t.row("code", "OGSMS-Q1"), "name"), tricky);

    // Accept: text/csv does the same; JSON stays the default.
    let res = app
        .get_with("/v1/offices?limit=500", &[("accept", "text/csv")])
        .await;
    assert_eq!(csv_of(&res).rows.len(), json_count);
    let res = app
        .get_with(
            "/v1/offices",
            &[("accept", "application/json, text/csv;q=0.5")],
        )
        .await;
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("application/json")
    );
    // format=json wins over Accept.
    let res = app
        .get_with("/v1/offices?format=json", &[("accept", "text/csv")])
        .await;
    assert!(res.json()["items"].is_array());

    // The byte order mark for Excel.
    let res = app.get("/v1/offices?format=csv&bom=true&limit=1").await;
    assert!(res.body.starts_with(b"\xEF\xBB\xBFid,code,"));
}

#[actix_web::test]
async fn csv_pages_link_to_the_next_csv_page_with_the_same_filters() {
    let app = TestApp::demo().await;
    let all = app.collect("/v1/offices?status=open&limit=500").await;
    let mut codes = Vec::new();
    let mut url = "/v1/offices?status=open&limit=7&format=csv&bom=true".to_owned();
    let mut pages = 0;
    loop {
        let res = app.get(&url).await;
        assert!(
            res.body.starts_with(b"\xEF\xBB\xBF"),
            "every page has the BOM"
        );
        let t = csv_of(&res);
        assert!(t.rows.len() <= 7);
        assert!(t.column("status").iter().all(|s| s == "open"));
        codes.extend(t.column("code"));
        pages += 1;
        match res.header("link") {
            Some(link) => {
                assert!(link.ends_with("; rel=\"next\""), "{link}");
                assert!(
                    link.contains("format=csv") && link.contains("bom=true"),
                    "{link}"
                );
                assert!(link.contains("status=open"), "{link}");
                url = link[1..link.find('>').unwrap()].to_owned();
            }
            None => break,
        }
    }
    assert!(pages > 1);
    let expected: Vec<String> = all
        .iter()
        .map(|o| o["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes, expected);

    // An empty page still has its header row.
    let res = app.get("/v1/offices?format=csv&status=closed").await;
    let t = csv_of(&res);
    assert!(t.rows.is_empty());
    assert_eq!(t.header[0], "id");
    assert!(res.text().starts_with("id,code,kind,kind_label,"));
}

#[actix_web::test]
async fn bad_format_or_bom_is_a_400() {
    let app = TestApp::demo().await;
    let p = app.get("/v1/offices?format=xml").await;
    let p = p.problem(400, "invalid-parameter");
    assert_eq!(p["errors"][0]["field"], "format");
    let p = app.get("/v1/offices?bom=yes").await;
    assert_eq!(
        p.problem(400, "invalid-parameter")["errors"][0]["field"],
        "bom"
    );
    let p = app.get("/v1/offices?format=csv&format=json").await;
    assert_eq!(
        p.problem(400, "invalid-parameter")["errors"][0]["field"],
        "format"
    );
    // NDJSON is for exports; a list says so.
    let p = app.get("/v1/offices?format=ndjson").await;
    assert_eq!(
        p.problem(400, "invalid-parameter")["errors"][0]["field"],
        "format"
    );
    // A single resource is JSON only.
    let id = ogsms::seed::demo_id("office", "OGSMS-PE");
    let p = app.get(&format!("/v1/offices/{id}?format=csv")).await;
    assert_eq!(
        p.problem(400, "invalid-parameter")["errors"][0]["field"],
        "format"
    );
    let res = app.get(&format!("/v1/offices/{id}?format=json")).await;
    assert_eq!(res.status, 200);
    // The list's own parameters are still checked.
    let p = app.get("/v1/offices?format=csv&colour=red").await;
    p.problem(400, "invalid-parameter");
}

#[actix_web::test]
async fn money_is_amount_and_currency_and_children_carry_their_context() {
    let app = TestApp::demo().await;
    let b = books(&app).await;

    let t = csv_of(&app.get("/v1/projects?format=csv").await);
    let row = t.row("code", "PE-DEM-01");
    assert_eq!(t.get(row, "budget_amount"), "125000.50");
    assert_eq!(t.get(row, "budget_currency"), "USD");
    assert_eq!(t.get(row, "office_code"), "OGSMS-PE");
    assert_eq!(t.get(row, "department_code"), "DECO");
    assert_eq!(t.get(row, "status"), "pipeline");
    assert_eq!(t.get(row, "status_label"), "Pipeline");
    assert_eq!(t.get(row, "pillar"), "democracy");
    assert!(!t.get(row, "pillar_label").is_empty());
    assert_eq!(t.get(row, "title"), "Elections PE-DEM-01");
    assert!(t.header.iter().all(|h| h != "budget"), "{:?}", t.header);

    let t = csv_of(&app.get("/v1/ledgers?format=csv").await);
    let row = t.row("id", &b.ledger_pe);
    assert_eq!(t.get(row, "available_amount"), "749.25");
    assert_eq!(t.get(row, "available_currency"), "USD");
    assert_eq!(t.get(row, "office_code"), "OGSMS-PE");
    assert_eq!(t.get(row, "fund_label"), "Regular Fund");

    // An entry repeats its ledger's office, fund and year and its project's code.
    let res = app
        .get_with(
            &format!("/v1/ledgers/{}/entries?format=csv", b.ledger_pe),
            &[("accept-language", "es")],
        )
        .await;
    let t = csv_of(&res);
    assert_eq!(t.rows.len(), 2);
    let expense = t.row("kind", "expense");
    for (col, want) in [
        ("ledger_id", b.ledger_pe.as_str()),
        ("office_id", b.pe.as_str()),
        ("office_code", "OGSMS-PE"),
        ("ledger_fund", "regular_fund"),
        ("ledger_fund_label", "Fondo Regular"),
        ("ledger_fiscal_year", "2026"),
        ("project_id", b.project_pe.as_str()),
        ("project_code", "PE-DEM-01"),
        ("kind_label", "Gasto"),
        ("category", "travel"),
        ("category_label", "Viajes"),
        ("description", "Airfare, \"economy\""),
        ("amount", "250.75"),
        ("amount_currency", "USD"),
        ("amount_usd_amount", "250.75"),
        ("amount_usd_currency", "USD"),
        ("effect_amount", "-250.75"),
        ("effect_currency", "USD"),
    ] {
        assert_eq!(t.get(expense, col), want, "{col}");
    }
    let allocation = t.row("kind", "allocation");
    assert_eq!(t.get(allocation, "project_code"), "");
    assert_eq!(t.get(allocation, "office_code"), "OGSMS-PE");
    let header = &t.header;
    let pos = |c: &str| header.iter().position(|h| h == c).unwrap();
    assert_eq!(
        pos("office_code"),
        pos("ledger_id") + 2,
        "context right after its key"
    );

    // A monitoring report repeats its project's and office's codes.
    let t = csv_of(
        &app.get(&format!(
            "/v1/projects/{}/monitoring-reports?format=csv",
            b.project_pe
        ))
        .await,
    );
    let row = &t.rows[0];
    assert_eq!(t.get(row, "project_code"), "PE-DEM-01");
    assert_eq!(t.get(row, "office_code"), "OGSMS-PE");
    assert_eq!(t.get(row, "risk_level_label"), "Low");
    assert_eq!(t.get(row, "narrative"), "Started");
    let _ = (&b.co, &b.deco, &b.sare, &b.project_co, &b.ledger_co);
}

#[actix_web::test]
async fn csv_has_the_filters_and_authorization_of_json() {
    let app = TestApp::demo().await;
    let b = books(&app).await;
    let rep_pe = bearer(app.token(Role::Representative, Some(b.pe.parse().unwrap()), None));
    let hq_sare = bearer(app.token(Role::HqDepartment, None, Some(b.sare.parse().unwrap())));
    let viewer = bearer(app.token(Role::Viewer, None, None));

    // A representative's ledgers: only their office's, as in JSON.
    for (auth, want) in [
        (&rep_pe, vec![b.ledger_pe.clone()]),
        (&hq_sare, vec![b.ledger_co.clone()]),
        (&viewer, vec![]),
    ] {
        let json = app
            .get_with("/v1/ledgers", &[("authorization", auth)])
            .await
            .json();
        let json_ids: Vec<String> = json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect();
        let t = csv_of(
            &app.get_with("/v1/ledgers?format=csv", &[("authorization", auth)])
                .await,
        );
        assert_eq!(t.column("id"), json_ids);
        assert_eq!(t.column("id"), want);
    }
    // Another office's entries are a 404 in CSV as in JSON.
    let res = app
        .get_with(
            &format!("/v1/ledgers/{}/entries?format=csv", b.ledger_co),
            &[("authorization", &rep_pe)],
        )
        .await;
    res.problem(404, "not-found");
    // The audit trail stays the auditors'.
    let res = app
        .get_with("/v1/audit-events?format=csv", &[("authorization", &viewer)])
        .await;
    res.problem(403, "forbidden");
    // Without a token, a 401.
    let res = app
        .get_with("/v1/offices?format=csv", &[("authorization", "none")])
        .await;
    res.problem(401, "unauthorized");
    // Filters: the same rows as JSON.
    let json = app
        .collect(&format!("/v1/projects?office_id={}", b.co))
        .await;
    let t = csv_of(
        &app.get(&format!("/v1/projects?office_id={}&format=csv", b.co))
            .await,
    );
    assert_eq!(t.rows.len(), json.len());
    assert_eq!(t.column("code"), ["CO-DEM-01"]);
    let t = csv_of(
        &app.get("/v1/audit-events?format=csv&action=post&limit=500")
            .await,
    );
    assert_eq!(t.rows.len(), 4);
    assert!(t.column("action").iter().all(|a| a == "post"));
    assert!(t.header.contains(&"actor_sub".to_owned()));
    // Free-form JSON stays JSON in one column.
    let after: Value = serde_json::from_str(&t.get(&t.rows[0], "after")).unwrap();
    assert!(after["seq"].is_number());
}

/// Fills the path parameters of a list with an id of the parent collection.
async fn concrete(app: &TestApp, template: &str) -> String {
    let mut out = String::new();
    let mut parent = String::new();
    for seg in template.split('/').filter(|s| !s.is_empty()) {
        if seg.starts_with('{') {
            let items = app.collect(&format!("{parent}?limit=500")).await;
            let item = items
                .first()
                .unwrap_or_else(|| panic!("no item in {parent}"));
            let id = item
                .get("id")
                .or_else(|| item.get("code"))
                .and_then(|v| v.as_str())
                .unwrap()
                .to_owned();
            out.push('/');
            out.push_str(&id);
        } else {
            out.push('/');
            out.push_str(seg);
        }
        parent = out.clone();
    }
    out
}

#[actix_web::test]
async fn every_documented_list_answers_csv() {
    let app = TestApp::demo().await;
    let b = books(&app).await;
    let res = app
        .post(
            &format!("/v1/projects/{}/monitoring-reports", b.project_co),
            &json!({"period": "2026-Q1", "physical_progress": 5, "risk_level": "high",
                    "narrative": {"es": "Iniciado"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    // Something in every list (assignments, audit events exist through the books).
    let mandate = app
        .post(
            "/v1/mandates",
            &json!({"reference": "AG/RES. 2976 (LII-O/22)", "adopted_on": "2022-10-07",
                    "pillar": "democracy", "title": {"en": "Democracy"}}),
        )
        .await;
    assert_eq!(mandate.status, 201, "{}", mandate.text());
    let office = app.collect("/v1/offices?limit=500").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .post(
            &format!(
                "/v1/mandates/{}/assignments",
                mandate.json()["id"].as_str().unwrap()
            ),
            &json!({"office_id": office}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let res = app
        .post(
            "/v1/executing-agencies",
            &json!({"name": {"es": "Jurado Nacional"}, "acronym": "JNE", "member_state": "PE",
                    "kind": "government", "registration_number": "RUC-1"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let res = app
        .post(
            "/v1/exchange-rates",
            &json!({"currency": "PEN", "effective_on": "2026-01-01", "rate": "0.2671"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let res = app
        .post(
            &format!("/v1/offices/{office}/appointments"),
            &json!({"person_name": "Ana Pérez", "email": "ana@oas.org", "position": "staff", "starts_on": "2025-01-01"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    // Assets: two, one transferred to another office, and a count.
    let other_office = app.collect("/v1/offices?limit=500").await[1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for tag in ["CSV-1", "CSV-2"] {
        let res = app
            .post(
                &format!("/v1/offices/{office}/assets"),
                &json!({"tag_number": tag, "category": "furniture", "description": "Desk",
                        "acquired_on": "2025-01-01", "cost": {"amount": "250.00", "currency": "USD"}}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text());
        if tag == "CSV-2" {
            let res = app
                .post(
                    &format!("/v1/offices/{office}/assets/{}/transfers", res.json()["id"].as_str().unwrap()),
                    &json!({"to_office_id": other_office, "transferred_on": "2025-06-01", "reason": "Loan"}),
                )
                .await;
            assert_eq!(res.status, 201, "{}", res.text());
        }
    }
    let res = app
        .post(
            &format!("/v1/offices/{office}/asset-counts"),
            &json!({"counted_on": "2026-01-15"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());

    // A memorandum to every office (the compliance view lists it per office) and an
    // office's accomplishment.
    let res = app
        .post(
            "/v1/memoranda",
            &json!({"number": "CSV/1", "title": {"en": "Count"}, "text": {"en": "Count."},
                    "issued_on": "2026-01-10", "applies_to_all": true}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let res = app
        .post(
            "/v1/accomplishments",
            &json!({"office_id": office, "occurred_on": "2026-06-01", "kind": "event",
                    "title": {"en": "Fair"}, "text": {"en": "It happened."}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());

    // A webhook subscription with one logged delivery.
    let res = app
        .post(
            "/v1/webhooks",
            &json!({"url": "https://hooks.example.org/csv"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let hook = res.json()["id"].as_str().unwrap().to_owned();
    app.db
        .execute(&format!(
            "INSERT INTO webhook_deliveries (id, subscription_id, event_id, resource_type, \
             resource_id, action, status, attempts, last_status_code) VALUES \
             (gen_random_uuid(), '{hook}', gen_random_uuid(), 'project', 'p', 'created', \
             'delivered', 1, 204)"
        ))
        .unwrap();
    let doc: Value = serde_json::from_str(&ogsms::app::openapi::document_json()).unwrap();
    let mut lists = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(ok) = item.get("get").map(|g| &g["responses"]["200"]) else {
            continue;
        };
        let Some(csv_doc) = ok["content"].get("text/csv") else {
            continue;
        };
        assert!(csv_doc.is_object());
        let params: Vec<&str> = item["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(
            params.contains(&"format") && params.contains(&"bom"),
            "{path}"
        );
        let page = ok["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .is_some_and(|r| r.ends_with("Page"));
        // Exports, and reports with a CSV of their own rows (statistics), are not lists.
        if path.starts_with("/v1/exports/") || !page {
            continue;
        }
        lists += 1;
        let url = concrete(&app, path).await;
        let json = app.get(&url).await;
        assert_eq!(json.status, 200, "{url}: {}", json.text());
        let n = json.json()["items"].as_array().unwrap().len();
        let res = app.get(&format!("{url}?format=csv")).await;
        let t = csv_of(&res);
        assert!(!t.header.is_empty(), "{path}");
        assert_eq!(t.rows.len(), n, "{path}: one row per item");
        assert!(n > 0, "{path}: the test should list something");
        assert!(
            t.rows.iter().all(|r| r.len() == t.header.len()),
            "{path}: every row has every column"
        );
        assert!(
            res.header("content-disposition")
                .unwrap()
                .starts_with("attachment; filename=\""),
            "{path}"
        );
        // Every code column with a closed set of values has its label.
        for (i, h) in t.header.iter().enumerate() {
            if let Some(code) = h.strip_suffix("_label") {
                let c = t.col(code);
                for r in &t.rows {
                    assert_eq!(r[c].is_empty(), r[i].is_empty(), "{path} {h}");
                }
            }
        }
    }
    assert!(lists >= 12, "only {lists} lists answer CSV");
}

/// Every closed set of codes a response carries has labels for CSV, except the
/// published codelists whose code is the value people use (ISO 4217 currencies, OECD DAC
/// sectors): the CSV shows those as codes. Enums only requests carry (a subset of a
/// response's enum, a schema's grammar) never reach a CSV.
#[actix_web::test]
async fn every_string_enum_has_labels_for_csv() {
    const PUBLISHED_CODELISTS: &[&str] = &["CurrencyCode", "SectorCode"];
    let doc = ogsms::app::openapi::document();
    let schemas = &doc.components.as_ref().unwrap().schemas;
    let json: Value = serde_json::to_value(schemas).unwrap();
    // The schemas a response reaches, through `$ref`s.
    fn reach(v: &Value, schemas: &Value, seen: &mut std::collections::BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    match (k.as_str(), x.as_str()) {
                        ("$ref", Some(r)) => {
                            let name = r.rsplit('/').next().unwrap().to_owned();
                            if seen.insert(name.clone()) {
                                reach(&schemas[&name], schemas, seen);
                            }
                        }
                        _ => reach(x, schemas, seen),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| reach(x, schemas, seen)),
            _ => {}
        }
    }
    let paths = serde_json::to_value(&doc.paths).unwrap();
    let mut in_responses = std::collections::BTreeSet::new();
    for item in paths.as_object().unwrap().values() {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            reach(&op["responses"], &json, &mut in_responses);
        }
    }
    assert!(in_responses.contains("OfficeStatus"), "{in_responses:?}");
    for (name, schema) in json.as_object().unwrap() {
        if !in_responses.contains(name) || PUBLISHED_CODELISTS.contains(&name.as_str()) {
            continue;
        }
        if let Some(values) = schema.get("enum").and_then(|v| v.as_array()) {
            assert!(
                ogsms::core::enums::labeler(name).is_some(),
                "{name} has no labels"
            );
            for v in values {
                let code = v.as_str().unwrap();
                for lang in [ogsms::core::i18n::Lang::En, ogsms::core::i18n::Lang::Es] {
                    assert!(
                        ogsms::core::enums::label(name, code, lang).is_some_and(|l| !l.is_empty()),
                        "{name}.{code}"
                    );
                }
            }
        }
    }
}

/// A text that a spreadsheet would run as a formula comes out prefixed with `'`; JSON
/// keeps it as typed, and numbers (negative amounts) stay numbers.
#[actix_web::test]
async fn formulas_in_text_are_neutralized_in_csv_only() {
    let app = TestApp::demo().await;
    let mut office = crate::common::new_office("OGSMS-Q2", "PE");
    office["name"] = json!({"en": "=HYPERLINK(\"http://evil.example\",\"x\")"});
    office["city"] = json!("@Lima");
    office["address"] = json!("-1+2");
    let res = app.post("/v1/offices", &office).await;
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(res.json()["city"], "@Lima", "JSON keeps the text as typed");

    let t = csv_of(&app.get("/v1/offices?format=csv&limit=500").await);
    let row = t.row("code", "OGSMS-Q2");
    assert_eq!(
        t.get(row, "name"),
        "'=HYPERLINK(\"http://evil.example\",\"x\")"
    );
    assert_eq!(t.get(row, "city"), "'@Lima");
    assert_eq!(t.get(row, "address"), "'-1+2");
}
