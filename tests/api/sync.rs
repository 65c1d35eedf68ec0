//! Incremental sync: a client that polls with `updated_since` set to the last
//! `X-Sync-Watermark` misses no change, even from a transaction that started before a
//! change it already saw and committed after it.

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use serde_json::{Value, json};

use crate::common::{Resp, TestApp};

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn watermark(res: &Resp) -> String {
    assert_eq!(res.status, 200, "{}", res.text());
    res.header("x-sync-watermark")
        .expect("an answer to updated_since carries its watermark")
}

fn at(s: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap()
}

fn codes(items: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = items
        .iter()
        .map(|i| i["code"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

async fn patch_city(app: &TestApp, code: &str, city: &str) -> Value {
    let id = ogsms::seed::demo_id("office", code);
    let path = format!("/v1/offices/{id}");
    let etag = app.get(&path).await.header("etag").unwrap();
    let res = app.patch(&path, Some(&etag), &json!({"city": city})).await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()
}

#[actix_web::test]
async fn a_transaction_that_commits_late_is_not_missed() {
    let app = TestApp::demo().await;
    let start = app.db.scalar("to_json(now()) #>> '{}'");
    let first = app
        .get(&format!(
            "/v1/offices?updated_since={}&sort=updated_at&limit=500",
            enc(&start)
        ))
        .await;
    let w0 = watermark(&first);

    // A slow writer: its change gets its updated_at now but commits only later.
    let mut slow = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    slow.batch_execute("BEGIN; UPDATE offices SET city = 'Slow' WHERE code = 'OGSMS-PE'")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // A fast one commits meanwhile.
    let fast = patch_city(&app, "OGSMS-CO", "Fast").await;

    // Polling now must not show the fast change without the slow one's place: the
    // answer stops before the slow transaction's start.
    let res = app
        .get(&format!(
            "/v1/offices?updated_since={}&sort=updated_at&limit=500",
            enc(&w0)
        ))
        .await;
    let w1 = watermark(&res);
    let seen = res.json()["items"].as_array().unwrap().clone();
    assert!(
        at(&w1) < at(fast["updated_at"].as_str().unwrap()),
        "watermark {w1} must stay before the running transaction"
    );
    assert!(codes(&seen).is_empty(), "{:?}", codes(&seen));
    // Exports answer the same way.
    let export = app
        .get(&format!("/v1/exports/projects?updated_since={}", enc(&w0)))
        .await;
    assert!(at(&watermark(&export)) <= at(&w1));

    slow.batch_execute("COMMIT").await.unwrap();
    let slow_at = app
        .db
        .scalar("SELECT to_json(updated_at) #>> '{}' FROM offices WHERE code = 'OGSMS-PE'");
    // This is the trap: the slow change is older than the fast one a naive poller saw.
    assert!(at(&slow_at) < at(fast["updated_at"].as_str().unwrap()));

    // Polling from the watermark gets both.
    let res = app
        .get(&format!(
            "/v1/offices?updated_since={}&sort=updated_at&limit=500",
            enc(&w1)
        ))
        .await;
    let w2 = watermark(&res);
    let items = res.json()["items"].as_array().unwrap().clone();
    assert_eq!(codes(&items), ["OGSMS-CO", "OGSMS-PE"]);
    assert!(items.iter().any(|o| o["city"] == "Slow"));
    // With nothing running, the watermark moves on past them.
    assert!(at(&w2) > at(fast["updated_at"].as_str().unwrap()));
    let res = app
        .get(&format!("/v1/offices?updated_since={}", enc(&w2)))
        .await;
    watermark(&res);
    assert!(res.json()["items"].as_array().unwrap().is_empty());
}

#[actix_web::test]
async fn every_page_of_one_pass_shares_its_watermark() {
    let app = TestApp::demo().await;
    let start = app.db.scalar("to_json(now()) #>> '{}'");
    for code in ["OGSMS-PE", "OGSMS-CO", "OGSMS-AR"] {
        patch_city(&app, code, "Changed").await;
    }
    let mut url = format!(
        "/v1/offices?updated_since={}&limit=1&sort=updated_at",
        enc(&start)
    );
    let mut marks = Vec::new();
    let mut seen = Vec::new();
    loop {
        let res = app.get(&url).await;
        marks.push(watermark(&res));
        seen.extend(res.json()["items"].as_array().unwrap().clone());
        // Later changes do not move the pass's watermark.
        patch_city(&app, "OGSMS-MX", "Later").await;
        match res.header("link") {
            Some(link) => url = link[1..link.find('>').unwrap()].to_owned(),
            None => break,
        }
    }
    assert!(marks.windows(2).all(|w| w[0] == w[1]), "{marks:?}");
    assert_eq!(codes(&seen), ["OGSMS-AR", "OGSMS-CO", "OGSMS-PE"]);
    // The next pass from that watermark brings the later change.
    let res = app
        .get(&format!(
            "/v1/offices?updated_since={}&limit=500",
            enc(&marks[0])
        ))
        .await;
    assert_eq!(codes(res.json()["items"].as_array().unwrap()), ["OGSMS-MX"]);
    // CSV pages carry it too.
    let res = app
        .get(&format!(
            "/v1/offices?updated_since={}&format=csv",
            enc(&start)
        ))
        .await;
    assert!(res.header("x-sync-watermark").is_some());
}

#[actix_web::test]
async fn an_export_in_progress_does_not_hold_the_watermark_back() {
    let app = TestApp::demo().await;
    // A read-only export transaction, as the service opens them.
    let mut export = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    export
        .batch_execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
             SET LOCAL application_name = 'ogsms-export'; SELECT 1",
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let changed = patch_city(&app, "OGSMS-PE", "Moved").await;
    let res = app
        .get(&format!(
            "/v1/offices?updated_since={}",
            enc(changed["updated_at"].as_str().unwrap())
        ))
        .await;
    assert!(at(&watermark(&res)) > at(changed["updated_at"].as_str().unwrap()));
    assert_eq!(codes(res.json()["items"].as_array().unwrap()), ["OGSMS-PE"]);
    export.batch_execute("COMMIT").await.unwrap();
}
