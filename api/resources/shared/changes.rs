//! The change feed's reading, shared by `GET /v1/changes` (`resources::changes`) and the
//! webhook deliverer (`resources::webhooks`): positions, visibility, the settled horizon,
//! retention. How the feed is ordered is documented in `resources/changes`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::auth::policy::{FinanceScope, Role};
use crate::core::enums::string_enum;
use crate::core::error::{ApiError, ProblemType};
use crate::core::i18n::text;
use crate::core::pagination;
use crate::core::validate;
use crate::db::schema::{change_events, change_feed_purges};

/// Resource types of the feed that carry money: visible as the ledgers are (the
/// Coordinating Office and auditors all; an office's representative and staff their
/// office's; an HQ department the entries of its projects; viewers none).
pub const FINANCE_TYPES: &[&str] = &["ledger", "ledger_entry", "ledger_closing"];

/// Resource types only the Coordinating Office and auditors see (credentials' owners,
/// webhook subscriptions).
pub const RESTRICTED_TYPES: &[&str] = &["service_account", "webhook"];

/// An office's material resources: visible to the Coordinating Office, auditors and the
/// office's own representative and staff (as `GET /v1/offices/{id}/assets`); a transfer
/// names no single office, so only the first two see its event (each office sees the
/// asset's own event as it leaves and arrives).
pub const ASSET_TYPES: &[&str] = &["asset", "asset_transfer", "asset_count", "asset_count_item"];

/// Administrative Memoranda and the offices' answers: the Coordinating Office and
/// auditors all; an office's representative and staff the memoranda that apply to their
/// office and their office's answers; HQ departments and viewers none.
pub const MEMORANDUM_TYPES: &[&str] = &["memorandum", "memorandum_response"];

/// The offices' events and accomplishments: published ones everyone; drafts, submitted
/// and returned ones the Coordinating Office, auditors and the office's people.
pub const ACCOMPLISHMENT_TYPES: &[&str] = &["accomplishment"];

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
    "webhook",
    "asset",
    "asset_transfer",
    "asset_count",
    "asset_count_item",
    "memorandum",
    "memorandum_response",
    "accomplishment",
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

string_enum! {
    /// What happened to the resource.
    pub enum ChangeAction {
        Created = "created" ("Created", "Creado"),
        Updated = "updated" ("Updated", "Modificado"),
        Deleted = "deleted" ("Deleted", "Eliminado"),
    }
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

/// A read of the change feed.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ChangeFeed {
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

fn types(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Assets, memoranda and unpublished accomplishments: seen by the Coordinating Office
/// and auditors (finance scope `All`) and by the office they belong to.
fn scoped_by_office(q: Boxed, finance: &FinanceScope) -> Boxed {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Uuid as SqlUuid};
    let assets = || change_events::resource_type.eq_any(types(ASSET_TYPES));
    let memoranda = || change_events::resource_type.eq_any(types(MEMORANDUM_TYPES));
    let accomplishments = || change_events::resource_type.eq_any(types(ACCOMPLISHMENT_TYPES));
    let published =
        || sql::<Bool>("coalesce(change_events.data ->> 'status' = 'published', false)");
    match *finance {
        FinanceScope::All => q,
        FinanceScope::Office(office) => q
            .filter(assets().eq(false).or(change_events::office_id.eq(office)))
            .filter(
                memoranda().eq(false).or(change_events::resource_type
                    .eq("memorandum_response")
                    .and(change_events::office_id.eq(office)))
                .or(change_events::resource_type.eq("memorandum").and(
                    sql::<Bool>(
                        "EXISTS (SELECT 1 FROM memoranda m WHERE m.id::text = change_events.resource_id \
                         AND (m.applies_to_all OR EXISTS (SELECT 1 FROM memorandum_offices mo \
                         WHERE mo.memorandum_id = m.id AND mo.office_id = ",
                    )
                    .bind::<SqlUuid, _>(office)
                    .sql(")))"),
                )),
            )
            .filter(
                accomplishments()
                    .eq(false)
                    .or(change_events::office_id.eq(office))
                    .or(published()),
            ),
        FinanceScope::Department(_) | FinanceScope::Nothing => q
            .filter(assets().eq(false))
            .filter(memoranda().eq(false))
            .filter(accomplishments().eq(false).or(published())),
    }
}

fn visible(mut q: Boxed, v: &Visibility) -> Boxed {
    let finance =
        || change_events::resource_type.eq_any(FINANCE_TYPES.iter().map(|s| (*s).to_owned()));
    if !v.restricted {
        q = q.filter(
            change_events::resource_type.ne_all(
                RESTRICTED_TYPES
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect::<Vec<_>>(),
            ),
        );
    }
    q = scoped_by_office(q, &v.finance);
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
pub fn spawn_purge(pool: crate::db::DbPool, leader: &crate::db::leader::Leader) {
    crate::db::leader::spawn_led(
        leader,
        pool,
        "change-feed-purge",
        std::time::Duration::from_secs(3600),
        |pool| {
            Box::pin(async move {
                let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                purge(&mut conn, retention())
                    .await
                    .map_err(|e| e.to_string())
            })
        },
    );
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
