//! The `ogsms` binary: the service and its admin commands.

use std::net::SocketAddr;
use std::path::PathBuf;

use actix_web::web;
use anyhow::Context;
use clap::{Parser, Subcommand};
use ogsms::app::openapi;
use ogsms::auth::AuthConfig;
use ogsms::auth::policy::Role;
use ogsms::core::settings;
use ogsms::db::connect as db_connect;
use ogsms::db::pg_cluster::{self, LocalCluster};
use ogsms::db::{self, PoolSettings};
use ogsms::resources::service_accounts;
use ogsms::seed;
use ogsms::state::AppState;

#[derive(Parser)]
#[command(
    name = "ogsms",
    version,
    about = "OGSMS API: the system of record of the OAS country offices"
)]
struct Cli {
    /// The database. When unset, a private PostgreSQL cluster is run under --data-dir.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true, value_parser = settings::database_url)]
    database_url: Option<String>,
    /// Where the private cluster and the token signing key (`jwt-secret`, unless
    /// OGSMS_JWT_SECRET is set) live; the service's user must be able to write it.
    #[arg(long, env = "OGSMS_DATA_DIR", default_value = "data", global = true, value_parser = settings::data_dir)]
    data_dir: PathBuf,
    /// How long to wait, in seconds, for the database to accept connections at start
    /// (retrying with backoff, each attempt logged), 0 to 3600; 0 tries once.
    #[arg(long, env = "OGSMS_DB_WAIT_SECS", default_value_t = 60, global = true, value_parser = settings::db_wait_secs)]
    db_wait_secs: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (migrations first; demo data on an empty database).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "OGSMS_BIND", default_value = "127.0.0.1:8080", value_parser = settings::bind)]
        bind: SocketAddr,
        /// Worker threads (default: one per core).
        #[arg(long, env = "OGSMS_WORKERS", value_parser = settings::workers)]
        workers: Option<usize>,
        /// Database connections, shared out among the workers (each worker has a pool
        /// of its own; the service's background tasks one more connection).
        #[arg(long, env = "OGSMS_DB_POOL_SIZE", default_value_t = 16, value_parser = settings::pool_size)]
        pool_size: usize,
        /// Longest a statement may run, in milliseconds, before it is cancelled and the
        /// request answered with a 504 problem (0: no limit).
        #[arg(long, env = "OGSMS_DB_STATEMENT_TIMEOUT_MS", default_value_t = 30_000, value_parser = settings::statement_timeout_ms)]
        statement_timeout_ms: u64,
        /// Read replicas of the database (streaming standbys), separated by commas:
        /// lists, reports, exports and statistics read from them (see README).
        #[arg(long, env = "DATABASE_REPLICA_URLS", hide_env_values = true, value_parser = settings::database_replica_urls)]
        database_replica_urls: Option<settings::ReplicaUrls>,
        /// How long, in milliseconds, a read waits for a replica to replay the caller's
        /// last write before it reads the primary instead (0 to 10000).
        #[arg(long, env = "OGSMS_DB_REPLICA_WAIT_MS", default_value_t = 200, value_parser = settings::replica_wait_ms)]
        replica_wait_ms: u64,
        /// Do not load the demo data into an empty database.
        #[arg(long)]
        no_demo: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Load data into the database.
    Seed {
        /// The demo dataset (reference data, ~50 mandates, ~200 executing agencies,
        /// ~500 projects with their reports, and the offices' appointments).
        #[arg(long)]
        demo: bool,
        /// A deterministic large dataset for benchmarks: this many projects (e.g. 10000),
        /// about ten monitoring reports each, agencies and mandates in proportion.
        #[arg(long, value_name = "N")]
        scale: Option<usize>,
        /// This many ledger entries (e.g. 10000000), hash-chained and balanced, in
        /// ledgers of every office and fiscal year, skewed (the busiest ledger holds
        /// 55%); needs offices and projects (with --demo or --scale, or loaded before).
        #[arg(long, value_name = "N")]
        entries: Option<usize>,
    },
    /// Print the OpenAPI document (as committed in openapi/openapi.json).
    Openapi,
    /// Print an access token for local use (signed with the service's key).
    Token {
        /// coordinator, representative, office_staff, hq_department, auditor or viewer.
        #[arg(long)]
        role: String,
        /// The office (id or code) of a representative or office_staff token.
        #[arg(long)]
        office: Option<String>,
        /// The department (id or code) of an hq_department token.
        #[arg(long)]
        department: Option<String>,
        /// The token's subject.
        #[arg(long, default_value = "local-admin")]
        sub: String,
        /// Lifetime in seconds (default: the service's token TTL, 900).
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Manage service accounts (client-credentials clients).
    ServiceAccount {
        #[command(subcommand)]
        action: AccountAction,
    },
    /// Record the signing key now configured (OGSMS_JWT_SECRET, OGSMS_JWKS_FILE…) as the
    /// one of this database, replacing the recorded one: a rotation on purpose. Stop
    /// the instances with the old key first; `serve` refuses to start with another key.
    RotateKey,
    /// Revoke a token by its jti, at once and until it expires.
    Revoke {
        #[arg(long)]
        jti: String,
        /// When the token expires (RFC 3339); default 24 hours from now.
        #[arg(long)]
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand)]
enum AccountAction {
    /// Create an account; prints its client_id and secret (shown only this once).
    Create {
        /// The client id: 3-64 lower-case letters, digits, `.`, `_`, `-`.
        #[arg(long)]
        client_id: String,
        /// What the account is for, e.g. "Power BI dashboard of DECO".
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        /// The office (id or code) of a representative or office_staff account.
        #[arg(long)]
        office: Option<String>,
        /// The department (id or code) of an hq_department account.
        #[arg(long)]
        department: Option<String>,
    },
    /// Disable an account: it gets no new tokens.
    Disable {
        #[arg(long)]
        client_id: String,
    },
    /// Enable a disabled account again.
    Enable {
        #[arg(long)]
        client_id: String,
    },
    /// List the accounts.
    List,
}

