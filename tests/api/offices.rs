//! Offices: creation and its validation, conditional reads and updates, closing, and the
//! list's filters, sorts and cursor pagination.

use std::collections::{BTreeSet, HashMap, HashSet};

use actix_web::http::Method;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::common::{Resp, TestApp, new_office};

const MISSING_ID: &str = "0193a6f0-0000-7000-8000-000000000000";

/// Creates an office from `body`, asserting the 201; returns the response.
async fn create_body(app: &TestApp, body: &Value) -> Resp {
    let res = app.post("/v1/offices", body).await;
    assert_eq!(res.status, 201, "creating {}: {}", body["code"], res.text());
    res
}

/// Creates a valid country office; returns its representation.
async fn create(app: &TestApp, code: &str, member_state: &str) -> Value {
    create_body(app, &new_office(code, member_state))
        .await
        .json()
}

fn path_of(office: &Value) -> String {
    format!("/v1/offices/{}", office["id"].as_str().unwrap())
}

/// The current ETag of an office.
async fn etag(app: &TestApp, office: &Value) -> String {
    let res = app.get(&path_of(office)).await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.header("etag").expect("an ETag")
}

/// PATCHes an office with its current ETag, asserting the 200; returns the new body.
async fn patch_ok(app: &TestApp, office: &Value, body: &Value) -> Value {
    let tag = etag(app, office).await;
    let res = app.patch(&path_of(office), Some(&tag), body).await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()
}

async fn close(app: &TestApp, office: &Value, closed_on: &str, headers: &[(&str, &str)]) -> Resp {
    app.request(
        Method::POST,
        &format!("{}/close", path_of(office)),
        headers,
        Some(&json!({ "closed_on": closed_on })),
    )
    .await
}

fn ts(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("not a timestamp ({e}): {v}"))
}

fn codes(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|o| o["code"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(res: &Resp) -> Option<String> {
    let link = res.header("link")?;
    let start = link.find('<').expect("Link has <url>") + 1;
    let end = link.find('>').expect("Link has <url>");
    assert!(link[end..].contains("rel=\"next\""), "{link}");
    Some(link[start..end].to_owned())
}

/// All pages of a list, following the `Link` header; asserts that the header and
/// `next_cursor` agree on every page.
async fn follow_links(app: &TestApp, first: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut url = first.to_owned();
    loop {
        let res = app.get(&url).await;
        assert_eq!(res.status, 200, "{url}: {}", res.text());
        let body = res.json();
        items.extend(body["items"].as_array().unwrap().iter().cloned());
        match (next_link(&res), body["next_cursor"].as_str()) {
            (Some(next), Some(_)) => {
                assert!(next.starts_with(&app.base), "absolute URL: {next}");
                url = next;
            }
            (None, None) => break,
            (link, cursor) => panic!("Link {link:?} and next_cursor {cursor:?} disagree"),
        }
    }
    items
}

// ---------------------------------------------------------------------------------------
// Creation and reads
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn create_returns_201_with_location_etag_and_the_office() {
    let app = TestApp::new().await;
    let res = create_body(&app, &new_office("OGSMS-T1", "PE")).await;
    let body = res.json();
    let etag = res.header("etag").expect("an ETag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong ETag: {etag}"
    );
    let location = res.header("location").expect("a Location");
    assert_eq!(location, path_of(&body));

    assert!(uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());
    assert_eq!(body["code"], "OGSMS-T1");
    assert_eq!(body["kind"], "country_office");
    assert_eq!(body["member_state"], "PE");
    assert_eq!(
        body["name"],
        json!({"en": "Office OGSMS-T1", "es": "Oficina OGSMS-T1"})
    );
    assert_eq!(body["city"], "Lima");
    assert_eq!(body["address"], "Av. Javier Prado 123");
    assert_eq!(
        body["contacts"],
        json!({"email": "office@oas.org", "phone": "+51 1 611 2000", "website": "https://www.oas.org"})
    );
    assert_eq!(body["opened_on"], "1990-05-01");
    assert_eq!(body["status"], "open");
    assert!(body["closed_on"].is_null(), "{body}");
    assert!(ts(&body["updated_at"]) >= ts(&body["created_at"]));

    // GET at the Location: the same representation and the same ETag.
    let got = app.get(&location).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), body);
    assert_eq!(got.header("etag").as_deref(), Some(etag.as_str()));
}

#[actix_web::test]
async fn get_honours_if_none_match() {
    let app = TestApp::new().await;
    let office = create(&app, "OGSMS-T1", "PE").await;
    let path = path_of(&office);
    let tag = etag(&app, &office).await;

    let res = app.get_with(&path, &[("if-none-match", &tag)]).await;
    assert_eq!(res.status, 304);
    assert!(res.body.is_empty());
    assert_eq!(res.header("etag").as_deref(), Some(tag.as_str()));
    // If-None-Match compares weakly.
    let res = app
        .get_with(&path, &[("if-none-match", &format!("W/{tag}"))])
        .await;
    assert_eq!(res.status, 304);
    // In a list of tags.
    let res = app
        .get_with(&path, &[("if-none-match", &format!("\"nope\", {tag}"))])
        .await;
    assert_eq!(res.status, 304);

    let res = app
        .get_with(&path, &[("if-none-match", "\"0123456789abcdef\"")])
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), office);

    // After a change the old tag no longer matches.
    patch_ok(&app, &office, &json!({"city": "Cusco"})).await;
    let res = app.get_with(&path, &[("if-none-match", &tag)]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["city"], "Cusco");
}

