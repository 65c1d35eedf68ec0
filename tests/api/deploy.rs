//! Every documented way to run the service, without Docker (these machines cannot pull
//! images): the built binary run as the image runs it (an unprivileged user, working
//! directory `/`, the environment of the Dockerfile and of `docker-compose.yml`'s `api`
//! service, read from those files), and each start-up failure's message and exit code.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use yaml_rust2::{Yaml, YamlLoader};

use crate::common::TestDb;
use crate::common::service::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_ogsms");

fn repo_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// What the final stage of the Dockerfile says.
struct Image {
    env: Vec<(String, String)>,
    user: String,
    volumes: Vec<String>,
    /// Its `RUN` instructions, continuation lines joined.
    run: String,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
}

fn image() -> Image {
    let text = repo_file("Dockerfile").replace("\\\n", " ");
    let stage = text
        .rsplit_once("\nFROM ")
        .map(|(_, s)| s)
        .expect("a FROM line");
    let mut image = Image {
        env: Vec::new(),
        user: "root".to_owned(),
        volumes: Vec::new(),
        run: String::new(),
        entrypoint: Vec::new(),
        cmd: Vec::new(),
    };
    let json_array = |v: &str| -> Vec<String> {
        serde_json::from_str(v).unwrap_or_else(|e| panic!("{v} is not a JSON array: {e}"))
    };
    for line in stage.lines().map(str::trim) {
        let Some((instruction, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim();
        match instruction {
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair.split_once('=').expect("ENV KEY=VALUE");
                    image.env.retain(|(key, _)| key != k);
                    image
                        .env
                        .push((k.to_owned(), v.trim_matches('"').to_owned()));
                }
            }
            "USER" => image.user = rest.to_owned(),
            "VOLUME" if rest.starts_with('[') => image.volumes.extend(json_array(rest)),
            "VOLUME" => image
                .volumes
                .extend(rest.split_whitespace().map(str::to_owned)),
            "RUN" => {
                image.run.push_str(rest);
                image.run.push('\n');
            }
            "ENTRYPOINT" => image.entrypoint = json_array(rest),
            "CMD" => image.cmd = json_array(rest),
            _ => {}
        }
    }
    image
}

/// The compose file's `api` service, and the named volumes the file declares.
fn compose() -> (Yaml, Yaml) {
    let docs = YamlLoader::load_from_str(&repo_file("docker-compose.yml"))
        .expect("docker-compose.yml is YAML");
    let doc = docs.into_iter().next().expect("a document");
    (doc["services"]["api"].clone(), doc["volumes"].clone())
}

