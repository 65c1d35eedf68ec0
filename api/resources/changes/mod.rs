//! `GET /v1/changes`: the change feed. Every create, update and delete of every resource
//! is one event, written by a trigger on `audit_events` (see the migration
//! `2026-12-07-501_change_feed`), so in the transaction of the change itself: a committed
//! change is always in the feed, a rolled-back one never is. A deletion is a tombstone
//! (`action: deleted`, `data: null`).
//!
//! Order and cursor: events are ordered by (the writing transaction's id, a sequence).
//! A reader is served only the events of transactions older than the oldest transaction
//! still running in the database (`pg_snapshot_xmin(pg_current_snapshot())`): every
//! such transaction has ended, so no event can appear later before a position already
//! served. A reader that pages with `next_cursor` never skips an event, however writers
//! interleave their commits (the price: a long-running transaction holds the feed back
//! until it ends). `next_cursor` is always given, also on the last page: keep it and ask
//! again later for what happened since.
//!
//! Retention: events older than `OGSMS_CHANGES_RETENTION_DAYS` (default 90) are purged
//! hourly by [`spawn_purge`]; a cursor older than the purged events is a 410
//! (`cursor-expired`): start again without a cursor (and reconcile with the lists).

use actix_web::{HttpRequest, HttpResponse, get, http::header, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::core::error::ApiError;
use crate::core::pagination;
use crate::core::validate;
use crate::state::AppState;

pub use crate::resources::shared::changes::*;

/// Query parameters of the change feed.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` (or an event's `cursor`) of an earlier read; none to start at
    /// the oldest event kept.
    pub cursor: Option<String>,
    /// Resource types, comma-separated (e.g. `project,monitoring_report`).
    #[param(pattern = "^[a-z_]{1,64}(,[a-z_]{1,64})*$")]
    pub resource_type: Option<String>,
    /// Office ids, comma-separated: events of resources of these offices (reference data,
    /// which belongs to no office, is left out).
    #[param(value_type = Option<String>)]
    pub office_id: Option<String>,
    /// `created`, `updated`, `deleted`, comma-separated.
    pub action: Option<String>,
}

/// Read the change feed: every create, update and delete of every resource the caller
/// may see, oldest first. Events of resources that carry money (`ledger`,
/// `ledger_entry`, `ledger_closing`) are visible as the ledgers are; service accounts'
/// only to the Coordinating Office and auditors; the rest to every role. A delete is a
/// tombstone (`action: deleted`, `data: null`). `next_cursor` is always given: page
/// with it until `has_more` is false, keep it, and ask again later. Events are kept
/// `OGSMS_CHANGES_RETENTION_DAYS` (default 90 days); an older cursor is a 410.
#[utoipa::path(
    context_path = "/changes",
    tag = "Changes",
    params(ChangesQuery),
    responses(
        (status = 200, description = "Events after the cursor", body = ChangeFeed,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when more events are ready"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 410, response = crate::core::error::responses::Gone),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
pub async fn list_changes(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ChangesQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = validate::param_i64("limit", query.limit.as_deref())?;
    let limit = pagination::limit(limit.or(Some(100)))?;
    let after = query
        .cursor
        .as_deref()
        .map(Position::decode)
        .transpose()?
        .unwrap_or(Position::START);
    let filters = parse_filters(
        query.resource_type.as_deref(),
        query.office_id.as_deref(),
        query.action.as_deref(),
    )?;
    let mut conn = state.pool.get().await?;
    check_retained(&mut conn, after).await?;
    let (rows, next, more) =
        read(&mut conn, after, limit, &Visibility::of(&caller), &filters).await?;
    let next_cursor = next.encode();
    let page = ChangeFeed {
        items: rows.into_iter().map(ChangeEvent::from).collect(),
        next_cursor: next_cursor.clone(),
        has_more: more,
    };
    let mut res = HttpResponse::Ok();
    if more {
        res.insert_header((
            header::LINK,
            format!(
                "<{}>; rel=\"next\"",
                pagination::next_url(&req, &next_cursor, &[])
            ),
        ));
    }
    Ok(res.json(page))
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/changes").handler_decides().service(list_changes);
}
