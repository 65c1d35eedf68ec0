//! Departments: Secretariats and the Departments within them, their parent rules,
//! conditional updates, and the list's filters and sorts.

use std::collections::HashSet;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use ogsms::seed::demo_id;
use serde_json::{Value, json};

use crate::common::{Resp, TestApp};

const MISSING_ID: &str = "0193a6f0-0000-7000-8000-000000000000";

fn secretariat(code: &str) -> Value {
    json!({
        "code": code,
        "kind": "secretariat",
        "name": {"en": format!("Secretariat {code}"), "es": format!("Secretaría {code}")}
    })
}

fn department(code: &str, parent_id: &str) -> Value {
    json!({
        "code": code,
        "kind": "department",
        "parent_id": parent_id,
        "name": {"en": format!("Department {code}")}
    })
}

/// The id of a demo department or Secretariat.
fn demo(code: &str) -> String {
    demo_id("department", code).to_string()
}

async fn create_body(app: &TestApp, body: &Value) -> Resp {
    let res = app.post("/v1/departments", body).await;
    assert_eq!(res.status, 201, "creating {}: {}", body["code"], res.text());
    res
}

async fn create(app: &TestApp, body: &Value) -> Value {
    create_body(app, body).await.json()
}

fn id(d: &Value) -> String {
    d["id"].as_str().unwrap().to_owned()
}

fn path_of(d: &Value) -> String {
    format!("/v1/departments/{}", id(d))
}

async fn etag(app: &TestApp, d: &Value) -> String {
    let res = app.get(&path_of(d)).await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.header("etag").expect("an ETag")
}

async fn patch_ok(app: &TestApp, d: &Value, body: &Value) -> Value {
    let tag = etag(app, d).await;
    let res = app.patch(&path_of(d), Some(&tag), body).await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()
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
        .map(|d| d["code"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn count(app: &TestApp) -> usize {
    app.collect("/v1/departments?limit=100").await.len()
}

#[actix_web::test]
async fn create_a_secretariat_and_a_department_in_it() {
    let app = TestApp::new().await;
    let res = create_body(&app, &secretariat("SX")).await;
    let sec = res.json();
    let sec_tag = res.header("etag").expect("an ETag");
    assert_eq!(
        res.header("location").as_deref(),
        Some(path_of(&sec).as_str())
    );
    assert_eq!(sec["code"], "SX");
    assert_eq!(sec["kind"], "secretariat");
    assert!(sec["parent_id"].is_null(), "{sec}");
    assert_eq!(sec["status"], "active");
    assert_eq!(
        sec["name"],
        json!({"en": "Secretariat SX", "es": "Secretaría SX"})
    );
    assert!(ts(&sec["updated_at"]) >= ts(&sec["created_at"]));

    let res = create_body(&app, &department("DX", &id(&sec))).await;
    let dep = res.json();
    assert_eq!(
        res.header("location").as_deref(),
        Some(path_of(&dep).as_str())
    );
    assert_eq!(dep["kind"], "department");
    assert_eq!(dep["parent_id"], sec["id"]);
    assert_eq!(dep["status"], "active");

    // GET: the same representation and ETag; If-None-Match.
    let got = app.get(&path_of(&sec)).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), sec);
    assert_eq!(got.header("etag").as_deref(), Some(sec_tag.as_str()));
    let res = app
        .get_with(&path_of(&sec), &[("if-none-match", &sec_tag)])
        .await;
    assert_eq!(res.status, 304);
    let res = app
        .get_with(&path_of(&sec), &[("if-none-match", "\"other\"")])
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(app.get(&path_of(&dep)).await.json(), dep);
}

#[actix_web::test]
async fn get_of_an_unknown_department_is_404() {
    let app = TestApp::demo().await;
    app.get(&format!("/v1/departments/{MISSING_ID}"))
        .await
        .problem(404, "not-found");
    // A demo office's id is not a department's.
    app.get(&format!(
        "/v1/departments/{}",
        demo_id("office", "OGSMS-PE")
    ))
    .await
    .problem(404, "not-found");
}

#[actix_web::test]
async fn the_parent_rules_are_enforced_on_create() {
    let app = TestApp::demo().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "department without parent",
            json!({"code": "DX", "kind": "department", "name": {"en": "X"}}),
            "required",
        ),
        (
            "department with a null parent",
            json!({"code": "DX", "kind": "department", "parent_id": null, "name": {"en": "X"}}),
            "required",
        ),
        (
            "secretariat with a parent",
            json!({"code": "SX", "kind": "secretariat", "parent_id": demo("SSD"), "name": {"en": "X"}}),
            "not_allowed",
        ),
        (
            "parent is a department",
            department("DX", &demo("DECO")),
            "not_a_secretariat",
        ),
        ("unknown parent", department("DX", MISSING_ID), "unknown"),
        ("parent not a uuid", department("DX", "SSD"), "invalid"),
    ];
    for (case, body, code) in cases {
        let res = app.post("/v1/departments", &body).await;
        assert_eq!(res.status, 422, "{case}: {}", res.text());
        let p = res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec!["parent_id"], "{case}: {p}");
        assert_eq!(p["errors"][0]["code"], code, "{case}: {p}");
    }
    assert_eq!(count(&app).await, 27);
    // The valid form of the same.
    let dep = create(&app, &department("DX", &demo("SSD"))).await;
    assert_eq!(dep["parent_id"], demo("SSD"));
}

