//! The operational surface: metrics, rate limits, CORS.

use crate::common::{Options, TestApp};

#[actix_web::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let app = TestApp::new().await;
    for _ in 0..3 {
        assert_eq!(app.get("/v1/offices").await.status, 200);
    }
    app.get("/v1/offices/00000000-0000-4000-8000-000000000000")
        .await
        .problem(404, "not-found");
    let res = app.get_with("/metrics", &[("authorization", "none")]).await;
    assert_eq!(res.status, 200);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text();
    let count = |route: &str, status: &str| -> u64 {
        text.lines()
            .find(|l| {
                l.starts_with("ogsms_http_requests_total{")
                    && l.contains(&format!("route=\"{route}\""))
                    && l.contains(&format!("status=\"{status}\""))
                    && l.contains("method=\"GET\"")
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    // Metrics are process-wide and tests run in parallel: at least ours are there.
    assert!(count("/v1/offices", "200") >= 3, "{text}");
    assert!(count("/v1/offices/{id}", "404") >= 1, "{text}");
    assert!(text.contains("ogsms_http_request_duration_seconds_bucket{"));
    assert!(text.contains("ogsms_db_pool_connections"));
    // Ids never become labels.
    assert!(!text.contains("00000000-0000-4000-8000-000000000000"));
}

#[actix_web::test]
async fn each_caller_has_a_budget_and_hears_when_to_retry() {
    let app = TestApp::with(Options {
        limits: Some(ogsms::ops::Limits::new(60, 5)),
        ..Options::default()
    })
    .await;
    for i in 0..5 {
        let res = app.get("/v1/member-states/PE").await;
        assert_eq!(res.status, 200, "request {i}");
        assert_eq!(res.header("ratelimit-limit").as_deref(), Some("5"));
        assert_eq!(
            res.header("ratelimit-remaining").unwrap(),
            (4 - i).to_string()
        );
        // One request returns each second: the burst is whole again after i + 1 s.
        assert_eq!(res.header("ratelimit-reset").unwrap(), (i + 1).to_string());
    }
    let res = app.get("/v1/member-states/PE").await;
    res.problem(429, "rate-limited");
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(res.header("ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(res.header("ratelimit-reset"), Some(retry.to_string()));
    // Another caller has a budget of its own.
    let viewer = app.token(ogsms::policy::Role::Viewer, None, None);
    let res = app
        .get_with(
            "/v1/member-states/PE",
            &[("authorization", &format!("Bearer {viewer}"))],
        )
        .await;
    assert_eq!(res.status, 200);
    // Probes are never limited.
    for _ in 0..10 {
        assert_eq!(
            app.get_with("/livez", &[("authorization", "none")])
                .await
                .status,
            200
        );
    }
}