#[actix_web::test]
async fn get_of_an_unknown_office_is_404() {
    let app = TestApp::demo().await;
    app.get(&format!("/v1/offices/{MISSING_ID}"))
        .await
        .problem(404, "not-found");
}

#[actix_web::test]
async fn text_is_taken_as_sent_and_surrounding_blanks_are_refused() {
    let app = TestApp::new().await;
    // What the schema refuses (white space around a text, a blank, an empty string for
    // an optional one) the service refuses too, naming each field: nothing is trimmed.
    let body = json!({
        "code": "  OGSMS-T1 ",
        "kind": "country_office",
        "member_state": " PE ",
        "name": {"en": "  Office in Peru  "},
        "city": " Lima ",
        "address": "   ",
        "contacts": {"email": "", "phone": "  ", "website": " https://www.oas.org "},
        "opened_on": "1990-05-01"
    });
    let res = app.post("/v1/offices", &body).await;
    res.problem(422, "validation-failed");
    let mut fields = res.problem_fields();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "address",
            "city",
            "code",
            "contacts.email",
            "contacts.phone",
            "contacts.website",
            "member_state",
            "name.en"
        ]
    );
    let body = json!({
        "code": "OGSMS-T1",
        "kind": "country_office",
        "member_state": "PE",
        "name": {"en": "Office in Peru"},
        "city": "Lima",
        "address": null,
        "contacts": {"email": null, "phone": "+51 1 611 2000", "website": "https://www.oas.org"},
        "opened_on": "1990-05-01"
    });
    let office = create_body(&app, &body).await.json();
    assert_eq!(office["name"], json!({"en": "Office in Peru"}));
    assert_eq!(office["city"], "Lima");
    assert!(office["address"].is_null(), "{office}");
    assert_eq!(
        office["contacts"],
        json!({"email": null, "phone": "+51 1 611 2000", "website": "https://www.oas.org"})
    );

    // Without contacts and address at all.
    let mut body = new_office("OGSMS-T2", "CO");
    body.as_object_mut().unwrap().remove("contacts");
    body.as_object_mut().unwrap().remove("address");
    let office = create_body(&app, &body).await.json();
    assert_eq!(
        office["contacts"],
        json!({"email": null, "phone": null, "website": null})
    );
    assert!(office["address"].is_null());
}

// ---------------------------------------------------------------------------------------
// Validation of new offices
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn invalid_new_offices_are_422_naming_the_field() {
    let app = TestApp::new().await;
    let set = |field: &str, value: Value| {
        let mut o = new_office("OGSMS-T1", "PE");
        o[field] = value;
        o
    };
    let without = |field: &str| {
        let mut o = new_office("OGSMS-T1", "PE");
        o.as_object_mut().unwrap().remove(field);
        o
    };
    let contact = |field: &str, value: &str| {
        let mut o = new_office("OGSMS-T1", "PE");
        o["contacts"][field] = json!(value);
        o
    };
    let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
        // (case, body, field, code)
        (
            "unknown member state",
            set("member_state", json!("XX")),
            "member_state",
            Some("unknown"),
        ),
        (
            "member state not a code",
            set("member_state", json!("Peru")),
            "member_state",
            Some("invalid_format"),
        ),
        (
            "lower-case member state",
            set("member_state", json!("pe")),
            "member_state",
            Some("invalid_format"),
        ),
        (
            "alpha-3 member state",
            set("member_state", json!("PER")),
            "member_state",
            Some("invalid_format"),
        ),
        (
            "empty name value",
            set("name", json!({"en": ""})),
            "name.en",
            Some("empty"),
        ),
        (
            "blank name value",
            set("name", json!({"en": "Office", "es": "   "})),
            "name.es",
            Some("empty"),
        ),
        (
            "empty name",
            set("name", json!({})),
            "name",
            Some("required"),
        ),
        (
            "name too long",
            set("name", json!({"fr": "x".repeat(301)})),
            "name.fr",
            Some("too_long"),
        ),
        (
            "name not an object",
            set("name", json!("Office")),
            "name",
            Some("invalid"),
        ),
        (
            "lower-case code",
            set("code", json!("ogsms-t1")),
            "code",
            Some("invalid_format"),
        ),
        (
            "code too long",
            set("code", json!(format!("OGSMS-{}", "A".repeat(27)))),
            "code",
            Some("invalid_format"),
        ),
        (
            "code too short",
            set("code", json!("O")),
            "code",
            Some("invalid_format"),
        ),
        (
            "code with a space",
            set("code", json!("OGSMS T1")),
            "code",
            Some("invalid_format"),
        ),
        (
            "code starting with a hyphen",
            set("code", json!("-OGSMS")),
            "code",
            Some("invalid_format"),
        ),
        (
            "empty city",
            set("city", json!("  ")),
            "city",
            Some("empty"),
        ),
        (
            "city with a control character",
            set("city", json!("Li\u{7}ma")),
            "city",
            Some("control_characters"),
        ),
        (
            "unknown kind",
            set("kind", json!("embassy")),
            "kind",
            Some("invalid"),
        ),
        (
            "bad email",
            contact("email", "not-an-email"),
            "contacts.email",
            Some("invalid_format"),
        ),
        (
            "email without a domain",
            contact("email", "office@oas"),
            "contacts.email",
            Some("invalid_format"),
        ),
        (
            "bad phone",
            contact("phone", "call me"),
            "contacts.phone",
            Some("invalid_format"),
        ),
        (
            "phone too short",
            contact("phone", "+1 2"),
            "contacts.phone",
            Some("invalid_format"),
        ),
        (
            "website not http",
            contact("website", "ftp://www.oas.org"),
            "contacts.website",
            Some("invalid_format"),
        ),
        (
            "website without a scheme",
            contact("website", "www.oas.org"),
            "contacts.website",
            Some("invalid_format"),
        ),
        ("missing code", without("code"), "code", Some("required")),
        ("missing kind", without("kind"), "kind", Some("required")),
        (
            "missing member state",
            without("member_state"),
            "member_state",
            Some("required"),
        ),
        ("missing name", without("name"), "name", Some("required")),
        ("missing city", without("city"), "city", Some("required")),
        (
            "missing opened_on",
            without("opened_on"),
            "opened_on",
            Some("required"),
        ),
        (
            "unknown field",
            set("fax", json!("+51 1 611 2001")),
            "fax",
            Some("unknown_field"),
        ),
        (
            "unknown field in contacts",
            contact("fax", "+51 1 611 2001"),
            "contacts.fax",
            Some("unknown_field"),
        ),
        (
            "read-only field on create",
            set("status", json!("closed")),
            "status",
            None,
        ),
        (
            "opened_on a number",
            set("opened_on", json!(5)),
            "opened_on",
            Some("invalid"),
        ),
        (
            "opened_on not a date",
            set("opened_on", json!("2020-13-01")),
            "opened_on",
            Some("invalid"),
        ),
        (
            "city a number",
            set("city", json!(5)),
            "city",
            Some("invalid"),
        ),
    ];
    for (case, body, field, code) in cases {
        let res = app.post("/v1/offices", &body).await;
        assert_eq!(res.status, 422, "{case}: {}", res.text());
        let p = res.problem(422, "validation-failed");
        let errors = p["errors"].as_array().unwrap();
        let error = errors
            .iter()
            .find(|e| e["field"] == field)
            .unwrap_or_else(|| panic!("{case}: no error names {field}: {p}"));
        if let Some(code) = code {
            assert_eq!(error["code"], code, "{case}: {p}");
        }
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{case}: {p}"
        );
    }
    // None of them was created.
    assert!(app.collect("/v1/offices").await.is_empty());
}

