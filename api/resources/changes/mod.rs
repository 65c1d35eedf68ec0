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
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::auth::policy::{FinanceScope, Role};
use crate::core::error::{ApiError, ProblemType};
use crate::core::i18n::text;
use crate::core::pagination;
use crate::core::validate;
use crate::db::schema::{change_events, change_feed_purges};
use crate::state::AppState;

/// Resource types of the feed that carry money: visible as the ledgers are (the
/// Coordinating Office and auditors all; an office's representative and staff their
/// office's; an HQ department the entries of its projects; viewers none).
pub const FINANCE_TYPES: &[&str] = &["ledger", "ledger_entry", "ledger_closing"];

/// Resource types only the Coordinating Office and auditors see (credentials' owners).
pub const RESTRICTED_TYPES: &[&str] = &["service_account"];

/// The resource types the feed carries today (others join it as resources are added:
/// every write recorded in the audit trail is a change event).
pub const RESOURCE_TYPES: &[&str] = &[
    "office",
    "appointment",
    "department",
    "mandate",
    "mandate_assignment",
    "executing_agency",
    "project",
    "monitoring_report",
    "ledger",
    "ledger_entry",
    "ledger_closing",
    "exchange_rate",
    "service_account",
];

/// Default retention of change events, in days (`OGSMS_CHANGES_RETENTION_DAYS`).
pub const DEFAULT_RETENTION_DAYS: i64 = 90;

/// The retention of change events: `OGSMS_CHANGES_RETENTION_DAYS` (1 to 3650, checked at
/// start), 90 days by default.
pub fn retention() -> chrono::Duration {
    let days = std::env::var("OGSMS_CHANGES_RETENTION_DAYS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|d| (1..=3650).contains(d))
        .unwrap_or(DEFAULT_RETENTION_DAYS);
    chrono::Duration::days(days)
}

/// Who made the change.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct ChangeActor {
    /// The token's subject (a person, a service account's client id, or `cli:<user>`).
    pub sub: String,
    pub role: String,
}

/// What happened to the resource.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    Created,
    Updated,
    Deleted,
}

/// One change of one resource.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct ChangeEvent {
    /// The event's id (stable: use it to recognise a redelivered event).
    pub id: Uuid,
    /// The feed's position just after this event (pass as `cursor` to read on from here).
    pub cursor: String,
    /// `office`, `appointment`, `department`, `mandate`, `mandate_assignment`,
    /// `executing_agency`, `project`, `monitoring_report`, `ledger`, `ledger_entry`,
    /// `ledger_closing`, `exchange_rate`, `service_account`, …
    #[schema(example = "project")]
    pub resource_type: String,
    pub resource_id: String,
    pub action: ChangeAction,
    /// The audit trail's finer action (`create`, `update`, `close`, `suspend`, `post`, …).
    pub detail: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: ChangeActor,
    /// The request that made the change.
    pub request_id: Option<String>,
    /// The office the resource belongs to (the office itself for an office); null for
    /// reference data.
    pub office_id: Option<Uuid>,
    /// The resource's representation after the change, as its own endpoint gives it;
    /// null for a deletion (a tombstone).
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
}

/// A page of the change feed.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ChangePage {
    /// The events, oldest first.
    pub items: Vec<ChangeEvent>,
    /// Where to read on: always present, also when there is nothing more yet (keep it
    /// and ask again later).
    pub next_cursor: String,
    /// Whether more events are ready right now (then ask again at once).
    pub has_more: bool,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = change_events)]
pub struct ChangeRow {
    pub txid: i64,
    pub seq: i64,
    pub audit_event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub resource_type: String,
    pub resource_id: String,
    pub action: String,
    pub audit_action: String,
    pub actor_sub: String,
    pub actor_role: String,
    pub request_id: Option<String>,
    pub office_id: Option<Uuid>,
    pub department_id: Option<Uuid>,
    pub data: Option<serde_json::Value>,
}

impl From<ChangeRow> for ChangeEvent {
    fn from(r: ChangeRow) -> Self {
        ChangeEvent {
            id: r.audit_event_id,
            cursor: Position(r.txid, r.seq).encode(),
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            action: match r.action.as_str() {
                "created" => ChangeAction::Created,
                "deleted" => ChangeAction::Deleted,
                _ => ChangeAction::Updated,
            },
            detail: r.audit_action,
            occurred_at: r.occurred_at,
            actor: ChangeActor {
                sub: r.actor_sub,
                role: r.actor_role,
            },
            request_id: r.request_id,
            office_id: r.office_id,
            data: r.data,
        }
    }
}

/// A position in the feed: (transaction id, sequence).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position(pub i64, pub i64);

