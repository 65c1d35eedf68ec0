//! Read replicas (`DATABASE_REPLICA_URLS`): lists, reports, exports and statistics read
//! from a streaming replica, round robin over the healthy ones; everything else, and any
//! read that must see the caller's own write, reads the primary.
//!
//! ## Read-your-writes across instances
//!
//! After a successful write by an authenticated caller, the service records on the
//! primary, in `read_fences`, the WAL position (`pg_current_wal_insert_lsn()`, taken
//! after the write committed) under the caller's `sub` ([`record_fence`], called by the
//! request envelope before the response leaves). A replica read by that caller first
//! looks the fence up on the primary (one indexed lookup) and uses a replica only once
//! its `pg_last_wal_replay_lsn()` has reached it, waiting at most
//! `OGSMS_DB_REPLICA_WAIT_MS` (200 ms by default), and otherwise reads the primary.
//!
//! Why a table on the primary rather than a token the client echoes (a header or a
//! cookie): the guarantee then holds for every client, including the scripted pulls and
//! dashboards this is for, which do not echo anything; and the next request may reach
//! any instance, which the table serves alike, since every instance reads the same
//! primary. Its cost is one primary statement per write and one per replica read, both
//! on a primary key, against the list or report query that the replica takes off the
//! primary. Nothing of this runs when no replica is configured: [`ReadPool::get`] is then
//! the primary pool's `get` and the envelope records no fence.
//!
//! What always reads the primary: writes, conditional requests (`If-Match`,
//! `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`: their validators must be
//! the primary's), requests with an `Idempotency-Key` (a replay answers from what the
//! primary committed), dry-runs, and every handler that takes `state.pool` directly.
//!
//! ## Health
//!
//! [`spawn_health_checks`] asks every replica its replay position once a second (and the
//! primary its WAL position, for the lag in bytes); a replica that does not answer is
//! taken out and asked again after 1, 2, 4, 5, 5 … seconds, and put back when it answers.
//! A request that finds a replica broken (its connection or the position query fails)
//! takes it out at once and reads the primary instead: a replica that goes away costs no
//! request an error. `/readyz` looks at the primary only.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Nullable, Text};
use diesel_async::RunQueryDsl;

use super::{DbConn, DbPool, PoolError};
use crate::core::error::ApiError;

/// How long a read waits, by default, for a replica to replay the caller's last write.
pub const DEFAULT_WAIT: Duration = Duration::from_millis(200);
/// How often the health loop asks each replica.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// The longest pause between two checks of a replica that does not answer.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often a waiting read asks the replica again.
const POLL_EVERY: Duration = Duration::from_millis(5);
/// Fences older than this are purged: a replica this far behind is broken.
const FENCE_RETENTION_SECS: u32 = 3600;

/// One replica, shared by every worker of the process.
pub struct Replica {
    /// `host:port`, for logs and metric labels (never the password).
    pub name: String,
    pub url: String,
    up: AtomicBool,
    /// The last replay position seen (0 when unknown).
    replayed: AtomicU64,
}

impl Replica {
    pub fn is_up(&self) -> bool {
        AtomicBool::load(&self.up, Ordering::Relaxed)
    }

    fn set_up(&self, up: bool) {
        let was = self.up.swap(up, Ordering::Relaxed);
        if was != up {
            if up {
                log::info!("read replica {} is back in", self.name);
            } else {
                log::warn!("read replica {} is out: reads go to the primary", self.name);
            }
        }
        crate::ops::metrics()
            .replica_up
            .with_label_values(&[&self.name])
            .set(i64::from(up));
    }
}

/// The configured replicas and how reads are spread over them.
pub struct Replicas {
    pub list: Vec<Arc<Replica>>,
    next: AtomicUsize,
    /// How long a read waits for a replica to replay the caller's last write.
    pub wait: Duration,
}

impl Replicas {
    /// The replicas at `urls` (taken as up until the first check says otherwise).
    pub fn new(urls: &[String], wait: Duration) -> Arc<Replicas> {
        let list = urls
            .iter()
            .map(|url| {
                let t = super::connect::Target::of(url);
                let r = Arc::new(Replica {
                    name: format!("{}:{}", t.host, t.port),
                    url: url.clone(),
                    up: AtomicBool::new(true),
                    replayed: AtomicU64::new(0),
                });
                r.set_up(true);
                r
            })
            .collect();
        Arc::new(Replicas {
            list,
            next: AtomicUsize::new(0),
            wait,
        })
    }
}

tokio::task_local! {
    static CONTEXT: Arc<Context>;
}