/// The database to use: DATABASE_URL, or the private cluster (started here, stopped
/// when the returned guard drops).
fn database(cli: &Cli) -> anyhow::Result<(String, Option<LocalCluster>)> {
    let wait = std::time::Duration::from_secs(cli.db_wait_secs);
    if let Some(url) = &cli.database_url {
        db_connect::wait_for(url, wait)?;
        return Ok((url.clone(), None));
    }
    let dir = cli.data_dir.join("postgres");
    let cluster = LocalCluster::start(&dir).with_context(|| {
        format!(
            "starting the private PostgreSQL cluster in {} (OGSMS_DATA_DIR or --data-dir \
             moves it; DATABASE_URL uses a server of yours instead)",
            std::path::absolute(&dir).unwrap_or(dir.clone()).display()
        )
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(pg_cluster::ensure_database(
        &cluster.url("postgres"),
        "ogsms",
    ))
    .context("creating the ogsms database")?;
    log::info!(
        "using the private PostgreSQL cluster on 127.0.0.1:{}",
        cluster.port()
    );
    Ok((cluster.url("ogsms"), Some(cluster)))
}

/// Runs `f` with a connection to the (migrated) database.
fn with_db<T>(
    cli: &Cli,
    f: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let (url, _cluster) = database(cli)?;
    db::run_migrations(&url)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        use diesel_async::AsyncConnection;
        let mut conn = diesel_async::AsyncPgConnection::establish(&url).await?;
        f(&mut conn).await
    })
}

/// Runs `f` with a connection to `url` (already migrated).
fn with_db_url<T>(
    url: &str,
    f: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        use diesel_async::AsyncConnection;
        let mut conn = diesel_async::AsyncPgConnection::establish(url).await?;
        f(&mut conn).await
    })
}

fn parse_role(role: &str) -> anyhow::Result<Role> {
    Role::parse(role).ok_or_else(|| {
        let all: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        anyhow::anyhow!("--role must be one of {}", all.join(", "))
    })
}

/// An office or department named by id or code.
async fn resolve(
    conn: &mut diesel_async::AsyncPgConnection,
    table: &str,
    key: Option<&str>,
) -> anyhow::Result<Option<uuid::Uuid>> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let Some(key) = key else { return Ok(None) };
    if let Ok(id) = uuid::Uuid::parse_str(key) {
        return Ok(Some(id));
    }
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
    }
    let rows: Vec<Row> = diesel::sql_query(format!("SELECT id FROM {table} WHERE code = $1"))
        .bind::<diesel::sql_types::Text, _>(key.to_ascii_uppercase())
        .load(conn)
        .await?;
    <[Row]>::first(&rows)
        .map(|r| Some(r.id))
        .ok_or_else(|| anyhow::anyhow!("no {table} with code {key}"))
}

