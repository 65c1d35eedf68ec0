//! The test harness: a real PostgreSQL, a database per test cloned from a migrated
//! template, and the service on a loopback port spoken to over HTTP.
//!
//! With `DATABASE_URL` set, its server is used (the role needs CREATEDB). Without it, a
//! throwaway cluster is started from the local server binaries for this test process
//! and removed when it exits.

#![allow(dead_code)]

pub mod proxy;
pub mod service;

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web;
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use ogsms::auth::AuthConfig;
use ogsms::auth::policy::Role;
use ogsms::db::pg_cluster::LocalCluster;
use ogsms::db::{self, PoolSettings};
use ogsms::state::AppState;
use serde_json::Value;
use sha2::{Digest, Sha256};

type SyncConn = AsyncConnectionWrapper<AsyncPgConnection>;

struct Server {
    /// A URL of the server to create and drop databases from.
    admin_url: String,
    /// Builds the URL of database `name` on the server.
    url_base: String,
    /// The template every test database is cloned from.
    template: String,
    own_cluster: bool,
}

static CLUSTER: Mutex<Option<LocalCluster>> = Mutex::new(None);
static CLUSTER_DIR: Mutex<Option<tempfile::TempDir>> = Mutex::new(None);

extern "C" fn stop_cluster() {
    if let Ok(mut guard) = CLUSTER.lock()
        && let Some(mut cluster) = guard.take()
    {
        cluster.stop_immediately();
    }
    // The cluster's files (a gigabyte and more after a full run) are removed by a
    // detached `rm`: removing them here held the test process, and `cargo test`, for
    // minutes after the last test on a slow disk.
    if let Ok(mut guard) = CLUSTER_DIR.lock()
        && let Some(dir) = guard.take()
    {
        let path = dir.keep();
        let detached = std::process::Command::new("rm")
            .arg("-rf")
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if detached.is_err() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Runs `f` on a plain thread: the sync (blocking) connection wrapper may not run inside
/// the test's async runtime.
fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f)
        .join()
        .expect("blocking helper panicked")
}

fn migrations_hash() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    let mut hasher = Sha256::new();
    for f in files {
        hasher.update(f.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&f).expect("reading a migration"));
    }
    hex::encode(&hasher.finalize()[..6])
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("reading migrations/")
        .flatten()
    {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn replace_db(url: &str, db: &str) -> String {
    // postgres://user@host:port/dbname?params
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let host_part = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{db}?{q}"),
        None => format!("{host_part}/{db}"),
    }
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let _ = env_logger::builder().is_test(true).try_init();
        let (admin_url, own_cluster) = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => (url, false),
            _ => {
                let dir = tempfile::Builder::new()
                    .prefix("ogsms-test-pg-")
                    .tempdir()
                    .expect("creating a folder for the test cluster");
                let cluster = LocalCluster::start_with(
                    dir.path(),
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                )
                .unwrap_or_else(|e| panic!("starting a PostgreSQL cluster for the tests: {e:#}"));
                let url = cluster.url("postgres");
                *CLUSTER.lock().unwrap() = Some(cluster);
                *CLUSTER_DIR.lock().unwrap() = Some(dir);
                // SAFETY: registering a plain extern "C" function.
                unsafe { libc::atexit(stop_cluster) };
                (url, true)
            }
        };
        let template = format!("ogsms_tmpl_{}", migrations_hash());
        let admin = admin_url.clone();
        let tmpl = template.clone();
        blocking(move || create_template(&admin, &tmpl));
        Server {
            url_base: admin_url.clone(),
            admin_url,
            template,
            own_cluster,
        }
    })
}