/// What the envelope knows of the request, for the choice of server.
pub struct Context {
    /// A write, a conditional request or an idempotent one: the primary only.
    pub primary_only: bool,
    /// The authenticated caller's `sub`, set by the `Caller` extractor.
    caller: std::sync::OnceLock<String>,
}

impl Context {
    pub fn new(primary_only: bool) -> Arc<Context> {
        Arc::new(Context {
            primary_only,
            caller: std::sync::OnceLock::new(),
        })
    }
}

/// Runs a request's handler with its [`Context`] (the envelope does, only when replicas
/// are configured).
pub async fn scope<F: std::future::Future>(context: Arc<Context>, f: F) -> F::Output {
    CONTEXT.scope(context, f).await
}

/// The running request's context (`None` outside a [`scope`]), for work the request
/// hands to another task: an export reads on a runtime of its own.
pub fn current() -> Option<Arc<Context>> {
    CONTEXT.try_with(Arc::clone).ok()
}

/// Notes the request's caller (called by the `Caller` extractor; nothing without a
/// [`scope`]).
pub fn set_caller(sub: &str) {
    let _ = CONTEXT.try_with(|c| c.caller.set(sub.to_owned()));
}

/// Where a read may go: the worker's primary pool and its pool per replica.
pub struct ReadPool<'a> {
    pub primary: &'a DbPool,
    pub replicas: &'a [DbPool],
    pub set: Option<&'a Arc<Replicas>>,
}

/// A [`ReadPool`] that owns its pools and the request's [`Context`], for a task that
/// outlives the handler and runs on another runtime (an export's): its [`get`] makes
/// the same choice, with the same fence, wait, fallback and metrics, as the request
/// would have.
///
/// [`get`]: OwnedReadPool::get
pub struct OwnedReadPool {
    pub primary: DbPool,
    pub replicas: Vec<DbPool>,
    pub set: Option<Arc<Replicas>>,
    /// The request's context (`None` without replicas: the primary).
    pub context: Option<Arc<Context>>,
}

impl OwnedReadPool {
    /// A connection, as [`ReadPool::get`] would choose it in the request.
    pub async fn get(&self) -> Result<DbConn, PoolError> {
        let reads = ReadPool {
            primary: &self.primary,
            replicas: &self.replicas,
            set: self.set.as_ref(),
        };
        match &self.context {
            Some(context) => scope(context.clone(), reads.get()).await,
            None => self.primary.get().await,
        }
    }

    /// A connection, as [`ReadPool::get`] would choose it in the request, and the
    /// incremental-sync watermark (`core::sync`) the data read on it is complete up to.
    ///
    /// The watermark is the primary's: on a replica the primary's running transactions
    /// are not in sight, and a change by one that started before the replica's last
    /// replayed commit but commits after it would be missed by a client that polls from
    /// there. So when a replica may serve the read, the primary's watermark is read
    /// first, then its flushed WAL position, and the replica must have replayed that
    /// position as well as the caller's fence (the same bounded wait, else the
    /// primary): every change before the watermark is then in the replica's snapshot.
    pub async fn get_with_watermark(&self) -> Result<(DbConn, DateTime<Utc>), ApiError> {
        let reads = ReadPool {
            primary: &self.primary,
            replicas: &self.replicas,
            set: self.set.as_ref(),
        };
        let Some(context) = self.context.clone() else {
            let mut conn = self.primary.get().await?;
            let watermark = crate::core::sync::watermark(&mut conn).await?;
            return Ok((conn, watermark));
        };
        let replica_possible =
            self.set.is_some() && !self.replicas.is_empty() && !context.primary_only;
        let primary_mark = if replica_possible {
            let mut conn = self.primary.get().await?;
            let watermark = crate::core::sync::watermark(&mut conn).await?;
            // Flushed, not inserted: every transaction visible to the watermark's
            // statement has its commit flushed (synchronous_commit, on by default), and
            // WAL inserted past it (an on-access page prune by a read) may wait for the
            // next commit to be flushed and reach a replica at all.
            let lsn = lsn_of(&mut conn, "SELECT pg_current_wal_flush_lsn()::text AS lsn").await?;
            Some((watermark, lsn))
        } else {
            None
        };
        let mut conn = scope(context, reads.get_after(primary_mark.and_then(|m| m.1))).await?;
        let watermark = match primary_mark {
            Some((watermark, _)) => watermark,
            None => crate::core::sync::watermark(&mut conn).await?,
        };
        Ok((conn, watermark))
    }
}

#[derive(QueryableByName)]
struct Lsn {
    #[diesel(sql_type = Nullable<Text>)]
    lsn: Option<String>,
}

/// `X/Y` (hex halves of a WAL position) as one number.
pub fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