#[actix_web::test]
async fn an_unknown_language_in_a_localized_text_is_422() {
    let app = TestApp::new().await;
    let mut body = new_office("OGSMS-T1", "PE");
    body["name"] = json!({"de": "Büro"});
    let res = app.post("/v1/offices", &body).await;
    let p = res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["name.de"], "{p}");
    assert_eq!(p["errors"][0]["code"], "unknown_field");
    assert!(app.collect("/v1/offices").await.is_empty());
}

#[actix_web::test]
async fn several_invalid_fields_are_all_reported() {
    let app = TestApp::new().await;
    let mut body = new_office("bad code", "Peru");
    body["name"] = json!({"en": ""});
    body["contacts"]["email"] = json!("nope");
    let res = app.post("/v1/offices", &body).await;
    res.problem(422, "validation-failed");
    let fields: BTreeSet<String> = res.problem_fields().into_iter().collect();
    let expected: BTreeSet<String> = ["code", "member_state", "name.en", "contacts.email"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(fields, expected);
}

#[actix_web::test]
async fn a_duplicate_code_is_409_naming_code() {
    let app = TestApp::new().await;
    create(&app, "OGSMS-T1", "PE").await;
    let res = app.post("/v1/offices", &new_office("OGSMS-T1", "CO")).await;
    let p = res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["code"], "{p}");
    assert_eq!(p["errors"][0]["code"], "duplicate");
    // A code with white space around it is no code at all (nothing is trimmed).
    let res = app
        .post("/v1/offices", &new_office(" OGSMS-T1 ", "CO"))
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(app.collect("/v1/offices").await.len(), 1);
}

#[actix_web::test]
async fn the_demo_coordinating_office_is_the_only_one() {
    let app = TestApp::demo().await;
    let mut body = new_office("OGSMS-COORD2", "US");
    body["kind"] = json!("coordinating_office");
    let res = app.post("/v1/offices", &body).await;
    let p = res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["kind"], "{p}");
    let coordinating = app.collect("/v1/offices?kind=coordinating_office").await;
    assert_eq!(codes(&coordinating), vec!["OGSMS-COORD"]);
}

#[actix_web::test]
async fn at_most_one_coordinating_office() {
    let app = TestApp::new().await;
    let mut first = new_office("OGSMS-COORD", "US");
    first["kind"] = json!("coordinating_office");
    let created = create_body(&app, &first).await.json();
    assert_eq!(created["kind"], "coordinating_office");

    let mut second = new_office("OGSMS-COORD2", "PE");
    second["kind"] = json!("coordinating_office");
    let res = app.post("/v1/offices", &second).await;
    res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["kind"]);
    // Country offices are not limited.
    create(&app, "OGSMS-PE", "PE").await;
    create(&app, "OGSMS-PE2", "PE").await;
}

// ---------------------------------------------------------------------------------------
// PATCH
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn patch_requires_if_match() {
    let app = TestApp::new().await;
    let office = create(&app, "OGSMS-T1", "PE").await;
    let res = app
        .patch(&path_of(&office), None, &json!({"city": "Cusco"}))
        .await;
    res.problem(428, "precondition-required");
    assert_eq!(app.get(&path_of(&office)).await.json(), office);
}

