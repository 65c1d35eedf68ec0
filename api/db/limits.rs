//! The per-caller budgets counted in PostgreSQL (`rate_buckets`), shared by every
//! instance on the database: one statement per lease of tokens (`ops::SPEND_SQL`), the
//! lease spent in memory by the instance that took it.

use diesel::sql_types::{Float8, Int4, Text};
use diesel_async::RunQueryDsl;

use crate::core::error::ApiError;
use crate::ops::{LEASE_MAX, Lease, Limits, Remaining, SPEND_SQL};

use super::{DbPool, Prepared};

/// How long a spend waits for a connection of the pool.
const SPEND_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Spends one request of `key`'s budget: in the process, or in the shared bucket (on a
/// connection of its own, outside any dry-run's transaction: a spend is never rolled
/// back). What is left, or the 429 saying when to retry.
pub async fn spend(limits: &Limits, pool: &DbPool, key: &str) -> Result<Remaining, ApiError> {
    if let Some(outcome) = limits.check_in_process(key) {
        return outcome;
    }
    let Some(leases) = limits.leases() else {
        unreachable!("a store counted in the process answered above");
    };
    // One spend per caller at a time in this process: its other requests wait here and
    // spend from the lease the first one takes. The wait is part of the spend's bound:
    // behind a spend stuck on the pool, a caller's requests do not queue one after
    // another; each asks the bucket itself, within what is left of the bound, and the
    // lease it cannot keep is lost (never spent twice).
    let started = tokio::time::Instant::now();
    let slot = leases.slot(key);
    let mut guard = tokio::time::timeout(SPEND_WAIT, slot.lock()).await.ok();
    if let Some(lease) = guard.as_deref_mut()
        && let Some(outcome) = limits.spend_leased(lease)
    {
        return outcome;
    }
    // A request waits for a connection twice, here and in its handler; the spend's wait
    // is short, so that the two together stay near the pool's own bound (a stuck pool
    // answers 503 in time instead of serving a request that waited through both).
    let timeouts = deadpool::managed::Timeouts {
        wait: Some(SPEND_WAIT.saturating_sub(started.elapsed())),
        ..pool.timeouts()
    };
    let mut conn = pool.timeout_get(&timeouts).await?;
    let (tokens, taken): (f64, i32) = Prepared(
        diesel::dsl::sql::<(Float8, Int4)>(SPEND_SQL[0])
            .bind::<Text, _>(key)
            .sql(SPEND_SQL[1])
            .bind::<Float8, _>(f64::from(limits.burst))
            .sql(SPEND_SQL[2])
            .bind::<Float8, _>(limits.per_second())
            .sql(SPEND_SQL[3])
            .bind::<Float8, _>(f64::from(LEASE_MAX))
            .sql(SPEND_SQL[4]),
    )
    .get_result(&mut *conn)
    .await?;
    match guard.as_deref_mut() {
        Some(lease) => limits.settle(lease, tokens, taken),
        None => limits.settle(&mut Lease::default(), tokens, taken),
    }
}

/// Forgets the buckets that have been full for a while (a full bucket and no row are the
/// same budget): run by the leader of the purge jobs.
pub async fn purge(
    limits: &Limits,
    conn: &mut diesel_async::AsyncPgConnection,
) -> Result<usize, diesel::result::Error> {
    let full_after = f64::from(limits.burst) / limits.per_second();
    diesel::sql_query(
        "DELETE FROM rate_buckets WHERE updated_at < now() - make_interval(secs => $1 + 60)",
    )
    .bind::<Float8, _>(full_after)
    .execute(conn)
    .await
}