#[actix_web::test]
async fn a_department_cannot_join_an_inactive_secretariat() {
    let app = TestApp::new().await;
    let sec = create(&app, &secretariat("SX")).await;
    let other = create(&app, &secretariat("SY")).await;
    let dep = create(&app, &department("DY", &id(&other))).await;
    patch_ok(&app, &sec, &json!({"status": "inactive"})).await;

    let res = app
        .post("/v1/departments", &department("DX", &id(&sec)))
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["parent_id"]);

    let tag = etag(&app, &dep).await;
    let res = app
        .patch(&path_of(&dep), Some(&tag), &json!({"parent_id": id(&sec)}))
        .await;
    res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["parent_id"]);
    assert_eq!(
        app.get(&path_of(&dep)).await.json()["parent_id"],
        other["id"]
    );

    // A department already in a Secretariat that becomes inactive stays editable.
    patch_ok(&app, &other, &json!({"status": "inactive"})).await;
    let renamed = patch_ok(&app, &dep, &json!({"name": {"en": "Renamed"}})).await;
    assert_eq!(renamed["name"], json!({"en": "Renamed"}));
    assert_eq!(renamed["parent_id"], other["id"]);
    // Reactivated, the Secretariat takes departments again.
    patch_ok(&app, &sec, &json!({"status": "active"})).await;
    let dx = create(&app, &department("DX", &id(&sec))).await;
    assert_eq!(dx["parent_id"], sec["id"]);
}

