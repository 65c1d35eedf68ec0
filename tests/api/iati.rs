//! The IATI export: well-formed XML, every mandatory element of the Activity Standard
//! 2.03 in its schema's order, the status mapping, transactions from the ledger, and
//! who gets the transactions.

use std::collections::BTreeMap;

use ogsms::auth::policy::Role;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde_json::json;

use crate::common::TestApp;
use crate::stats::{World, created};

/// An element of a parsed document.
#[derive(Debug, Default, Clone)]
struct Node {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn all(&self, name: &str) -> Vec<&Node> {
        self.children.iter().filter(|c| c.name == name).collect()
    }
    fn one(&self, name: &str) -> &Node {
        let found = self.all(name);
        assert_eq!(found.len(), 1, "one <{name}> in <{}>: {found:?}", self.name);
        found[0]
    }
    fn attr(&self, name: &str) -> &str {
        self.attrs
            .get(name)
            .unwrap_or_else(|| panic!("@{name} on <{}> {:?}", self.name, self.attrs))
    }
}

fn node_of(e: &BytesStart) -> Node {
    let mut n = Node {
        name: e.name().as_ref().to_owned(),
        ..Node::default()
    };
    for a in e.attributes() {
        let a = a.expect("well-formed attribute (no duplicates)");
        let key = a.key.as_ref().to_owned();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .expect("well-formed value")
            .into_owned();
        assert!(n.attrs.insert(key, value).is_none());
    }
    n
}

/// Parses a whole document, panicking at anything not well-formed.
fn parse(xml: &str) -> Node {
    let mut reader = Reader::from_str(xml);
    let mut stack = vec![Node::default()];
    let mut declared = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Decl(d) => {
                assert_eq!(d.version().unwrap().as_ref(), "1.0");
                declared = true;
            }
            Event::Start(e) => stack.push(node_of(&e)),
            Event::Empty(e) => {
                let n = node_of(&e);
                stack.last_mut().unwrap().children.push(n);
            }
            Event::End(e) => {
                let n = stack.pop().unwrap();
                assert_eq!(n.name.as_str(), e.name().as_ref());
                stack.last_mut().unwrap().children.push(n);
            }
            Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().unwrap() {
                    Some(c) => c,
                    None => match r.xml10_content().as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("undefined entity {other}"),
                    },
                };
                stack.last_mut().unwrap().text.push(c);
            }
            Event::Eof => break,
            Event::CData(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    assert!(declared, "an XML declaration");
    assert_eq!(stack.len(), 1, "every element closed");
    let mut doc = stack.pop().unwrap();
    assert_eq!(doc.children.len(), 1, "one root element");
    let mut root = doc.children.remove(0);
    trim(&mut root);
    root
}

fn trim(n: &mut Node) {
    n.text = n.text.trim().to_owned();
    n.children.iter_mut().for_each(trim);
}

/// The order of `iati-activity`'s children in the 2.03 schema (an `xsd:sequence`).
const ACTIVITY_SEQUENCE: &[&str] = &[
    "iati-identifier",
    "reporting-org",
    "title",
    "description",
    "participating-org",
    "other-identifier",
    "activity-status",
    "activity-date",
    "contact-info",
    "activity-scope",
    "recipient-country",
    "recipient-region",
    "location",
    "sector",
    "country-budget-items",
    "humanitarian-scope",
    "policy-marker",
    "collaboration-type",
    "default-flow-type",
    "default-finance-type",
    "default-aid-type",
    "default-tied-status",
    "budget",
    "planned-disbursement",
    "capital-spend",
    "transaction",
];
const TRANSACTION_SEQUENCE: &[&str] = &[
    "transaction-type",
    "transaction-date",
    "value",
    "description",
    "provider-org",
    "receiver-org",
];
const BUDGET_SEQUENCE: &[&str] = &["period-start", "period-end", "value"];

fn in_order(n: &Node, sequence: &[&str]) {
    let mut last = 0;
    for c in &n.children {
        let i = sequence
            .iter()
            .position(|s| *s == c.name)
            .unwrap_or_else(|| panic!("<{}> is not a child of <{}>", c.name, n.name));
        assert!(
            i >= last,
            "<{}> out of the schema's order in <{}>",
            c.name,
            n.name
        );
        last = i;
    }
}

