//! The service's settings, checked before anything starts.
//!
//! A setting is a command-line flag with an environment variable (`--bind`,
//! `OGSMS_BIND`: parsed by clap with the value parsers below), or an environment variable
//! only (`OGSMS_RATE_LIMIT_PER_MINUTE`, the token settings, CORS, IATI: [`ENV_ONLY`],
//! checked by [`check_environment`] and read where they are used). A value that does not
//! parse or is out of range stops the start with one line that names the setting, the
//! value (never a password or a secret) and what is allowed, and exit code
//! [`EXIT_BAD_SETTING`]; nothing falls back to a default silently. A variable that is set
//! but empty is an error too: unset it for the default.
//!
//! Start-up errors about files name the path and the setting that moves it
//! ([`path_error`]); database errors are described in `db_connect`.

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The exit code of a start stopped by a bad setting (clap's, for usage errors, too).
pub const EXIT_BAD_SETTING: u8 = 2;

/// Every variable the binary reads: the flags' variables and [`ENV_ONLY`] ones.
/// (`tests/api/deploy.rs` checks it against `ogsms --help` and the compose file.)
pub const KNOWN_VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "DATABASE_REPLICA_URLS",
    "OGSMS_DB_REPLICA_WAIT_MS",
    "OGSMS_DATA_DIR",
    "OGSMS_DB_WAIT_SECS",
    "OGSMS_BIND",
    "OGSMS_WORKERS",
    "OGSMS_DB_POOL_SIZE",
    "OGSMS_DB_STATEMENT_TIMEOUT_MS",
    "OGSMS_RATE_LIMIT_PER_MINUTE",
    "OGSMS_RATE_LIMIT_BURST",
    "OGSMS_RATE_LIMIT_STORE",
    "OGSMS_LEADER_POLL_SECS",
    "OGSMS_CORS_ORIGINS",
    "OGSMS_IATI_REPORTING_ORG_REF",
    "OGSMS_JWT_ALG",
    "OGSMS_JWT_ISSUER",
    "OGSMS_JWT_AUDIENCE",
    "OGSMS_TOKEN_TTL_SECS",
    "OGSMS_JWT_SECRET",
    "OGSMS_JWKS_FILE",
    "OGSMS_JWT_SIGNING_KEY",
    "OGSMS_JWT_SIGNING_KID",
    "OGSMS_CHANGES_RETENTION_DAYS",
    "OGSMS_WEBHOOKS",
    "OGSMS_WEBHOOK_POLL_MS",
    "OGSMS_WEBHOOK_TIMEOUT_MS",
    "OGSMS_WEBHOOK_RETRY_BASE_MS",
    "OGSMS_WEBHOOK_RETRY_MAX_MS",
    "OGSMS_WEBHOOK_RETRY_WINDOW_SECS",
    "PG_BIN_DIR",
    "RUST_LOG",
];

/// A setting with a value that is not allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// How the value was given: `OGSMS_BIND` or `--bind`.
    pub setting: String,
    /// The other way to give it, if any.
    pub alias: Option<String>,
    /// The value as given, or a description of it when it must not be shown.
    pub value: String,
    /// What is allowed.
    pub allowed: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid setting {}={:?}", self.setting, self.value)?;
        if let Some(alias) = &self.alias {
            write!(f, " (or {alias})")?;
        }
        write!(f, ": {}", self.allowed)
    }
}

impl std::error::Error for SettingError {}

/// A variable read only from the environment, and what it accepts.
pub struct EnvSetting {
    pub name: &'static str,
    /// Whether its value may be shown in an error (not for secrets).
    pub secret: bool,
    /// `Err(what is allowed)` when the value is not.
    pub check: fn(&str) -> Result<(), String>,
}