#[actix_web::test]
async fn patch_with_a_stale_or_weak_etag_is_412() {
    let app = TestApp::new().await;
    let office = create(&app, "OGSMS-T1", "PE").await;
    let path = path_of(&office);
    let old = etag(&app, &office).await;
    let res = app
        .patch(&path, Some(&old), &json!({"city": "Cusco"}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let current = res.header("etag").unwrap();

    // The tag read before the change is stale.
    let res = app
        .patch(&path, Some(&old), &json!({"city": "Arequipa"}))
        .await;
    res.problem(412, "precondition-failed");
    // A tag that never was.
    let res = app
        .patch(
            &path,
            Some("\"0123456789abcdef\""),
            &json!({"city": "Arequipa"}),
        )
        .await;
    res.problem(412, "precondition-failed");
    // If-Match compares strongly: a weak tag never matches.
    let res = app
        .patch(
            &path,
            Some(&format!("W/{current}")),
            &json!({"city": "Arequipa"}),
        )
        .await;
    res.problem(412, "precondition-failed");

    let now = app.get(&path).await;
    assert_eq!(now.json()["city"], "Cusco");
    assert_eq!(now.header("etag").as_deref(), Some(current.as_str()));
}

#[actix_web::test]
async fn patch_with_the_current_etag_applies_the_change() {
    let app = TestApp::new().await;
    let office = create(&app, "OGSMS-T1", "PE").await;
    let path = path_of(&office);
    let old = etag(&app, &office).await;
    let res = app
        .patch(
            &path,
            Some(&old),
            &json!({
                "city": "Cusco",
                "name": {"en": "Office in Cusco", "pt": "Escritório em Cusco"},
                "contacts": {"phone": "+51 84 123 456"},
                "opened_on": "1991-01-02"
            }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let new_tag = res.header("etag").expect("an ETag");
    assert_ne!(new_tag, old);
    let body = res.json();
    assert_eq!(body["city"], "Cusco");
    assert_eq!(
        body["name"],
        json!({"en": "Office in Cusco", "pt": "Escritório em Cusco"})
    );
    assert_eq!(body["opened_on"], "1991-01-02");
    // Contacts not named are unchanged.
    assert_eq!(
        body["contacts"],
        json!({"email": "office@oas.org", "phone": "+51 84 123 456", "website": "https://www.oas.org"})
    );
    // Fields not named are unchanged.
    for f in [
        "id",
        "code",
        "kind",
        "member_state",
        "address",
        "status",
        "created_at",
    ] {
        assert_eq!(body[f], office[f], "{f}");
    }
    assert!(
        ts(&body["updated_at"]) > ts(&office["updated_at"]),
        "updated_at advances: {} -> {}",
        office["updated_at"],
        body["updated_at"]
    );

    let got = app.get(&path).await;
    assert_eq!(got.json(), body);
    assert_eq!(got.header("etag").as_deref(), Some(new_tag.as_str()));

    // `*` matches any current representation.
    let res = app.patch(&path, Some("*"), &json!({"city": "Puno"})).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["city"], "Puno");

    // The documented merge-patch media type is accepted.
    let res = app
        .request(
            Method::PATCH,
            &path,
            &[
                ("if-match", "*"),
                ("content-type", "application/merge-patch+json"),
            ],
            Some(&json!({"city": "Tacna"})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["city"], "Tacna");
}

#[actix_web::test]
async fn null_for_a_required_field_is_422_not_ignored() {
    let app = TestApp::new().await;
    let office = create(&app, "OGSMS-T1", "PE").await;
    let path = path_of(&office);
    let tag = etag(&app, &office).await;
    for field in ["code", "name", "city", "contacts", "opened_on"] {
        let res = app.patch(&path, Some(&tag), &json!({ field: null })).await;
        let p = res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec![field], "{p}");
    }
    let got = app.get(&path).await;
    assert_eq!(got.header("etag").as_deref(), Some(tag.as_str()));
}

#[actix_web::test]
async fn patch_null_clears_optional_fields() {
    let app = TestApp::new().await;
    let office = create(&app, "OGSMS-T1", "PE").await;
    assert!(office["address"].is_string());
    let body = patch_ok(
        &app,
        &office,
        &json!({"address": null, "contacts": {"email": null}}),
    )
    .await;
    assert!(body["address"].is_null(), "{body}");
    assert!(body["contacts"]["email"].is_null(), "{body}");
    assert_eq!(body["contacts"]["phone"], office["contacts"]["phone"]);
    assert_eq!(body["contacts"]["website"], office["contacts"]["website"]);
    let got = app.get(&path_of(&office)).await.json();
    assert!(got["address"].is_null());
    assert!(got["contacts"]["email"].is_null());
    // An absent field is left alone.
    let body = patch_ok(&app, &body, &json!({"city": "Cusco"})).await;
    assert!(body["address"].is_null());
    let body = patch_ok(&app, &body, &json!({"address": "Calle 1"})).await;
    assert_eq!(body["address"], "Calle 1");
    assert_eq!(body["city"], "Cusco");
}

#[actix_web::test]
async fn read_only_fields_cannot_be_patched() {
    let app = TestApp::new().await;
    let office = create(&app, "OGSMS-T1", "PE").await;
    let path = path_of(&office);
    let tag = etag(&app, &office).await;
    for (field, value) in [
        ("status", json!("closed")),
        ("kind", json!("coordinating_office")),
        ("member_state", json!("CO")),
        ("id", json!(MISSING_ID)),
        ("closed_on", json!("2020-01-01")),
        ("created_at", json!("2020-01-01T00:00:00Z")),
        ("updated_at", json!("2020-01-01T00:00:00Z")),
    ] {
        // Even with a change that would be valid on its own.
        let res = app
            .patch(&path, Some(&tag), &json!({ field: value, "city": "Cusco" }))
            .await;
        let p = res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec![field], "{p}");
        assert_eq!(p["errors"][0]["code"], "read_only", "{p}");
    }
    // Nothing was applied, not even half.
    let got = app.get(&path).await;
    assert_eq!(got.header("etag").as_deref(), Some(tag.as_str()));
    assert_eq!(got.json(), office);
}

#[actix_web::test]
async fn patch_validates_like_create() {
    let app = TestApp::new().await;
    let office = create(&app, "OGSMS-T1", "PE").await;
    let path = path_of(&office);
    let tag = etag(&app, &office).await;
    for (body, field) in [
        (json!({"name": {"en": ""}}), "name.en"),
        (json!({"name": {}}), "name"),
        (json!({"name": {"de": "Büro"}}), "name.de"),
        (json!({"code": "lower"}), "code"),
        (json!({"city": ""}), "city"),
        (json!({"contacts": {"email": "nope"}}), "contacts.email"),
        (
            json!({"contacts": {"website": "oas.org"}}),
            "contacts.website",
        ),
        (json!({"opened_on": 5}), "opened_on"),
        (json!({"frobnicate": true}), "frobnicate"),
    ] {
        let res = app.patch(&path, Some(&tag), &body).await;
        let p = res.problem(422, "validation-failed");
        assert!(
            res.problem_fields().iter().any(|f| f == field),
            "{body}: {p}"
        );
    }
    let got = app.get(&path).await;
    assert_eq!(got.header("etag").as_deref(), Some(tag.as_str()));
}

#[actix_web::test]
async fn patch_of_a_missing_office_is_404_not_428() {
    let app = TestApp::demo().await;
    let path = format!("/v1/offices/{MISSING_ID}");
    app.patch(&path, None, &json!({"city": "Cusco"}))
        .await
        .problem(404, "not-found");
    app.patch(&path, Some("*"), &json!({"city": "Cusco"}))
        .await
        .problem(404, "not-found");
}

#[actix_web::test]
async fn patch_to_another_offices_code_is_409() {
    let app = TestApp::new().await;
    create(&app, "OGSMS-T1", "PE").await;
    let other = create(&app, "OGSMS-T2", "PE").await;
    let tag = etag(&app, &other).await;
    let res = app
        .patch(&path_of(&other), Some(&tag), &json!({"code": "OGSMS-T1"}))
        .await;
    let p = res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["code"], "{p}");
    assert_eq!(app.get(&path_of(&other)).await.json()["code"], "OGSMS-T2");
    // Its own code is not a conflict.
    let body = patch_ok(&app, &other, &json!({"code": "OGSMS-T2", "city": "Cusco"})).await;
    assert_eq!(body["code"], "OGSMS-T2");
}

#[actix_web::test]
async fn concurrent_patches_with_the_same_etag_one_wins() {
    let app = TestApp::new().await;
    let office = create(&app, "OGSMS-T1", "PE").await;
    let path = path_of(&office);
    let (app_ref, path_ref) = (&app, &path);
    // Warm up the client's and the service's connections, so the PATCHes below arrive
    // together rather than staggered by connection set-up.
    let warm = futures_util::future::join_all((0..10).map(|_| app_ref.get(path_ref))).await;
    assert!(warm.iter().all(|r| r.status == 200));

    for round in 0..3 {
        let tag = etag(&app, &office).await;
        let tag_ref = &tag;
        let results = futures_util::future::join_all((0..10).map(|i| async move {
            let body = json!({ "city": format!("City {round}-{i}") });
            let res = app_ref.patch(path_ref, Some(tag_ref), &body).await;
            (i, res)
        }))
        .await;
        let winners: Vec<&(i32, Resp)> = results.iter().filter(|(_, r)| r.status == 200).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}, statuses: {:?}",
            results.iter().map(|(_, r)| r.status).collect::<Vec<_>>()
        );
        for (_, res) in results.iter().filter(|(_, r)| r.status != 200) {
            res.problem(412, "precondition-failed");
        }
        let (i, winner) = winners[0];
        let got = app.get(&path).await;
        assert_eq!(got.json()["city"], format!("City {round}-{i}"));
        assert_eq!(got.header("etag"), winner.header("etag"));
    }
}

