//! The real `ogsms` binary as a child process, for what only the running service does:
//! its start-up checks, its background tasks, its middleware as configured from the
//! environment, and its own memory.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ogsms::auth::policy::Role;

use super::{TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET, TestDb, test_auth};

/// The `OGSMS_*` settings a service reads from its environment: cleared in the child so
/// that the test's own environment cannot change what is tested.
const SETTINGS: &[&str] = &[
    "OGSMS_BIND",
    "OGSMS_WORKERS",
    "OGSMS_DB_POOL_SIZE",
    "OGSMS_DB_STATEMENT_TIMEOUT_MS",
    "OGSMS_CORS_ORIGINS",
    "OGSMS_JWT_ALG",
    "OGSMS_JWT_SECRET",
    "OGSMS_JWT_ISSUER",
    "OGSMS_JWT_AUDIENCE",
    "OGSMS_TOKEN_TTL_SECS",
    "OGSMS_JWKS_FILE",
    "OGSMS_JWT_SIGNING_KEY",
    "OGSMS_JWT_SIGNING_KID",
    "DATABASE_REPLICA_URLS",
    "OGSMS_DB_REPLICA_WAIT_MS",
];

/// `ogsms serve` on `db`, with the test's key, one worker, no demo data and the given
/// extra environment; its output goes to files in `dir`.
pub fn command(db: &TestDb, dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Command {
    command_on(&db.url, dir, port, env)
}

/// [`command`] on the database at `url`.
pub fn command_on(url: &str, dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ogsms"));
    for k in SETTINGS {
        cmd.env_remove(k);
    }
    cmd.arg("serve")
        .arg("--no-demo")
        .env("DATABASE_URL", url)
        .env("OGSMS_DATA_DIR", dir)
        .env("OGSMS_BIND", format!("127.0.0.1:{port}"))
        .env("OGSMS_WORKERS", "1")
        .env("OGSMS_DB_POOL_SIZE", "4")
        .env(
            "OGSMS_JWT_SECRET",
            std::str::from_utf8(TEST_SECRET).unwrap(),
        )
        .env("OGSMS_JWT_ISSUER", TEST_ISSUER)
        .env("OGSMS_JWT_AUDIENCE", TEST_AUDIENCE)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            std::fs::File::create(dir.join("stdout")).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("stderr")).unwrap(),
        ));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A free loopback port (free when asked; the service binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `ogsms serve`, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Service {
    pub base: String,
    child: Child,
    dir: tempfile::TempDir,
    client: awc::Client,
}

impl Service {
    /// Starts the service on `db` and waits until `/livez` answers.
    pub async fn start(db: &TestDb, env: &[(&str, &str)]) -> Service {
        Service::start_on(&db.url, env).await
    }

    /// [`Service::start`] on the database at `url`.
    pub async fn start_on(url: &str, env: &[(&str, &str)]) -> Service {
        let dir = tempfile::Builder::new()
            .prefix("ogsms-service-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let child = command_on(url, dir.path(), port, env)
            .spawn()
            .expect("starting the ogsms binary");
        let mut service = Service {
            base: format!("http://127.0.0.1:{port}"),
            child,
            dir,
            client: awc::Client::builder()
                .timeout(Duration::from_secs(60))
                .disable_redirects()
                .finish(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = service.child.try_wait().unwrap() {
                panic!(
                    "the service exited at start ({status}): {}",
                    service.stderr()
                );
            }
            if let Ok(res) = service
                .client
                .get(format!("{}/livez", service.base))
                .send()
                .await
                && res.status() == 200
            {
                return service;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not answer /livez within 30 s: {}",
                service.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the service wrote to its standard error so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A line of `/proc/<pid>/status`, in KiB (`VmRSS`, `VmHWM`).
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{}/status", self.pid()))
    }

    /// Resets the process's peak resident memory (`VmHWM`) to its current one.
    pub fn reset_peak_memory(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5")
            .expect("resetting the service's peak memory (/proc/<pid>/clear_refs)");
    }

    /// A bearer token of `role` that the service accepts (signed with the test key).
    pub fn token(&self, role: Role) -> String {
        bearer_of(role).1
    }

    /// A request to the service, with a coordinator's token unless `authorization` is
    /// given.
    pub fn request(&self, method: actix_web::http::Method, path: &str) -> awc::ClientRequest {
        self.client
            .request(method, format!("{}{path}", self.base))
            .insert_header(("authorization", self.token(Role::Coordinator)))
    }

    pub fn client(&self) -> &awc::Client {
        &self.client
    }
}

/// A token of `role` and its jti: (jti, "Bearer …").
pub fn bearer_of(role: Role) -> (String, String) {
    let auth = test_auth();
    let claims = auth.claims("test-service", role, None, None, None);
    let jti = claims.jti.clone();
    (jti, format!("Bearer {}", auth.sign(&claims).unwrap()))
}

impl Drop for Service {
    fn drop(&mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
