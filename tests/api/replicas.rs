//! Read replicas against a real streaming replica: a primary cluster of these tests' own
//! and a `pg_basebackup -R` of it started with a second `pg_ctl`, built once per test
//! process, and two `ogsms serve` child processes reading from it.
//!
//! The replica replays every commit 300 ms late (`recovery_min_apply_delay`), so that a
//! read that went to it without waiting for the caller's write would miss the write:
//! read-your-writes is then proved, not a race the replica happens to win. Every
//! server statement is logged (`log_statement=all`), so which server ran a list is
//! counted in each server's log.
//!
//! The tests take the setup's lock one at a time: one of them stops the replica.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::http::Method;
use ogsms::auth::policy::Role;
use ogsms::db::pg_cluster::LocalCluster;
use serde_json::{Value, json};

use crate::common::service::Service;
use crate::common::test_auth;

/// How late the replica applies each commit.
const APPLY_DELAY_MS: u64 = 300;

struct Setup {
    primary: LocalCluster,
    replica: LocalCluster,
    primary_log: PathBuf,
    replica_log: PathBuf,
    _dir: tempfile::TempDir,
}

static SETUP: OnceLock<tokio::sync::Mutex<Setup>> = OnceLock::new();

fn setup() -> &'static tokio::sync::Mutex<Setup> {
    SETUP.get_or_init(|| {
        std::thread::spawn(|| {
            let dir = tempfile::Builder::new()
                .prefix("ogsms-test-replica-")
                .tempdir()
                .unwrap();
            let primary = LocalCluster::start_with(
                &dir.path().join("primary"),
                "-c fsync=off -c full_page_writes=off -c log_statement=all",
            )
            .expect("starting the primary");
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(ogsms::db::pg_cluster::ensure_database(
                &primary.url("postgres"),
                "ogsms",
            ))
            .unwrap();
            ogsms::db::run_migrations(&primary.url("ogsms")).unwrap();
            let replica = primary
                .start_replica(
                    &dir.path().join("replica"),
                    &format!("-c recovery_min_apply_delay={APPLY_DELAY_MS}ms"),
                )
                .expect("starting the replica");
            // The clusters are stopped when the test process exits (the harness's own
            // cluster is stopped the same way).
            extern "C" fn stop() {
                if let Some(setup) = SETUP.get()
                    && let Ok(mut s) = setup.try_lock()
                {
                    s.replica.stop_immediately();
                    s.primary.stop_immediately();
                    let _ = std::process::Command::new("rm")
                        .arg("-rf")
                        .arg(s._dir.path())
                        .stdin(std::process::Stdio::null())
                        .spawn();
                }
            }
            // SAFETY: registering a plain extern "C" function.
            unsafe { libc::atexit(stop) };
            tokio::sync::Mutex::new(Setup {
                primary_log: dir.path().join("primary").join("postgres.log"),
                replica_log: dir.path().join("replica").join("postgres.log"),
                primary,
                replica,
                _dir: dir,
            })
        })
        .join()
        .expect("building the primary and its replica")
    })
}

/// A bearer token for caller `sub`.
fn token(sub: &str) -> String {
    let auth = test_auth();
    let claims = auth.claims(sub, Role::Coordinator, None, None, None);
    format!("Bearer {}", auth.sign(&claims).unwrap())
}

async fn start(setup: &Setup) -> Service {
    let replica = setup.replica.url("ogsms");
    Service::start_on(
        &setup.primary.url("ogsms"),
        &[
            ("DATABASE_REPLICA_URLS", replica.as_str()),
            ("OGSMS_DB_REPLICA_WAIT_MS", "2000"),
            ("OGSMS_RATE_LIMIT_PER_MINUTE", "100000"),
            ("OGSMS_RATE_LIMIT_BURST", "10000"),
        ],
    )
    .await
}

