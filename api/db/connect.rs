//! The first connection to the database at start: which server and database it is
//! (never the password), why it failed (refused, unknown host, no answer, unknown
//! database, rejected credentials) and what to do, in one line; and, while the server
//! is not reachable yet, retries with exponential backoff for a bounded time
//! (`--db-wait-secs`, `OGSMS_DB_WAIT_SECS`), logging each attempt, as orchestrators that
//! start the database and the service together expect.

use std::fmt;
use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;

/// How long one attempt may take (name lookup, TCP, start-up and authentication).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first pause between attempts; it doubles up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(8);

/// The server and database a URL names.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
}

impl Target {
    /// From a connection string (PostgreSQL's defaults where it says nothing).
    pub fn of(url: &str) -> Target {
        let config: Option<tokio_postgres::Config> = url.parse().ok();
        let host = config
            .as_ref()
            .and_then(|c| c.get_hosts().first())
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(h) => h.clone(),
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .or_else(|| {
                let config = config.as_ref()?;
                config.get_hostaddrs().first().map(|a| a.to_string())
            })
            .unwrap_or_else(|| "(no host)".to_owned());
        let port = config
            .as_ref()
            .and_then(|c| c.get_ports().first().copied())
            .unwrap_or(5432);
        let user = config
            .as_ref()
            .and_then(|c| c.get_user().map(str::to_owned))
            .unwrap_or_else(|| "(none)".to_owned());
        let database = config
            .as_ref()
            .and_then(|c| c.get_dbname().map(str::to_owned))
            .unwrap_or_else(|| user.clone());
        Target {
            host,
            port,
            database,
            user,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "database \"{}\" on {}:{} as user \"{}\"",
            self.database, self.host, self.port, self.user
        )
    }
}

/// Why a connection failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing listens on the host and port (yet).
    Refused,
    /// The host name does not resolve (yet: a container's name resolves once it runs).
    UnknownHost,
    /// No answer in time.
    NoAnswer,
    /// The server is up but not accepting connections (starting up, shutting down, full).
    NotReady(String),
    /// The server has no such database.
    UnknownDatabase,
    /// The server refused the user or password.
    Credentials(String),
    /// Anything else, with the driver's message.
    Other(String),
}

impl Failure {
    /// Classifies a driver error.
    pub fn of(e: &tokio_postgres::Error) -> Failure {
        if let Some(code) = e.code() {
            let message = e
                .as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned());
            return if *code == SqlState::INVALID_CATALOG_NAME {
                Failure::UnknownDatabase
            } else if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            {
                Failure::Credentials(message)
            } else if *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::TOO_MANY_CONNECTIONS
                || *code == SqlState::ADMIN_SHUTDOWN
            {
                Failure::NotReady(message)
            } else {
                Failure::Other(message)
            };
        }
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                return match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => Failure::Refused,
                    std::io::ErrorKind::TimedOut => Failure::NoAnswer,
                    _ if io.to_string().contains("lookup address") => Failure::UnknownHost,
                    _ => Failure::Other(io.to_string()),
                };
            }
            source = s.source();
        }
        Failure::Other(e.to_string())
    }

    /// Whether waiting may help: the server may still be coming up.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Failure::Refused | Failure::UnknownHost | Failure::NoAnswer | Failure::NotReady(_)
        )
    }

    /// What happened, in a few words.
    pub fn what(&self) -> String {
        match self {
            Failure::Refused => "connection refused".to_owned(),
            Failure::UnknownHost => "unknown host".to_owned(),
            Failure::NoAnswer => format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()),
            Failure::NotReady(m) => format!("the server is not accepting connections ({m})"),
            Failure::UnknownDatabase => "the database does not exist".to_owned(),
            Failure::Credentials(m) => format!("credentials rejected ({m})"),
            Failure::Other(m) => m.clone(),
        }
    }

    /// What to do about it, in one sentence.
    pub fn remedy(&self, t: &Target) -> String {
        match self {
            Failure::Refused => format!(
                "start PostgreSQL on {}:{} or fix the host and port in DATABASE_URL",
                t.host, t.port
            ),
            Failure::UnknownHost => format!(
                "the name {} does not resolve: fix the host in DATABASE_URL (with compose, \
                 the database service's name)",
                t.host
            ),
            Failure::NoAnswer => format!(
                "check that {}:{} is the server's address and that no firewall drops the \
                 connection",
                t.host, t.port
            ),
            Failure::NotReady(_) => "wait for the server, or check its log".to_owned(),
            Failure::UnknownDatabase => format!(
                "create it (`createdb -h {} -p {} -U {} {}`) or fix the database name in \
                 DATABASE_URL",
                t.host, t.port, t.user, t.database
            ),
            Failure::Credentials(_) => format!(
                "fix the user or password in DATABASE_URL, or let user \"{}\" in through the \
                 server's pg_hba.conf",
                t.user
            ),
            Failure::Other(_) => "check DATABASE_URL and the server's log".to_owned(),
        }
    }
}