// ---------------------------------------------------------------------------------------
// Closing
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn closing_an_office() {
    let app = TestApp::new().await;
    let office = create(&app, "OGSMS-T1", "PE").await;
    let open_tag = etag(&app, &office).await;
    let res = close(&app, &office, "2020-12-31", &[]).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let closed_tag = res.header("etag").expect("an ETag");
    assert_ne!(closed_tag, open_tag);
    let body = res.json();
    assert_eq!(body["status"], "closed");
    assert_eq!(body["closed_on"], "2020-12-31");
    assert!(ts(&body["updated_at"]) > ts(&office["updated_at"]));
    for f in [
        "id",
        "code",
        "kind",
        "member_state",
        "name",
        "city",
        "opened_on",
    ] {
        assert_eq!(body[f], office[f], "{f}");
    }

    // Closed, not deleted.
    let got = app.get(&path_of(&office)).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), body);
    assert_eq!(got.header("etag").as_deref(), Some(closed_tag.as_str()));

    // Closing again is a conflict with the office's state.
    let res = close(&app, &office, "2021-01-31", &[]).await;
    res.problem(409, "invalid-state");
    assert_eq!(
        app.get(&path_of(&office)).await.json()["closed_on"],
        "2020-12-31"
    );
}

#[actix_web::test]
async fn closed_offices_are_found_by_status() {
    let app = TestApp::new().await;
    let a = create(&app, "OGSMS-T1", "PE").await;
    create(&app, "OGSMS-T2", "PE").await;
    create(&app, "OGSMS-T3", "CO").await;
    let res = close(&app, &a, "2020-12-31", &[]).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let closed = app.collect("/v1/offices?status=closed").await;
    assert_eq!(codes(&closed), vec!["OGSMS-T1"]);
    assert_eq!(closed[0]["status"], "closed");
    let open = app.collect("/v1/offices?status=open").await;
    assert_eq!(codes(&open), vec!["OGSMS-T2", "OGSMS-T3"]);
    assert_eq!(app.collect("/v1/offices").await.len(), 3);
}