impl Position {
    pub const START: Position = Position(0, 0);

    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("c1.{}.{}", self.0, self.1))
    }

    pub fn decode(raw: &str) -> Result<Position, ApiError> {
        let bad = || {
            ApiError::invalid_parameter(
                "cursor",
                text!(
                    "is not a cursor of the change feed",
                    "no es un cursor del flujo de cambios"
                ),
            )
        };
        if raw.len() > 100 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let s = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = s.split('.');
        let (Some("c1"), Some(t), Some(q), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let t: i64 = t.parse().map_err(|_| bad())?;
        let q: i64 = q.parse().map_err(|_| bad())?;
        if t < 0 || q < 0 {
            return Err(bad());
        }
        Ok(Position(t, q))
    }
}

/// Which events a reader may see (the same rules as the resources themselves).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visibility {
    pub finance: FinanceScope,
    /// Whether restricted types (service accounts) are visible.
    pub restricted: bool,
}

impl Visibility {
    pub fn of(caller: &Caller) -> Visibility {
        Visibility {
            finance: caller.finance_scope(),
            restricted: matches!(caller.role, Role::Coordinator | Role::Auditor),
        }
    }
}

/// The filters of a read of the feed.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub resource_types: Option<Vec<String>>,
    pub office_ids: Option<Vec<Uuid>>,
    pub actions: Option<Vec<String>>,
}

type Boxed = diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::Select<change_events::table, diesel::dsl::AsSelect<ChangeRow, diesel::pg::Pg>>,
    diesel::pg::Pg,
>;

fn visible(mut q: Boxed, v: &Visibility) -> Boxed {
    let finance = || {
        change_events::resource_type.eq_any(FINANCE_TYPES.iter().map(|s| (*s).to_owned()))
    };
    if !v.restricted {
        q = q.filter(
            change_events::resource_type
                .ne_all(RESTRICTED_TYPES.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()),
        );
    }
    match v.finance {
        FinanceScope::All => q,
        FinanceScope::Office(office) => {
            q.filter(finance().eq(false).or(change_events::office_id.eq(office)))
        }
        FinanceScope::Department(department) => q.filter(
            finance().eq(false).or(change_events::resource_type
                .eq("ledger_entry")
                .and(change_events::department_id.eq(department))),
        ),
        FinanceScope::Nothing => q.filter(finance().eq(false)),
    }
}

/// The position up to which the feed is settled: every transaction before it has ended.
pub async fn horizon(conn: &mut AsyncPgConnection) -> Result<i64, ApiError> {
    let xmin: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
    ))
    .get_result(conn)
    .await?;
    Ok(xmin)
}

/// The highest position the retention purge removed, if any.
pub async fn purged_through(conn: &mut AsyncPgConnection) -> Result<Option<Position>, ApiError> {
    let row: Option<(i64, i64)> = change_feed_purges::table
        .select((
            change_feed_purges::purged_txid,
            change_feed_purges::purged_seq,
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(|(t, s)| Position(t, s)))
}

/// 410 when `after` points before what the feed still keeps.
pub async fn check_retained(conn: &mut AsyncPgConnection, after: Position) -> Result<(), ApiError> {
    if after == Position::START {
        return Ok(());
    }
    match purged_through(conn).await? {
        Some(purged) if after < purged => Err(ApiError::new(
            ProblemType::CursorExpired,
            text!(
                "This cursor points to changes older than the feed keeps (see the retention in the API description). Read the feed again without a cursor, and reconcile with the lists.",
                "Este cursor apunta a cambios más antiguos de lo que el flujo conserva (vea la retención en la descripción de la API). Vuelva a leer el flujo sin cursor y concilie con las listas."
            ),
        )),
        _ => Ok(()),
    }
}

/// Up to `limit` settled events after `after` that `visibility` and `filters` let through,
/// the position to read on from, and whether more are ready.
pub async fn read(
    conn: &mut AsyncPgConnection,
    after: Position,
    limit: i64,
    visibility: &Visibility,
    filters: &Filters,
) -> Result<(Vec<ChangeRow>, Position, bool), ApiError> {
    let horizon = horizon(conn).await?;
    let mut q = change_events::table
        .select(ChangeRow::as_select())
        .into_boxed();
    q = visible(q, visibility);
    if let Some(types) = &filters.resource_types {
        q = q.filter(change_events::resource_type.eq_any(types.clone()));
    }
    if let Some(offices) = &filters.office_ids {
        q = q.filter(change_events::office_id.eq_any(offices.clone()));
    }
    if let Some(actions) = &filters.actions {
        q = q.filter(change_events::action.eq_any(actions.clone()));
    }
    let rows: Vec<ChangeRow> = q
        .filter(
            change_events::txid.gt(after.0).or(change_events::txid
                .eq(after.0)
                .and(change_events::seq.gt(after.1))),
        )
        .filter(change_events::txid.lt(horizon))
        .order((change_events::txid, change_events::seq))
        .limit(limit + 1)
        .load(conn)
        .await?;
    let mut rows = rows;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = match rows.last() {
        Some(last) if more => Position(last.txid, last.seq),
        // Everything before the horizon has been seen (or filtered out): read on from it.
        _ => after.max(Position(horizon - 1, i64::MAX)),
    };
    Ok((rows, next, more))
}

/// Removes the events older than `retention` (and any before them in the feed's order),
/// remembering the last position removed so that older cursors answer 410. Returns how
/// many were removed.
pub async fn purge(
    conn: &mut AsyncPgConnection,
    retention: chrono::Duration,
) -> Result<usize, ApiError> {
    let cutoff = Utc::now() - retention;
    let last: Option<(i64, i64)> = change_events::table
        .filter(change_events::occurred_at.lt(cutoff))
        .select((change_events::txid, change_events::seq))
        .order((change_events::txid.desc(), change_events::seq.desc()))
        .first(conn)
        .await
        .optional()?;
    let Some((t, s)) = last else {
        return Ok(0);
    };
    let n = diesel::delete(
        change_events::table.filter(
            change_events::txid
                .lt(t)
                .or(change_events::txid.eq(t).and(change_events::seq.le(s))),
        ),
    )
    .execute(conn)
    .await?;
    diesel::sql_query(
        "INSERT INTO change_feed_purges (id, purged_txid, purged_seq, purged_at) \
         VALUES (true, $1, $2, now()) ON CONFLICT (id) DO UPDATE SET \
         purged_txid = EXCLUDED.purged_txid, purged_seq = EXCLUDED.purged_seq, \
         purged_at = now() \
         WHERE (change_feed_purges.purged_txid, change_feed_purges.purged_seq) \
               < (EXCLUDED.purged_txid, EXCLUDED.purged_seq)",
    )
    .bind::<diesel::sql_types::BigInt, _>(t)
    .bind::<diesel::sql_types::BigInt, _>(s)
    .execute(conn)
    .await?;
    Ok(n)
}

/// Purges change events older than [`retention`], every hour, until the process ends.
pub fn spawn_purge(pool: crate::db::DbPool) {
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let result = async {
                let mut conn = pool.get().await?;
                purge(&mut conn, retention()).await
            }
            .await;
            match result {
                Ok(n) if n > 0 => log::info!("purged {n} change events"),
                Ok(_) => {}
                Err(e) => log::warn!("purging change events: {e}"),
            }
        }
    });
}

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