/// glibc's allocator with two arenas (issue 19's export target: < 100 MB resident). The
/// exports encode their batches on threads of their own, and glibc gave each thread an
/// arena of its own (up to eight per core) that kept what the batches freed: 94 MB peak
/// resident under 32 export clients for ~35 MB of live heap (massif). Two arenas: 86 MB
/// on the same load (`MALLOC_ARENA_MAX=2`, `VmHWM`). A fixed 128 KiB mmap threshold went
/// further (62 MB) but cost a quarter of the export's speed and the probes' latency (a
/// mapping and its page faults per batch); mimalloc: 246 MB. glibc's own environment
/// variable, when set, is left in charge.
fn bound_the_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes an allocator parameter; it is called before any
        // thread starts.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Gives the pages glibc keeps free inside its arenas back to the system: 5 s after the
/// start (each worker builds its app, and the OpenAPI structures the routes are declared
/// with, then drops them: 58 MB resident at idle, 27 MB after a `malloc_trim(0)` called
/// from gdb), then every 30 s (what finished exports freed). A walk of two arenas' free
/// lists, on a thread of its own.
fn trim_freed_memory_periodically() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    let _ = std::thread::Builder::new()
        .name("malloc-trim".into())
        .spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(5));
            loop {
                // SAFETY: malloc_trim only returns free memory to the system.
                unsafe {
                    libc::malloc_trim(0);
                }
                std::thread::sleep(std::time::Duration::from_secs(30));
            }
        });
}