#[actix_web::test]
async fn the_closing_date_is_validated() {
    let app = TestApp::new().await;
    let office = create(&app, "OGSMS-T1", "PE").await; // opened 1990-05-01
    let before = close(&app, &office, "1990-04-30", &[]).await;
    let p = before.problem(422, "validation-failed");
    assert_eq!(before.problem_fields(), vec!["closed_on"], "{p}");
    assert_eq!(p["errors"][0]["code"], "before_opened_on");

    let future_day = (Utc::now().date_naive() + Duration::days(2)).to_string();
    let future = close(&app, &office, &future_day, &[]).await;
    let p = future.problem(422, "validation-failed");
    assert_eq!(future.problem_fields(), vec!["closed_on"], "{p}");
    assert_eq!(p["errors"][0]["code"], "in_future");

    for body in [
        json!({}),
        json!({"closed_on": "yesterday"}),
        json!({"closed_on": "2020-01-01", "reason": "x"}),
    ] {
        let res = app
            .post(&format!("{}/close", path_of(&office)), &body)
            .await;
        res.problem(422, "validation-failed");
    }

    // Still open.
    let got = app.get(&path_of(&office)).await.json();
    assert_eq!(got["status"], "open");
    assert!(got["closed_on"].is_null());

    // The opening day itself and today are allowed.
    let same_day = create(&app, "OGSMS-T2", "PE").await;
    let res = close(&app, &same_day, "1990-05-01", &[]).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let today = Utc::now().date_naive().to_string();
    let res = close(&app, &office, &today, &[]).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["closed_on"], today);
}

#[actix_web::test]
async fn close_honours_if_match() {
    let app = TestApp::new().await;
    let office = create(&app, "OGSMS-T1", "PE").await;
    let stale = etag(&app, &office).await;
    patch_ok(&app, &office, &json!({"city": "Cusco"})).await;
    let res = close(&app, &office, "2020-12-31", &[("if-match", &stale)]).await;
    res.problem(412, "precondition-failed");
    assert_eq!(app.get(&path_of(&office)).await.json()["status"], "open");
    // A header that names no tag at all matches nothing: 412, not 428 (absent).
    for empty in [",", " , ,"] {
        let res = close(&app, &office, "2020-12-31", &[("if-match", empty)]).await;
        res.problem(412, "precondition-failed");
    }

    let current = etag(&app, &office).await;
    let res = close(&app, &office, "2020-12-31", &[("if-match", &current)]).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "closed");
}

#[actix_web::test]
async fn closing_a_missing_office_is_404() {
    let app = TestApp::new().await;
    let res = app
        .post(
            &format!("/v1/offices/{MISSING_ID}/close"),
            &json!({"closed_on": "2020-12-31"}),
        )
        .await;
    res.problem(404, "not-found");
}