async fn lsn_of(
    conn: &mut DbConn,
    sql: &'static str,
) -> Result<Option<u64>, diesel::result::Error> {
    let row: Lsn = diesel::sql_query(sql).get_result(&mut **conn).await?;
    Ok(row.lsn.as_deref().and_then(parse_lsn))
}

fn fallback(reason: &str) {
    crate::ops::metrics()
        .read_fallbacks
        .with_label_values(&[reason])
        .inc();
}

impl ReadPool<'_> {
    /// A connection for a read-only handler: a healthy replica's that has replayed the
    /// caller's last write (waiting up to the bound), or the primary's.
    pub async fn get(&self) -> Result<DbConn, PoolError> {
        self.get_after(None).await
    }

    /// [`ReadPool::get`], the replica also having replayed `at_least` (a WAL position of
    /// the primary's) besides the caller's fence.
    async fn get_after(&self, at_least: Option<u64>) -> Result<DbConn, PoolError> {
        let Some(set) = self.set else {
            return self.primary.get().await;
        };
        if self.replicas.is_empty() || super::dry_run::active() {
            return self.primary.get().await;
        }
        let Ok(context) = CONTEXT.try_with(Arc::clone) else {
            return self.primary.get().await;
        };
        if context.primary_only {
            fallback("primary_only");
            return self.primary.get().await;
        }
        // The caller's fence, on the primary.
        let fence = match context.caller.get() {
            Some(sub) => {
                let mut conn = self.primary.get().await?;
                let row: Lsn =
                    diesel::sql_query("SELECT lsn::text AS lsn FROM read_fences WHERE caller = $1")
                        .bind::<Text, _>(sub)
                        .get_result(&mut *conn)
                        .await
                        .or_else(|e| match e {
                            diesel::result::Error::NotFound => Ok(Lsn { lsn: None }),
                            e => Err(e),
                        })
                        .map_err(|e| {
                            PoolError::Backend(
                                diesel_async::pooled_connection::PoolError::QueryError(e),
                            )
                        })?;
                row.lsn.as_deref().and_then(parse_lsn)
            }
            None => None,
        };
        let fence = fence.max(at_least);
        let n = set.list.len().min(self.replicas.len());
        let start = set.next.fetch_add(1, Ordering::Relaxed);
        let mut lagging = false;
        for i in 0..n {
            let k = (start + i) % n;
            let replica = &set.list[k];
            if !replica.is_up() {
                continue;
            }
            // A connection the pool kept across a restart of the replica fails its first
            // statement: it is closed and the next one tried. A new connection that
            // fails, or no connection at all, takes the replica out.
            const REPLAYED: &str = "SELECT pg_last_wal_replay_lsn()::text AS lsn";
            let mut tries = self.replicas[k].status().max_size + 1;
            let mut first = None;
            let conn = loop {
                tries -= 1;
                let mut conn = match self.replicas[k].get().await {
                    Ok(conn) => conn,
                    Err(e) => {
                        log::warn!("read replica {}: {e}", replica.name);
                        replica.set_up(false);
                        break None;
                    }
                };
                match lsn_of(&mut conn, REPLAYED).await {
                    Ok(lsn) => {
                        first = Some(lsn);
                        break Some(conn);
                    }
                    Err(e) => {
                        let fresh = conn.is_fresh();
                        conn.discard();
                        if fresh || tries == 0 {
                            log::warn!("read replica {}: {e}", replica.name);
                            replica.set_up(false);
                            break None;
                        }
                    }
                }
            };
            let Some(mut conn) = conn else { continue };
            let deadline = Instant::now() + set.wait;
            let mut waited = false;
            loop {
                let replayed = match first.take() {
                    Some(lsn) => lsn,
                    None => match lsn_of(&mut conn, REPLAYED).await {
                        Ok(lsn) => lsn,
                        Err(e) => {
                            log::warn!("read replica {}: {e}", replica.name);
                            replica.set_up(false);
                            conn.discard();
                            break;
                        }
                    },
                };
                // No replay position: the server is not in recovery (promoted).
                let caught_up = match (fence, replayed) {
                    (None, _) | (_, None) => true,
                    (Some(f), Some(r)) => r >= f,
                };
                if caught_up {
                    if waited {
                        crate::ops::metrics()
                            .read_fence_waits
                            .with_label_values(&["caught_up"])
                            .inc();
                    }
                    crate::ops::metrics()
                        .replica_reads
                        .with_label_values(&[&replica.name])
                        .inc();
                    return Ok(conn);
                }
                if Instant::now() >= deadline {
                    crate::ops::metrics()
                        .read_fence_waits
                        .with_label_values(&["timeout"])
                        .inc();
                    lagging = true;
                    break;
                }
                waited = true;
                tokio::time::sleep(POLL_EVERY).await;
            }
            if lagging {
                // Waiting on another replica would double the bound: the primary has it.
                break;
            }
        }
        fallback(if lagging { "lag" } else { "no_replica" });
        self.primary.get().await
    }
}