#[actix_web::test]
async fn code_name_and_kind_are_validated() {
    let app = TestApp::new().await;
    let set = |field: &str, value: Value| {
        let mut d = secretariat("SX");
        d[field] = value;
        d
    };
    let without = |field: &str| {
        let mut d = secretariat("SX");
        d.as_object_mut().unwrap().remove(field);
        d
    };
    for (case, body, field, code) in [
        (
            "lower-case code",
            set("code", json!("sx")),
            "code",
            "invalid_format",
        ),
        (
            "code too long",
            set("code", json!("A".repeat(17))),
            "code",
            "invalid_format",
        ),
        (
            "code too short",
            set("code", json!("S")),
            "code",
            "invalid_format",
        ),
        (
            "code with a dot",
            set("code", json!("S.X")),
            "code",
            "invalid_format",
        ),
        ("empty name", set("name", json!({})), "name", "required"),
        (
            "blank name value",
            set("name", json!({"en": " "})),
            "name.en",
            "empty",
        ),
        (
            "unknown language",
            set("name", json!({"it": "Segretariato"})),
            "name.it",
            "unknown_field",
        ),
        (
            "unknown kind",
            set("kind", json!("division")),
            "kind",
            "invalid",
        ),
        ("missing code", without("code"), "code", "required"),
        ("missing kind", without("kind"), "kind", "required"),
        ("missing name", without("name"), "name", "required"),
        (
            "unknown field",
            set("status", json!("inactive")),
            "status",
            "unknown_field",
        ),
    ] {
        let res = app.post("/v1/departments", &body).await;
        assert_eq!(res.status, 422, "{case}: {}", res.text());
        let p = res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec![field], "{case}: {p}");
        assert_eq!(p["errors"][0]["code"], code, "{case}: {p}");
    }
    assert_eq!(count(&app).await, 0);
    // At most 16 characters is fine; white space around the code is not (nothing is
    // trimmed).
    let res = app
        .post(
            "/v1/departments",
            &set("code", json!(format!(" {} ", "A".repeat(16)))),
        )
        .await;
    assert_eq!(res.problem_fields(), vec!["code"], "{}", res.text());
    let d = create(&app, &set("code", json!("A".repeat(16)))).await;
    assert_eq!(d["code"], "A".repeat(16));
}

#[actix_web::test]
async fn a_duplicate_code_is_409_naming_code() {
    let app = TestApp::demo().await;
    let res = app
        .post("/v1/departments", &department("DECO", &demo("SSD")))
        .await;
    let p = res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["code"], "{p}");
    let res = app.post("/v1/departments", &secretariat("SSD")).await;
    res.problem(409, "duplicate");
    assert_eq!(count(&app).await, 27);
}

