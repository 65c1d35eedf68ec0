//! Events and accomplishments: written by the offices, submitted, returned or published
//! by the Coordinating Office; who sees drafts; validation naming fields; the audit
//! trail; and the public feed, as JSON and as Atom checked with a real XML parser
//! against the elements RFC 4287 requires, with filters, paging and caching.

use actix_web::http::Method;
use ogsms::auth::policy::Role;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use serde_json::{Value, json};

use crate::common::{Resp, TestApp, new_office};

async fn office(app: &TestApp, code: &str, member_state: &str) -> String {
    let res = app
        .post("/v1/offices", &new_office(code, member_state))
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

/// A project of `office` (with a new department); returns its id.
async fn project(app: &TestApp, office: &str, code: &str) -> String {
    let res = app
        .post(
            "/v1/departments",
            &json!({"code": format!("D{code}"), "kind": "secretariat", "name": {"en": format!("Department {code}")}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let department = res.json()["id"].as_str().unwrap().to_owned();
    let res = app
        .post(
            "/v1/projects",
            &json!({
                "code": code,
                "title": {"en": format!("Project {code}")},
                "office_id": office,
                "department_id": department,
                "pillar": "democracy",
                "starts_on": "2026-01-01",
                "budget": {"amount": "1000.00", "currency": "USD"},
                "funding_source": "regular_fund"
            }),
        )
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

fn item(office: &str, kind: &str, occurred_on: &str, title: &str) -> Value {
    json!({
        "office_id": office,
        "occurred_on": occurred_on,
        "kind": kind,
        "title": {"en": title, "es": format!("{title} (es)")},
        "text": {"en": format!("What happened: {title}."), "pt": "O que aconteceu."}
    })
}

/// Creates, submits and publishes an item as the coordinator; returns it.
async fn published(app: &TestApp, body: &Value) -> Value {
    let res = app.post("/v1/accomplishments", body).await;
    assert_eq!(res.status, 201, "{}", res.text());
    let id = res.json()["id"].as_str().unwrap().to_owned();
    for step in ["submit", "publish"] {
        let res = app
            .request(
                Method::POST,
                &format!("/v1/accomplishments/{id}/{step}"),
                &[],
                None,
            )
            .await;
        assert_eq!(res.status, 200, "{step}: {}", res.text());
    }
    app.get(&format!("/v1/accomplishments/{id}")).await.json()
}

#[actix_web::test]
async fn an_office_writes_submits_and_the_coordinating_office_returns_and_publishes() {
    let app = TestApp::new().await;
    let pe = office(&app, "AC-PE", "PE").await;
    let co = office(&app, "AC-CO", "CO").await;
    let pe_project = project(&app, &pe, "AC-P1").await;
    let co_project = project(&app, &co, "AC-P2").await;
    // A CO project on a PE item is refused too.
    let mut body = item(&pe, "visit", "2026-05-04", "Visit");
    body["project_ids"] = json!([co_project]);
    let res = app.post("/v1/accomplishments", &body).await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["project_ids[0]"]);
    let staff = bearer(&app, Role::OfficeStaff, Some(&pe));
    let rep_co = bearer(&app, Role::Representative, Some(&co));
    let viewer = bearer(&app, Role::Viewer, None);

    // Fields at fault are named: another office, another office's project, an unknown
    // mandate, an empty title.
    // (the project is PE's, the item CO's)
    let mut body = item(&co, "event", "2026-05-04", "Workshop");
    body["project_ids"] = json!([pe_project]);
    body["mandate_ids"] = json!(["0193a6f0-0000-7000-8000-000000000000"]);
    body["title"] = json!({"en": ""});
    let res = as_(
        &app,
        &staff,
        Method::POST,
        "/v1/accomplishments",
        Some(&body),
    )
    .await;
    res.problem(422, "validation-failed");
    let mut fields = res.problem_fields();
    fields.sort();
    assert_eq!(
        fields,
        ["mandate_ids[0]", "office_id", "project_ids[0]", "title.en"]
    );
    as_(
        &app,
        &viewer,
        Method::POST,
        "/v1/accomplishments",
        Some(&item(&pe, "event", "2026-05-04", "W")),
    )
    .await
    .problem(403, "forbidden");

    let mut body = item(
        &pe,
        "project_milestone",
        "2026-05-04",
        "First results delivered",
    );
    body["project_ids"] = json!([pe_project, pe_project]);
    let res = as_(
        &app,
        &staff,
        Method::POST,
        "/v1/accomplishments",
        Some(&body),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let a = res.json();
    let path = res.header("location").unwrap();
    assert_eq!(a["status"], "draft");
    assert_eq!(a["project_ids"], json!([pe_project]));
    assert_eq!(a["created_by"], "test-office_staff");

    // A draft: the office, the coordinator and auditors see it; nobody else.
    for who in [
        bearer(&app, Role::Representative, Some(&pe)),
        bearer(&app, Role::Auditor, None),
        bearer(&app, Role::Coordinator, None),
    ] {
        assert_eq!(as_(&app, &who, Method::GET, &path, None).await.status, 200);
    }
    for who in [&rep_co, &viewer] {
        as_(&app, who, Method::GET, &path, None)
            .await
            .problem(404, "not-found");
        let list = as_(&app, who, Method::GET, "/v1/accomplishments", None).await;
        assert_eq!(list.json()["items"], json!([]));
    }

    // Edit the draft (If-Match), submit it; a submitted item is not edited.
    let etag = res.header("etag").unwrap();
    let res = app
        .request(
            Method::PATCH,
            &path,
            &[("authorization", &staff), ("if-match", &etag)],
            Some(&json!({"kind": "accomplishment", "occurred_on": "2026-05-05"})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["kind"], "accomplishment");
    let res = app
        .request(
            Method::PATCH,
            &path,
            &[("authorization", &staff), ("if-match", &etag)],
            Some(&json!({"kind": "visit"})),
        )
        .await;
    res.problem(412, "precondition-failed");
    let res = as_(&app, &staff, Method::POST, &format!("{path}/submit"), None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "submitted");
    let etag = res.header("etag").unwrap();
    app.request(
        Method::PATCH,
        &path,
        &[("authorization", &staff), ("if-match", &etag)],
        Some(&json!({"kind": "visit"})),
    )
    .await
    .problem(409, "invalid-state");
    as_(&app, &staff, Method::POST, &format!("{path}/submit"), None)
        .await
        .problem(409, "invalid-state");
    // Publishing and returning are the coordinator's; returning needs a reason.
    as_(&app, &staff, Method::POST, &format!("{path}/publish"), None)
        .await
        .problem(403, "forbidden");
    let res = app
        .post(&format!("{path}/return"), &json!({"reason": "  "}))
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), ["reason"]);
    let res = app
        .post(
            &format!("{path}/return"),
            &json!({"reason": "Name the partner."}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "returned");
    assert_eq!(res.json()["return_reason"], "Name the partner.");
    let etag = res.header("etag").unwrap();
    let res = app
        .request(
            Method::PATCH,
            &path,
            &[("authorization", &staff), ("if-match", &etag)],
            Some(&json!({"text": {"en": "With the national partner."}})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        as_(&app, &staff, Method::POST, &format!("{path}/submit"), None)
            .await
            .json()["return_reason"],
        Value::Null
    );
    app.request(
        Method::POST,
        &format!("{path}/publish"),
        &[("if-match", "\"stale\"")],
        None,
    )
    .await
    .problem(412, "precondition-failed");
    let res = app
        .request(Method::POST, &format!("{path}/publish"), &[], None)
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let a = res.json();
    assert_eq!(a["status"], "published");
    assert_eq!(a["published_by"], "test-coordinator");
    app.request(Method::POST, &format!("{path}/publish"), &[], None)
        .await
        .problem(409, "invalid-state");
    // Published: everyone with a token sees it.
    assert_eq!(
        as_(&app, &viewer, Method::GET, &path, None).await.status,
        200
    );
    assert_eq!(
        as_(&app, &rep_co, Method::GET, &path, None).await.status,
        200
    );
    // A linked project cannot be deleted.
    app.request(
        Method::DELETE,
        &format!("/v1/projects/{pe_project}"),
        &[],
        None,
    )
    .await
    .problem(409, "still-referenced");

    // The list's filters.
    let list = app
        .collect(&format!(
            "/v1/accomplishments?project_id={pe_project}&status=published"
        ))
        .await;
    assert_eq!(list.len(), 1);
    assert!(
        app.collect("/v1/accomplishments?kind=visit")
            .await
            .is_empty()
    );
    app.get("/v1/accomplishments?kind=party")
        .await
        .problem(400, "invalid-parameter");

    // Every write is audited: create, 2 updates, 2 submits, return, publish.
    assert_eq!(
        app.db.scalar(
            "SELECT string_agg(action, ',' ORDER BY occurred_at) FROM audit_events \
             WHERE resource_type = 'accomplishment'"
        ),
        "create,update,submit,return,update,submit,publish"
    );
    // The reporting view.
    assert_eq!(
        app.db.scalar(
            "SELECT kind_label || '|' || status_label || '|' || project_codes FROM reporting.accomplishments"
        ),
        "Accomplishment|Published|AC-P1"
    );
}

/// An element of a parsed XML document: namespace, local name, attributes, text and
/// children.
#[derive(Debug, Default)]
struct Element {
    ns: String,
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn all(&self, name: &str) -> Vec<&Element> {
        self.children.iter().filter(|c| c.name == name).collect()
    }

    fn one(&self, name: &str) -> &Element {
        let found = self.all(name);
        assert_eq!(found.len(), 1, "exactly one {name} in {}", self.name);
        found[0]
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn element(ns: ResolveResult, e: &quick_xml::events::BytesStart) -> Element {
    let ns = match ns {
        ResolveResult::Bound(n) => n.as_ref().to_owned(),
        _ => String::new(),
    };
    let attrs = e
        .attributes()
        .map(|a| {
            let a = a.expect("a well-formed attribute");
            (
                a.key.as_ref().to_owned(),
                a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                    .unwrap()
                    .into_owned(),
            )
        })
        .collect();
    Element {
        ns,
        name: e.local_name().as_ref().to_owned(),
        attrs,
        ..Element::default()
    }
}

/// Parses a whole XML document (well-formedness included) into a tree.
fn parse_xml(xml: &str) -> Element {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        match reader.read_resolved_event().expect("well-formed XML") {
            (ns, Event::Start(e)) => stack.push(element(ns, &e)),
            (ns, Event::Empty(e)) => {
                let el = element(ns, &e);
                stack.last_mut().unwrap().children.push(el);
            }
            (_, Event::End(_)) => {
                let el = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(el);
            }
            (_, Event::Text(t)) => {
                let t = t.xml10_content();
                stack.last_mut().unwrap().text.push_str(&t);
            }
            // Character and the five predefined entity references; any other entity
            // is undeclared, so the document is not well-formed.
            (_, Event::GeneralRef(r)) => {
                let c = match r.resolve_char_ref().expect("a valid character reference") {
                    Some(c) => c,
                    None => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("undeclared entity &{other};"),
                    },
                };
                stack.last_mut().unwrap().text.push(c);
            }
            (_, Event::Eof) => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "every element closed");
    let mut root = stack.pop().unwrap();
    assert_eq!(root.children.len(), 1, "one root element");
    root.children.pop().unwrap()
}

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// Checks what RFC 4287 requires of a feed and its entries (section 4.1.1 and 4.1.2):
/// exactly one `id`, `title` and `updated` (an RFC 3339 date-time) each; an `author`
/// on the feed or on every entry; entries with a `link rel="alternate"` or a `content`;
/// at most one `link rel="alternate"` per type; every element in the Atom namespace.
/// Returns the entries.
fn check_atom(feed: &Element) -> Vec<&Element> {
    fn all_in_atom(e: &Element) {
        assert_eq!(e.ns, ATOM_NS, "{} is in the Atom namespace", e.name);
        e.children.iter().for_each(all_in_atom);
    }
    all_in_atom(feed);
    assert_eq!(feed.name, "feed");
    let date = |e: &Element| {
        chrono::DateTime::parse_from_rfc3339(e.text.trim())
            .unwrap_or_else(|err| panic!("{}: {err}", e.text))
    };
    let iri = |e: &Element| {
        let t = e.text.trim();
        assert!(t.starts_with("urn:uuid:") && t.len() == 45, "an IRI: {t}");
        t.to_owned()
    };
    iri(feed.one("id"));
    assert!(!feed.one("title").text.trim().is_empty());
    date(feed.one("updated"));
    let feed_author = !feed.all("author").is_empty();
    for a in feed.all("author") {
        assert!(!a.one("name").text.trim().is_empty());
    }
    let selfs: Vec<&Element> = feed
        .all("link")
        .into_iter()
        .filter(|l| l.attr("rel") == Some("self"))
        .collect();
    assert_eq!(selfs.len(), 1, "a self link");
    let entries = feed.all("entry");
    let mut ids = Vec::new();
    for e in &entries {
        ids.push(iri(e.one("id")));
        assert!(!e.one("title").text.trim().is_empty());
        let updated = date(e.one("updated"));
        let published = date(e.one("published"));
        assert!(published <= updated, "published is not after updated");
        assert!(feed_author || !e.all("author").is_empty(), "an author");
        let alternates: Vec<&Element> = e
            .all("link")
            .into_iter()
            .filter(|l| l.attr("rel").unwrap_or("alternate") == "alternate")
            .collect();
        assert!(alternates.len() <= 1);
        for l in e.all("link") {
            assert!(l.attr("href").is_some_and(|h| h.starts_with("http")));
        }
        let content = e.one("content");
        assert_eq!(content.attr("type"), Some("text"));
        assert!(!content.text.trim().is_empty());
        assert!(alternates.len() == 1 || !content.text.is_empty());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), entries.len(), "entry ids are unique");
    entries
}

#[actix_web::test]
async fn the_public_feed_as_json_and_atom() {
    let app = TestApp::new().await;
    let pe = office(&app, "FD-PE", "PE").await;
    let co = office(&app, "FD-CO", "CO").await;
    let pe_project = project(&app, &pe, "FD-P1").await;
    let mut body = item(
        &pe,
        "agreement_signed",
        "2026-03-10",
        "Agreement with the Ministry <& partners>",
    );
    body["project_ids"] = json!([pe_project]);
    let agreement = published(&app, &body).await;
    let visit = published(&app, &item(&pe, "visit", "2026-06-01", "Visit of the ASG")).await;
    let event = published(
        &app,
        &item(&co, "event", "2026-04-20", "Forum on human rights"),
    )
    .await;
    // A draft and a submitted item are not in the feed.
    let res = app
        .post(
            "/v1/accomplishments",
            &item(&pe, "event", "2026-07-01", "Draft"),
        )
        .await;
    assert_eq!(res.status, 201);
    let submitted = res.json()["id"].as_str().unwrap().to_owned();
    app.request(
        Method::POST,
        &format!("/v1/accomplishments/{submitted}/submit"),
        &[],
        None,
    )
    .await;

    // JSON without a token, newest first, cacheable.
    let none = [("authorization", "none")];
    let res = app.get_with("/v1/feeds/accomplishments", &none).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        res.header("cache-control").as_deref(),
        Some("public, max-age=300")
    );
    let etag = res.header("etag").unwrap();
    let feed = res.json();
    let ids: Vec<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            visit["id"].as_str().unwrap(),
            event["id"].as_str().unwrap(),
            agreement["id"].as_str().unwrap()
        ]
    );
    assert_eq!(feed["items"][0]["office_code"], "FD-PE");
    assert_eq!(feed["items"][0]["member_state"], "PE");
    assert!(feed["updated"].is_string());
    let res = app
        .get_with(
            "/v1/feeds/accomplishments",
            &[("authorization", "none"), ("if-none-match", &etag)],
        )
        .await;
    assert_eq!(res.status, 304);
    assert_eq!(res.header("etag").as_deref(), Some(etag.as_str()));

    // Filters: office, member state, kind, project, dates.
    let count = async |q: &str| {
        let res = app
            .get_with(&format!("/v1/feeds/accomplishments?{q}"), &none)
            .await;
        assert_eq!(res.status, 200, "{q}: {}", res.text());
        res.json()["items"].as_array().unwrap().len()
    };
    assert_eq!(count(&format!("office_id={co}")).await, 1);
    assert_eq!(count("member_state=pe").await, 2);
    assert_eq!(count("member_state=PE,CO&kind=visit,event").await, 2);
    assert_eq!(count(&format!("project_id={pe_project}")).await, 1);
    assert_eq!(count("from=2026-04-01&to=2026-05-31").await, 1);
    app.get_with("/v1/feeds/accomplishments?member_state=Peru", &none)
        .await
        .problem(400, "invalid-parameter");
    app.get_with("/v1/feeds/accomplishments?from=yesterday", &none)
        .await
        .problem(400, "invalid-parameter");

    // Paging: next_cursor and Link.
    let res = app
        .get_with("/v1/feeds/accomplishments?limit=2", &none)
        .await;
    let page = res.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    assert!(res.header("link").unwrap().contains("rel=\"next\""));
    let rest = app
        .get_with(
            &format!("/v1/feeds/accomplishments?limit=2&cursor={cursor}"),
            &none,
        )
        .await
        .json();
    assert_eq!(rest["items"][0]["id"], agreement["id"]);
    assert!(rest["next_cursor"].is_null());

    // Atom, by path and by Accept, parsed as XML and checked against RFC 4287.
    let res = app.get_with("/v1/feeds/accomplishments.atom", &none).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("application/atom+xml")
    );
    assert_eq!(
        res.header("cache-control").as_deref(),
        Some("public, max-age=300")
    );
    let atom_etag = res.header("etag").unwrap();
    let xml = res.text();
    let root = parse_xml(&xml);
    let entries = check_atom(&root);
    assert_eq!(entries.len(), 3);
    let first = entries[0];
    assert_eq!(
        first.one("id").text,
        format!("urn:uuid:{}", visit["id"].as_str().unwrap())
    );
    assert_eq!(first.one("title").text, "Visit of the ASG");
    assert_eq!(first.one("author").one("name").text, "FD-PE");
    assert!(
        first
            .all("category")
            .iter()
            .any(|c| c.attr("term") == Some("visit"))
    );
    // Markup in a title is text, escaped and read back whole.
    assert_eq!(
        entries[2].one("title").text,
        "Agreement with the Ministry <& partners>"
    );
    assert_eq!(
        app.get_with(
            "/v1/feeds/accomplishments.atom",
            &[("authorization", "none"), ("if-none-match", &atom_etag)]
        )
        .await
        .status,
        304
    );
    let res = app
        .get_with(
            "/v1/feeds/accomplishments?member_state=PE",
            &[
                ("authorization", "none"),
                ("accept", "application/atom+xml"),
            ],
        )
        .await;
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("application/atom+xml")
    );
    let root = parse_xml(&res.text());
    assert_eq!(check_atom(&root).len(), 2);
    // Spanish titles for a Spanish reader, marked with their language.
    let res = app
        .get_with(
            "/v1/feeds/accomplishments.atom?limit=1",
            &[("authorization", "none"), ("accept-language", "es")],
        )
        .await;
    let root = parse_xml(&res.text());
    let entries = check_atom(&root);
    assert_eq!(entries[0].one("title").text, "Visit of the ASG (es)");
    assert_eq!(entries[0].attr("xml:lang"), Some("es"));
    // The text exists in English and Portuguese only: English.
    assert_eq!(entries[0].one("content").attr("xml:lang"), Some("en"));
    let next = root
        .all("link")
        .into_iter()
        .find(|l| l.attr("rel") == Some("next"))
        .expect("a next link");
    assert!(
        next.attr("href")
            .unwrap()
            .contains("/v1/feeds/accomplishments.atom?")
    );
    // JSON preferred over Atom stays JSON.
    let res = app
        .get_with(
            "/v1/feeds/accomplishments",
            &[
                ("authorization", "none"),
                ("accept", "application/json, application/atom+xml;q=0.5"),
            ],
        )
        .await;
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
}