/// Checks the filters of a read (each a 400 naming the parameter).
pub fn parse_filters(
    resource_type: Option<&str>,
    office_id: Option<&str>,
    action: Option<&str>,
) -> Result<Filters, ApiError> {
    let ident = |s: &str| {
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    };
    let resource_types = resource_type
        .map(|v| {
            let list = pagination::split_list(v);
            if list.is_empty() || !list.iter().all(|s| ident(s)) {
                Err(ApiError::invalid_parameter(
                    "resource_type",
                    text!(
                        "must be resource types (such as `project`) separated by commas",
                        "deben ser tipos de recurso (como `project`) separados por comas"
                    ),
                ))
            } else {
                Ok(list)
            }
        })
        .transpose()?;
    let office_ids = validate::param_uuids("office_id", office_id)?;
    if office_ids.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError::invalid_parameter(
            "office_id",
            text!(
                "must be UUIDs separated by commas",
                "deben ser UUID separados por comas"
            ),
        ));
    }
    let actions = action
        .map(|v| {
            let list = pagination::split_list(v);
            if list.is_empty()
                || !list
                    .iter()
                    .all(|a| matches!(a.as_str(), "created" | "updated" | "deleted"))
            {
                Err(ApiError::invalid_parameter(
                    "action",
                    text!(
                        "must be `created`, `updated` or `deleted`, separated by commas",
                        "debe ser `created`, `updated` o `deleted`, separados por comas"
                    ),
                ))
            } else {
                Ok(list)
            }
        })
        .transpose()?;
    Ok(Filters {
        resource_types,
        office_ids,
        actions,
    })
}

/// Read the change feed: every create, update and delete of every resource the caller
/// may see, oldest first. Events of resources that carry money (`ledger`,
/// `ledger_entry`, `ledger_closing`) are visible as the ledgers are; service accounts'
/// only to the Coordinating Office and auditors; the rest to every role. A delete is a
/// tombstone (`action: deleted`, `data: null`). `next_cursor` is always given: page
/// with it until `has_more` is false, keep it, and ask again later. Events are kept
/// `OGSMS_CHANGES_RETENTION_DAYS` (default 90 days); an older cursor is a 410.
#[utoipa::path(
    tag = "Changes",
    params(ChangesQuery),
    responses(
        (status = 200, description = "Events after the cursor", body = ChangePage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when more events are ready"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 410, response = crate::core::error::responses::Gone),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/changes")]
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
    let (rows, next, more) = read(&mut conn, after, limit, &Visibility::of(&caller), &filters).await?;
    let next_cursor = next.encode();
    let page = ChangePage {
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