fn is_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (i, f) = s.split_once('.').unwrap_or((s, "0"));
    !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) && f.bytes().all(|b| b.is_ascii_digit())
}

fn narratives(n: &Node) {
    let all = n.all("narrative");
    assert!(!all.is_empty(), "<{}> has a narrative", n.name);
    for x in all {
        assert!(!x.text.is_empty(), "empty narrative in <{}>", n.name);
    }
}

/// Checks every mandatory element of every activity; returns the activities by
/// project code.
fn check_document(root: &Node) -> BTreeMap<String, Node> {
    assert_eq!(root.name, "iati-activities");
    assert_eq!(root.attr("version"), "2.03");
    chrono::DateTime::parse_from_rfc3339(root.attr("generated-datetime")).unwrap();
    let mut out = BTreeMap::new();
    for a in root.all("iati-activity") {
        in_order(a, ACTIVITY_SEQUENCE);
        chrono::DateTime::parse_from_rfc3339(a.attr("last-updated-datetime")).unwrap();
        assert_eq!(a.attr("default-currency"), "USD");
        let reporting = a.one("reporting-org");
        let org_ref = reporting.attr("ref");
        assert_eq!(org_ref, ogsms::reports::iati::reporting_org_ref());
        assert_eq!(reporting.attr("type"), "40");
        narratives(reporting);
        let identifier = &a.one("iati-identifier").text;
        let code = identifier
            .strip_prefix(&format!("{org_ref}-"))
            .unwrap_or_else(|| panic!("{identifier} starts with the reporting org's ref"));
        narratives(a.one("title"));
        let descriptions = a.all("description");
        assert!(!descriptions.is_empty());
        descriptions.iter().for_each(|d| narratives(d));
        let orgs = a.all("participating-org");
        assert!(!orgs.is_empty());
        for o in &orgs {
            assert!(["1", "2", "3", "4"].contains(&o.attr("role")), "{o:?}");
            assert!(o.attrs.contains_key("ref") || !o.all("narrative").is_empty());
        }
        let status = a.one("activity-status").attr("code");
        assert!(["1", "2", "3", "4", "5", "6"].contains(&status));
        let dates = a.all("activity-date");
        assert!(
            dates
                .iter()
                .any(|d| ["1", "2"].contains(&d.attr("type")) && is_date(d.attr("iso-date"))),
            "a start date in {code}"
        );
        for b in a.all("budget") {
            in_order(b, BUDGET_SEQUENCE);
            assert!(is_date(b.one("period-start").attr("iso-date")));
            assert!(is_date(b.one("period-end").attr("iso-date")));
            let v = b.one("value");
            assert!(is_date(v.attr("value-date")) && is_decimal(&v.text));
        }
        for t in a.all("transaction") {
            in_order(t, TRANSACTION_SEQUENCE);
            assert!(["2", "4"].contains(&t.one("transaction-type").attr("code")));
            assert!(is_date(t.one("transaction-date").attr("iso-date")));
            let v = t.one("value");
            assert!(is_date(v.attr("value-date")), "{v:?}");
            assert!(is_decimal(&v.text), "{v:?}");
        }
        assert!(
            out.insert(code.to_owned(), a.clone()).is_none(),
            "{code} once"
        );
    }
    out
}

async fn export(app: &TestApp, query: &str, auth: Option<&str>) -> BTreeMap<String, Node> {
    let path = format!("/v1/exports/iati-activities.xml{query}");
    let res = match auth {
        Some(a) => app.get_with(&path, &[("authorization", a)]).await,
        None => app.get(&path).await,
    };
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("application/xml; charset=utf-8")
    );
    check_document(&parse(&res.text()))
}