/// One connection attempt: connects, authenticates and disconnects.
pub async fn probe(url: &str) -> Result<(), Failure> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| Failure::Other(e.to_string()))?;
    match tokio::time::timeout(ATTEMPT_TIMEOUT, config.connect(tokio_postgres::NoTls)).await {
        Ok(Ok((client, connection))) => {
            drop(client);
            drop(connection);
            Ok(())
        }
        Ok(Err(e)) => Err(Failure::of(&e)),
        Err(_) => Err(Failure::NoAnswer),
    }
}

/// Waits until the database at `url` accepts a connection: tries at once, then while
/// the failure is transient retries after 0.5 s, 1 s, 2 s … (at most 8 s apart) until
/// `wait` has passed since the first attempt, logging each failed attempt. The error
/// names the server and database, what went wrong and what to do. Blocking.
pub fn wait_for(url: &str, wait: Duration) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(wait_for_async(url, wait))
}

async fn wait_for_async(url: &str, wait: Duration) -> anyhow::Result<()> {
    let target = Target::of(url);
    let start = Instant::now();
    let mut delay = FIRST_DELAY;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let failure = match probe(url).await {
            Ok(()) => {
                if attempt > 1 {
                    log::info!("{target} accepts connections (attempt {attempt})");
                }
                return Ok(());
            }
            Err(f) => f,
        };
        let left = wait.saturating_sub(start.elapsed());
        if !failure.is_transient() || left.is_zero() {
            let tried = if attempt > 1 {
                format!(
                    " ({attempt} attempts in {:.0} s; OGSMS_DB_WAIT_SECS={} sets how long to wait)",
                    start.elapsed().as_secs_f64(),
                    wait.as_secs()
                )
            } else {
                String::new()
            };
            anyhow::bail!(
                "cannot connect to the {target}: {}{tried}; {}",
                failure.what(),
                failure.remedy(&target)
            );
        }
        let pause = delay.min(left);
        log::warn!(
            "cannot connect to the {target}: {} (attempt {attempt}); retrying in {:.1} s, \
             for up to {} s in all (OGSMS_DB_WAIT_SECS)",
            failure.what(),
            pause.as_secs_f64(),
            wait.as_secs()
        );
        tokio::time::sleep(pause).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_named_without_its_password() {
        let t = Target::of("postgres://ogsms:s3cret@db:5433/reports");
        assert_eq!(
            t.to_string(),
            "database \"reports\" on db:5433 as user \"ogsms\""
        );
        let t = Target::of("postgres://ogsms@db");
        assert_eq!((t.port, t.database.as_str()), (5432, "ogsms"));
    }

    #[test]
    fn only_transient_failures_are_retried() {
        assert!(Failure::Refused.is_transient());
        assert!(Failure::UnknownHost.is_transient());
        assert!(!Failure::UnknownDatabase.is_transient());
        assert!(!Failure::Credentials(String::new()).is_transient());
    }
}