/// Exit codes: 0, 1 for a failure (one line saying what and what to do), 2 for a bad
/// setting or usage.
fn main() -> std::process::ExitCode {
    bound_the_allocator();
    ogsms::ops::init_logging();
    let cli: Cli = settings::parse();
    if let Err(e) = settings::check_environment() {
        eprintln!("ogsms: {e}");
        return std::process::ExitCode::from(settings::EXIT_BAD_SETTING);
    }
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ogsms: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Token {
            role,
            office,
            department,
            sub,
            ttl,
        } => {
            let role = parse_role(role)?;
            let auth = AuthConfig::from_env(&cli.data_dir)?;
            let (office_id, department_id) = if office
                .as_deref()
                .is_some_and(|o| uuid::Uuid::parse_str(o).is_err())
                || department
                    .as_deref()
                    .is_some_and(|d| uuid::Uuid::parse_str(d).is_err())
            {
                with_db(&cli, async |conn| {
                    Ok((
                        resolve(conn, "offices", office.as_deref()).await?,
                        resolve(conn, "departments", department.as_deref()).await?,
                    ))
                })?
            } else {
                (
                    office.as_deref().map(uuid::Uuid::parse_str).transpose()?,
                    department
                        .as_deref()
                        .map(uuid::Uuid::parse_str)
                        .transpose()?,
                )
            };
            let claims = auth.claims(
                sub,
                role,
                office_id,
                department_id,
                ttl.map(std::time::Duration::from_secs),
            );
            println!("{}", auth.sign(&claims)?);
            Ok(())
        }
        Command::ServiceAccount { action } => with_db(&cli, async |conn| {
            let actor = ogsms::db::audit::Actor::cli();
            let show = |a: &service_accounts::ServiceAccount| {
                serde_json::to_string_pretty(a).expect("serializes")
            };
            match action {
                AccountAction::Create {
                    client_id,
                    name,
                    role,
                    office,
                    department,
                } => {
                    let role = parse_role(role)?;
                    let office_id = resolve(conn, "offices", office.as_deref()).await?;
                    let department_id = resolve(conn, "departments", department.as_deref()).await?;
                    let (account, secret) = service_accounts::create(
                        conn,
                        &actor,
                        client_id,
                        name,
                        role,
                        office_id,
                        department_id,
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                    println!(
                        "{}",
                        serde_json::json!({"client_id": account.client_id, "client_secret": secret, "account": account})
                    );
                    eprintln!(
                        "Keep the client_secret now: it is stored only as a hash and cannot be shown again."
                    );
                }
                AccountAction::Disable { client_id } => {
                    let a = service_accounts::set_status(
                        conn,
                        &actor,
                        client_id,
                        service_accounts::AccountStatus::Disabled,
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                    println!("{}", show(&a));
                }
                AccountAction::Enable { client_id } => {
                    let a = service_accounts::set_status(
                        conn,
                        &actor,
                        client_id,
                        service_accounts::AccountStatus::Active,
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                    println!("{}", show(&a));
                }
                AccountAction::List => {
                    for a in service_accounts::list(conn)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?
                    {
                        println!("{}", serde_json::to_string(&a)?);
                    }
                }
            }
            Ok(())
        }),
        Command::Revoke {
            jti,
            expires_at,
            reason,
        } => with_db(&cli, async |conn| {
            let expires_at =
                expires_at.unwrap_or_else(|| chrono::Utc::now() + chrono::Duration::hours(24));
            let r = service_accounts::revoke(
                conn,
                &ogsms::db::audit::Actor::cli(),
                jti,
                expires_at,
                reason.as_deref(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("revoked {} until {}", r.jti, r.expires_at);
            Ok(())
        }),
        Command::RotateKey => {
            let auth = AuthConfig::from_env(&cli.data_dir)?;
            with_db(&cli, async |conn| {
                db::keys::check_or_record(
                    conn,
                    &auth.fingerprint,
                    &format!("{:?}", auth.algorithm),
                    true,
                )
                .await?;
                println!(
                    "recorded the signing key {}… as this database's",
                    &auth.fingerprint[..12]
                );
                Ok(())
            })
        }
        Command::Openapi => {
            print!("{}", openapi::document_json());
            Ok(())
        }
        Command::Migrate => {
            let (url, _cluster) = database(&cli)?;
            db::run_migrations(&url)
        }
        Command::Seed {
            demo,
            scale,
            entries,
        } => {
            if !demo && scale.is_none() && entries.is_none() {
                anyhow::bail!("say what to load: --demo, --scale N and/or --entries N");
            }
            if entries == &Some(0) {
                anyhow::bail!("--entries needs a number of entries above 0");
            }
            if scale == &Some(0) {
                anyhow::bail!("--scale needs a number of projects above 0");
            }
            let (url, _cluster) = database(&cli)?;
            db::run_migrations(&url)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                use diesel_async::AsyncConnection;
                if *demo {
                    let mut conn = diesel_async::AsyncPgConnection::establish(&url).await?;
                    seed::demo(&mut conn).await?;
                }
                if let Some(n) = scale {
                    let report = seed::scale(&url, *n).await?;
                    println!(
                        "loaded {} projects, {} rows in {:.2} s ({:.0} rows/s)",
                        report.projects,
                        report.rows,
                        report.seconds,
                        report.rows_per_second()
                    );
                }
                if let Some(n) = entries {
                    let report = seed::entries(&url, *n).await?;
                    println!(
                        "loaded {} ledger entries in {} ledgers (the busiest {} holds {}) in {:.2} s ({:.0} entries/s)",
                        report.entries,
                        report.ledgers,
                        report.busiest_ledger,
                        report.busiest_entries,
                        report.seconds,
                        report.entries_per_second()
                    );
                }
                Ok(())
            })
        }
        Command::Serve {
            bind,
            workers,
            pool_size,
            statement_timeout_ms,
            database_replica_urls,
            replica_wait_ms,
            no_demo,
        } => {
            // The signing key first: a local mistake is reported before any wait for
            // the database.
            let auth = AuthConfig::from_env(&cli.data_dir)?;
            let (url, cluster) = database(&cli)?;
            // Migrations run before the actix system starts (diesel's harness blocks).
            db::run_migrations(&url)?;
            let settings = PoolSettings {
                max_size: *pool_size,
                statement_timeout: std::time::Duration::from_millis(*statement_timeout_ms),
                ..PoolSettings::default()
            };
            with_db_url(&url, async |conn| {
                db::keys::check_or_record(
                    conn,
                    &auth.fingerprint,
                    &format!("{:?}", auth.algorithm),
                    false,
                )
                .await
            })?;
            let replicas = database_replica_urls.as_ref().map(|r| {
                db::replica::Replicas::new(&r.0, std::time::Duration::from_millis(*replica_wait_ms))
            });
            let result = serve(&url, auth, *bind, *workers, settings, replicas, !no_demo);
            drop(cluster);
            result
        }
    }
}

fn serve(
    url: &str,
    auth: AuthConfig,
    bind: SocketAddr,
    workers: Option<usize>,
    settings: PoolSettings,
    replicas: Option<std::sync::Arc<db::replica::Replicas>>,
    demo: bool,
) -> anyhow::Result<()> {
    trim_freed_memory_periodically();
    actix_web::rt::System::new().block_on(async move {
        // The background tasks' pool (demo data, revocation refresh, key purge).
        let pool = db::pool(
            url,
            &PoolSettings {
                max_size: 2,
                ..settings.clone()
            },
        )?;
        if demo {
            let mut conn = pool.get().await.context("connecting to the database")?;
            if seed::is_empty(&mut conn).await? {
                seed::demo(&mut conn).await?;
            }
        }
        let export_pool = ogsms::reports::exports::pool(url, &settings)?;
        let mut state = AppState::new(pool, auth).with_export_pool(export_pool);
        if let Some(replicas) = replicas {
            log::info!(
                "reading lists, reports, exports and statistics from {} replica(s): {}",
                replicas.list.len(),
                replicas
                    .list
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            db::replica::spawn_health_checks(state.pool.clone(), replicas.clone(), &settings);
            let export_replica_pools = replicas
                .list
                .iter()
                .map(|r| ogsms::reports::exports::pool(&r.url, &settings))
                .collect::<anyhow::Result<Vec<_>>>()?;
            state = state
                .with_replicas(replicas)
                .with_export_replica_pools(export_replica_pools);
        }
        state
            .revocations
            .refresh(&state.pool)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        state.revocations.spawn_refresher(state.pool.clone());
        // The jobs that must run once run on the leader only (see `db::leader`).
        let leader = db::leader::spawn(
            url.to_owned(),
            format!("pid-{}@{bind}", std::process::id()),
            db::leader::Leader::poll_from_env(),
        );
        ogsms::resources::ledgers::idempotency::spawn_idempotency_purge(
            state.pool.clone(),
            &leader,
        );
        ogsms::resources::changes::spawn_purge(state.pool.clone(), &leader);
        let limits = state.limits.clone();
        db::leader::spawn_led(
            &leader,
            state.pool.clone(),
            "rate-bucket-purge",
            std::time::Duration::from_secs(600),
            move |pool| {
                let limits = limits.clone();
                Box::pin(async move {
                    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                    db::limits::purge(&limits, &mut conn)
                        .await
                        .map_err(|e| e.to_string())
                })
            },
        );
        if let Some(config) = ogsms::resources::webhooks::deliverer::DeliveryConfig::from_env() {
            ogsms::resources::webhooks::deliverer::spawn_deliverer(state.pool.clone(), config);
        }
        // A pool per worker, built on the worker's thread: its connections are opened
        // there and their sockets driven by that worker's runtime, so a query wakes no
        // other thread (with one shared pool, send/recv and cross-thread wake-ups were
        // a fifth of the service's CPU under load).
        let workers = workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let worker_settings = PoolSettings {
            max_size: settings.max_size.div_ceil(workers),
            ..settings
        };
        let url = url.to_owned();
        let server = ogsms::app::server::server(
            ogsms::app::server::Listen::Addr(bind),
            ogsms::app::server::ServerOptions {
                workers,
                shutdown_timeout: 30,
                os_signals: true,
            },
            move || {
                let pool =
                    db::pool(&url, &worker_settings).expect("pool settings were accepted at start");
                let replica_pools = state
                    .replicas
                    .iter()
                    .flat_map(|r| r.list.iter())
                    .map(|r| {
                        db::pool(&r.url, &worker_settings)
                            .expect("replica URLs were accepted at start")
                    })
                    .collect();
                web::Data::new(state.with_pool(pool).with_replica_pools(replica_pools))
            },
        )
        .with_context(|| format!("listening on {bind}"))?;
        log::info!("OGSMS API on http://{bind}/ (docs at http://{bind}/docs/)");
        server.await?;
        Ok(())
    })
}