#[actix_web::test]
async fn patch_requires_the_current_etag() {
    let app = TestApp::demo().await;
    let deco = app.get(&format!("/v1/departments/{}", demo("DECO"))).await;
    let old_tag = deco.header("etag").unwrap();
    let deco = deco.json();
    let path = path_of(&deco);

    let res = app
        .patch(
            &path,
            None,
            &json!({"name": {"en": "Electoral Cooperation"}}),
        )
        .await;
    res.problem(428, "precondition-required");

    let res = app
        .patch(
            &path,
            Some(&old_tag),
            &json!({"name": {"en": "Electoral Cooperation"}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let new_tag = res.header("etag").unwrap();
    assert_ne!(new_tag, old_tag);
    let body = res.json();
    assert_eq!(body["name"], json!({"en": "Electoral Cooperation"}));
    for f in ["id", "code", "kind", "parent_id", "status", "created_at"] {
        assert_eq!(body[f], deco[f], "{f}");
    }
    assert!(ts(&body["updated_at"]) > ts(&deco["updated_at"]));
    let got = app.get(&path).await;
    assert_eq!(got.json(), body);
    assert_eq!(got.header("etag").as_deref(), Some(new_tag.as_str()));

    // The tag read before the change is stale.
    let res = app
        .patch(&path, Some(&old_tag), &json!({"code": "DECO2"}))
        .await;
    res.problem(412, "precondition-failed");
    let res = app
        .patch(
            &path,
            Some(&format!("W/{new_tag}")),
            &json!({"code": "DECO2"}),
        )
        .await;
    res.problem(412, "precondition-failed");
    assert_eq!(app.get(&path).await.json()["code"], "DECO");
}

#[actix_web::test]
async fn null_for_a_required_field_is_422_not_ignored() {
    let app = TestApp::demo().await;
    let deco = app.get(&format!("/v1/departments/{}", demo("DECO"))).await;
    let tag = deco.header("etag").unwrap();
    let path = path_of(&deco.json());
    for field in ["code", "name", "status"] {
        let res = app.patch(&path, Some(&tag), &json!({ field: null })).await;
        let p = res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec![field], "{p}");
    }
    let got = app.get(&path).await;
    assert_eq!(got.header("etag").as_deref(), Some(tag.as_str()));
}

#[actix_web::test]
async fn patch_of_a_missing_department_is_404() {
    let app = TestApp::demo().await;
    let path = format!("/v1/departments/{MISSING_ID}");
    app.patch(&path, None, &json!({"code": "X1"}))
        .await
        .problem(404, "not-found");
    app.patch(&path, Some("*"), &json!({"code": "X1"}))
        .await
        .problem(404, "not-found");
}

#[actix_web::test]
async fn status_changes_to_inactive_and_back() {
    let app = TestApp::demo().await;
    let dps = app
        .get(&format!("/v1/departments/{}", demo("DPS")))
        .await
        .json();
    let body = patch_ok(&app, &dps, &json!({"status": "inactive"})).await;
    assert_eq!(body["status"], "inactive");
    assert_eq!(app.get(&path_of(&dps)).await.json()["status"], "inactive");

    let inactive = app.collect("/v1/departments?status=inactive").await;
    assert_eq!(codes(&inactive), vec!["DPS"]);
    let active = app.collect("/v1/departments?status=active").await;
    assert_eq!(active.len(), 26);
    assert!(!codes(&active).contains(&"DPS".to_owned()));
    assert_eq!(
        app.collect("/v1/departments?status=active,inactive")
            .await
            .len(),
        27
    );

    let res = app
        .patch(
            &path_of(&dps),
            Some(&etag(&app, &dps).await),
            &json!({"status": "closed"}),
        )
        .await;
    let p = res.problem(422, "validation-failed");
    assert_eq!(res.problem_fields(), vec!["status"], "{p}");

    let body = patch_ok(&app, &dps, &json!({"status": "active"})).await;
    assert_eq!(body["status"], "active");
    assert!(
        app.collect("/v1/departments?status=inactive")
            .await
            .is_empty()
    );
}

#[actix_web::test]
async fn read_only_fields_cannot_be_patched() {
    let app = TestApp::demo().await;
    let deco = app.get(&format!("/v1/departments/{}", demo("DECO"))).await;
    let tag = deco.header("etag").unwrap();
    let deco = deco.json();
    for (field, value) in [
        ("kind", json!("secretariat")),
        ("id", json!(MISSING_ID)),
        ("created_at", json!("2020-01-01T00:00:00Z")),
        ("updated_at", json!("2020-01-01T00:00:00Z")),
    ] {
        let res = app
            .patch(
                &path_of(&deco),
                Some(&tag),
                &json!({ field: value, "code": "DECO2" }),
            )
            .await;
        let p = res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec![field], "{p}");
        assert_eq!(p["errors"][0]["code"], "read_only", "{p}");
    }
    let got = app.get(&path_of(&deco)).await;
    assert_eq!(got.header("etag").as_deref(), Some(tag.as_str()));
    assert_eq!(got.json(), deco);
}

#[actix_web::test]
async fn the_parent_rules_are_enforced_on_patch() {
    let app = TestApp::demo().await;
    let deco = app
        .get(&format!("/v1/departments/{}", demo("DECO")))
        .await
        .json();
    let ssd = app
        .get(&format!("/v1/departments/{}", demo("SSD")))
        .await
        .json();
    for (target, body, code) in [
        (&deco, json!({"parent_id": null}), "required"),
        (
            &deco,
            json!({"parent_id": demo("DSDSM")}),
            "not_a_secretariat",
        ),
        (&deco, json!({"parent_id": id(&deco)}), "not_a_secretariat"),
        (&deco, json!({"parent_id": MISSING_ID}), "unknown"),
        (&ssd, json!({"parent_id": demo("SMS")}), "not_allowed"),
    ] {
        let tag = etag(&app, target).await;
        let res = app.patch(&path_of(target), Some(&tag), &body).await;
        let p = res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec!["parent_id"], "{body}: {p}");
        assert_eq!(p["errors"][0]["code"], code, "{body}: {p}");
    }
    assert_eq!(app.get(&path_of(&deco)).await.json(), deco);

    // Moving a Department to another Secretariat.
    let moved = patch_ok(&app, &deco, &json!({"parent_id": demo("SLA")})).await;
    assert_eq!(moved["parent_id"], demo("SLA"));
    let sla = app
        .collect(&format!("/v1/departments?parent_id={}", demo("SLA")))
        .await;
    assert_eq!(sorted(codes(&sla)), vec!["DECO", "DIL", "DLC", "DLS"]);
}

