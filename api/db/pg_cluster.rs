//! A private PostgreSQL cluster run from the local server binaries, for when no
//! `DATABASE_URL` is given: the service keeps one under its data folder, the tests use
//! a throwaway one.
//!
//! `initdb` refuses to run as root, so when this process is root the cluster is owned
//! and run by an unprivileged user (`postgres` when it exists, `nobody` otherwise)
//! through `runuser`.

use std::ffi::CString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Where to find the server binaries, best first.
pub fn find_bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN_DIR") {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Ok(dir);
            }
        }
    }
    // Debian and Ubuntu keep them per major version.
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Ok(bin);
    }
    for dir in [
        "/usr/local/pgsql/bin",
        "/usr/pgsql/bin",
        "/opt/homebrew/bin",
        "/usr/local/bin",
    ] {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    bail!(
        "no DATABASE_URL is set and the PostgreSQL server binaries (initdb, pg_ctl) were not found \
         on PATH or under /usr/lib/postgresql/*/bin.\n\
         Either install the PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`; \
         Fedora: `dnf install postgresql-server`; macOS: `brew install postgresql`), \
         or point PG_BIN_DIR at the folder holding initdb, \
         or set DATABASE_URL to an existing database, e.g. postgres://user@localhost:5432/ogsms"
    )
}

/// A running cluster. One this process started is stopped when dropped; one that was
/// already running (a `serve` in another process, or left by a process that was killed)
/// is used and left running, so that `ogsms token` or `ogsms service-account` beside a
/// running service never takes its database away.
pub struct LocalCluster {
    bin: PathBuf,
    pgdata: PathBuf,
    log: PathBuf,
    port: u16,
    run_as: Option<User>,
    stopped: bool,
    /// It was running before this process came: not ours to stop.
    borrowed: bool,
    extra_options: String,
}

#[derive(Clone, Debug)]
struct User {
    name: String,
    uid: u32,
    gid: u32,
}