/// Creates the migrated template once per server (an advisory lock serializes test
/// processes that race for it).
fn create_template(admin_url: &str, template: &str) {
    let mut conn = SyncConn::establish(admin_url).expect("connecting to the test server");
    conn.batch_execute("SELECT pg_advisory_lock(774411)")
        .unwrap();
    let exists: i64 = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM pg_database WHERE datname = '{template}'"
    ))
    .load::<Count>(&mut conn)
    .unwrap()[0]
        .n;
    if exists == 0 {
        let building = format!("{template}_building");
        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .unwrap();
        conn.batch_execute(&format!("CREATE DATABASE {building}"))
            .unwrap();
        db::run_migrations(&replace_db(admin_url, &building)).expect("migrating the template");
        conn.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}"))
            .unwrap();
    }
    conn.batch_execute("SELECT pg_advisory_unlock(774411)")
        .unwrap();
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A database of this test's own, dropped at the end of the test.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn new() -> TestDb {
        let server = server();
        let name = format!("ogsms_t_{}", uuid::Uuid::new_v4().simple());
        let admin = server.admin_url.clone();
        let template = server.template.clone();
        let n = name.clone();
        blocking(move || {
            let mut conn = SyncConn::establish(&admin).expect("connecting to the test server");
            conn.batch_execute(&format!("CREATE DATABASE {n} TEMPLATE {template}"))
                .expect("cloning the template");
        });
        TestDb {
            url: replace_db(&server.url_base, &name),
            name,
        }
    }

    /// Runs SQL on this database directly (as the service's own role).
    pub fn execute(&self, sql: &str) -> Result<(), String> {
        let url = self.url.clone();
        let sql = sql.to_owned();
        blocking(move || {
            let mut conn = SyncConn::establish(&url).map_err(|e| e.to_string())?;
            conn.batch_execute(&sql).map_err(|e| e.to_string())
        })
    }

    /// The first column of the first row of `sql`, as text.
    pub fn scalar(&self, sql: &str) -> String {
        #[derive(diesel::QueryableByName)]
        struct V {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        let url = self.url.clone();
        let sql = format!("SELECT ({sql})::text AS v");
        blocking(move || {
            let mut conn = SyncConn::establish(&url).unwrap();
            diesel::sql_query(sql)
                .load::<V>(&mut conn)
                .unwrap()
                .remove(0)
                .v
        })
    }
}

impl TestDb {
    /// The error `sql` fails with, as (SQLSTATE, message), or `None` when it succeeds.
    /// Unlike [`TestDb::execute`], this tells a trigger's own refusal from, say, a CHECK
    /// constraint's.
    pub fn error_of(&self, sql: &str) -> Option<(String, String)> {
        #[derive(diesel::QueryableByName)]
        struct E {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            e: Option<String>,
        }
        let url = self.url.clone();
        let sql = sql.to_owned();
        let e = blocking(move || {
            let mut conn = SyncConn::establish(&url).unwrap();
            conn.batch_execute(
                "CREATE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $$ \
                 BEGIN EXECUTE q; RETURN NULL; \
                 EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ' ' || SQLERRM; END $$",
            )
            .unwrap();
            diesel::sql_query("SELECT pg_temp.error_of($1) AS e")
                .bind::<diesel::sql_types::Text, _>(sql)
                .load::<E>(&mut conn)
                .unwrap()
                .remove(0)
                .e
        });
        e.map(|e| {
            let (state, message) = e.split_once(' ').unwrap();
            (state.to_owned(), message.to_owned())
        })
    }

