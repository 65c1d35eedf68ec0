//! Dry-runs (`Prefer: dry-run`): every write runs in full and answers what the real
//! call answers, and the database is left exactly as it was (rows, audit trail,
//! idempotency keys), whatever the outcome.

use actix_web::http::Method;
use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::authz::{Fixture, TABLE, operations, request_for};
use crate::common::{Resp, TestApp};

const DRY_RUN: (&str, &str) = ("prefer", "dry-run");

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(String, String)],
    dry_run: bool,
) -> Resp {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut hs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if dry_run {
        hs.push(DRY_RUN);
    }
    app.request(method, path, &hs, body).await
}

/// A body with what differs between two runs of one write blanked: ids the request did
/// not name, timestamps, hashes (over the id and time), a webhook's generated secret and
/// its change-feed position (a transaction id).
fn normalized(v: &Value, request: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if k.contains("hash") && v.is_string() {
                        json!("<hash>")
                    } else if (k == "secret" || k == "delivered_through") && v.is_string() {
                        json!("<generated>")
                    } else {
                        normalized(v, request)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| normalized(v, request)).collect()),
        Value::String(s) if uuid::Uuid::parse_str(s).is_ok() && !request.contains(s.as_str()) => {
            json!("<new id>")
        }
        Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => json!("<time>"),
        other => other.clone(),
    }
}

fn assert_dry_run_headers(res: &Resp, what: &str) {
    assert_eq!(
        res.header("preference-applied").as_deref(),
        Some("dry-run"),
        "{what}"
    );
    assert!(res.header("location").is_none(), "{what}: a Location");
}