/// Records, after a successful write by `sub`, the WAL position the caller's next reads
/// must see (see the module's documentation). Called only when replicas are configured.
pub async fn record_fence(primary: &DbPool, sub: &str) {
    let result = async {
        let mut conn = primary.get().await.map_err(|e| e.to_string())?;
        diesel::sql_query(
            "INSERT INTO read_fences (caller, lsn, at) VALUES ($1, pg_current_wal_insert_lsn(), now()) \
             ON CONFLICT (caller) DO UPDATE SET lsn = GREATEST(read_fences.lsn, EXCLUDED.lsn), at = now()",
        )
        .bind::<Text, _>(sub)
        .execute(&mut *conn)
        .await
        .map_err(|e| e.to_string())
    }
    .await;
    if let Err(e) = result {
        // The write stands; the caller's next read may miss it on a lagging replica.
        log::warn!("recording the read fence of {sub}: {e}");
        crate::ops::metrics()
            .db_errors
            .with_label_values(&["fence"])
            .inc();
    }
}

/// Checks every replica once a second (backing off while one does not answer), sets
/// its lag in `/metrics`, and purges old fences. Runs on the calling runtime.
pub fn spawn_health_checks(primary: DbPool, set: Arc<Replicas>, settings: &super::PoolSettings) {
    let settings = super::PoolSettings {
        max_size: 1,
        ..settings.clone()
    };
    let pools: Vec<Option<DbPool>> = set
        .list
        .iter()
        .map(|r| super::pool(&r.url, &settings).ok())
        .collect();
    actix_web::rt::spawn(async move {
        let mut next_check = vec![Instant::now(); set.list.len()];
        let mut backoff = vec![CHECK_EVERY; set.list.len()];
        let mut last_purge = Instant::now();
        loop {
            let due: Vec<usize> = (0..set.list.len())
                .filter(|&i| Instant::now() >= next_check[i])
                .collect();
            let primary_lsn = if due.is_empty() {
                None
            } else {
                match primary.get().await {
                    Ok(mut conn) => lsn_of(&mut conn, "SELECT pg_current_wal_lsn()::text AS lsn")
                        .await
                        .ok()
                        .flatten(),
                    Err(_) => None,
                }
            };
            for i in due {
                let replica = &set.list[i];
                let answer = match &pools[i] {
                    Some(pool) => match tokio::time::timeout(settings.connect_timeout, pool.get())
                        .await
                    {
                        Ok(Ok(mut conn)) => {
                            let r =
                                lsn_of(&mut conn, "SELECT pg_last_wal_replay_lsn()::text AS lsn")
                                    .await;
                            if r.is_err() {
                                conn.discard();
                            }
                            r.map_err(|e| e.to_string())
                        }
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("no answer".to_owned()),
                    },
                    None => Err("bad URL".to_owned()),
                };
                match answer {
                    Ok(replayed) => {
                        if let Some(r) = replayed {
                            replica.replayed.store(r, Ordering::Relaxed);
                        }
                        let lag = match (primary_lsn, replayed) {
                            (Some(p), Some(r)) => p.saturating_sub(r) as i64,
                            _ => 0,
                        };
                        crate::ops::metrics()
                            .replica_lag_bytes
                            .with_label_values(&[&replica.name])
                            .set(lag);
                        replica.set_up(true);
                        backoff[i] = CHECK_EVERY;
                        next_check[i] = Instant::now() + CHECK_EVERY;
                    }
                    Err(e) => {
                        if replica.is_up() {
                            log::warn!("read replica {}: {e}", replica.name);
                        }
                        replica.set_up(false);
                        next_check[i] = Instant::now() + backoff[i];
                        backoff[i] = (backoff[i] * 2).min(MAX_BACKOFF);
                    }
                }
            }
            if last_purge.elapsed() > Duration::from_secs(60) {
                last_purge = Instant::now();
                if let Ok(mut conn) = primary.get().await {
                    let _ = diesel::sql_query(format!(
                        "DELETE FROM read_fences WHERE at < now() - interval '{FENCE_RETENTION_SECS} seconds'"
                    ))
                    .execute(&mut *conn)
                    .await;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_positions_compare_as_numbers() {
        assert_eq!(parse_lsn("0/16B3748"), Some(0x16B3748));
        assert!(parse_lsn("1/0").unwrap() > parse_lsn("0/FFFFFFFF").unwrap());
        assert_eq!(parse_lsn("nonsense"), None);
    }
}
