//! Ledgers: exact money, append-only hash-chained entries, balances that hold under
//! concurrency, idempotent posting, closings, currencies, and who sees what.

use actix_web::http::Method;
use futures_util::future::join_all;
use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::common::{Resp, TestApp};

struct Books {
    office: String,
    other_office: String,
    ledger: String,
}

async fn office_id(app: &TestApp, code: &str) -> String {
    let res = app
        .post("/v1/offices", &crate::common::new_office(code, "PE"))
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()["id"].as_str().unwrap().to_owned()
}

async fn books(app: &TestApp) -> Books {
    let office = office_id(app, "OGSMS-LEDGER").await;
    let other_office = office_id(app, "OGSMS-OTHER").await;
    let res = app
        .post(
            "/v1/ledgers",
            &json!({"office_id": office, "fiscal_year": 2026, "fund": "regular_fund"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    Books {
        office,
        other_office,
        ledger: res.json()["id"].as_str().unwrap().to_owned(),
    }
}

fn allocation(amount: &str) -> Value {
    json!({"kind": "allocation", "entry_date": "2026-02-01", "description": "Quarterly allotment",
           "amount": {"amount": amount, "currency": "USD"}})
}

fn expense(amount: &str) -> Value {
    json!({"kind": "expense", "category": "travel", "entry_date": "2026-03-10", "description": "Airfare",
           "amount": {"amount": amount, "currency": "USD"}})
}

async fn post(app: &TestApp, b: &Books, body: &Value) -> Resp {
    app.post(&format!("/v1/ledgers/{}/entries", b.ledger), body)
        .await
}

async fn verify(app: &TestApp, b: &Books) -> Value {
    let res = app
        .get(&format!("/v1/ledgers/{}/verification", b.ledger))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()
}

async fn balance(app: &TestApp, b: &Books, query: &str) -> Value {
    let res = app
        .get(&format!("/v1/ledgers/{}/balance{query}", b.ledger))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()
}

#[actix_web::test]
async fn entries_are_exact_and_chained() {
    let app = TestApp::new().await;
    let b = books(&app).await;
    let res = post(&app, &b, &allocation("1000.10")).await;
    assert_eq!(res.status, 201, "{}", res.text());
    let first = res.json();
    assert_eq!(first["seq"], 1);
    assert_eq!(
        first["amount"],
        json!({"amount": "1000.10", "currency": "USD"})
    );
    assert_eq!(first["effect"]["amount"], "1000.10");
    assert_eq!(first["prev_hash"], "0".repeat(64));
    assert!(
        res.header("location")
            .unwrap()
            .ends_with(first["id"].as_str().unwrap())
    );
    let second = post(&app, &b, &expense("0.20")).await.json();
    assert_eq!(second["seq"], 2);
    assert_eq!(second["prev_hash"], first["hash"]);
    assert_eq!(second["effect"]["amount"], "-0.20");
    // 0.10 + 0.20 stays exact: 1000.10 - 0.20 = 999.90.
    let ledger = app.get(&format!("/v1/ledgers/{}", b.ledger)).await.json();
    assert_eq!(
        ledger["available"],
        json!({"amount": "999.90", "currency": "USD"})
    );
    assert_eq!(ledger["head_hash"], second["hash"]);
    assert_eq!(ledger["entry_count"], 2);
    let v = verify(&app, &b).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entry_count"], 2);
    assert_eq!(v["head_hash"], second["hash"]);
}

#[actix_web::test]
async fn the_hash_can_be_recomputed_from_the_documented_serialization() {
    use sha2::{Digest, Sha256};
    let app = TestApp::new().await;
    let b = books(&app).await;
    post(&app, &b, &allocation("50.00")).await;
    let e = post(&app, &b, &expense("12.34")).await.json();
    let canonical = json!([
        "ogsms-ledger-entry/v1",
        e["ledger_id"],
        e["seq"],
        e["id"],
        e["kind"],
        e["category"],
        e["entry_date"],
        e["description"],
        e["reference"],
        e["project_id"],
        e["payee_agency_id"],
        e["amount_minor"],
        e["amount"]["currency"],
        e["usd_per_unit_e12"],
        e["usd_minor"],
        e["effect_minor"],
        e["reverses_entry_id"],
        e["created_by"],
        e["created_at"]
    ])
    .to_string();
    let mut h = Sha256::new();
    h.update(format!("{}:{canonical}", e["prev_hash"].as_str().unwrap()));
    assert_eq!(hex::encode(h.finalize()), e["hash"].as_str().unwrap());
}

#[actix_web::test]
async fn invalid_amounts_are_422_naming_the_field() {
    let app = TestApp::new().await;
    let b = books(&app).await;
    for (amount, currency, field) in [
        ("1.005", "USD", "amount.amount"),
        ("0", "USD", "amount.amount"),
        ("0.00", "USD", "amount.amount"),
        ("-5.00", "USD", "amount.amount"),
        ("1e3", "USD", "amount.amount"),
        ("12,50", "USD", "amount.amount"),
        ("10000000000000.01", "USD", "amount.amount"),
        ("100.5", "JPY", "amount.amount"),
        ("10.00", "XYZ", "amount.currency"),
    ] {
        let mut body = allocation(amount);
        body["amount"]["currency"] = json!(currency);
        let res = post(&app, &b, &body).await;
        let p = res.problem(422, "validation-failed");
        assert_eq!(
            res.problem_fields(),
            vec![field],
            "{amount} {currency}: {p}"
        );
    }
    // A float where a string belongs is refused too.
    let mut body = allocation("1");
    body["amount"]["amount"] = json!(10.5);
    post(&app, &b, &body)
        .await
        .problem(422, "validation-failed");
    // Kind and category must agree.
    let mut body = expense("1.00");
    body.as_object_mut().unwrap().remove("category");
    assert_eq!(
        post(&app, &b, &body).await.problem_fields(),
        vec!["category"]
    );
    let mut body = allocation("1.00");
    body["category"] = json!("travel");
    assert_eq!(
        post(&app, &b, &body).await.problem_fields(),
        vec!["category"]
    );
    let body = json!({"kind": "adjustment", "entry_date": "2026-03-01", "description": "x", "amount": {"amount": "1.00", "currency": "USD"}});
    assert_eq!(
        post(&app, &b, &body).await.problem_fields(),
        vec!["direction"]
    );
    // Outside the fiscal year.
    let mut body = allocation("1.00");
    body["entry_date"] = json!("2025-12-31");
    assert_eq!(
        post(&app, &b, &body).await.problem_fields(),
        vec!["entry_date"]
    );
    assert_eq!(app.db.scalar("SELECT count(*) FROM ledger_entries"), "0");
}

#[actix_web::test]
async fn an_expense_never_overdraws() {
    let app = TestApp::new().await;
    let b = books(&app).await;
    post(&app, &b, &allocation("100.00")).await;
    assert_eq!(post(&app, &b, &expense("60.00")).await.status, 201);
    let res = post(&app, &b, &expense("40.01")).await;
    res.problem(409, "insufficient-funds");
    assert_eq!(post(&app, &b, &expense("40.00")).await.status, 201);
    let decrease = json!({"kind": "adjustment", "direction": "decrease", "entry_date": "2026-03-01",
                          "description": "Correction", "amount": {"amount": "0.01", "currency": "USD"}});
    post(&app, &b, &decrease)
        .await
        .problem(409, "insufficient-funds");
    assert_eq!(balance(&app, &b, "").await["available"]["amount"], "0.00");
}

#[actix_web::test]
async fn two_hundred_concurrent_expenses_against_funds_for_one_hundred() {
    let app = TestApp::new().await;
    let b = books(&app).await;
    post(&app, &b, &allocation("100.00")).await;
    let url = format!("/v1/ledgers/{}/entries", b.ledger);
    let body = expense("1.00");
    // Each posting as a careful client sends it: its own Idempotency-Key, and again after
    // a 503 (on a loaded machine some of the 200 wait longer for a connection than the
    // pool allows; the key makes the retry safe whatever the 503 came from).
    let busy = std::sync::atomic::AtomicUsize::new(0);
    let results = join_all((0..200).map(|i| {
        let (app, url, body, busy) = (&app, &url, &body, &busy);
        async move {
            let key = format!("concurrent-{i}");
            for _ in 0..30 {
                let res = app
                    .request(
                        actix_web::http::Method::POST,
                        url,
                        &[("idempotency-key", key.as_str())],
                        Some(body),
                    )
                    .await;
                if res.status != 503 {
                    return res;
                }
                busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            panic!("posting {i} was unavailable 30 times");
        }
    }))
    .await;
    eprintln!(
        "503 answers retried: {}",
        busy.load(std::sync::atomic::Ordering::Relaxed)
    );
    let created = results.iter().filter(|r| r.status == 201).count();
    let refused = results
        .iter()
        .filter(|r| r.status == 409 && r.json()["type"] == "/problems/insufficient-funds")
        .count();
    assert_eq!(
        (created, refused),
        (100, 100),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(balance(&app, &b, "").await["available"]["amount"], "0.00");
    let v = verify(&app, &b).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entry_count"], 101);
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT array_agg(seq ORDER BY seq) = array(SELECT generate_series(1, 101)::bigint) FROM ledger_entries WHERE ledger_id = '{}'",
            b.ledger
        )),
        "true",
        "sequence numbers are 1..101 without gaps"
    );
}

/// Minor units of a decimal amount string ("-12.30" → -1230).
/// A signed decimal amount ("-12.30") in minor units.
fn signed_cents(v: &Value) -> i64 {
    let v = v.as_str().unwrap();
    match v.strip_prefix('-') {
        Some(neg) => -ogsms::core::money::parse_decimal(neg, 2).unwrap(),
        None => ogsms::core::money::parse_decimal(v, 2).unwrap(),
    }
}

fn cents(v: &Value) -> i64 {
    v.as_str().unwrap().replace('.', "").parse().unwrap()
}

#[actix_web::test]
async fn a_balance_read_while_entries_post_agrees_with_itself() {
    let app = TestApp::new().await;
    let b = books(&app).await;
    post(&app, &b, &allocation("100.00")).await;
    let url = format!("/v1/ledgers/{}/entries", b.ledger);
    let body = expense("1.00");
    let posts = join_all((0..60).map(|_| app.post(&url, &body)));
    let reads = join_all((0..60).map(|_| balance(&app, &b, "")));
    let (posted, read) = futures_util::join!(posts, reads);
    assert!(posted.iter().all(|r| r.status == 201));
    for bal in read {
        let kinds = bal["by_kind"].as_array().unwrap();
        let entries: i64 = kinds.iter().map(|k| k["entries"].as_i64().unwrap()).sum();
        let effect: i64 = kinds.iter().map(|k| cents(&k["effect"]["amount"])).sum();
        assert_eq!(bal["entry_count"].as_i64().unwrap(), entries, "{bal}");
        assert_eq!(cents(&bal["available"]["amount"]), effect, "{bal}");
        // One allocation of 100.00 and some expenses of 1.00 each.
        assert_eq!(effect, 10_000 - (entries - 1) * 100, "{bal}");
    }
    let last = balance(&app, &b, "").await;
    assert_eq!(last["entry_count"], 61);
    assert_eq!(last["available"]["amount"], "40.00");
}

#[actix_web::test]
async fn fifty_concurrent_posts_with_one_idempotency_key_make_one_entry() {
    let app = TestApp::new().await;
    let b = books(&app).await;
    post(&app, &b, &allocation("100.00")).await;
    let url = format!("/v1/ledgers/{}/entries", b.ledger);
    let body = expense("5.00");
    let results = join_all((0..50).map(|_| {
        app.request(
            Method::POST,
            &url,
            &[("idempotency-key", "invoice-2026-0042")],
            Some(&body),
        )
    }))
    .await;
    for r in &results {
        assert!(
            r.status == 201
                || (r.status == 409 && r.json()["type"] == "/problems/idempotency-key-in-use"),
            "{} {}",
            r.status,
            r.text()
        );
    }
    assert!(results.iter().any(|r| r.status == 201));
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM ledger_entries WHERE ledger_id = '{}' AND kind = 'expense'",
            b.ledger
        )),
        "1"
    );
    // Every 201 is the same entry.
    let ids: std::collections::HashSet<String> = results
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1);
}