/// The settings read from the environment only (where they are used: `ops::Limits`,
/// `AuthConfig::from_env`, CORS in `lib.rs`, `iati`), checked here with the same
/// parsing those readers do.
pub const ENV_ONLY: &[EnvSetting] = &[
    EnvSetting {
        name: "OGSMS_RATE_LIMIT_PER_MINUTE",
        secret: false,
        check: |v| whole::<u32>(v, 1, 1_000_000_000, "requests per minute per caller").map(drop),
    },
    EnvSetting {
        name: "OGSMS_RATE_LIMIT_BURST",
        secret: false,
        check: |v| {
            whole::<u32>(v, 1, 1_000_000_000, "requests a caller may send at once").map(drop)
        },
    },
    EnvSetting {
        name: "OGSMS_RATE_LIMIT_STORE",
        secret: false,
        check: |v| match v {
            "postgres" | "memory" => Ok(()),
            _ => Err(
                "expected postgres (shared by every instance) or memory (this process)".to_owned(),
            ),
        },
    },
    EnvSetting {
        name: "OGSMS_LEADER_POLL_SECS",
        secret: false,
        check: |v| {
            whole::<u64>(
                v,
                1,
                300,
                "seconds between tries of the background jobs' leader lock",
            )
            .map(drop)
        },
    },
    EnvSetting {
        name: "OGSMS_TOKEN_TTL_SECS",
        secret: false,
        check: |v| whole::<u64>(v, 1, 86_400, "seconds a token is valid").map(drop),
    },
    EnvSetting {
        name: "OGSMS_JWT_ALG",
        secret: false,
        check: |v| match v {
            "HS256" | "RS256" | "EdDSA" => Ok(()),
            _ => Err("expected HS256, RS256 or EdDSA".to_owned()),
        },
    },
    EnvSetting {
        name: "OGSMS_JWT_SECRET",
        secret: true,
        check: |v| {
            if v.len() >= 32 {
                Ok(())
            } else {
                Err(
                    "expected a secret of at least 32 bytes (e.g. `openssl rand -base64 48`)"
                        .to_owned(),
                )
            }
        },
    },
    EnvSetting {
        name: "OGSMS_JWT_ISSUER",
        secret: false,
        check: not_empty,
    },
    EnvSetting {
        name: "OGSMS_JWT_AUDIENCE",
        secret: false,
        check: not_empty,
    },
    EnvSetting {
        name: "OGSMS_JWKS_FILE",
        secret: false,
        check: not_empty,
    },
    EnvSetting {
        name: "OGSMS_JWT_SIGNING_KEY",
        secret: false,
        check: not_empty,
    },
    EnvSetting {
        name: "OGSMS_JWT_SIGNING_KID",
        secret: false,
        check: not_empty,
    },
    EnvSetting {
        name: "OGSMS_CORS_ORIGINS",
        secret: false,
        check: cors_origins,
    },
    EnvSetting {
        name: "OGSMS_CHANGES_RETENTION_DAYS",
        secret: false,
        check: |v| whole::<i64>(v, 1, 3650, "days the change feed keeps its events").map(drop),
    },
    EnvSetting {
        name: "OGSMS_WEBHOOKS",
        secret: false,
        check: |v| match v {
            "on" | "off" => Ok(()),
            _ => Err("expected on or off".to_owned()),
        },
    },
    EnvSetting {
        name: "OGSMS_WEBHOOK_POLL_MS",
        secret: false,
        check: |v| {
            whole::<u64>(
                v,
                10,
                3_600_000,
                "milliseconds between looks at an idle subscription",
            )
            .map(drop)
        },
    },
    EnvSetting {
        name: "OGSMS_WEBHOOK_TIMEOUT_MS",
        secret: false,
        check: |v| whole::<u64>(v, 10, 120_000, "milliseconds a receiver has to answer").map(drop),
    },
    EnvSetting {
        name: "OGSMS_WEBHOOK_RETRY_BASE_MS",
        secret: false,
        check: |v| whole::<u64>(v, 1, 3_600_000, "milliseconds before the first retry").map(drop),
    },
    EnvSetting {
        name: "OGSMS_WEBHOOK_RETRY_MAX_MS",
        secret: false,
        check: |v| whole::<u64>(v, 1, 86_400_000, "most milliseconds between retries").map(drop),
    },
    EnvSetting {
        name: "OGSMS_WEBHOOK_RETRY_WINDOW_SECS",
        secret: false,
        check: |v| {
            whole::<u64>(
                v,
                1,
                2_592_000,
                "seconds an event is retried before the subscription is failing",
            )
            .map(drop)
        },
    },
    EnvSetting {
        name: "OGSMS_IATI_REPORTING_ORG_REF",
        secret: false,
        check: iati_ref,
    },
];

fn not_empty(_: &str) -> Result<(), String> {
    // Emptiness is refused for every variable before its check runs.
    Ok(())
}

/// A whole number in `min..=max`; the error says what is allowed.
fn whole<T>(v: &str, min: T, max: T, what: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    match v.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "expected a whole number from {min} to {max} ({what})"
        )),
    }
}