fn scalar(v: &Yaml) -> String {
    match v {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// The `environment` of the compose service, in either of compose's two forms.
fn compose_env(api: &Yaml) -> Vec<(String, String)> {
    match &api["environment"] {
        Yaml::Hash(h) => h.iter().map(|(k, v)| (scalar(k), scalar(v))).collect(),
        Yaml::Array(a) => a
            .iter()
            .map(|item| {
                let s = scalar(item);
                let (k, v) = s.split_once('=').expect("KEY=VALUE");
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        Yaml::BadValue => Vec::new(),
        other => panic!("environment: {other:?}"),
    }
}

/// The container's environment: the image's, overridden by the compose file's.
fn container_env() -> Vec<(String, String)> {
    let mut env = image().env;
    for (k, v) in compose_env(&compose().0) {
        env.retain(|(key, _)| *key != k);
        env.push((k, v));
    }
    env
}

fn get<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    env.retain(|(k, _)| k != key);
    env.push((key.to_owned(), value.to_owned()));
}

/// The user the image's unprivileged user stands for here: `nobody` when the tests run
/// as root (they do in CI), else the current user (unprivileged already).
fn unprivileged() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions; getpwnam reads a static record at once.
    unsafe {
        if libc::geteuid() != 0 {
            return None;
        }
        let pw = libc::getpwnam(c"nobody".as_ptr());
        assert!(
            !pw.is_null(),
            "the tests run as root and there is no user nobody"
        );
        Some(((*pw).pw_uid, (*pw).pw_gid))
    }
}

/// The binary with only `env`, in `/`, as the unprivileged user.
fn ogsms(env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null());
    if let Some((uid, gid)) = unprivileged() {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn run(env: &[(String, String)], args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let out = ogsms(env, args).output().expect("running ogsms");
    (out, start.elapsed())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A directory the unprivileged user owns (mode 0700), as a volume's would be.
fn owned_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ogsms-deploy-")
        .tempdir()
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    if let Some((uid, gid)) = unprivileged() {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
    }
    dir
}

/// One HTTP/1.1 GET: the status and the body.
fn http_get(port: u16, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_owned()))
}

/// A started service, stopped (SIGTERM, then SIGKILL) when dropped.
struct Service {
    child: Child,
    log: PathBuf,
}

impl Service {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(35);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_image_and_the_compose_file_give_the_service_a_data_directory_it_owns() {
    let image = image();
    let (api, volumes) = compose();
    assert_ne!(image.user, "root", "the image runs as an unprivileged user");
    let data_dir = get(&image.env, "OGSMS_DATA_DIR").expect("the image sets OGSMS_DATA_DIR");
    assert!(data_dir.starts_with('/'), "{data_dir}");
    assert!(
        image.volumes.iter().any(|v| v == data_dir),
        "the data directory {data_dir} is a VOLUME: {:?}",
        image.volumes
    );
    assert!(
        image.run.contains(&format!("mkdir -p {data_dir}"))
            && image
                .run
                .contains(&format!("chown {0}:{0} {data_dir}", image.user)),
        "the image makes {data_dir} and gives it to {}:\n{}",
        image.user,
        image.run
    );
    // The compose file keeps it, in a named volume, on a read-only root filesystem.
    let env = container_env();
    assert_eq!(get(&env, "OGSMS_DATA_DIR"), Some(data_dir));
    assert_eq!(get(&env, "OGSMS_JWT_SECRET"), None);
    let mounts: Vec<String> = api["volumes"]
        .as_vec()
        .expect("the api service has volumes")
        .iter()
        .map(scalar)
        .collect();
    let mount = mounts
        .iter()
        .find(|m| m.split(':').nth(1) == Some(data_dir))
        .unwrap_or_else(|| panic!("no volume on {data_dir}: {mounts:?}"));
    let name = mount.split(':').next().unwrap();
    assert!(
        !name.starts_with(['/', '.']) && volumes[name] != Yaml::BadValue,
        "{mount} is a named volume declared under volumes:"
    );
    assert_eq!(api["read_only"].as_bool(), Some(true), "read_only: true");
    assert_eq!(image.entrypoint, ["ogsms"]);
    // README's compose section says how to get a token.
    assert!(
        repo_file("README.md").contains("docker compose exec api ogsms token --role coordinator")
    );
}

#[test]
fn every_variable_the_image_and_compose_set_is_a_setting_the_binary_knows_and_readme_lists() {
    let known = ogsms::core::settings::KNOWN_VARIABLES;
    for (k, _) in container_env() {
        assert!(known.contains(&k.as_str()), "{k} is not a setting of ogsms");
    }
    // The list follows the binary's flags…
    let mut in_help = Vec::new();
    for args in [&["--help"][..], &["serve", "--help"]] {
        let out = Command::new(BIN).args(args).env_clear().output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        for part in help.split("[env: ").skip(1) {
            let name = part.split(['=', ']']).next().unwrap().to_owned();
            assert!(
                known.contains(&name.as_str()),
                "{name} is missing from KNOWN_VARIABLES"
            );
            in_help.push(name);
        }
    }
    assert!(
        in_help.iter().any(|n| n == "OGSMS_DB_WAIT_SECS"),
        "{in_help:?}"
    );
    // …and README lists every one.
    let readme = repo_file("README.md");
    for name in known {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README does not list `{name}`"
        );
    }
}

#[test]
fn the_binary_runs_as_the_container_does_and_mints_tokens_the_service_accepts() {
    let image = image();
    let db = TestDb::new();
    let mut env = container_env();
    // The database from the test harness stands in for the compose `db` service, a
    // directory owned by the unprivileged user for the named volume, and a free port for
    // the published one (on the interface the file says).
    assert!(get(&env, "DATABASE_URL").is_some_and(|u| u.contains("@db:")));
    set(&mut env, "DATABASE_URL", &db.url);
    let data_dir = get(&env, "OGSMS_DATA_DIR").expect("the container's OGSMS_DATA_DIR");
    assert!(
        image.volumes.iter().any(|v| v == data_dir),
        "{data_dir} is the image's volume: {:?}",
        image.volumes
    );
    let volume = owned_dir();
    set(&mut env, "OGSMS_DATA_DIR", volume.path().to_str().unwrap());
    let mut bind: SocketAddr = get(&env, "OGSMS_BIND").unwrap().parse().unwrap();
    let port = free_port();
    bind.set_port(port);
    set(&mut env, "OGSMS_BIND", &bind.to_string());

    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("serve.log");
    let args: Vec<&str> = image.cmd.iter().map(String::as_str).collect();
    let child = ogsms(&env, &args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("starting ogsms serve");
    let mut service = Service { child, log };
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some((200, _)) = http_get(port, "/readyz", None) {
            break;
        }
        if let Ok(Some(status)) = service.child.try_wait() {
            panic!("ogsms serve exited ({status}):\n{}", service.log());
        }
        assert!(
            Instant::now() < deadline,
            "not ready within 180 s:\n{}",
            service.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // The signing key was made in the data directory, for its user only.
    let key = volume.path().join("jwt-secret");
    let meta = std::fs::metadata(&key).expect("serve made jwt-secret in the data directory");
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    if let Some((uid, _)) = unprivileged() {
        assert_eq!(meta.uid(), uid);
    }

    // `docker compose exec api ogsms token --role coordinator`: the same environment.
    let (out, _) = run(&env, &["token", "--role", "coordinator"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (status, body) = http_get(port, "/v1/offices?limit=1", Some(&token)).unwrap();
    assert_eq!(status, 200, "{body}\n{}", service.log());
    let (status, _) = http_get(port, "/v1/offices?limit=1", None).unwrap();
    assert_eq!(status, 401);
    drop(service);
    drop(db);
}

/// An environment that would start (a database URL, a data directory, a secret) but
/// for the setting a test changes; the database is never reached.
fn base_env(data: &Path) -> Vec<(String, String)> {
    vec![
        (
            "DATABASE_URL".to_owned(),
            format!("postgres://ogsms:s3cret@127.0.0.1:{}/ogsms", free_port()),
        ),
        ("OGSMS_DB_WAIT_SECS".to_owned(), "0".to_owned()),
        (
            "OGSMS_DATA_DIR".to_owned(),
            data.to_str().unwrap().to_owned(),
        ),
        ("OGSMS_JWT_SECRET".to_owned(), "x".repeat(40)),
    ]
}

#[test]
fn a_bad_setting_stops_the_start_with_one_line_naming_it_and_exit_code_2() {
    let data = owned_dir();
    // (variable ("" to leave the environment as is), its value, flags, what the line
    // names, a text it must not show)
    type Case<'a> = (&'a str, &'a str, &'a [&'a str], &'a str, Option<&'a str>);
    let cases: &[Case] = &[
        (
            "OGSMS_RATE_LIMIT_PER_MINUTE",
            "lots",
            &[],
            "OGSMS_RATE_LIMIT_PER_MINUTE=\"lots\"",
            None,
        ),
        (
            "OGSMS_RATE_LIMIT_BURST",
            "0",
            &[],
            "OGSMS_RATE_LIMIT_BURST=\"0\"",
            None,
        ),
        (
            "OGSMS_DB_WAIT_SECS",
            "3601",
            &[],
            "OGSMS_DB_WAIT_SECS=\"3601\"",
            None,
        ),
        ("OGSMS_BIND", "8080", &[], "OGSMS_BIND=\"8080\"", None),
        ("OGSMS_WORKERS", "0", &[], "OGSMS_WORKERS=\"0\"", None),
        (
            "OGSMS_DB_POOL_SIZE",
            "many",
            &[],
            "OGSMS_DB_POOL_SIZE=\"many\"",
            None,
        ),
        (
            "OGSMS_DB_STATEMENT_TIMEOUT_MS",
            "1.5",
            &[],
            "OGSMS_DB_STATEMENT_TIMEOUT_MS=\"1.5\"",
            None,
        ),
        (
            "OGSMS_TOKEN_TTL_SECS",
            "15m",
            &[],
            "OGSMS_TOKEN_TTL_SECS=\"15m\"",
            None,
        ),
        (
            "OGSMS_JWT_ALG",
            "HS512",
            &[],
            "OGSMS_JWT_ALG=\"HS512\"",
            None,
        ),
        ("OGSMS_JWT_ISSUER", "", &[], "OGSMS_JWT_ISSUER=\"\"", None),
        (
            "OGSMS_CORS_ORIGINS",
            "dashboards.oas.org",
            &[],
            "OGSMS_CORS_ORIGINS=\"dashboards.oas.org\"",
            None,
        ),
        (
            "OGSMS_IATI_REPORTING_ORG_REF",
            "XI IATI",
            &[],
            "OGSMS_IATI_REPORTING_ORG_REF=\"XI IATI\"",
            None,
        ),
        ("OGSMS_DATA_DIR", "", &[], "OGSMS_DATA_DIR=\"\"", None),
        (
            "DATABASE_URL",
            "notaurl",
            &[],
            "DATABASE_URL=\"notaurl\"",
            None,
        ),
        (
            "DATABASE_URL",
            "postgres://ogsms:s3cret@db:notaport/ogsms",
            &[],
            "DATABASE_URL=",
            Some("s3cret"),
        ),
        (
            "OGSMS_JWT_SECRET",
            "too-short-secret",
            &[],
            "OGSMS_JWT_SECRET=",
            Some("too-short-secret"),
        ),
        (
            "",
            "",
            &["--db-wait-secs=lots"],
            "--db-wait-secs=\"lots\"",
            None,
        ),
        (
            "",
            "",
            &["--bind", "localhost"],
            "--bind=\"localhost\"",
            None,
        ),
        (
            "",
            "",
            &["--workers", "100000"],
            "--workers=\"100000\"",
            None,
        ),
    ];
    for (var, value, flags, names, hidden) in cases {
        let mut env = base_env(data.path());
        if !var.is_empty() {
            set(&mut env, var, value);
        }
        let mut args = vec!["serve"];
        args.extend_from_slice(flags);
        let (out, _) = run(&env, &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{var} {flags:?}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "one line for {var} {flags:?}: {err}");
        assert!(
            lines[0].starts_with("ogsms: invalid setting ")
                && lines[0].contains(names)
                && lines[0].contains("expected"),
            "{names}: {err}"
        );
        if let Some(hidden) = hidden {
            assert!(!err.contains(hidden), "{err}");
        }
    }
}

#[test]
fn an_unreachable_database_is_retried_with_each_attempt_logged_then_named() {
    let data = owned_dir();
    let port = free_port();
    let mut env = base_env(data.path());
    set(
        &mut env,
        "DATABASE_URL",
        &format!("postgres://ogsms:s3cret@127.0.0.1:{port}/ledgerdb"),
    );
    set(&mut env, "OGSMS_DB_WAIT_SECS", "2");
    let (out, took) = run(&env, &["serve"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let attempts = err
        .lines()
        .filter(|l| l.contains("\"WARN\"") && l.contains("connection refused (attempt "))
        .count();
    assert!(attempts >= 2, "each attempt is logged: {err}");
    let last = err.lines().last().unwrap();
    for part in [
        "ogsms: cannot connect to the database \"ledgerdb\"",
        &format!("127.0.0.1:{port}"),
        "connection refused",
        "OGSMS_DB_WAIT_SECS",
        "DATABASE_URL",
    ] {
        assert!(last.contains(part), "{part}: {last}");
    }
    assert!(!err.contains("s3cret"), "{err}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(20),
        "{took:?}"
    );
}

#[test]
fn an_unknown_database_is_named_at_once_with_the_command_that_makes_it() {
    let db = TestDb::new();
    let data = owned_dir();
    let mut env = base_env(data.path());
    set(
        &mut env,
        "DATABASE_URL",
        &db.url.replace(&db.name, "ogsms_no_such_db"),
    );
    set(&mut env, "OGSMS_DB_WAIT_SECS", "60");
    let (out, took) = run(&env, &["migrate"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(took < Duration::from_secs(15), "not retried: {took:?}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for part in [
        "database \"ogsms_no_such_db\"",
        "does not exist",
        "createdb",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
}

#[test]
fn an_unknown_host_is_named() {
    let data = owned_dir();
    let mut env = base_env(data.path());
    set(
        &mut env,
        "DATABASE_URL",
        "postgres://ogsms:s3cret@no-such-host.invalid:5432/ogsms",
    );
    let (out, _) = run(&env, &["serve"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for part in ["no-such-host.invalid:5432", "unknown host", "DATABASE_URL"] {
        assert!(err.contains(part), "{part}: {err}");
    }
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn a_data_directory_the_user_cannot_write_is_named_with_the_settings_that_fix_it() {
    // Owned by root (or, run unprivileged, read-only to its owner).
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut env = base_env(dir.path());
    env.retain(|(k, _)| k != "OGSMS_JWT_SECRET");
    let key = dir.path().join("jwt-secret");
    for args in [&["token", "--role", "coordinator"][..], &["serve"]] {
        let (out, _) = run(&env, args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "before any database attempt: {err}");
        for part in [
            key.to_str().unwrap(),
            "Permission denied",
            "OGSMS_DATA_DIR",
            "OGSMS_JWT_SECRET",
        ] {
            assert!(err.contains(part), "{args:?} {part}: {err}");
        }
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}
