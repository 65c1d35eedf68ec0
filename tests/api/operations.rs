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
    // Until a token can be there again, the process refuses without asking the bucket.
    let spent_at = app.db.scalar("SELECT updated_at FROM rate_buckets");
    app.get("/v1/member-states/PE")
        .await
        .problem(429, "rate-limited");
    assert_eq!(
        app.db.scalar("SELECT updated_at FROM rate_buckets"),
        spent_at
    );
    // Another caller has a budget of its own.
    let viewer = app.token(ogsms::auth::policy::Role::Viewer, None, None);
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

/// A busy caller takes its tokens from the shared bucket in leases (an eighth of what is
/// there, at most `LEASE_MAX`) and spends them in memory: one statement per lease, not
/// per request, with the headers counting what the caller can still spend.
#[actix_web::test]
async fn a_busy_caller_spends_its_budget_in_leases() {
    let app = TestApp::with(Options {
        limits: Some(ogsms::ops::Limits::new(60, 1000)),
        ..Options::default()
    })
    .await;
    for i in 0..20u32 {
        let res = app.get("/v1/member-states/PE").await;
        assert_eq!(res.status, 200, "request {i}");
        assert_eq!(
            res.header("ratelimit-remaining").unwrap(),
            (999 - i).to_string()
        );
    }
    // One spend took 1000 / 8 capped at 64 tokens; the 19 requests after it asked nobody.
    let left: f64 = app
        .db
        .scalar("SELECT round(tokens)::text FROM rate_buckets")
        .parse()
        .unwrap();
    assert_eq!(left, f64::from(1000 - ogsms::ops::LEASE_MAX));
    assert_eq!(app.db.scalar("SELECT taken::text FROM rate_buckets"), "64");
}
/// The statements of a posting, a balance and a project page stay prepared on their
/// connection between requests (`ogsms::db::Prepared`): diesel would otherwise parse and
/// plan them again at every run, a round trip each.
#[actix_web::test]
async fn hot_statements_stay_prepared_on_their_connection() {
    use diesel::QueryableByName;
    use diesel_async::RunQueryDsl;
    let app = TestApp::with(Options {
        pool: Some(ogsms::db::PoolSettings {
            max_size: 1,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    let office = app
        .post(
            "/v1/offices",
            &crate::common::new_office("OGSMS-PREP", "PE"),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ledger = app
        .post(
            "/v1/ledgers",
            &serde_json::json!({"office_id": office, "fiscal_year": 2026, "fund": "regular_fund"}),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let entry = serde_json::json!({"kind": "allocation", "entry_date": "2026-02-01",
        "description": "Allotment", "amount": {"amount": "10.00", "currency": "USD"}});
    for key in ["prep-1", "prep-2"] {
        let res = app
            .request(
                actix_web::http::Method::POST,
                &format!("/v1/ledgers/{ledger}/entries"),
                &[("idempotency-key", key)],
                Some(&entry),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text());
        assert_eq!(
            app.get(&format!("/v1/ledgers/{ledger}/balance"))
                .await
                .status,
            200
        );
        assert_eq!(app.get("/v1/projects?limit=5").await.status, 200);
    }
    #[derive(QueryableByName)]
    struct Statement {
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement: String,
    }
    // The pool's one connection, the one every request above used.
    let mut conn = app.state.pool.get().await.unwrap();
    let prepared: Vec<Statement> =
        diesel::sql_query("SELECT statement FROM pg_prepared_statements")
            .load(&mut conn)
            .await
            .unwrap();
    let has = |part: &str| prepared.iter().any(|s| s.statement.contains(part));
    for part in [
        // A posting's two statements (migration 2026-12-08-601).
        "ledger_post_open",
        "ledger_post_write",
        // The balance's one statement.
        "FROM ledger_totals lt",
        // The links' copy on the project row (migration 2026-12-08-602).
        "\"projects\".\"mandate_ids\"",
    ] {
        assert!(has(part), "{part} is not kept prepared");
    }
}