/// `*`, or comma-separated origins such as `https://dashboards.oas.org` (scheme, host
/// and port only: a browser's `Origin` never has a path).
fn cors_origins(v: &str) -> Result<(), String> {
    const ALLOWED: &str = "expected `*` or comma-separated origins like \
                           https://dashboards.oas.org or http://localhost:3000 \
                           (scheme, host and optional port; no path)";
    for origin in v.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        if origin == "*" {
            continue;
        }
        let Some((scheme, rest)) = origin.split_once("://") else {
            return Err(ALLOWED.to_owned());
        };
        // `[v6]:port`, `[v6]`, `host:port` or `host`; a port must be a number.
        let (host, port) = match rest.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((addr, port)) => (addr, port.strip_prefix(':').or(Some(port))),
                None => return Err(ALLOWED.to_owned()),
            },
            None => match rest.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            },
        };
        let port_ok = port.is_none_or(|p| p.is_empty() || p.parse::<u16>().is_ok())
            && !port.is_some_and(|p| p.is_empty() && rest.ends_with(':'));
        let host_ok = port_ok
            && !host.is_empty()
            && if rest.starts_with('[') {
                host.chars()
                    .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.'))
            } else {
                host.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
            };
        if !matches!(scheme, "http" | "https") || !host_ok {
            return Err(ALLOWED.to_owned());
        }
    }
    Ok(())
}

/// An IATI organisation identifier: no spaces and none of the characters IATI forbids
/// in identifiers (`/ & | ?`).
fn iati_ref(v: &str) -> Result<(), String> {
    let v = v.trim();
    if !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '/' | '&' | '|' | '?'))
    {
        Ok(())
    } else {
        Err(
            "expected an IATI organisation identifier such as XI-IATI-OAS \
             (no spaces, no / & | ?)"
                .to_owned(),
        )
    }
}

/// Checks every [`ENV_ONLY`] variable that is set; warns of `OGSMS_*` variables that no
/// setting reads (a misspelt name would otherwise leave the default in force unseen).
pub fn check_environment() -> Result<(), SettingError> {
    check_variables(std::env::vars_os())
}

fn check_variables(vars: impl Iterator<Item = (OsString, OsString)>) -> Result<(), SettingError> {
    for (name, value) in vars {
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with("OGSMS_") {
            continue;
        }
        let Some(setting) = ENV_ONLY.iter().find(|s| s.name == name) else {
            if !KNOWN_VARIABLES.contains(&name) {
                log::warn!("{name} is set but is not a setting of ogsms; it is ignored");
            }
            continue;
        };
        let shown = |v: &str| {
            if setting.secret {
                format!("<{} bytes, not shown>", v.len())
            } else {
                v.to_owned()
            }
        };
        let error = |value: String, allowed: String| SettingError {
            setting: name.to_owned(),
            alias: None,
            value,
            allowed,
        };
        let Some(value) = value.to_str() else {
            return Err(error(
                value.to_string_lossy().into_owned(),
                "expected UTF-8 text".to_owned(),
            ));
        };
        if value.is_empty() {
            return Err(error(
                String::new(),
                "expected a value (the variable is set but empty: unset it for the default)"
                    .to_owned(),
            ));
        }
        (setting.check)(value).map_err(|allowed| error(shown(value), allowed))?;
    }
    Ok(())
}

// Value parsers of the flags (`value_parser = settings::…`): each error is the "what is
// allowed" part of the line that [`parse`] prints.

/// `--bind`, `OGSMS_BIND`.
pub fn bind(v: &str) -> Result<SocketAddr, String> {
    v.parse().map_err(|_| {
        "expected an IP address and a port, e.g. 0.0.0.0:8080 (every interface) or \
         127.0.0.1:8080 (this machine only)"
            .to_owned()
    })
}

/// `--workers`, `OGSMS_WORKERS`.
pub fn workers(v: &str) -> Result<usize, String> {
    whole(v, 1, 1024, "worker threads")
}

/// `--pool-size`, `OGSMS_DB_POOL_SIZE`.
pub fn pool_size(v: &str) -> Result<usize, String> {
    whole(v, 1, 10_000, "database connections")
}

/// `--statement-timeout-ms`, `OGSMS_DB_STATEMENT_TIMEOUT_MS`.
pub fn statement_timeout_ms(v: &str) -> Result<u64, String> {
    whole(v, 0, 86_400_000, "milliseconds; 0 for no limit")
}