/// (type, value, date) of an activity's transactions, sorted.
fn transactions(a: &Node) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = a
        .all("transaction")
        .iter()
        .map(|t| {
            (
                t.one("transaction-type").attr("code").to_owned(),
                t.one("value").text.clone(),
                t.one("transaction-date").attr("iso-date").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[actix_web::test]
async fn the_export_is_well_formed_with_every_mandatory_element() {
    let app = TestApp::new().await;
    let w = World::bare(&app).await;
    // A title that needs escaping, a description in two languages, an agency.
    let pe1 = &w.projects["ST-PE-1"];
    let agency = created(
        &app,
        "/v1/executing-agencies",
        &json!({"name": {"es": "Jurado Nacional de Elecciones", "en": "National Elections Jury"},
                "member_state": "PE", "kind": "government", "registration_number": "RUC-1"}),
    )
    .await;
    let path = format!("/v1/projects/{pe1}");
    let etag = app.get(&path).await.header("etag").unwrap();
    let res = app
        .patch(
            &path,
            Some(&etag),
            &json!({"title": {"en": "Peace <&> \"Security\"", "es": "Paz y seguridad"},
                    "description": {"en": "Observation", "pt": "Observação"},
                    "agencies": [{"agency_id": agency, "role": "lead"}]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let activities = export(&app, "", None).await;
    assert_eq!(activities.len(), 4);
    let a = &activities["ST-PE-1"];
    let title: Vec<(&str, &str)> = a
        .one("title")
        .all("narrative")
        .iter()
        .map(|n| (n.attr("xml:lang"), n.text.as_str()))
        .collect();
    assert_eq!(
        title,
        vec![("en", "Peace <&> \"Security\""), ("es", "Paz y seguridad")]
    );
    let description: Vec<&str> = a.all("description")[0]
        .all("narrative")
        .iter()
        .map(|n| n.attr("xml:lang"))
        .collect();
    assert_eq!(description, vec!["en", "pt"]);
    // Participating organisations: funding (the OAS: Regular Fund), accountable (the
    // department), extending (the office), implementing (the agency).
    let orgs: Vec<(&str, String)> = a
        .all("participating-org")
        .iter()
        .map(|o| (o.attr("role"), o.all("narrative")[0].text.clone()))
        .collect();
    assert_eq!(
        orgs,
        vec![
            ("1", "Organization of American States".to_owned()),
            ("2", "Electoral Cooperation".to_owned()),
            ("3", "Office ST-PE".to_owned()),
            ("4", "National Elections Jury".to_owned()),
        ]
    );
    assert_eq!(a.all("participating-org")[3].attr("type"), "10");
    // A specific fund's donor funds the project.
    let pe2 = &activities["ST-PE-2"];
    let funding = pe2.all("participating-org")[0];
    assert_eq!(funding.attr("role"), "1");
    assert_eq!(funding.one("narrative").text, "Government of Canada");
    // The recipient country is the office's member state; the budget the project's.
    assert_eq!(a.one("recipient-country").attr("code"), "PE");
    assert_eq!(
        activities["ST-CO-1"].one("recipient-country").attr("code"),
        "CO"
    );
    // Without budget lines the budget is split pro rata by days into calendar years,
    // indicative (2025: 365 of 730 days, 2026: the rest).
    let budgets: Vec<(&str, &str, &str, &str, &str, &str)> = activities["ST-CO-1"]
        .all("budget")
        .iter()
        .map(|b| {
            (
                b.one("period-start").attr("iso-date"),
                b.one("period-end").attr("iso-date"),
                b.one("value").attr("currency"),
                b.one("value").text.as_str(),
                b.attr("type"),
                b.attr("status"),
            )
        })
        .collect();
    assert_eq!(
        budgets,
        vec![
            ("2025-01-01", "2025-12-31", "EUR", "4000.00", "1", "1"),
            ("2026-01-01", "2026-12-31", "EUR", "4000.00", "1", "1"),
        ]
    );
    // A pipeline project has a planned start and a planned end.
    let dates: Vec<(&str, &str)> = a
        .all("activity-date")
        .iter()
        .map(|d| (d.attr("type"), d.attr("iso-date")))
        .collect();
    assert_eq!(dates, vec![("1", "2025-01-01"), ("3", "2026-12-31")]);
    // Filters.
    let only_co = export(&app, &format!("?office_id={}", w.co), None).await;
    assert_eq!(
        only_co.keys().collect::<Vec<_>>(),
        vec!["ST-CO-1", "ST-CO-2"]
    );
    app.get("/v1/exports/iati-activities.xml?status=dreaming")
        .await
        .problem(400, "invalid-parameter");
}

#[actix_web::test]
async fn project_statuses_map_onto_iati_activity_statuses() {
    let app = TestApp::new().await;
    let w = World::bare(&app).await;
    for status in [
        "pipeline",
        "approved",
        "active",
        "suspended",
        "completed",
        "closed",
        "cancelled",
    ] {
        app.db
            .execute(&format!(
                "INSERT INTO projects (id, code, title, office_id, department_id, pillar, status, starts_on, ends_on, \
                 budget_amount, budget_currency, funding_source) VALUES (gen_random_uuid(), 'S-{}', \
                 '{{\"en\": \"Status {status}\"}}', '{}', '{}', 'democracy', '{status}', '2024-02-01', '2024-11-30', 100, 'USD', 'regular_fund')",
                status.to_uppercase(),
                w.pe,
                w.deco
            ))
            .unwrap();
    }
    let activities = export(&app, "", None).await;
    let got: Vec<(&str, &str, Vec<&str>)> = activities
        .iter()
        .filter(|(code, _)| code.starts_with("S-"))
        .map(|(code, a)| {
            (
                code.as_str(),
                a.one("activity-status").attr("code"),
                a.all("activity-date")
                    .iter()
                    .map(|d| d.attr("type"))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("S-ACTIVE", "2", vec!["2", "3"]),
            ("S-APPROVED", "1", vec!["1", "3"]),
            ("S-CANCELLED", "5", vec!["1", "3"]),
            ("S-CLOSED", "4", vec!["2", "4"]),
            ("S-COMPLETED", "3", vec!["2", "4"]),
            ("S-PIPELINE", "1", vec!["1", "3"]),
            ("S-SUSPENDED", "6", vec!["2", "3"]),
        ]
    );
    let only_active = export(&app, "?status=active,suspended", None).await;
    assert_eq!(
        only_active.keys().collect::<Vec<_>>(),
        vec!["S-ACTIVE", "S-SUSPENDED"]
    );
}

#[actix_web::test]
async fn transactions_come_from_the_ledger_and_follow_the_finance_rules() {
    let app = TestApp::new().await;
    let w = World::bare(&app).await;
    let pe1 = &w.projects["ST-PE-1"];
    let pe2 = &w.projects["ST-PE-2"];
    let ledger = &w.ledgers[0].0;
    let agency = created(
        &app,
        "/v1/executing-agencies",
        &json!({"name": {"en": "Andean University"}, "member_state": "PE", "kind": "academic",
                "registration_number": "RUC-2"}),
    )
    .await;
    created(
        &app,
        "/v1/exchange-rates",
        &json!({"currency": "PEN", "effective_on": "2026-01-01", "rate": "0.25"}),
    )
    .await;
    let post = async |body: serde_json::Value| {
        created(&app, &format!("/v1/ledgers/{ledger}/entries"), &body).await
    };
    let entry =
        |kind: &str, category: Option<&str>, day: &str, amount: &str, project: Option<&String>| {
            json!({"kind": kind, "category": category, "entry_date": day, "description": "Entry",
               "project_id": project, "amount": {"amount": amount, "currency": "USD"}})
        };
    post(entry(
        "allocation",
        None,
        "2026-01-05",
        "1000.00",
        Some(pe1),
    ))
    .await;
    post(entry("allocation", None, "2026-01-05", "5000.00", None)).await;
    let mut paid = entry(
        "expense",
        Some("project_disbursement"),
        "2026-02-10",
        "200.00",
        Some(pe1),
    );
    paid["payee_agency_id"] = json!(agency);
    post(paid).await;
    post(entry(
        "refund",
        Some("travel"),
        "2026-02-20",
        "50.00",
        Some(pe1),
    ))
    .await;
    let reversed = post(entry(
        "expense",
        Some("travel"),
        "2026-03-01",
        "30.00",
        Some(pe1),
    ))
    .await;
    created(
        &app,
        &format!("/v1/ledgers/{ledger}/entries/{reversed}/reversal"),
        &json!({"entry_date": "2026-03-15"}),
    )
    .await;
    let mut adjustment = entry("adjustment", None, "2026-03-20", "10.00", Some(pe1));
    adjustment["direction"] = json!("increase");
    post(adjustment).await;
    post(entry("expense", Some("rent"), "2026-04-01", "70.00", None)).await;
    let mut pen = entry(
        "expense",
        Some("supplies"),
        "2026-04-02",
        "100.00",
        Some(pe1),
    );
    pen["amount"]["currency"] = json!("PEN");
    post(pen).await;
    post(entry(
        "expense",
        Some("rent"),
        "2026-04-03",
        "12.34",
        Some(pe2),
    ))
    .await;

    let activities = export(&app, "", None).await;
    let pe1_transactions = vec![
        (
            "2".to_owned(),
            "1000.00".to_owned(),
            "2026-01-05".to_owned(),
        ),
        ("4".to_owned(), "-30.00".to_owned(), "2026-03-15".to_owned()),
        ("4".to_owned(), "-50.00".to_owned(), "2026-02-20".to_owned()),
        ("4".to_owned(), "200.00".to_owned(), "2026-02-10".to_owned()),
        ("4".to_owned(), "25.00".to_owned(), "2026-04-02".to_owned()),
        ("4".to_owned(), "30.00".to_owned(), "2026-03-01".to_owned()),
    ];
    assert_eq!(transactions(&activities["ST-PE-1"]), pe1_transactions);
    let a = &activities["ST-PE-1"];
    let disbursement = a
        .all("transaction")
        .into_iter()
        .find(|t| t.one("value").text == "200.00")
        .unwrap();
    let receiver = disbursement.one("receiver-org");
    assert_eq!(receiver.attr("type"), "80");
    assert_eq!(receiver.one("narrative").text, "Andean University");
    let labels: Vec<&str> = disbursement
        .one("description")
        .all("narrative")
        .iter()
        .map(|n| n.text.as_str())
        .collect();
    assert_eq!(
        labels,
        vec!["Project disbursement", "Desembolso a proyectos"]
    );
    assert_eq!(
        disbursement.attr("ref"),
        app.db.scalar(&format!(
            "SELECT id FROM ledger_entries WHERE project_id = '{pe1}' AND amount_minor = 20000"
        ))
    );
    assert_eq!(
        transactions(&activities["ST-PE-2"]),
        vec![("4".to_owned(), "12.34".to_owned(), "2026-04-03".to_owned())]
    );
    // Who gets which transactions: every role gets every activity.
    for (who, role, office, department, pe1_sees, pe2_sees) in [
        ("auditor", Role::Auditor, None, None, 6, 1),
        (
            "the office",
            Role::OfficeStaff,
            Some(w.pe.as_str()),
            None,
            6,
            1,
        ),
        (
            "another office",
            Role::Representative,
            Some(w.co.as_str()),
            None,
            0,
            0,
        ),
        (
            "PE-1's department",
            Role::HqDepartment,
            None,
            Some(w.deco.as_str()),
            6,
            0,
        ),
        ("a viewer", Role::Viewer, None, None, 0, 0),
    ] {
        let auth = w.token(&app, role, office, department);
        let seen = export(&app, "", Some(&auth)).await;
        assert_eq!(seen.len(), 4, "{who}");
        assert_eq!(seen["ST-PE-1"].all("transaction").len(), pe1_sees, "{who}");
        assert_eq!(seen["ST-PE-2"].all("transaction").len(), pe2_sees, "{who}");
    }
}

#[actix_web::test]
async fn the_export_streams_hundreds_of_projects_in_batches() {
    let app = TestApp::new().await;
    let w = World::bare(&app).await;
    app.db
        .execute(&format!(
            "INSERT INTO projects (id, code, title, office_id, department_id, pillar, status, starts_on, \
             budget_amount, budget_currency, funding_source) \
             SELECT gen_random_uuid(), 'BULK-' || lpad(n::text, 4, '0'), jsonb_build_object('en', 'Bulk ' || n), \
                    '{}', '{}', 'democracy', 'active', '2026-01-01', n * 100, 'USD', 'regular_fund' \
               FROM generate_series(1, 250) n",
            w.pe, w.deco
        ))
        .unwrap();
    let activities = export(&app, "", None).await;
    assert_eq!(activities.len(), 254);
    assert!(activities.contains_key("BULK-0001") && activities.contains_key("BULK-0250"));
    // Without an end date there is no budget (IATI budgets need a period end).
    assert!(activities["BULK-0100"].all("budget").is_empty());
}