async fn call(
    s: &Service,
    method: Method,
    path: &str,
    sub: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let req = s
        .client()
        .request(method, format!("{}{path}", s.base))
        .insert_header(("authorization", token(sub)));
    let mut res = match body {
        Some(b) => req.send_json(b).await,
        None => req.send().await,
    }
    .expect("the service answers");
    let status = res.status().as_u16();
    let bytes = res.body().limit(10 << 20).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The value of a metric line (`name{labels} value`) of the service, 0 when absent.
async fn metric(s: &Service, line_start: &str) -> f64 {
    let mut res = s
        .client()
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// How many statements reading the departments' table a server's log holds past `from`.
fn department_reads(log: &PathBuf, from: usize) -> (usize, usize) {
    let text = std::fs::read(log).unwrap();
    let tail = String::from_utf8_lossy(&text[from.min(text.len())..]).to_lowercase();
    let n = tail
        .lines()
        .filter(|l| l.contains("statement: ") || l.contains("execute "))
        .filter(|l| l.contains("from \"departments\""))
        .count();
    (n, text.len())
}

fn log_len(log: &PathBuf) -> usize {
    std::fs::metadata(log)
        .map(|m| m.len() as usize)
        .unwrap_or(0)
}

/// Whether the replica, asked directly, has the department `code` yet.
async fn on_replica(setup: &Setup, code: &str) -> bool {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = diesel_async::AsyncPgConnection::establish(&setup.replica.url("ogsms"))
        .await
        .unwrap();
    let row: N = diesel::sql_query("SELECT count(*) AS n FROM departments WHERE code = $1")
        .bind::<diesel::sql_types::Text, _>(code)
        .get_result(&mut conn)
        .await
        .unwrap();
    row.n > 0
}

fn codes(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .filter_map(|d| d["code"].as_str().map(str::to_owned))
        .collect()
}

/// A write through one instance, then a list through the other, by the same caller:
/// the list always has the write, though the replica applies it 300 ms late; the lists
/// went to the replica (after waiting), not all to the primary.
#[actix_web::test]
async fn a_write_through_one_instance_is_seen_by_the_next_read_through_another() {
    let setup = setup().lock().await;
    let (a, b) = (start(&setup).await, start(&setup).await);
    let before = metric(&b, "ogsms_db_replica_reads_total").await;
    let waits_before = metric(&b, "ogsms_db_read_fence_waits_total{outcome=\"caught_up\"}").await;
    const N: usize = 8;
    let mut stale = 0;
    let sub = format!("writer-{}", uuid::Uuid::new_v4().simple());
    for i in 0..N {
        let code = format!("RY{}{i}", &sub[7..11].to_uppercase());
        let body =
            json!({"code": code, "kind": "secretariat", "name": {"en": format!("S {code}")}});
        let (w, r) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let (status, created) = call(w, Method::POST, "/v1/departments", &sub, Some(&body)).await;
        assert_eq!(status, 201, "{created}");
        if !on_replica(&setup, &code).await {
            stale += 1;
        }
        let (status, page) = call(r, Method::GET, "/v1/departments?limit=200", &sub, None).await;
        assert_eq!(status, 200, "{page}");
        assert!(
            codes(&page).contains(&code),
            "write {i} ({code}) through one instance is missing from the list through the other"
        );
    }
    // Without the wait, reads on the replica right after the write would have missed it.
    assert!(
        stale >= 1,
        "the replica had every write at once: the test proves nothing"
    );
    // Half the lists went through b; they read the replica after waiting for it.
    let reads = metric(&b, "ogsms_db_replica_reads_total").await - before;
    let waits =
        metric(&b, "ogsms_db_read_fence_waits_total{outcome=\"caught_up\"}").await - waits_before;
    assert!(reads >= (N / 2) as f64, "replica reads through b: {reads}");
    assert!(waits >= 1.0, "no read waited for the replica: {waits}");
}

/// Lists by a caller who wrote nothing run on the replica: its log has them, the
/// primary's has none.
#[actix_web::test]
async fn lists_read_from_the_replica() {
    let setup = setup().lock().await;
    let a = start(&setup).await;
    let (primary_from, replica_from) = (log_len(&setup.primary_log), log_len(&setup.replica_log));
    const N: usize = 10;
    let reader = format!("reader-{}", uuid::Uuid::new_v4().simple());
    for _ in 0..N {
        let (status, page) = call(&a, Method::GET, "/v1/departments", &reader, None).await;
        assert_eq!(status, 200, "{page}");
    }
    // The server writes its log line as it runs the statement; give it a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (on_replica, _) = department_reads(&setup.replica_log, replica_from);
    let (on_primary, _) = department_reads(&setup.primary_log, primary_from);
    assert!(
        on_replica >= N,
        "department reads on the replica: {on_replica}"
    );
    assert_eq!(on_primary, 0, "department reads on the primary");
}

/// The replica stopped: reads go on, from the primary, without a 5xx, and `/metrics`
/// says so; started again: reads go back to it by themselves.
#[actix_web::test]
async fn a_stopped_replica_is_taken_out_and_put_back() {
    let mut setup = setup().lock().await;
    let a = start(&setup).await;
    let reader = format!("reader-{}", uuid::Uuid::new_v4().simple());
    let (status, _) = call(&a, Method::GET, "/v1/departments", &reader, None).await;
    assert_eq!(status, 200);
    assert_eq!(metric(&a, "ogsms_db_replica_up{").await, 1.0);

    setup.replica.stop();
    let fallbacks_before = metric(&a, "ogsms_db_read_fallbacks_total{reason=\"no_replica\"}").await;
    for _ in 0..10 {
        let (status, page) = call(&a, Method::GET, "/v1/departments", &reader, None).await;
        assert_eq!(status, 200, "a read with the replica down: {page}");
        let (status, _) = call(&a, Method::GET, "/readyz", &reader, None).await;
        assert_eq!(status, 200, "/readyz with the replica down");
    }
    let fallbacks =
        metric(&a, "ogsms_db_read_fallbacks_total{reason=\"no_replica\"}").await - fallbacks_before;
    assert!(fallbacks >= 10.0, "fallbacks: {fallbacks}");
    assert_eq!(metric(&a, "ogsms_db_replica_up{").await, 0.0);

    setup.replica.restart().expect("starting the replica again");
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(&a, "ogsms_db_replica_up{").await != 1.0 {
        assert!(
            Instant::now() < deadline,
            "the replica was not put back within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = metric(&a, "ogsms_db_replica_reads_total").await;
    for _ in 0..10 {
        let (status, page) = call(&a, Method::GET, "/v1/departments", &reader, None).await;
        assert_eq!(status, 200, "{page}");
    }
    let reads = metric(&a, "ogsms_db_replica_reads_total").await - before;
    // Connections the pool held across the restart are found broken one by one (each
    // such read goes to the primary); the rest read the replica again.
    assert!(reads >= 5.0, "replica reads after the restart: {reads}");
}

/// How many statements of a server's log past `from` contain `needle` (lower case).
fn statements_with(log: &PathBuf, from: usize, needle: &str) -> usize {
    let text = std::fs::read(log).unwrap();
    String::from_utf8_lossy(&text[from.min(text.len())..])
        .to_lowercase()
        .lines()
        .filter(|l| l.contains("statement: ") || l.contains("execute "))
        .filter(|l| l.contains(needle))
        .count()
}

/// `n` times: two exports (NDJSON, and CSV with its parents' context) and a
/// statistics report, each a 200.
async fn exports_and_statistics(a: &Service, reader: &str, n: usize) {
    for _ in 0..n {
        for path in [
            "/v1/exports/projects",
            "/v1/exports/ledger-entries?format=csv",
            "/v1/stats/projects",
        ] {
            let (status, body) = call(a, Method::GET, path, reader, None).await;
            assert_eq!(status, 200, "{path}: {body}");
        }
    }
    // The server writes its log line as it runs the statement; give it a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// The export's own statement (it opens its transaction with it), and the project
/// counts' query.
const EXPORT_SQL: &str = "set local application_name = 'ogsms-export'";
const STATS_SQL: &str = "count(*)::bigint as projects";

/// A streamed export (read on the export runtime, with connections of its own) and a
/// statistics report run on the replica for a caller who wrote nothing; with the replica
/// stopped they run on the primary, answer 200 and count as fallbacks.
#[actix_web::test]
async fn exports_and_statistics_read_from_the_replica_and_fall_back_without_it() {
    let mut setup = setup().lock().await;
    let a = start(&setup).await;
    let reader = format!("reader-{}", uuid::Uuid::new_v4().simple());
    const N: usize = 3;
    let (primary_from, replica_from) = (log_len(&setup.primary_log), log_len(&setup.replica_log));
    let reads_before = metric(&a, "ogsms_db_replica_reads_total").await;
    exports_and_statistics(&a, &reader, N).await;
    let exports = statements_with(&setup.replica_log, replica_from, EXPORT_SQL);
    let stats = statements_with(&setup.replica_log, replica_from, STATS_SQL);
    assert!(exports >= 2 * N, "exports on the replica: {exports}");
    assert!(stats >= N, "statistics on the replica: {stats}");
    assert_eq!(
        statements_with(&setup.primary_log, primary_from, EXPORT_SQL),
        0,
        "exports on the primary"
    );
    assert_eq!(
        statements_with(&setup.primary_log, primary_from, STATS_SQL),
        0,
        "statistics on the primary"
    );
    let reads = metric(&a, "ogsms_db_replica_reads_total").await - reads_before;
    assert!(reads >= (3 * N) as f64, "replica reads: {reads}");

    setup.replica.stop();
    let fallbacks_before = metric(&a, "ogsms_db_read_fallbacks_total{reason=\"no_replica\"}").await;
    let primary_from = log_len(&setup.primary_log);
    exports_and_statistics(&a, &reader, N).await;
    let exports = statements_with(&setup.primary_log, primary_from, EXPORT_SQL);
    let stats = statements_with(&setup.primary_log, primary_from, STATS_SQL);
    assert!(
        exports >= 2 * N,
        "exports on the primary, the replica stopped: {exports}"
    );
    assert!(
        stats >= N,
        "statistics on the primary, the replica stopped: {stats}"
    );
    let fallbacks =
        metric(&a, "ogsms_db_read_fallbacks_total{reason=\"no_replica\"}").await - fallbacks_before;
    assert!(fallbacks >= (3 * N) as f64, "fallbacks: {fallbacks}");
    setup.replica.restart().expect("starting the replica again");
}

/// A write through one instance, then an export through the other by the same caller:
/// the export (read on the export runtime, out of the request's task) has the write,
/// though the replica applies it 300 ms late; it read the replica after waiting.
#[actix_web::test]
async fn an_export_after_a_write_through_another_instance_has_the_write() {
    let setup = setup().lock().await;
    let (a, b) = (start(&setup).await, start(&setup).await);
    let sub = format!("exporter-{}", uuid::Uuid::new_v4().simple());
    let reads_before = metric(&b, "ogsms_db_replica_reads_total").await;
    const N: usize = 4;
    let mut stale = 0;
    for i in 0..N {
        let code = format!("RX{}{i}", &sub[9..13].to_uppercase());
        let body =
            json!({"code": code, "kind": "secretariat", "name": {"en": format!("S {code}")}});
        let (status, created) = call(&a, Method::POST, "/v1/departments", &sub, Some(&body)).await;
        assert_eq!(status, 201, "{created}");
        if !on_replica(&setup, &code).await {
            stale += 1;
        }
        let id = created["id"].as_str().unwrap();
        let mut res = b
            .client()
            .get(format!(
                "{}/v1/exports/audit-events?resource_id={id}",
                b.base
            ))
            .insert_header(("authorization", token(&sub)))
            .send()
            .await
            .expect("the service answers");
        assert_eq!(res.status().as_u16(), 200);
        let text = String::from_utf8(res.body().limit(10 << 20).await.unwrap().to_vec()).unwrap();
        assert!(
            text.lines().any(|l| l.contains(id)),
            "write {i} ({code}) through one instance is missing from the export through the other: {text:?}"
        );
    }
    assert!(
        stale >= 1,
        "the replica had every write at once: the test proves nothing"
    );
    let reads = metric(&b, "ogsms_db_replica_reads_total").await - reads_before;
    assert!(reads >= 1.0, "exports through b read the replica: {reads}");
}