/// `--db-wait-secs`, `OGSMS_DB_WAIT_SECS`: how long to wait for the database at start.
pub fn db_wait_secs(v: &str) -> Result<u64, String> {
    whole(
        v,
        0,
        3600,
        "seconds to wait for the database at start; 0 for one attempt",
    )
}

/// `--data-dir`, `OGSMS_DATA_DIR`.
pub fn data_dir(v: &str) -> Result<PathBuf, String> {
    if v.is_empty() {
        Err("expected a directory (unset it for the default, `data`)".to_owned())
    } else {
        Ok(PathBuf::from(v))
    }
}

/// `--database-url`, `DATABASE_URL`: a PostgreSQL connection string naming a host.
pub fn database_url(v: &str) -> Result<String, String> {
    const ALLOWED: &str = "expected a PostgreSQL URL such as \
                           postgres://user:password@host:5432/database \
                           (unset it to run the private cluster under the data directory)";
    match v.parse::<tokio_postgres::Config>() {
        Ok(config) if !config.get_hosts().is_empty() || !config.get_hostaddrs().is_empty() => {
            Ok(v.to_owned())
        }
        _ => Err(ALLOWED.to_owned()),
    }
}

/// The read replicas' URLs (`--database-replica-urls`, `DATABASE_REPLICA_URLS`).
#[derive(Clone, Debug, Default)]
pub struct ReplicaUrls(pub Vec<String>);

/// `--database-replica-urls`, `DATABASE_REPLICA_URLS`: PostgreSQL URLs of streaming
/// replicas of `DATABASE_URL`, separated by commas.
pub fn database_replica_urls(v: &str) -> Result<ReplicaUrls, String> {
    let urls: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            database_url(u).map_err(|_| {
                "expected PostgreSQL URLs of read replicas separated by commas, such as \
                 postgres://user:password@replica1:5432/ogsms,postgres://user:password@replica2:5432/ogsms"
                    .to_owned()
            })
        })
        .collect::<Result<_, _>>()?;
    if urls.is_empty() {
        return Err("expected at least one PostgreSQL URL (unset it for no replica)".to_owned());
    }
    Ok(ReplicaUrls(urls))
}

/// `--replica-wait-ms`, `OGSMS_DB_REPLICA_WAIT_MS`.
pub fn replica_wait_ms(v: &str) -> Result<u64, String> {
    whole(
        v,
        0,
        10_000,
        "milliseconds a read waits for a replica to replay the caller's last write",
    )
}

/// `url` with its password (in the URL or as `password=`) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        // The userinfo ends at the last `@` before the path.
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            let userinfo = &rest[..at];
            if let Some((user, _)) = userinfo.split_once(':') {
                return format!("{scheme}://{user}:***{}", &rest[at..]);
            }
        }
        return url.to_owned();
    }
    url.split(' ')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.trim() == "password" => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses the command line and the flags' variables. A bad value stops the process with
/// one line (see [`SettingError`]) and exit code [`EXIT_BAD_SETTING`]; other usage errors,
/// `--help` and `--version` are clap's own.
pub fn parse<P: clap::Parser>() -> P {
    let args: Vec<OsString> = std::env::args_os().collect();
    match P::try_parse_from(&args) {
        Ok(parsed) => parsed,
        Err(e) => match setting_error(&e, &P::command(), &args) {
            Some(line) => {
                eprintln!("ogsms: {line}");
                std::process::exit(i32::from(EXIT_BAD_SETTING));
            }
            None => e.exit(),
        },
    }
}

