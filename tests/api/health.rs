//! Liveness and readiness, with the database reachable, cut off and back.

use std::time::{Duration, Instant};

use crate::common::proxy::Proxy;
use crate::common::{Options, TestApp, TestDb};
use ogsms::db::PoolSettings;

#[actix_web::test]
async fn livez_and_readyz_answer_when_the_database_is_up() {
    let app = TestApp::new().await;
    let res = app.get("/livez").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["status"], "ok");
    let res = app.get("/readyz").await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["status"], "ready");
}

#[actix_web::test]
async fn readiness_follows_the_database_down_and_back_without_a_restart() {
    let db = TestDb::new();
    let proxy = Proxy::start(Proxy::target_of(&db.url)).await;
    let url = proxy.url_for(&db.url);
    let app = TestApp::with(Options {
        url_override: Some(url),
        pool: Some(PoolSettings {
            max_size: 4,
            wait_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            ..PoolSettings::default()
        }),
        ..Options::default()
    })
    .await;
    assert_eq!(app.get("/readyz").await.status, 200);
    assert_eq!(app.get("/v1/offices").await.status, 200);

    proxy.cut();
    let started = Instant::now();
    let res = app.get("/readyz").await;
    res.problem(503, "service-unavailable");
    assert!(res.header("retry-after").is_some());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "readiness took {:?}",
        started.elapsed()
    );
    // Data requests fail fast with a problem, never hang or 500.
    let started = Instant::now();
    let res = app.get("/v1/offices").await;
    res.problem(503, "service-unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "a request took {:?}",
        started.elapsed()
    );
    // Liveness does not depend on the database.
    assert_eq!(app.get("/livez").await.status, 200);

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if app.get("/readyz").await.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready again 15 s after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get("/v1/offices").await.status, 200);
    drop(db);
}