    /// An MD5 of every row of every table of the database (the audit trail and the
    /// idempotency keys included), by table: equal digests before and after a request
    /// prove it changed nothing. Left out: the rate limiter's buckets (every request,
    /// refused or dry-run, spends from its caller's budget) and the record of background
    /// jobs, the service's operation rather than the data a request may change.
    pub fn table_digests(&self) -> std::collections::BTreeMap<String, String> {
        #[derive(diesel::QueryableByName)]
        struct D {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            d: String,
        }
        let url = self.url.clone();
        blocking(move || {
            let mut conn = SyncConn::establish(&url).unwrap();
            let tables: Vec<D> = diesel::sql_query(
                "SELECT c.relname::text AS t, '' AS d FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') \
                   AND c.relname NOT IN ('__diesel_schema_migrations', 'rate_buckets', 'background_job_runs') \
                 ORDER BY 1",
            )
            .load(&mut conn)
            .unwrap();
            let sql = tables
                .iter()
                .map(|D { t, .. }| {
                    format!(
                        "SELECT '{t}' AS t, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) \
                         || ':' || count(*) AS d FROM public.\"{t}\" x"
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            diesel::sql_query(sql)
                .load::<D>(&mut conn)
                .unwrap()
                .into_iter()
                .map(|D { t, d }| (t, d))
                .collect()
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let server = server();
        if server.own_cluster {
            // The whole cluster goes when the process ends.
            return;
        }
        let admin = server.admin_url.clone();
        let name = self.name.clone();
        blocking(move || {
            if let Ok(mut conn) = SyncConn::establish(&admin) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        });
    }
}

/// The HS256 secret of test services.
pub const TEST_SECRET: &[u8] = b"test-secret-test-secret-test-secret-0123456789";
pub const TEST_ISSUER: &str = "ogsms-test";
pub const TEST_AUDIENCE: &str = "ogsms-api-test";

pub fn test_auth() -> AuthConfig {
    AuthConfig::hs256(TEST_SECRET, TEST_ISSUER, TEST_AUDIENCE).unwrap()
}

/// A running service on its own database.
///
/// Requests carry a coordinator's token unless they set `authorization` themselves
/// (`("authorization", "none")` sends none).
pub struct TestApp {
    pub db: TestDb,
    pub base: String,
    pub state: web::Data<AppState>,
    client: awc::Client,
    handle: actix_web::dev::ServerHandle,
    coordinator: String,
}

/// Options of a test service.
#[derive(Default)]
pub struct Options {
    /// Load the demo data.
    pub demo: bool,
    /// Connect through this URL instead of the database's own (e.g. a proxy).
    pub url_override: Option<String>,
    pub pool: Option<PoolSettings>,
    /// How tokens are checked (default: HS256 with [`TEST_SECRET`]).
    pub auth: Option<AuthConfig>,
    /// Per-caller rate limits (default: the service's defaults).
    pub limits: Option<ogsms::ops::Limits>,
    /// With `demo`: the whole demo dataset, not only departments and offices.
    pub full_demo: bool,
}

impl TestApp {
    /// A service on an empty (migrated) database.
    pub async fn new() -> TestApp {
        TestApp::with(Options::default()).await
    }

    /// A service on a database with the whole demo dataset (mandates, agencies,
    /// projects, reports, appointments too).
    pub async fn full_demo() -> TestApp {
        TestApp::with(Options {
            demo: true,
            full_demo: true,
            ..Options::default()
        })
        .await
    }

    /// A service on a database with the demo's reference data: departments and offices.
    pub async fn demo() -> TestApp {
        TestApp::with(Options {
            demo: true,
            ..Options::default()
        })
        .await
    }

    pub async fn with(options: Options) -> TestApp {
        let db = TestDb::new();
        let url = options
            .url_override
            .clone()
            .unwrap_or_else(|| db.url.clone());
        let settings = options.pool.unwrap_or(PoolSettings {
            max_size: 8,
            ..PoolSettings::default()
        });
        let pool = db::pool(&url, &settings).expect("building the pool");
        if options.demo {
            let mut conn = pool.get().await.expect("connecting");
            if options.full_demo {
                ogsms::seed::demo(&mut conn).await
            } else {
                ogsms::seed::demo_reference(&mut conn).await
            }
            .expect("loading demo data");
        }
        let export_pool =
            ogsms::reports::exports::pool(&url, &settings).expect("building the export pool");
        let mut state = AppState::new(pool, options.auth.unwrap_or_else(test_auth))
            .with_export_pool(export_pool);
        if let Some(limits) = options.limits {
            state.limits = std::sync::Arc::new(limits);
        }
        let state = web::Data::new(state);
        let s = state.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a test port");
        let addr = listener.local_addr().expect("the test port");
        let server = ogsms::app::server::server(
            ogsms::app::server::Listen::Listener(listener),
            ogsms::app::server::ServerOptions {
                workers: 1,
                shutdown_timeout: 1,
                os_signals: false,
            },
            move || s.clone(),
        )
        .expect("starting the test server");
        let handle = server.handle();
        actix_rt::spawn(server);
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .disable_redirects()
            .finish();
        let coordinator = state
            .auth
            .sign(
                &state
                    .auth
                    .claims("test-coordinator", Role::Coordinator, None, None, None),
            )
            .unwrap_or_default();
        TestApp {
            db,
            base: format!("http://{addr}"),
            state,
            client,
            handle,
            coordinator: format!("Bearer {coordinator}"),
        }
    }

    /// A token of `role` (with its office or department), signed with the test key.
    pub fn token(
        &self,
        role: Role,
        office: Option<uuid::Uuid>,
        department: Option<uuid::Uuid>,
    ) -> String {
        let sub = format!("test-{}", role.as_str());
        self.state
            .auth
            .sign(&self.state.auth.claims(&sub, role, office, department, None))
            .unwrap()
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Resp {
        let raw = body.map(|b| serde_json::to_vec(b).unwrap());
        let mut hs: Vec<(&str, &str)> = headers.to_vec();
        if raw.is_some()
            && !hs
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            hs.push(("content-type", "application/json"));
        }
        self.raw(method, path, &hs, raw.unwrap_or_default()).await
    }

    /// Sends a request with a raw body.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Resp {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = self.client.request(method, url);
        let mut has_auth = false;
        for (k, v) in headers {
            if k.eq_ignore_ascii_case("authorization") {
                has_auth = true;
                if *v == "none" {
                    continue;
                }
            }
            req = req.insert_header((*k, *v));
        }
        if !has_auth {
            req = req.insert_header(("authorization", self.coordinator.as_str()));
        }
        let mut res = req.send_body(body).await.expect("sending the request");
        let bytes = res
            .body()
            .limit(64 * 1024 * 1024)
            .await
            .expect("reading the body");
        Resp {
            status: res.status(),
            headers: res.headers().clone(),
            body: bytes.to_vec(),
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, &[], None).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.request(Method::GET, path, headers, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::POST, path, &[], Some(body)).await
    }

    pub async fn patch(&self, path: &str, etag: Option<&str>, body: &Value) -> Resp {
        match etag {
            Some(e) => {
                self.request(Method::PATCH, path, &[("if-match", e)], Some(body))
                    .await
            }
            None => self.request(Method::PATCH, path, &[], Some(body)).await,
        }
    }

    /// Every item of a list, following `next_cursor` page by page.
    pub async fn collect(&self, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = path.to_owned();
        loop {
            let res = self.get(&url).await;
            assert_eq!(res.status, StatusCode::OK, "{url}: {}", res.text());
            let body = res.json();
            items.extend(body["items"].as_array().unwrap().iter().cloned());
            match body["next_cursor"].as_str() {
                Some(c) => url = format!("{path}{sep}cursor={c}"),
                None => break,
            }
        }
        items
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// A response, read whole.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(HeaderName::from_bytes(name.as_bytes()).unwrap())
            .map(|v: &HeaderValue| v.to_str().unwrap().to_owned())
    }

    /// Asserts an RFC 9457 problem with this status and type slug; returns it.
    #[track_caller]
    pub fn problem(&self, status: u16, slug: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "status; body: {}",
            self.text()
        );
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "content type; body: {}",
            self.text()
        );
        let p = self.json();
        assert_eq!(p["type"], format!("/problems/{slug}"), "{p}");
        assert_eq!(p["status"], status);
        assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(p["detail"].as_str().is_some_and(|t| !t.is_empty()));
        p
    }

    /// The fields named by a problem's `errors`.
    pub fn problem_fields(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["field"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A valid new office body with the given code.
pub fn new_office(code: &str, member_state: &str) -> Value {
    serde_json::json!({
        "code": code,
        "kind": "country_office",
        "member_state": member_state,
        "name": {"en": format!("Office {code}"), "es": format!("Oficina {code}")},
        "city": "Lima",
        "address": "Av. Javier Prado 123",
        "contacts": {"email": "office@oas.org", "phone": "+51 1 611 2000", "website": "https://www.oas.org"},
        "opened_on": "1990-05-01"
    })
}