#[actix_web::test]
async fn patch_to_a_taken_code_is_409() {
    let app = TestApp::demo().await;
    let deco = app
        .get(&format!("/v1/departments/{}", demo("DECO")))
        .await
        .json();
    let tag = etag(&app, &deco).await;
    let res = app
        .patch(&path_of(&deco), Some(&tag), &json!({"code": "DSDSM"}))
        .await;
    let p = res.problem(409, "duplicate");
    assert_eq!(res.problem_fields(), vec!["code"], "{p}");
    let res = app
        .patch(&path_of(&deco), Some(&tag), &json!({"code": "dsdsm"}))
        .await;
    res.problem(422, "validation-failed");
    let body = patch_ok(&app, &deco, &json!({"code": "DECO-EOM"})).await;
    assert_eq!(body["code"], "DECO-EOM");
}

#[actix_web::test]
async fn the_demo_data_lists_27_with_filters() {
    let app = TestApp::demo().await;
    let all = app.collect("/v1/departments?limit=10").await;
    assert_eq!(all.len(), 27);
    assert_eq!(
        all.iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect::<HashSet<_>>()
            .len(),
        27
    );
    // Default order: by code.
    assert_eq!(codes(&all), sorted(codes(&all)));

    let secretariats = app.collect("/v1/departments?kind=secretariat").await;
    assert_eq!(
        sorted(codes(&secretariats)),
        vec!["SAF", "SARE", "SEDI", "SHA", "SLA", "SMS", "SSD"]
    );
    assert!(secretariats.iter().all(|d| d["parent_id"].is_null()));
    let departments = app.collect("/v1/departments?kind=department").await;
    assert_eq!(departments.len(), 20);
    assert!(departments.iter().all(|d| d["kind"] == "department"));
    assert_eq!(
        app.collect("/v1/departments?kind=secretariat,department")
            .await
            .len(),
        27
    );

    let sms = app
        .collect(&format!("/v1/departments?parent_id={}", demo("SMS")))
        .await;
    assert_eq!(codes(&sms), vec!["CICAD", "CICTE", "DPS", "DTOC"]);
    assert!(sms.iter().all(|d| d["parent_id"] == demo("SMS")));
    let two = app
        .collect(&format!(
            "/v1/departments?parent_id={},{}&limit=2",
            demo("SSD"),
            demo("SARE")
        ))
        .await;
    assert_eq!(codes(&two), vec!["DECO", "DEPM", "DSDSM", "DSI"]);
    // A parent with no departments, and filters that combine.
    assert!(
        app.collect(&format!("/v1/departments?parent_id={MISSING_ID}"))
            .await
            .is_empty()
    );
    assert!(
        app.collect(&format!(
            "/v1/departments?parent_id={}&kind=secretariat",
            demo("SMS")
        ))
        .await
        .is_empty()
    );
    assert_eq!(app.collect("/v1/departments?status=active").await.len(), 27);
    // Invalid filter values are 400s naming the parameter.
    for (query, field) in [
        ("kind=division", "kind"),
        ("status=closed", "status"),
        ("parent_id=SMS", "parent_id"),
        ("sort=name", "sort"),
        ("sort=opened_on", "sort"),
    ] {
        let res = app.get(&format!("/v1/departments?{query}")).await;
        let p = res.problem(400, "invalid-parameter");
        assert_eq!(p["errors"][0]["field"], field, "{query}: {p}");
    }
}