#[actix_web::test]
async fn idempotency_keys_replay_refuse_other_bodies_and_belong_to_their_caller() {
    let app = TestApp::new().await;
    let b = books(&app).await;
    post(&app, &b, &allocation("100.00")).await;
    let url = format!("/v1/ledgers/{}/entries", b.ledger);
    let first = app
        .request(
            Method::POST,
            &url,
            &[("idempotency-key", "k-1")],
            Some(&expense("5.00")),
        )
        .await;
    assert_eq!(first.status, 201);
    // The same body with keys in another order is the same request.
    let mut reordered = serde_json::Map::new();
    for (k, v) in expense("5.00").as_object().unwrap().iter().rev() {
        reordered.insert(k.clone(), v.clone());
    }
    let again = app
        .request(
            Method::POST,
            &url,
            &[("idempotency-key", "k-1")],
            Some(&Value::Object(reordered)),
        )
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.json(), first.json());
    assert_eq!(again.header("location"), first.header("location"));
    let other = app
        .request(
            Method::POST,
            &url,
            &[("idempotency-key", "k-1")],
            Some(&expense("6.00")),
        )
        .await;
    other.problem(422, "idempotency-key-reused");
    // Another caller with the same key is another request, never a replay of ours.
    let staff = app.token(Role::OfficeStaff, Some(b.office.parse().unwrap()), None);
    let theirs = app
        .request(
            Method::POST,
            &url,
            &[
                ("idempotency-key", "k-1"),
                ("authorization", &format!("Bearer {staff}")),
            ],
            Some(&expense("5.00")),
        )
        .await;
    assert_eq!(theirs.status, 201);
    assert_ne!(theirs.json()["id"], first.json()["id"]);
    assert!(theirs.header("idempotent-replayed").is_none());
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM ledger_entries WHERE kind = 'expense'"),
        "2"
    );
    // A malformed key is a 400.
    let res = app
        .request(
            Method::POST,
            &url,
            &[("idempotency-key", "has space")],
            Some(&expense("1.00")),
        )
        .await;
    res.problem(400, "invalid-parameter");
}

