//! The per-caller budgets counted in PostgreSQL (`rate_buckets`), shared by every
//! instance on the database: one statement per request (`ops::SPEND_SQL`).

use diesel::sql_types::{Bool, Float8, Text};
use diesel_async::RunQueryDsl;

use crate::core::error::ApiError;
use crate::ops::{Limits, Remaining, SPEND_SQL};

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
    // A request waits for a connection twice, here and in its handler; the spend's wait
    // is short, so that the two together stay near the pool's own bound (a stuck pool
    // answers 503 in time instead of serving a request that waited through both).
    let timeouts = deadpool::managed::Timeouts {
        wait: Some(SPEND_WAIT),
        ..pool.timeouts()
    };
    let mut conn = pool.timeout_get(&timeouts).await?;
    let (tokens, accepted): (f64, bool) = Prepared(
        diesel::dsl::sql::<(Float8, Bool)>(SPEND_SQL[0])
            .bind::<Text, _>(key)
            .sql(SPEND_SQL[1])
            .bind::<Float8, _>(f64::from(limits.burst))
            .sql(SPEND_SQL[2])
            .bind::<Float8, _>(limits.per_second())
            .sql(SPEND_SQL[3]),
    )
    .get_result(&mut *conn)
    .await?;
    limits.outcome(tokens, accepted)
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
