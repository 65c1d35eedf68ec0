//! `/v1/audit-events`: every successful write, recorded in the same transaction as the
//! write (so a write that fails leaves none, and none is lost), append-only in the
//! database too.

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::core::error::ApiError;
use crate::core::i18n::text;
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate;
use crate::db::schema::audit_events;
use crate::formats::page_type;
use crate::state::AppState;

/// The author of an audited change.
#[derive(Serialize, ToSchema)]
pub struct AuditActor {
    /// The token's subject (a person, a service account's client id, or `cli:<user>`).
    pub sub: String,
    pub role: String,
}

/// One recorded change.
#[derive(Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor: AuditActor,
    /// `create`, `update`, `close`, `token.issue`, `token.revoke`, `service_account.create`, …
    pub action: String,
    /// `office`, `department`, `service_account`, `token`, …
    pub resource_type: String,
    pub resource_id: String,
    pub request_id: Option<String>,
    /// The resource before the change (null for a creation).
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The resource after the change.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct AuditRow {
    id: Uuid,
    occurred_at: DateTime<Utc>,
    actor_sub: String,
    actor_role: String,
    action: String,
    resource_type: String,
    resource_id: String,
    request_id: Option<String>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
}

impl From<AuditRow> for AuditEvent {
    fn from(r: AuditRow) -> Self {
        AuditEvent {
            id: r.id,
            occurred_at: r.occurred_at,
            actor: AuditActor {
                sub: r.actor_sub,
                role: r.actor_role,
            },
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            request_id: r.request_id,
            before: r.before,
            after: r.after,
        }
    }
}

page_type!(AuditEventPage, AuditEvent, "A page of audit events.");

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum AuditSort {
    OccurredAt,
}

impl SortField for AuditSort {
    const NAMES: &'static [(&'static str, Self)] = &[("occurred_at", AuditSort::OccurredAt)];
    const DEFAULT: Self = AuditSort::OccurredAt;
}

/// Query parameters of the audit trail.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `occurred_at` (oldest first, the default) or `-occurred_at`.
    pub sort: Option<String>,
    /// The actor's `sub`.
    pub actor: Option<String>,
    /// Resource types, comma-separated (e.g. `office,department`).
    pub resource_type: Option<String>,
    /// One resource's id.
    pub resource_id: Option<String>,
    /// Actions, comma-separated (e.g. `create,update`).
    pub action: Option<String>,
    /// Events at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub occurred_from: Option<String>,
    /// Events before this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub occurred_to: Option<String>,
    /// Same as `occurred_from` (audit events never change), for incremental pulls.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

fn short_text_param(name: &str, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    match raw {
        Some(v) if v.is_empty() || v.len() > 200 || v.chars().any(char::is_control) => {
            Err(ApiError::invalid_parameter(
                name,
                text!(
                    "must be 1 to 200 characters of text",
                    "debe tener de 1 a 200 caracteres de texto"
                ),
            ))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

/// A boxed query of audit events with their row type.
type BoxedEvents = diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::Select<audit_events::table, diesel::dsl::AsSelect<AuditRow, diesel::pg::Pg>>,
    diesel::pg::Pg,
>;

/// Checks an export's filters (a 400 naming the parameter) before it takes a slot.
pub(crate) fn check_filters(query: &AuditQuery) -> Result<(), ApiError> {
    audit_query(query).map(drop)
}

/// The events the filters of [`AuditQuery`] select (all but the page's).
fn audit_query(query: &AuditQuery) -> Result<BoxedEvents, ApiError> {
    let actor = short_text_param("actor", query.actor.as_deref())?;
    let resource_id = short_text_param("resource_id", query.resource_id.as_deref())?;
    let resource_types = short_text_param("resource_type", query.resource_type.as_deref())?
        .map(|v| pagination::split_list(&v));
    let actions =
        short_text_param("action", query.action.as_deref())?.map(|v| pagination::split_list(&v));
    let from = validate::param_datetime("occurred_from", query.occurred_from.as_deref())?;
    let to = validate::param_datetime("occurred_to", query.occurred_to.as_deref())?;
    let since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;

    let mut q = audit_events::table
        .select(AuditRow::as_select())
        .into_boxed();
    if let Some(v) = actor {
        q = q.filter(audit_events::actor_sub.eq(v));
    }
    if let Some(v) = resource_id {
        q = q.filter(audit_events::resource_id.eq(v));
    }
    if let Some(v) = resource_types {
        q = crate::core::pagination::filter_in!(q, audit_events::resource_type, v);
    }
    if let Some(v) = actions {
        q = crate::core::pagination::filter_in!(q, audit_events::action, v);
    }
    if let Some(t) = from {
        q = q.filter(audit_events::occurred_at.ge(t));
    }
    if let Some(t) = since {
        q = q.filter(audit_events::occurred_at.ge(t));
    }
    if let Some(t) = to {
        q = q.filter(audit_events::occurred_at.lt(t));
    }
    Ok(q)
}

/// One batch of an audit export: the `limit` events after `after` in
/// `(occurred_at, id)` order, with that key. The caller's right to read the audit trail
/// is checked before.
pub(crate) async fn export_batch(
    conn: &AsyncPgConnection,
    query: &AuditQuery,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<((DateTime<Utc>, Uuid), AuditEvent)>, ApiError> {
    let q = keyset!(
        audit_query(query)?,
        audit_events::occurred_at,
        audit_events::id,
        false,
        after
    );
    // `Prepared`: the batches of an export run the same statement (its filters do not
    // change), so it is parsed and planned once, and goes out in one round trip.
    let rows: Vec<AuditRow> = crate::db::Prepared(q.limit(limit))
        .load(&mut { conn })
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.occurred_at, r.id), AuditEvent::from(r)))
        .collect())
}

/// Read the audit trail (auditors and the Coordinating Office).
#[utoipa::path(
    context_path = "/audit-events",
    tag = "Audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of audit events", body = AuditEventPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
pub async fn list_audit_events(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<AuditQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.may_read_audit()?;
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<AuditSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let q = audit_query(&query)?;
    let after = after
        .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
        .transpose()?;
    let q = keyset!(
        q,
        audit_events::occurred_at,
        audit_events::id,
        sort.desc,
        after
    );
    let mut conn = state.read_pool().get().await?;
    let rows: Vec<AuditRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: serde_json::json!(r.occurred_at),
        id: r.id,
    })
    .map(AuditEvent::from);
    Ok(AuditEventPage::respond(page, &req))
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/audit-events")
        .handler_decides()
        .service(list_audit_events);
}