/// Every write of the document (the authorization matrix's request for it, as the
/// Coordinating Office): the dry-run answers the status and body the real call then
/// answers, and changes no table.
#[actix_web::test]
async fn every_write_answers_as_the_real_call_and_changes_nothing() {
    let app = TestApp::demo().await;
    let fx = Fixture::load(&app).await;
    let mut failures = Vec::new();
    let mut writes = 0;
    for op in operations() {
        let (method, _) = op.split_once(' ').unwrap();
        if method == "GET" || op == "POST /v1/auth/token" {
            continue;
        }
        writes += 1;
        let want = TABLE.iter().find(|(k, _)| *k == op).unwrap().1[0];
        let (path, body, headers) = request_for(&app, &fx, &op).await;
        let before = app.db.table_digests();
        let dry = send(&app, method, &path, body.as_ref(), &headers, true).await;
        let after = app.db.table_digests();
        let changed: Vec<&String> = after
            .iter()
            .filter(|(t, d)| before.get(*t) != Some(*d))
            .map(|(t, _)| t)
            .collect();
        if !changed.is_empty() {
            failures.push(format!("{op}: the dry-run changed {changed:?}"));
        }
        assert_dry_run_headers(&dry, &op);
        if dry.status.as_u16() != want {
            failures.push(format!(
                "{op}: dry-run answered {}, expected {want}: {}",
                dry.status,
                dry.text()
            ));
            continue;
        }
        // A dry-run id was never assigned.
        if dry.status == 201
            && let Some(id) = dry.json()["id"].as_str()
        {
            let res = app.get(&format!("{path}/{id}")).await;
            if res.status != 404 && res.status != 405 {
                failures.push(format!(
                    "{op}: the dry-run's id {id} answers {}",
                    res.status
                ));
            }
        }
        let real = send(&app, method, &path, body.as_ref(), &headers, false).await;
        assert!(real.header("preference-applied").is_none(), "{op}");
        if real.status != dry.status {
            failures.push(format!(
                "{op}: dry-run {} but the real call {}: {}",
                dry.status,
                real.status,
                real.text()
            ));
        } else if !real.body.is_empty() {
            let request = format!("{path} {}", body.clone().unwrap_or_default());
            let (d, r) = (
                normalized(&dry.json(), &request),
                normalized(&real.json(), &request),
            );
            if d != r {
                failures.push(format!("{op}: dry-run answered\n{d}\nthe real call\n{r}"));
            }
        }
    }
    assert!(writes >= 25, "only {writes} writes in the document");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn funded_ledger(app: &TestApp) -> String {
    let office = app
        .post("/v1/offices", &crate::common::new_office("OGSMS-DRY", "PE"))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .post(
            "/v1/ledgers",
            &json!({"office_id": office, "fiscal_year": 2026, "fund": "regular_fund"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let ledger = res.json()["id"].as_str().unwrap().to_owned();
    let allocation = json!({"kind": "allocation", "entry_date": "2026-02-01", "description": "Allotment",
                            "amount": {"amount": "100.00", "currency": "USD"}});
    let res = app
        .post(&format!("/v1/ledgers/{ledger}/entries"), &allocation)
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    ledger
}

fn expense(amount: &str) -> Value {
    json!({"kind": "expense", "category": "travel", "entry_date": "2026-03-10", "description": "Airfare",
           "amount": {"amount": amount, "currency": "USD"}})
}

#[actix_web::test]
async fn an_overdrawing_entry_is_the_same_409_and_a_good_one_takes_no_sequence_number() {
    let app = TestApp::new().await;
    let ledger = funded_ledger(&app).await;
    let url = format!("/v1/ledgers/{ledger}/entries");
    let before = app.db.table_digests();
    let over = app
        .request(Method::POST, &url, &[DRY_RUN], Some(&expense("100.01")))
        .await;
    over.problem(409, "insufficient-funds");
    assert_dry_run_headers(&over, "overdraft");
    let fits = app
        .request(Method::POST, &url, &[DRY_RUN], Some(&expense("60.00")))
        .await;
    assert_eq!(fits.status, 201, "{}", fits.text());
    assert_dry_run_headers(&fits, "expense");
    assert_eq!(app.db.table_digests(), before);
    // The same 409 from the real call, and the real entry gets the number the dry-run
    // showed, since the dry-run took none.
    app.post(&url, &expense("100.01"))
        .await
        .problem(409, "insufficient-funds");
    let real = app.post(&url, &expense("60.00")).await;
    assert_eq!(real.status, 201);
    assert_eq!(real.json()["seq"], fits.json()["seq"]);
    assert_ne!(real.json()["id"], fits.json()["id"]);
    // The balance saw only the real one: another 60 would overdraw.
    app.request(Method::POST, &url, &[DRY_RUN], Some(&expense("60.00")))
        .await
        .problem(409, "insufficient-funds");
}

#[actix_web::test]
async fn an_idempotent_dry_run_stores_no_key_and_replays_a_stored_one() {
    let app = TestApp::new().await;
    let ledger = funded_ledger(&app).await;
    let url = format!("/v1/ledgers/{ledger}/entries");
    let key = ("idempotency-key", "dry-1");
    let before = app.db.table_digests();
    let dry = app
        .request(Method::POST, &url, &[key, DRY_RUN], Some(&expense("5.00")))
        .await;
    assert_eq!(dry.status, 201, "{}", dry.text());
    assert!(dry.header("idempotent-replayed").is_none());
    assert_eq!(app.db.table_digests(), before);
    assert_eq!(app.db.scalar("SELECT count(*) FROM idempotency_keys"), "0");
    // The key is still free: the real call is a first call, not a replay.
    let real = app
        .request(Method::POST, &url, &[key], Some(&expense("5.00")))
        .await;
    assert_eq!(real.status, 201);
    assert!(real.header("idempotent-replayed").is_none());
    // Now a dry-run with the key answers the stored response, as a real retry would,
    // and a dry-run with another body the same 422.
    let before = app.db.table_digests();
    let replay = app
        .request(Method::POST, &url, &[key, DRY_RUN], Some(&expense("5.00")))
        .await;
    assert_eq!(replay.status, 201);
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(replay.json(), real.json());
    app.request(Method::POST, &url, &[key, DRY_RUN], Some(&expense("6.00")))
        .await
        .problem(422, "idempotency-key-reused");
    assert_eq!(app.db.table_digests(), before);
}

#[actix_web::test]
async fn refusals_are_the_real_ones_and_a_revocation_dry_run_revokes_nothing() {
    let app = TestApp::demo().await;
    let before = app.db.table_digests();
    // Authorization: a viewer's dry-run is refused as their real call would be.
    let viewer = format!("Bearer {}", app.token(Role::Viewer, None, None));
    let res = app
        .request(
            Method::POST,
            "/v1/offices",
            &[("authorization", &viewer), DRY_RUN],
            Some(&crate::common::new_office("OGSMS-ZZ", "PE")),
        )
        .await;
    res.problem(403, "forbidden");
    assert_dry_run_headers(&res, "viewer");
    // Validation.
    let mut bad = crate::common::new_office("OGSMS-ZZ", "PE");
    bad["kind"] = json!("embassy");
    app.request(Method::POST, "/v1/offices", &[DRY_RUN], Some(&bad))
        .await
        .problem(422, "validation-failed");
    // Among other preferences, in any case.
    let res = app
        .request(
            Method::POST,
            "/v1/offices",
            &[("prefer", "return=representation, Dry-Run")],
            Some(&crate::common::new_office("OGSMS-ZZ", "PE")),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    assert_dry_run_headers(&res, "mixed preferences");
    // A revocation dry-run leaves the token working, in this instance too.
    let token = app.token(Role::Viewer, None, None);
    let claims: Value = {
        use base64::Engine;
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    let res = app
        .request(
            Method::POST,
            "/v1/auth/revocations",
            &[DRY_RUN],
            Some(&json!({"jti": claims["jti"]})),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let me = app
        .get_with("/v1/me", &[("authorization", &format!("Bearer {token}"))])
        .await;
    assert_eq!(me.status, 200, "{}", me.text());
    // The token endpoint is not a write: a dry-run there is refused.
    app.request(
        Method::POST,
        "/v1/auth/token",
        &[
            DRY_RUN,
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        None,
    )
    .await
    .problem(400, "invalid-parameter");
    assert_eq!(app.db.table_digests(), before);
}