/// The one-line form of clap's error about a flag's value, naming the variable when the
/// value came from the environment.
fn setting_error(e: &clap::Error, cmd: &clap::Command, args: &[OsString]) -> Option<SettingError> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg.strip_prefix("--")?.split([' ', '=']).next()?.to_owned();
    let found = find_arg(cmd, &long)?;
    let value = match e.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) => v.clone(),
        _ => String::new(),
    };
    let value = if found.get_id() == "database_url" {
        redact_url(&value)
    } else if found.get_id() == "database_replica_urls" {
        value
            .split(',')
            .map(redact_url)
            .collect::<Vec<_>>()
            .join(",")
    } else {
        value
    };
    let allowed = match (e.kind(), std::error::Error::source(e)) {
        (ErrorKind::ValueValidation, Some(source)) => source.to_string(),
        _ => match e.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(valid)) => format!("expected one of {}", valid.join(", ")),
            _ => "not allowed".to_owned(),
        },
    };
    let flag = format!("--{long}");
    let on_command_line = args.iter().filter_map(|a| a.to_str()).any(|a| {
        a == flag
            || a.strip_prefix(flag.as_str())
                .is_some_and(|r| r.starts_with('='))
    });
    let env = found.get_env().map(|v| v.to_string_lossy().into_owned());
    let (setting, alias) = match env {
        Some(env) if !on_command_line => (env, Some(flag)),
        env => (flag, env),
    };
    Some(SettingError {
        setting,
        alias,
        value,
        allowed,
    })
}

fn find_arg<'a>(cmd: &'a clap::Command, long: &str) -> Option<&'a clap::Arg> {
    cmd.get_arguments()
        .find(|a| a.get_long() == Some(long))
        .or_else(|| cmd.get_subcommands().find_map(|sub| find_arg(sub, long)))
}

/// An error about a file or directory: what was being done, the absolute path, the OS's
/// reason, the user, and `fix` (which setting moves it, or how to fix it).
pub fn path_error(doing: &str, path: &Path, err: &std::io::Error, fix: &str) -> anyhow::Error {
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    anyhow::anyhow!(
        "cannot {doing} {}: {err} (running as uid {uid}); {fix}",
        shown.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, value: &str) -> Result<(), SettingError> {
        check_variables([(OsString::from(name), OsString::from(value))].into_iter())
    }

    #[test]
    fn environment_only_settings_name_the_variable_the_value_and_what_is_allowed() {
        let e = check("OGSMS_RATE_LIMIT_PER_MINUTE", "lots").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid setting OGSMS_RATE_LIMIT_PER_MINUTE=\"lots\": expected a whole number \
             from 1 to 1000000000 (requests per minute per caller)"
        );
        assert!(check("OGSMS_RATE_LIMIT_PER_MINUTE", "0").is_err());
        assert!(check("OGSMS_RATE_LIMIT_PER_MINUTE", "6000").is_ok());
        assert!(check("OGSMS_RATE_LIMIT_BURST", "").is_err());
        assert!(check("OGSMS_TOKEN_TTL_SECS", "15m").is_err());
        assert!(check("OGSMS_TOKEN_TTL_SECS", "900").is_ok());
        assert!(check("OGSMS_JWT_ALG", "HS512").is_err());
        assert!(check("OGSMS_JWT_ALG", "EdDSA").is_ok());
        assert!(check("OGSMS_IATI_REPORTING_ORG_REF", "XI IATI/OAS").is_err());
        assert!(check("OGSMS_IATI_REPORTING_ORG_REF", "XI-IATI-OAS").is_ok());
        // A variable no setting reads is only warned of.
        assert!(check("OGSMS_RATELIMIT", "lots").is_ok());
    }

    #[test]
    fn a_secret_is_never_shown() {
        let e = check("OGSMS_JWT_SECRET", "hunter2").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().contains("7 bytes"), "{e}");
        assert!(check("OGSMS_JWT_SECRET", &"x".repeat(32)).is_ok());
    }

    #[test]
    fn cors_origins_are_scheme_host_and_port() {
        for ok in [
            "*",
            "https://dashboards.oas.org",
            "http://localhost:3000, https://a.example",
            "http://[::1]:8080",
        ] {
            assert!(cors_origins(ok).is_ok(), "{ok}");
        }
        for bad in [
            "dashboards.oas.org",
            "https://dashboards.oas.org/",
            "ftp://x.org",
            "https://x.org:port",
            "https://x.org:",
            "https://[::1",
        ] {
            assert!(cors_origins(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn database_urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://ogsms:s3cret@db:5432/ogsms"),
            "postgres://ogsms:***@db:5432/ogsms"
        );
        assert_eq!(
            redact_url("postgres://ogsms@db/ogsms"),
            "postgres://ogsms@db/ogsms"
        );
        assert_eq!(
            redact_url("host=db password=s3cret dbname=ogsms"),
            "host=db password=*** dbname=ogsms"
        );
        assert!(database_url("notaurl").is_err());
        assert!(database_url("").is_err());
        assert!(database_url("postgres://ogsms:x@db:5432/ogsms").is_ok());
    }
}
