//! Background jobs that must run once however many instances serve the database: the
//! instance that holds a PostgreSQL advisory lock ([`LOCK_KEY`]) on a connection of its
//! own leads, and only the leader runs them ([`spawn_led`]).
//!
//! Every instance tries the lock every `OGSMS_LEADER_POLL_SECS` (default 5). The leader
//! checks its lock connection as often (a heartbeat, which it records in
//! `background_job_runs`); when that connection goes (the process killed, the database
//! restarted), PostgreSQL frees the lock at once and another instance leads within one
//! poll. A leader whose host vanished without closing its sockets is noticed by the
//! server's TCP keepalives (`tcp_keepalives_idle`), then within one poll.
//!
//! Jobs and how they run with N instances:
//! - idempotency-key purge, change-feed purge, rate-bucket purge: the leader only;
//! - revocation refresh: every instance (each keeps its own set of revoked tokens);
//! - webhook deliverer: every instance (deliveries are claimed `FOR UPDATE SKIP
//!   LOCKED`, so each is sent by one).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::DbPool;

/// The advisory lock of the leader ("ogsms-leader" folded into 64 bits).
pub const LOCK_KEY: i64 = 0x6f67_736d_735f_6c64;

/// Whether this instance leads, and who it is.
#[derive(Clone)]
pub struct Leader {
    leading: Arc<AtomicBool>,
    pub instance: Arc<str>,
    pub poll: Duration,
}

impl Leader {
    pub fn is_leader(&self) -> bool {
        AtomicBool::load(&self.leading, Ordering::Acquire)
    }

    /// From `OGSMS_LEADER_POLL_SECS` (default 5).
    pub fn poll_from_env() -> Duration {
        Duration::from_secs(
            std::env::var("OGSMS_LEADER_POLL_SECS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(5),
        )
    }
}

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Records a run of `job` by `instance` (the leader's heartbeat is the job `leader`).
pub async fn record(
    conn: &mut AsyncPgConnection,
    job: &str,
    instance: &str,
) -> Result<(), diesel::result::Error> {
    diesel::sql_query(
        "INSERT INTO background_job_runs (job, instance, runs, leader_since, last_run_at) \
         VALUES ($1, $2, 1, now(), now()) \
         ON CONFLICT (job) DO UPDATE SET runs = background_job_runs.runs + 1, \
           leader_since = CASE WHEN background_job_runs.instance = excluded.instance \
             THEN background_job_runs.leader_since ELSE now() END, \
           instance = excluded.instance, last_run_at = now()",
    )
    .bind::<Text, _>(job)
    .bind::<Text, _>(instance)
    .execute(conn)
    .await
    .map(drop)
}

/// Tries, keeps and re-tries the leader lock on a connection of its own to `url`.
pub fn spawn(url: String, instance: String, poll: Duration) -> Leader {
    let leader = Leader {
        leading: Arc::new(AtomicBool::new(false)),
        instance: instance.into(),
        poll,
    };
    let this = leader.clone();
    actix_web::rt::spawn(async move {
        let mut conn: Option<AsyncPgConnection> = None;
        loop {
            let step = async {
                if conn.is_none() {
                    conn = Some(
                        AsyncPgConnection::establish(&url)
                            .await
                            .map_err(|e| e.to_string())?,
                    );
                }
                let c = conn.as_mut().expect("connected above");
                if !this.is_leader() {
                    let got: Locked =
                        diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
                            .bind::<diesel::sql_types::BigInt, _>(LOCK_KEY)
                            .get_result(c)
                            .await
                            .map_err(|e| e.to_string())?;
                    if got.locked {
                        log::info!(
                            "this instance ({}) leads the background jobs",
                            this.instance
                        );
                        this.leading.store(true, Ordering::Release);
                    }
                }
                if this.is_leader() {
                    // The heartbeat: proves the lock's connection is alive.
                    record(c, "leader", &this.instance)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(())
            }
            .await;
            if let Err(e) = step {
                if this.is_leader() {
                    log::warn!("lost the leader lock's connection ({e}); no longer leading");
                } else {
                    log::debug!("leader lock: {e}");
                }
                this.leading.store(false, Ordering::Release);
                conn = None;
            }
            tokio::time::sleep(this.poll).await;
        }
    });
    leader
}

/// A job's run: the number of rows it purged, or what went wrong.
pub type JobRun = Pin<Box<dyn Future<Output = Result<usize, String>>>>;

/// Runs `job` every `period` while this instance leads (at once when it starts to lead),
/// recording each run in `background_job_runs`.
pub fn spawn_led(
    leader: &Leader,
    pool: DbPool,
    job: &'static str,
    period: Duration,
    run: impl Fn(DbPool) -> JobRun + 'static,
) {
    let leader = leader.clone();
    actix_web::rt::spawn(async move {
        let mut last: Option<Instant> = None;
        loop {
            if !leader.is_leader() {
                last = None;
            } else if last.is_none_or(|t| t.elapsed() >= period) {
                last = Some(Instant::now());
                match run(pool.clone()).await {
                    Ok(n) if n > 0 => log::info!("{job}: purged {n} rows"),
                    Ok(_) => {}
                    Err(e) => log::warn!("{job}: {e}"),
                }
                if let Ok(mut conn) = pool.get().await
                    && let Err(e) = record(&mut conn, job, &leader.instance).await
                {
                    log::warn!("recording a run of {job}: {e}");
                }
            }
            tokio::time::sleep(leader.poll.min(period)).await;
        }
    });
}