#[actix_web::test]
async fn patching_opened_on_past_the_closing_date_is_422() {
    let app = TestApp::new().await;
    let office = create(&app, "OGSMS-T1", "PE").await;
    let res = close(&app, &office, "2000-01-31", &[]).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let tag = res.header("etag").unwrap();
    // opened_on after closed_on would break the office's history.
    let res = app
        .patch(
            &path_of(&office),
            Some(&tag),
            &json!({"opened_on": "2001-01-01"}),
        )
        .await;
    let p = res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["closed_on"], "{p}");
    // A change that keeps the order is fine.
    let res = app
        .patch(
            &path_of(&office),
            Some(&tag),
            &json!({"opened_on": "1999-01-01"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "closed");
}

// ---------------------------------------------------------------------------------------
// Lists: filters
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn the_demo_data_lists_29_offices() {
    let app = TestApp::demo().await;
    let all = app.collect("/v1/offices?limit=8").await;
    assert_eq!(all.len(), 29);
    let unique: HashSet<String> = codes(&all).into_iter().collect();
    assert_eq!(unique.len(), 29);
    for o in &all {
        let code = o["code"].as_str().unwrap();
        if o["kind"] == "country_office" {
            assert_eq!(
                code,
                format!("OGSMS-{}", o["member_state"].as_str().unwrap())
            );
        } else {
            assert_eq!(code, "OGSMS-COORD");
        }
        assert_eq!(o["status"], "open");
    }
}

#[actix_web::test]
async fn filter_by_member_state() {
    let app = TestApp::demo().await;
    let pe = app.collect("/v1/offices?member_state=PE").await;
    assert_eq!(codes(&pe), vec!["OGSMS-PE"]);
    let several = app.collect("/v1/offices?member_state=PE,CO,US").await;
    assert_eq!(
        sorted(codes(&several)),
        vec!["OGSMS-CO", "OGSMS-COORD", "OGSMS-PE"]
    );
    // Codes are case-insensitive in the filter, and spaces around commas are ignored.
    let lower = app.collect("/v1/offices?member_state=pe,%20co").await;
    assert_eq!(sorted(codes(&lower)), vec!["OGSMS-CO", "OGSMS-PE"]);
    // A member state without office.
    assert!(app.collect("/v1/offices?member_state=CA").await.is_empty());
    // Every item matches the filter.
    for o in &several {
        assert!(["PE", "CO", "US"].contains(&o["member_state"].as_str().unwrap()));
    }
}

#[actix_web::test]
async fn filter_by_kind_and_status() {
    let app = TestApp::demo().await;
    let coord = app.collect("/v1/offices?kind=coordinating_office").await;
    assert_eq!(codes(&coord), vec!["OGSMS-COORD"]);
    let country = app.collect("/v1/offices?kind=country_office").await;
    assert_eq!(country.len(), 28);
    assert!(country.iter().all(|o| o["kind"] == "country_office"));
    let both = app
        .collect("/v1/offices?kind=country_office,coordinating_office")
        .await;
    assert_eq!(both.len(), 29);

    let pe = app.collect("/v1/offices?member_state=PE").await.remove(0);
    let res = close(&app, &pe, "2020-12-31", &[]).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let closed = app.collect("/v1/offices?status=closed").await;
    assert_eq!(codes(&closed), vec!["OGSMS-PE"]);
    let open = app.collect("/v1/offices?status=open").await;
    assert_eq!(open.len(), 28);
    assert!(!codes(&open).contains(&"OGSMS-PE".to_owned()));
    assert_eq!(
        app.collect("/v1/offices?status=open,closed").await.len(),
        29
    );
    // Filters combine.
    assert!(
        app.collect("/v1/offices?status=closed&kind=coordinating_office")
            .await
            .is_empty()
    );
    let closed_pe = app
        .collect("/v1/offices?status=closed&member_state=PE,CO")
        .await;
    assert_eq!(codes(&closed_pe), vec!["OGSMS-PE"]);
}

#[actix_web::test]
async fn filter_by_updated_since() {
    let app = TestApp::new().await;
    let mut offices = Vec::new();
    for i in 1..=4 {
        offices.push(create(&app, &format!("OGSMS-T{i}"), "PE").await);
    }
    let patched = patch_ok(&app, &offices[1], &json!({"city": "Cusco"})).await;
    let since = ts(&patched["updated_at"]);
    assert!(since > ts(&offices[3]["updated_at"]));

    let z = since.to_rfc3339_opts(SecondsFormat::Micros, true);
    let found = app.collect(&format!("/v1/offices?updated_since={z}")).await;
    assert_eq!(codes(&found), vec!["OGSMS-T2"]);

    // The same instant with an offset ('+' encoded).
    let offset = since
        .to_rfc3339_opts(SecondsFormat::Micros, false)
        .replace('+', "%2B");
    let found = app
        .collect(&format!("/v1/offices?updated_since={offset}"))
        .await;
    assert_eq!(codes(&found), vec!["OGSMS-T2"]);

    // A microsecond later, nothing.
    let later = (since + Duration::microseconds(1)).to_rfc3339_opts(SecondsFormat::Micros, true);
    assert!(
        app.collect(&format!("/v1/offices?updated_since={later}"))
            .await
            .is_empty()
    );
    // Since the first creation: all of them.
    let first = ts(&offices[0]["updated_at"]).to_rfc3339_opts(SecondsFormat::Micros, true);
    let all = app
        .collect(&format!("/v1/offices?updated_since={first}"))
        .await;
    assert_eq!(all.len(), 4);
}

// ---------------------------------------------------------------------------------------
// Lists: sorting
// ---------------------------------------------------------------------------------------

/// A sortable key of `item` for the list's sort `field`, the id breaking ties.
fn sort_key(item: &Value, field: &str) -> (String, String) {
    let value = match field {
        "created_at" | "updated_at" => ts(&item[field]).format("%Y-%m-%dT%H:%M:%S%.9f").to_string(),
        _ => item[field].as_str().unwrap().to_owned(),
    };
    (value, item["id"].as_str().unwrap().to_owned())
}

#[actix_web::test]
async fn lists_sort_by_each_field_in_both_directions() {
    let app = TestApp::demo().await;
    // Offices opened on the same day (ties broken by id).
    for code in ["OGSMS-X3", "OGSMS-X1", "OGSMS-X2"] {
        create(&app, code, "PE").await;
    }
    // Changes in an order of their own, so updated_at and created_at orders differ.
    let all = app.collect("/v1/offices?limit=100").await;
    let by_code: HashMap<String, Value> = all
        .iter()
        .map(|o| (o["code"].as_str().unwrap().to_owned(), o.clone()))
        .collect();
    for code in ["OGSMS-UY", "OGSMS-AG", "OGSMS-X1", "OGSMS-PE"] {
        patch_ok(&app, &by_code[code], &json!({"city": "Elsewhere"})).await;
    }
    let total = all.len();
    assert_eq!(total, 32);

    let mut orders = HashMap::new();
    for field in ["code", "opened_on", "created_at", "updated_at"] {
        for desc in [false, true] {
            let sort = if desc {
                format!("-{field}")
            } else {
                field.to_owned()
            };
            let items = app
                .collect(&format!("/v1/offices?sort={sort}&limit=5"))
                .await;
            assert_eq!(items.len(), total, "{sort}");
            let got: Vec<(String, String)> = items.iter().map(|o| sort_key(o, field)).collect();
            let mut expected = got.clone();
            expected.sort();
            if desc {
                expected.reverse();
            }
            assert_eq!(got, expected, "sort={sort}");
            let unique: HashSet<&String> = got.iter().map(|(_, id)| id).collect();
            assert_eq!(unique.len(), total, "{sort}: every office once");
            orders.insert(sort, codes(&items));
        }
    }
    // The sorts are distinct orders of the same offices.
    assert_ne!(orders["code"], orders["opened_on"]);
    assert_ne!(orders["created_at"], orders["updated_at"]);
    assert_ne!(orders["code"], orders["created_at"]);
    // The patched offices come last by updated_at, in the order they were changed.
    assert_eq!(
        orders["updated_at"][total - 4..],
        ["OGSMS-UY", "OGSMS-AG", "OGSMS-X1", "OGSMS-PE"]
    );
    // The default order is by code.
    assert_eq!(
        codes(&app.collect("/v1/offices?limit=7").await),
        orders["code"]
    );
    // `+` (encoded) means ascending too.
    assert_eq!(
        codes(&app.collect("/v1/offices?sort=%2Bcode&limit=7").await),
        orders["code"]
    );
}

// ---------------------------------------------------------------------------------------
// Lists: pagination
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn pages_of_50_by_default_with_a_link_to_the_next() {
    let app = TestApp::new().await;
    let mut created = Vec::new();
    for i in 0..53 {
        let code = format!("OGSMS-P{i:02}");
        create(&app, &code, "PE").await;
        created.push(code);
    }
    let res = app.get("/v1/offices").await;
    assert_eq!(res.status, 200);
    let page = res.json();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    assert_eq!(codes(items), created[..50]);
    let cursor = page["next_cursor"].as_str().expect("a next cursor");
    let link = res.header("link").expect("a Link header");
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    let next = next_link(&res).unwrap();
    assert!(
        next.starts_with(&format!("{}/v1/offices?", app.base)),
        "absolute URL of the list: {next}"
    );
    assert!(next.contains("cursor="), "{next}");

    // The Link URL fetches the next, last page.
    let res = app.get(&next).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let last = res.json();
    assert_eq!(codes(last["items"].as_array().unwrap()), created[50..]);
    assert!(last["next_cursor"].is_null(), "{last}");
    assert!(res.header("link").is_none());

    // So does the body's cursor.
    let res = app.get(&format!("/v1/offices?cursor={cursor}")).await;
    assert_eq!(res.json(), last);

    // An explicit limit.
    let res = app.get("/v1/offices?limit=10").await;
    assert_eq!(res.json()["items"].as_array().unwrap().len(), 10);
    // A page exactly as large as the rest: no next page.
    let res = app.get("/v1/offices?limit=53").await;
    assert_eq!(res.json()["items"].as_array().unwrap().len(), 53);
    assert!(res.json()["next_cursor"].is_null());
    assert!(res.header("link").is_none());
}

#[actix_web::test]
async fn paging_a_filtered_list_returns_exactly_the_filtered_set() {
    let app = TestApp::new().await;
    let mut expected = Vec::new();
    for i in 0..5 {
        let code = format!("OGSMS-PE{i}");
        create(&app, &code, "PE").await;
        expected.push(code);
        create(&app, &format!("OGSMS-CO{i}"), "CO").await;
        create(&app, &format!("OGSMS-MX{i}"), "MX").await;
    }
    let items = app.collect("/v1/offices?member_state=PE&limit=2").await;
    assert_eq!(codes(&items), expected);

    // Following the Link header keeps the filter (and the sort).
    let items = follow_links(&app, "/v1/offices?member_state=PE&limit=2&sort=-code").await;
    let mut desc = expected.clone();
    desc.reverse();
    assert_eq!(codes(&items), desc);

    let items = follow_links(&app, "/v1/offices?member_state=PE,MX&limit=3").await;
    assert_eq!(items.len(), 10);
    assert!(items.iter().all(|o| o["member_state"] != "CO"));
    assert_eq!(codes(&items), sorted(codes(&items)));
}

#[actix_web::test]
async fn paging_while_offices_are_added_misses_and_repeats_nothing() {
    let app = TestApp::new().await;
    let mut initial = BTreeSet::new();
    for i in 0..30 {
        let code = format!("OGSMS-M{i:02}");
        create(&app, &code, "PE").await;
        initial.insert(code);
    }

    let mut seen: Vec<String> = Vec::new();
    let mut added_after_cursor = Vec::new();
    let mut added_before_cursor = Vec::new();
    let mut url = "/v1/offices?limit=7&sort=code".to_owned();
    let mut page = 0;
    loop {
        let res = app.get(&url).await;
        assert_eq!(res.status, 200, "{url}: {}", res.text());
        let body = res.json();
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 7);
        seen.extend(codes(items));
        let Some(cursor) = body["next_cursor"].as_str() else {
            break;
        };
        page += 1;
        assert!(page < 20, "paging does not end");
        let last = seen.last().unwrap().clone();
        // Before everything seen so far, right after the cursor, and at the end.
        for code in [
            format!("OGSMS-A{page:02}"),
            format!("{last}-B"),
            format!("OGSMS-Z{page:02}"),
        ] {
            create(&app, &code, "CO").await;
            if code < last {
                added_before_cursor.push(code);
            } else {
                added_after_cursor.push(code);
            }
        }
        url = format!("/v1/offices?limit=7&sort=code&cursor={cursor}");
    }
    assert!(page >= 4, "several pages: {page}");

    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an office came twice: {seen:?}");
    for code in &initial {
        assert_eq!(
            seen.iter().filter(|c| *c == code).count(),
            1,
            "{code} seen exactly once: {seen:?}"
        );
    }
    // Offices added after the position reached are on the pages still to come.
    for code in &added_after_cursor {
        assert!(seen.contains(code), "{code} missing: {seen:?}");
    }
    for code in &added_before_cursor {
        assert!(!seen.contains(code), "{code} before the cursor: {seen:?}");
    }
    assert_eq!(seen, sorted(seen.clone()), "in code order");
}
