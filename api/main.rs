//! The `ogsms` binary: the service and its admin commands.

use std::net::SocketAddr;
use std::path::PathBuf;

use actix_web::{HttpServer, web};
use anyhow::Context;
use clap::{Parser, Subcommand};
use ogsms::db::{self, PoolSettings};
use ogsms::pg_cluster::{self, LocalCluster};
use ogsms::{AppState, openapi, seed};

#[derive(Parser)]
#[command(
    name = "ogsms",
    version,
    about = "OGSMS API: the system of record of the OAS country offices"
)]
struct Cli {
    /// The database. When unset, a private PostgreSQL cluster is run under --data-dir.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// Where the private cluster lives when DATABASE_URL is unset.
    #[arg(long, env = "OGSMS_DATA_DIR", default_value = "data", global = true)]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (migrations first; demo data on an empty database).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "OGSMS_BIND", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// Worker threads (default: one per core).
        #[arg(long, env = "OGSMS_WORKERS")]
        workers: Option<usize>,
        /// Database connections in the pool.
        #[arg(long, env = "OGSMS_DB_POOL_SIZE", default_value_t = 16)]
        pool_size: usize,
        /// Do not load the demo data into an empty database.
        #[arg(long)]
        no_demo: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Load data into the database.
    Seed {
        /// The demo dataset.
        #[arg(long)]
        demo: bool,
    },
    /// Print the OpenAPI document (as committed in openapi/openapi.json).
    Openapi,
}

/// The database to use: DATABASE_URL, or the private cluster (started here, stopped
/// when the returned guard drops).
fn database(cli: &Cli) -> anyhow::Result<(String, Option<LocalCluster>)> {
    if let Some(url) = &cli.database_url {
        return Ok((url.clone(), None));
    }
    let cluster = LocalCluster::start(&cli.data_dir.join("postgres"))?;
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

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    match &cli.command {
        Command::Openapi => {
            print!("{}", openapi::document_json());
            Ok(())
        }
        Command::Migrate => {
            let (url, _cluster) = database(&cli)?;
            db::run_migrations(&url)
        }
        Command::Seed { demo } => {
            if !demo {
                anyhow::bail!("say what to load: --demo");
            }
            let (url, _cluster) = database(&cli)?;
            db::run_migrations(&url)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                use diesel_async::AsyncConnection;
                let mut conn = diesel_async::AsyncPgConnection::establish(&url).await?;
                seed::demo(&mut conn).await
            })
        }
        Command::Serve {
            bind,
            workers,
            pool_size,
            no_demo,
        } => {
            let (url, cluster) = database(&cli)?;
            // Migrations run before the actix system starts (diesel's harness blocks).
            db::run_migrations(&url)?;
            let result = serve(&url, *bind, *workers, *pool_size, !no_demo);
            drop(cluster);
            result
        }
    }
}

fn serve(
    url: &str,
    bind: SocketAddr,
    workers: Option<usize>,
    pool_size: usize,
    demo: bool,
) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let settings = PoolSettings {
            max_size: pool_size,
            ..PoolSettings::default()
        };
        let pool = db::pool(url, &settings)?;
        if demo {
            let mut conn = pool.get().await.context("connecting to the database")?;
            if seed::is_empty(&mut conn).await? {
                seed::demo(&mut conn).await?;
            }
        }
        let state = web::Data::new(AppState { pool });
        let mut server = HttpServer::new(move || ogsms::app(state.clone()))
            .shutdown_timeout(30)
            .bind(bind)
            .with_context(|| format!("listening on {bind}"))?;
        if let Some(n) = workers {
            server = server.workers(n);
        }
        log::info!("OGSMS API on http://{bind}/ (docs at http://{bind}/docs/)");
        server.run().await?;
        Ok(())
    })
}