fn lookup_user(name: &str) -> Option<User> {
    let cname = CString::new(name).ok()?;
    // SAFETY: getpwnam returns a pointer into static storage or null; we copy what we
    // need before any other call that could overwrite it.
    unsafe {
        let pw = libc::getpwnam(cname.as_ptr());
        if pw.is_null() {
            return None;
        }
        Some(User {
            name: name.to_owned(),
            uid: (*pw).pw_uid,
            gid: (*pw).pw_gid,
        })
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

impl LocalCluster {
    /// Starts the cluster in `dir` (its data in `dir/pgdata`), creating it on first use.
    /// A cluster already running there (another process's, or left by a process that
    /// was killed) is used as it is, and left running when this one is dropped.
    pub fn start(dir: &Path) -> anyhow::Result<LocalCluster> {
        Self::start_with(dir, "")
    }

    /// [`LocalCluster::start`] with extra server options (e.g. `-c fsync=off` for a
    /// throwaway test cluster).
    pub fn start_with(dir: &Path, extra_options: &str) -> anyhow::Result<LocalCluster> {
        let bin = find_bin_dir()?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let run_as = if is_root() {
            let user = lookup_user("postgres")
                .or_else(|| lookup_user("nobody"))
                .context("running as root, and neither a `postgres` nor a `nobody` user exists to run PostgreSQL as (initdb refuses root)")?;
            Some(user)
        } else {
            None
        };
        let mut cluster = LocalCluster {
            bin,
            pgdata: dir.join("pgdata"),
            log: dir.join("postgres.log"),
            port: 0,
            run_as,
            stopped: false,
            borrowed: false,
            extra_options: extra_options.to_owned(),
        };
        if let Some(user) = &cluster.run_as {
            std::os::unix::fs::chown(&dir, Some(user.uid), Some(user.gid))
                .with_context(|| format!("handing {} to user {}", dir.display(), user.name))?;
            let ok = Command::new("runuser")
                .args(["-u", &user.name, "--", "test", "-w", &dir.to_string_lossy()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                bail!(
                    "PostgreSQL runs as user `{}` (initdb refuses root), who cannot write to {}; \
                     choose a data folder that user can reach (e.g. under /var/tmp or /srv), \
                     or set DATABASE_URL",
                    user.name,
                    dir.display()
                );
            }
        }
        if !cluster.pgdata.join("PG_VERSION").is_file() {
            cluster.initdb()?;
        }
        if let Some(port) = cluster.running_port() {
            log::info!(
                "taking over the PostgreSQL cluster already running in {}",
                cluster.pgdata.display()
            );
            cluster.port = port;
            cluster.borrowed = true;
        } else {
            cluster.port = free_port()?;
            cluster.pg_ctl_start()?;
        }
        Ok(cluster)
    }

    fn command(&self, program: &str) -> Command {
        self.command_at(self.bin.join(program))
    }

    fn command_at(&self, path: PathBuf) -> Command {
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", &user.name, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn run(&self, mut cmd: Command, what: &str) -> anyhow::Result<()> {
        let out = cmd.output().with_context(|| format!("running {what}"))?;
        if !out.status.success() {
            bail!(
                "{what} failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    fn initdb(&self) -> anyhow::Result<()> {
        log::info!("creating a PostgreSQL cluster in {}", self.pgdata.display());
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(&self.pgdata).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]);
        self.run(cmd, "initdb")
    }

    /// The port of a postmaster already running on this data folder, if any.
    fn running_port(&self) -> Option<u16> {
        let pid_file = std::fs::read_to_string(self.pgdata.join("postmaster.pid")).ok()?;
        let mut status = self.command("pg_ctl");
        status.arg("-D").arg(&self.pgdata).arg("status");
        let running = status.output().ok()?.status.success();
        if !running {
            return None;
        }
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let mut cmd = self.command("pg_ctl");
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=300 {}",
            self.port,
            self.pgdata.display(),
            self.extra_options
        );
        cmd.arg("-D")
            .arg(&self.pgdata)
            .arg("-l")
            .arg(&self.log)
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        self.run(cmd, "pg_ctl start")
            .with_context(|| format!("see {}", self.log.display()))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A streaming replica of this cluster in `dir` (its data in `dir/pgdata`): a
    /// `pg_basebackup -R` of this one, started on a port of its own. For tests and
    /// local trials (`extra_options` are the replica's server options beyond the
    /// primary's); the primary needs a replication entry in `pg_hba.conf` (initdb's
    /// defaults have one for local connections) and a free WAL sender.
    pub fn start_replica(&self, dir: &Path, extra_options: &str) -> anyhow::Result<LocalCluster> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        if let Some(user) = &self.run_as {
            std::os::unix::fs::chown(&dir, Some(user.uid), Some(user.gid))
                .with_context(|| format!("handing {} to user {}", dir.display(), user.name))?;
        }
        let replica = LocalCluster {
            bin: self.bin.clone(),
            pgdata: dir.join("pgdata"),
            log: dir.join("postgres.log"),
            port: free_port()?,
            run_as: self.run_as.clone(),
            stopped: false,
            borrowed: false,
            extra_options: format!("{} {extra_options}", self.extra_options),
        };
        // Beside the server binaries (through a link to them, if that is what was found).
        let tool = [self.bin.clone()]
            .into_iter()
            .chain(
                self.bin
                    .join("initdb")
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf)),
            )
            .map(|d| d.join("pg_basebackup"))
            .find(|p| p.is_file())
            .context("pg_basebackup is not beside initdb")?;
        let mut cmd = self.command_at(tool);
        cmd.arg("-D")
            .arg(&replica.pgdata)
            .args([
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ])
            .arg("-p")
            .arg(self.port.to_string());
        self.run(cmd, "pg_basebackup")?;
        replica.pg_ctl_start()?;
        Ok(replica)
    }

    /// Starts again a cluster that [`LocalCluster::stop`] stopped, on the same port.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.pg_ctl_start()?;
        self.stopped = false;
        Ok(())
    }

    /// The URL of database `db` in this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Stops the cluster (`fast`: sessions are ended, committed data is kept).
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(&self.pgdata)
            .args(["-m", "fast", "-w", "stop"]);
        if let Err(e) = self.run(cmd, "pg_ctl stop") {
            log::warn!("{e:#}");
        }
    }

    /// Stops a cluster without waiting for sessions (used for throwaway clusters).
    pub fn stop_immediately(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(&self.pgdata)
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = cmd.output();
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if !self.borrowed {
            self.stop();
        }
    }
}

/// Creates database `name` in the cluster at `admin_url` unless it exists.
pub async fn ensure_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let mut conn = AsyncPgConnection::establish(admin_url).await?;
    let row: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(name)
            .get_result(&mut conn)
            .await?;
    if !row.exists {
        let quoted = name.replace('"', "\"\"");
        diesel::sql_query(format!("CREATE DATABASE \"{quoted}\""))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}