#[actix_web::test]
async fn filter_by_updated_since() {
    let app = TestApp::demo().await;
    let dil = app
        .get(&format!("/v1/departments/{}", demo("DIL")))
        .await
        .json();
    let before = ts(&dil["updated_at"]);
    let patched = patch_ok(&app, &dil, &json!({"name": {"en": "International Law"}})).await;
    let since = ts(&patched["updated_at"]);
    assert!(since > before);

    let z = since.to_rfc3339_opts(SecondsFormat::Micros, true);
    let found = app
        .collect(&format!("/v1/departments?updated_since={z}"))
        .await;
    assert_eq!(codes(&found), vec!["DIL"]);
    let later = (since + Duration::microseconds(1)).to_rfc3339_opts(SecondsFormat::Micros, true);
    assert!(
        app.collect(&format!("/v1/departments?updated_since={later}"))
            .await
            .is_empty()
    );
    let earlier = before.to_rfc3339_opts(SecondsFormat::Micros, true);
    assert!(
        app.collect(&format!("/v1/departments?updated_since={earlier}"))
            .await
            .len()
            > 1
    );
}

/// A sortable key of `item` for the sort `field`, the id breaking ties.
fn sort_key(item: &Value, field: &str) -> (String, String) {
    let value = match field {
        "code" => item[field].as_str().unwrap().to_owned(),
        _ => ts(&item[field]).format("%Y-%m-%dT%H:%M:%S%.9f").to_string(),
    };
    (value, item["id"].as_str().unwrap().to_owned())
}

#[actix_web::test]
async fn lists_sort_by_each_field_in_both_directions() {
    let app = TestApp::demo().await;
    for code in ["SMS", "CICAD", "DECO"] {
        let d = app
            .get(&format!("/v1/departments/{}", demo(code)))
            .await
            .json();
        patch_ok(
            &app,
            &d,
            &json!({"name": {"en": format!("{code} renamed")}}),
        )
        .await;
    }
    let mut orders = std::collections::HashMap::new();
    for field in ["code", "created_at", "updated_at"] {
        for desc in [false, true] {
            let sort = if desc {
                format!("-{field}")
            } else {
                field.to_owned()
            };
            let items = app
                .collect(&format!("/v1/departments?sort={sort}&limit=4"))
                .await;
            assert_eq!(items.len(), 27, "{sort}");
            let got: Vec<(String, String)> = items.iter().map(|d| sort_key(d, field)).collect();
            let mut expected = got.clone();
            expected.sort();
            if desc {
                expected.reverse();
            }
            assert_eq!(got, expected, "sort={sort}");
            let unique: HashSet<&String> = got.iter().map(|(_, id)| id).collect();
            assert_eq!(unique.len(), 27, "{sort}");
            orders.insert(sort, codes(&items));
        }
    }
    assert_ne!(orders["code"], orders["created_at"]);
    assert_ne!(orders["created_at"], orders["updated_at"]);
    assert_eq!(orders["updated_at"][24..], ["SMS", "CICAD", "DECO"]);
    assert_eq!(orders["-updated_at"][..3], ["DECO", "CICAD", "SMS"]);
}

#[actix_web::test]
async fn pages_link_to_the_next() {
    let app = TestApp::demo().await;
    let res = app.get("/v1/departments?limit=20&kind=department").await;
    assert_eq!(res.status, 200);
    let page = res.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 20);
    // Exactly 20 departments: no next page.
    assert!(page["next_cursor"].is_null());
    assert!(res.header("link").is_none());

    let res = app.get("/v1/departments?limit=20").await;
    let page = res.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 20);
    assert!(page["next_cursor"].is_string());
    let link = res.header("link").expect("a Link header");
    let url = link
        .strip_prefix('<')
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("Link: {link}"));
    assert!(url.starts_with(&app.base), "{url}");
    let res = app.get(url).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let rest = res.json();
    assert_eq!(rest["items"].as_array().unwrap().len(), 7);
    assert!(rest["next_cursor"].is_null());
    assert!(res.header("link").is_none());
    let mut all = codes(page["items"].as_array().unwrap());
    all.extend(codes(rest["items"].as_array().unwrap()));
    assert_eq!(all, sorted(all.clone()));
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 27);
}
