//! Incremental sync: the watermark below which no change can still appear.
//!
//! `updated_at` (and `created_at`, `occurred_at` of append-only rows) is read from the
//! database clock (`clock_timestamp()`) while the writing transaction runs, so it is never
//! before that transaction's start, but the transaction may commit long after a later
//! one did: a poller that remembers the greatest `updated_at` it saw would then miss the
//! slow transaction's change. The watermark closes that gap. It is the start of the
//! oldest transaction still running in the database (or the current instant when none
//! is), read *before* the data is read: every change not yet committed has an
//! `updated_at` at or after it, and every change before it is committed and visible.
//! A response to `updated_since` leaves out rows at or after its watermark and tells it
//! in `X-Sync-Watermark`; polling again from that value misses nothing.
//!
//! Read-only export transactions mark themselves (`application_name`) and are left out:
//! they write nothing, and a long download must not hold everyone's watermark back.

use actix_web::http::header::HeaderName;
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::sql_types::Timestamptz;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::core::error::ApiError;

pub const X_SYNC_WATERMARK: HeaderName = HeaderName::from_static("x-sync-watermark");

/// The `application_name` of the service's read-only export transactions.
pub const EXPORT_APPLICATION_NAME: &str = "ogsms-export";

#[derive(diesel::QueryableByName)]
struct Watermark {
    #[diesel(sql_type = Timestamptz)]
    watermark: DateTime<Utc>,
}

/// The current watermark. Call it before (and outside) the transaction or statement that
/// reads the data: its snapshot must be taken after.
pub async fn watermark(conn: &mut AsyncPgConnection) -> Result<DateTime<Utc>, ApiError> {
    // On a read replica (in recovery) the primary's running transactions are not in
    // sight: the commit time of the last transaction replayed stands in (every change
    // committed before it has been replayed).
    let row: Watermark = diesel::sql_query(format!(
        "SELECT CASE WHEN pg_is_in_recovery() \
           THEN least(statement_timestamp(), coalesce(pg_last_xact_replay_timestamp(), statement_timestamp())) \
           ELSE least(statement_timestamp(), min(xact_start)) END AS watermark \
         FROM pg_stat_activity \
         WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND backend_type = 'client backend' \
           AND pid <> pg_backend_pid() \
           AND xact_start IS NOT NULL \
           AND coalesce(application_name, '') <> '{EXPORT_APPLICATION_NAME}'"
    ))
    .get_result(conn)
    .await?;
    Ok(row.watermark)
}

/// The watermark as it travels in headers and cursors.
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The instant a list item counts as changed at for `updated_since`: its `updated_at`,
/// else (rows that never change) its `created_at` or `occurred_at`.
pub fn changed_at(item: &serde_json::Value) -> Option<DateTime<Utc>> {
    ["updated_at", "created_at", "occurred_at"]
        .iter()
        .find_map(|k| item.get(*k).and_then(|v| v.as_str()))
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}