#[actix_web::test]
async fn reversals_undo_once() {
    let app = TestApp::new().await;
    let b = books(&app).await;
    post(&app, &b, &allocation("100.00")).await;
    let e = post(&app, &b, &expense("30.00")).await.json();
    let url = format!(
        "/v1/ledgers/{}/entries/{}/reversal",
        b.ledger,
        e["id"].as_str().unwrap()
    );
    let res = app
        .post(
            &url,
            &json!({"entry_date": "2026-04-01", "description": "Duplicate invoice"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let r = res.json();
    assert_eq!(r["kind"], "reversal");
    assert_eq!(r["reverses_entry_id"], e["id"]);
    assert_eq!(r["effect"]["amount"], "30.00");
    assert_eq!(r["category"], "travel");
    app.post(&url, &json!({}))
        .await
        .problem(409, "already-reversed");
    // A reversal is not reversed.
    let url = format!(
        "/v1/ledgers/{}/entries/{}/reversal",
        b.ledger,
        r["id"].as_str().unwrap()
    );
    app.post(&url, &json!({}))
        .await
        .problem(409, "invalid-state");
    let bal = balance(&app, &b, "").await;
    assert_eq!(bal["available"]["amount"], "100.00");
    let travel = bal["by_category"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "travel")
        .unwrap();
    assert_eq!(travel["spent"]["amount"], "0.00");
    // Reversing an allocation that is already spent would overdraw.
    post(&app, &b, &expense("90.00")).await;
    let first = app
        .get(&format!("/v1/ledgers/{}/entries?limit=1", b.ledger))
        .await
        .json();
    let url = format!(
        "/v1/ledgers/{}/entries/{}/reversal",
        b.ledger,
        first["items"][0]["id"].as_str().unwrap()
    );
    app.post(&url, &json!({}))
        .await
        .problem(409, "insufficient-funds");
    assert_eq!(verify(&app, &b).await["ok"], true);
}

#[actix_web::test]
async fn the_database_refuses_changes_to_entries_and_tampering_is_detected() {
    let app = TestApp::new().await;
    let b = books(&app).await;
    post(&app, &b, &allocation("100.00")).await;
    for _ in 0..4 {
        post(&app, &b, &expense("1.00")).await;
    }
    // The append-only triggers' own refusal (insufficient_privilege, naming the
    // operation), not a constraint's: the first UPDATE breaks no CHECK of the table, so
    // only the trigger stands in its way.
    for (sql, op) in [
        (
            "UPDATE ledger_entries SET description = 'Edited afterwards'",
            "UPDATE",
        ),
        (
            "UPDATE ledger_entries SET reference = 'INV-2' WHERE seq = 2",
            "UPDATE",
        ),
        ("UPDATE ledger_entries SET amount_minor = 1", "UPDATE"),
        ("DELETE FROM ledger_entries WHERE seq = 5", "DELETE"),
        ("DELETE FROM ledger_entries", "DELETE"),
        ("TRUNCATE ledger_entries CASCADE", "TRUNCATE"),
    ] {
        assert_eq!(
            app.db.error_of(sql),
            Some((
                "42501".to_owned(),
                format!("ledger_entries is append-only: {op} is not allowed")
            )),
            "{sql}"
        );
    }
    assert_eq!(app.db.scalar("SELECT count(*) FROM ledger_entries"), "5");
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM ledger_entries WHERE description = 'Edited afterwards'"),
        "0"
    );
    assert_eq!(verify(&app, &b).await["ok"], true);
    // A superuser who bypasses the triggers changes entry 3's amount.
    app.db
        .execute(&format!(
            "SET session_replication_role = replica; \
             UPDATE ledger_entries SET amount_minor = 1, usd_minor = 1, effect_minor = -1 WHERE ledger_id = '{}' AND seq = 3; \
             SET session_replication_role = origin;",
            b.ledger
        ))
        .unwrap();
    let v = verify(&app, &b).await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_broken_seq"], 3, "{v}");
    // And one who deletes entry 4.
    let app2 = TestApp::new().await;
    let b2 = books(&app2).await;
    post(&app2, &b2, &allocation("100.00")).await;
    for _ in 0..5 {
        post(&app2, &b2, &expense("1.00")).await;
    }
    app2.db
        .execute(&format!(
            "SET session_replication_role = replica; DELETE FROM ledger_entries WHERE ledger_id = '{}' AND seq = 4; \
             SET session_replication_role = origin;",
            b2.ledger
        ))
        .unwrap();
    let v = verify(&app2, &b2).await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_broken_seq"], 4, "{v}");
}

#[actix_web::test]
async fn other_currencies_use_the_rate_in_force_on_the_entry_date() {
    let app = TestApp::new().await;
    let b = books(&app).await;
    post(&app, &b, &allocation("100.00")).await;
    let pen = |amount: &str, date: &str| {
        json!({"kind": "expense", "category": "rent", "entry_date": date, "description": "Office rent",
               "amount": {"amount": amount, "currency": "PEN"}})
    };
    // No rate yet: 422 naming the currency.
    let res = post(&app, &b, &pen("100.00", "2026-03-01")).await;
    assert_eq!(res.problem_fields(), vec!["amount.currency"]);
    for (day, rate) in [("2026-01-01", "0.2671"), ("2026-03-15", "0.2700")] {
        let res = app
            .post(
                "/v1/exchange-rates",
                &json!({"currency": "PEN", "effective_on": day, "rate": rate}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text());
    }
    let e = post(&app, &b, &pen("100.00", "2026-03-14")).await.json();
    assert_eq!(e["rate"], "0.2671");
    assert_eq!(e["amount"], json!({"amount": "100.00", "currency": "PEN"}));
    assert_eq!(e["amount_usd"]["amount"], "26.71");
    let e = post(&app, &b, &pen("100.00", "2026-03-15")).await.json();
    assert_eq!(e["rate"], "0.27");
    assert_eq!(e["amount_usd"]["amount"], "27.00");
    // Half to even: 0.05 PEN × 0.25 = 0.0125 USD → 0.01; 0.07 × 0.25 = 0.0175 → 0.02.
    app.post(
        "/v1/exchange-rates",
        &json!({"currency": "PEN", "effective_on": "2026-05-01", "rate": "0.25"}),
    )
    .await;
    assert_eq!(
        post(&app, &b, &pen("0.06", "2026-05-02")).await.json()["amount_usd"]["amount"],
        "0.02"
    ); // 0.015 → 0.02
    assert_eq!(
        post(&app, &b, &pen("0.10", "2026-05-02")).await.json()["amount_usd"]["amount"],
        "0.02"
    ); // 0.025 → 0.02
    assert_eq!(
        post(&app, &b, &pen("0.14", "2026-05-02")).await.json()["amount_usd"]["amount"],
        "0.04"
    ); // 0.035 → 0.04
    // A zero-decimal currency.
    app.post(
        "/v1/exchange-rates",
        &json!({"currency": "CLP", "effective_on": "2026-01-01", "rate": "0.00105"}),
    )
    .await;
    let clp = json!({"kind": "expense", "category": "supplies", "entry_date": "2026-06-01", "description": "Paper",
                     "amount": {"amount": "1000", "currency": "CLP"}});
    let e = post(&app, &b, &clp).await.json();
    assert_eq!(e["amount"]["amount"], "1000");
    assert_eq!(e["amount_usd"]["amount"], "1.05");
    assert_eq!(verify(&app, &b).await["ok"], true);
}

#[actix_web::test]
async fn closed_periods_and_closed_ledgers_take_nothing() {
    let app = TestApp::new().await;
    let b = books(&app).await;
    post(&app, &b, &allocation("100.00")).await;
    let res = app
        .post(
            &format!("/v1/ledgers/{}/closings", b.ledger),
            &json!({"closed_through": "2026-03-31"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let res = post(&app, &b, &expense("1.00")).await; // dated 2026-03-10
    res.problem(409, "period-closed");
    let mut later = expense("1.00");
    later["entry_date"] = json!("2026-04-01");
    assert_eq!(post(&app, &b, &later).await.status, 201);
    // Closing an earlier period again is refused.
    app.post(
        &format!("/v1/ledgers/{}/closings", b.ledger),
        &json!({"closed_through": "2026-02-28"}),
    )
    .await
    .problem(409, "invalid-state");
    let res = app
        .request(
            Method::POST,
            &format!("/v1/ledgers/{}/close", b.ledger),
            &[],
            None,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "closed");
    later["entry_date"] = json!("2026-05-01");
    post(&app, &b, &later).await.problem(409, "period-closed");
}

#[actix_web::test]
async fn a_randomized_ledger_balances_to_the_sum_of_its_entries() {
    let app = TestApp::new().await;
    let b = books(&app).await;
    // A deterministic pseudo-random sequence of postings.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // Funds for a fraction of the expenses: many are refused on the way.
    post(&app, &b, &allocation("100.00")).await;
    // The model: postings are sequential, so which one must pass is known in advance.
    // One that would take the balance below zero is 409 insufficient-funds, a second
    // reversal of an expense 409 already-reversed, and everything else is posted.
    let mut available: i64 = 10_000;
    let mut spent_by_category = std::collections::BTreeMap::<&str, i64>::new();
    let mut effects: Vec<(String, i64)> = vec![("2026-02-01".to_owned(), 10_000)];
    let (mut accepted, mut short, mut twice) = (1usize, 0usize, 0usize);
    let categories = ["travel", "rent", "supplies", "personnel", "bank_charges"];
    // Posted expenses: id, category, amount, reversed.
    let mut expenses: Vec<(String, &str, i64, bool)> = Vec::new();
    for i in 0..120 {
        let r = next();
        let cents = (r % 20_000) as i64 + 1;
        let amount = format!("{}.{:02}", cents / 100, cents % 100);
        let day = format!("2026-{:02}-{:02}", 1 + (r >> 20) % 11, 1 + (r >> 30) % 28);
        let category = categories[(r >> 8) as usize % 5];
        let (body, effect, spent) = match r % 7 {
            0 => (
                json!({"kind": "allocation", "entry_date": day, "description": "Allotment", "amount": {"amount": amount, "currency": "USD"}}),
                cents,
                None,
            ),
            1 => (
                json!({"kind": "refund", "category": category, "entry_date": day, "description": "Refund", "amount": {"amount": amount, "currency": "USD"}}),
                cents,
                Some((category, -cents)),
            ),
            2 => {
                let increase = r & 1 == 0;
                (
                    json!({"kind": "adjustment", "direction": if increase { "increase" } else { "decrease" }, "entry_date": day, "description": "Adjustment", "amount": {"amount": amount, "currency": "USD"}}),
                    if increase { cents } else { -cents },
                    None,
                )
            }
            3 if !expenses.is_empty() => {
                let k = (r >> 5) as usize % expenses.len();
                let res = app
                    .post(
                        &format!(
                            "/v1/ledgers/{}/entries/{}/reversal",
                            b.ledger, expenses[k].0
                        ),
                        &json!({"entry_date": day}),
                    )
                    .await;
                let (_, category, cents, reversed) = &mut expenses[k];
                if *reversed {
                    res.problem(409, "already-reversed");
                    twice += 1;
                } else {
                    assert_eq!(res.status, 201, "{}", res.text());
                    assert_eq!(res.json()["effect_minor"], *cents);
                    *reversed = true;
                    available += *cents;
                    *spent_by_category.entry(category).or_default() -= *cents;
                    effects.push((day, *cents));
                    accepted += 1;
                }
                continue;
            }
            _ => (
                json!({"kind": "expense", "category": category, "entry_date": day, "description": format!("Expense {i}"), "amount": {"amount": amount, "currency": "USD"}}),
                -cents,
                Some((category, cents)),
            ),
        };
        let res = post(&app, &b, &body).await;
        if available + effect < 0 {
            res.problem(409, "insufficient-funds");
            short += 1;
            continue;
        }
        assert_eq!(res.status, 201, "{body}: {}", res.text());
        assert_eq!(res.json()["effect_minor"], effect);
        available += effect;
        effects.push((day, effect));
        if let Some((category, s)) = spent {
            *spent_by_category.entry(category).or_default() += s;
        }
        accepted += 1;
        if body["kind"] == "expense" {
            expenses.push((
                res.json()["id"].as_str().unwrap().to_owned(),
                category,
                cents,
                false,
            ));
        }
    }
    // The sequence exercises every outcome, and most postings go through.
    let outcome = format!("{accepted} accepted, {short} short of funds, {twice} reversed twice");
    // (The sequence gives 109, 8 and 4.)
    assert!(accepted >= 100, "{outcome}");
    assert!(short >= 5, "{outcome}");
    assert!(twice >= 2, "{outcome}");
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM ledger_entries WHERE ledger_id = '{}'",
            b.ledger
        )),
        accepted.to_string()
    );
    let bal = balance(&app, &b, "").await;
    assert_eq!(
        ogsms::core::money::parse_decimal(bal["available"]["amount"].as_str().unwrap(), 2).unwrap(),
        available
    );
    for as_of in ["2026-03-31", "2026-07-15"] {
        let want: i64 = effects
            .iter()
            .filter(|(d, _)| d.as_str() <= as_of)
            .map(|(_, e)| e)
            .sum();
        let bal = balance(&app, &b, &format!("?as_of={as_of}")).await;
        assert_eq!(
            signed_cents(&bal["available"]["amount"]),
            want,
            "as of {as_of}"
        );
    }
    let by_category: std::collections::BTreeMap<&str, i64> = bal["by_category"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["category"].as_str().unwrap(),
                signed_cents(&c["spent"]["amount"]),
            )
        })
        .filter(|(_, v)| *v != 0)
        .collect();
    spent_by_category.retain(|_, v| *v != 0);
    assert_eq!(by_category, spent_by_category);
    // And the stored entries agree with the balance: as of a date, the sum of the
    // entries dated on or before it; per category, their net spending.
    for as_of in ["2026-03-31", "2026-07-15", "2026-12-31"] {
        let sum = app.db.scalar(&format!(
            "SELECT coalesce(sum(effect_minor), 0) FROM ledger_entries WHERE ledger_id = '{}' AND entry_date <= '{as_of}'",
            b.ledger
        ));
        let bal = balance(&app, &b, &format!("?as_of={as_of}")).await;
        assert_eq!(
            signed_cents(&bal["available"]["amount"]).to_string(),
            sum,
            "as of {as_of}"
        );
    }
    for c in bal["by_category"].as_array().unwrap() {
        let sum = app.db.scalar(&format!(
            "SELECT -sum(effect_minor) FROM ledger_entries WHERE ledger_id = '{}' AND category = '{}'",
            b.ledger,
            c["category"].as_str().unwrap()
        ));
        assert_eq!(signed_cents(&c["spent"]["amount"]).to_string(), sum);
    }
    assert_eq!(verify(&app, &b).await["ok"], true);
}

#[actix_web::test]
async fn offices_see_only_their_own_ledgers_and_viewers_none() {
    let app = TestApp::new().await;
    let b = books(&app).await;
    post(&app, &b, &allocation("10.00")).await;
    let own = app.token(Role::Representative, Some(b.office.parse().unwrap()), None);
    let other = app.token(
        Role::Representative,
        Some(b.other_office.parse().unwrap()),
        None,
    );
    let viewer = app.token(Role::Viewer, None, None);
    let auth = |t: &str| format!("Bearer {t}");
    let list = |t: String| {
        let app = &app;
        async move {
            app.get_with("/v1/ledgers", &[("authorization", &t)])
                .await
                .json()["items"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(list(auth(&own)).await, 1);
    assert_eq!(list(auth(&other)).await, 0);
    assert_eq!(list(auth(&viewer)).await, 0);
    // Filters cannot widen what a caller sees.
    let res = app
        .get_with(
            &format!("/v1/ledgers?office_id={}", b.office),
            &[("authorization", &auth(&other))],
        )
        .await;
    assert_eq!(res.json()["items"].as_array().unwrap().len(), 0);
    let path = format!("/v1/ledgers/{}", b.ledger);
    app.get_with(&path, &[("authorization", &auth(&other))])
        .await
        .problem(404, "not-found");
    app.get_with(&path, &[("authorization", &auth(&viewer))])
        .await
        .problem(404, "not-found");
    // Posting into another office's ledger: not even its existence is told.
    let res = app
        .request(
            Method::POST,
            &format!("{path}/entries"),
            &[("authorization", &auth(&other))],
            Some(&expense("1.00")),
        )
        .await;
    res.problem(404, "not-found");
}

#[actix_web::test]
async fn an_hq_department_sees_only_entries_tagged_to_its_projects() {
    let app = TestApp::demo().await;
    let b = books(&app).await;
    let dept = |code: &str| {
        app.db
            .scalar(&format!("SELECT id FROM departments WHERE code = '{code}'"))
    };
    let (deco, sare) = (dept("DECO"), dept("SARE"));
    for (code, department) in [("P-DECO", &deco), ("P-SARE", &sare)] {
        app.db
            .execute(&format!(
                "INSERT INTO projects (id, code, title, office_id, department_id, pillar, status, starts_on, budget_amount, \
                 budget_currency, funding_source) VALUES (gen_random_uuid(), '{code}', '{{\"en\": \"{code}\"}}', '{}', '{department}', \
                 'democracy', 'active', '2026-01-01', 100000, 'USD', 'regular_fund')",
                b.office
            ))
            .unwrap();
    }
    let project = |code: &str| {
        app.db
            .scalar(&format!("SELECT id FROM projects WHERE code = '{code}'"))
    };
    post(&app, &b, &allocation("100.00")).await;
    for code in ["P-DECO", "P-SARE", "P-DECO"] {
        let mut e = expense("1.00");
        e["project_id"] = json!(project(code));
        assert_eq!(post(&app, &b, &e).await.status, 201);
    }
    let hq = app.token(Role::HqDepartment, None, Some(deco.parse().unwrap()));
    let auth = [("authorization", format!("Bearer {hq}"))];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = app
        .get_with(&format!("/v1/ledgers/{}/entries", b.ledger), &auth)
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let items = res.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|e| e["project_id"] == json!(project("P-DECO")))
    );
    // Filtering by another department's project cannot widen that.
    let res = app
        .get_with(
            &format!(
                "/v1/ledgers/{}/entries?project_id={}",
                b.ledger,
                project("P-SARE")
            ),
            &auth,
        )
        .await;
    assert_eq!(res.json()["items"].as_array().unwrap().len(), 0);
    // The whole ledger's balance is not theirs to read.
    app.get_with(&format!("/v1/ledgers/{}/balance", b.ledger), &auth)
        .await
        .problem(403, "forbidden");
    // Another department does not see the ledger at all.
    let other = app.token(Role::HqDepartment, None, Some(dept("SSD").parse().unwrap()));
    app.get_with(
        &format!("/v1/ledgers/{}", b.ledger),
        &[("authorization", &format!("Bearer {other}"))],
    )
    .await
    .problem(404, "not-found");
}

/// `fiscal_year` is documented as an int32: a larger value is a 400 naming it, not
/// silently clamped to 2147483647 (found by the schemathesis gate).
#[actix_web::test]
async fn fiscal_year_filter_out_of_int32_range_is_a_400() {
    let app = TestApp::new().await;
    let p = app
        .get("/v1/ledgers?fiscal_year=2147483648")
        .await
        .problem(400, "invalid-parameter");
    assert_eq!(p["errors"][0]["field"], "fiscal_year");
    let ok = app.get("/v1/ledgers?fiscal_year=2026").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
}
