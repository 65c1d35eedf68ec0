//! `/v1/webhooks`: subscriptions that push the change feed to a URL (the Coordinating
//! Office and service accounts). Each event is POSTed as the feed shows it, signed with
//! HMAC-SHA256 (see [`signature`]), at least once and in order per subscription, by the
//! deliverer running inside the service ([`deliverer`]).
//!
//! URLs: `http` or `https` only, with a host, without credentials or a fragment, at most
//! 2,000 characters; anything else is a 422 naming `url`.

pub mod deliverer;

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use base64::Engine;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::core::enums::string_enum;
use crate::core::error::{ApiError, FieldError};
use crate::core::http::{IfMatch, JsonBody, Tagged};
use crate::core::i18n::text;
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page};
use crate::core::validate;
use crate::db::audit;
use crate::db::schema::{service_accounts, webhook_deliveries, webhook_subscriptions};
use crate::formats::page_type;
use crate::resources::shared::changes::{self, Position};
use crate::state::AppState;

/// The signature header of every delivery.
pub const SIGNATURE_HEADER: &str = "X-OGSMS-Signature";

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, one `v1` per valid secret
/// (two while a rotated secret's overlap lasts).
pub fn signature(timestamp: i64, body: &[u8], secrets: &[&str]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac.finalize().into_bytes()));
    }
    header
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Who owns a subscription: its deliveries carry what this caller may see.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct WebhookOwner {
    pub sub: String,
    pub role: String,
}

string_enum! {
    /// `active`, or `failing`: deliveries kept failing for the retry window (24 h by
    /// default) and stopped; reactivate to resume from the event that failed.
    pub enum WebhookStatus {
        Active = "active" ("Active", "Activa"),
        Failing = "failing" ("Failing", "Con fallos"),
    }
}

/// A webhook subscription.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Webhook {
    pub id: Uuid,
    /// Where events are POSTed.
    #[schema(example = "https://hq.example.org/ogsms-events")]
    pub url: String,
    pub description: Option<String>,
    /// The resource types delivered; null for all.
    #[schema(max_items = 50)]
    pub resource_types: Option<Vec<String>>,
    /// The actions delivered (`created`, `updated`, `deleted`); null for all.
    #[schema(max_items = 3)]
    pub actions: Option<Vec<String>>,
    pub status: WebhookStatus,
    pub owner: WebhookOwner,
    /// The change feed's position delivered through (a `cursor` of `GET /v1/changes`).
    pub delivered_through: String,
    /// Failed attempts at the current event.
    pub pending_attempts: i32,
    /// Since when the current event has been failing.
    pub failing_since: Option<DateTime<Utc>>,
    /// While set and in the future, deliveries are signed with the previous secret too.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The signing secret: only in the answers to the creation and to a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = webhook_subscriptions)]
pub(crate) struct SubscriptionRow {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub resource_types: Option<Vec<String>>,
    pub actions: Option<Vec<String>>,
    pub owner_sub: String,
    pub owner_role: String,
    pub owner_office_id: Option<Uuid>,
    pub owner_department_id: Option<Uuid>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub status: String,
    pub cursor_txid: i64,
    pub cursor_seq: i64,
    pub attempts: i32,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SubscriptionRow {
    fn webhook(&self) -> Webhook {
        Webhook {
            id: self.id,
            url: self.url.clone(),
            description: self.description.clone(),
            resource_types: self.resource_types.clone(),
            actions: self.actions.clone(),
            status: if self.status == "failing" {
                WebhookStatus::Failing
            } else {
                WebhookStatus::Active
            },
            owner: WebhookOwner {
                sub: self.owner_sub.clone(),
                role: self.owner_role.clone(),
            },
            delivered_through: Position(self.cursor_txid, self.cursor_seq).encode(),
            pending_attempts: self.attempts,
            failing_since: self.failing_since,
            previous_secret_expires_at: self.previous_secret_expires_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            secret: None,
        }
    }
}

/// A new subscription.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `http` or `https`, with a host, no credentials, no fragment; at most 2,000
    /// characters.
    #[schema(
        min_length = 10,
        max_length = 2000,
        example = "https://hq.example.org/ogsms-events",
        pattern = "<webhook_url>"
    )]
    pub url: String,
    #[schema(pattern = "<line>", max_length = 500)]
    pub description: Option<String>,
    /// Resource types to deliver (e.g. `project`, `ledger_entry`); omitted for all.
    #[schema(min_items = 1, max_items = 50, value_type = Option<Vec<ResourceTypeName>>)]
    pub resource_types: Option<Vec<String>>,
    /// Actions to deliver; omitted for all.
    #[schema(min_items = 1, max_items = 3)]
    pub actions: Option<Vec<changes::ChangeAction>>,
}

/// A secret rotation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRotation {
    /// How long the previous secret stays valid (deliveries are signed with both), in
    /// seconds, 0 to 604800 (7 days); default 86400.
    #[schema(minimum = 0, maximum = 604800, default = 86400)]
    #[serde(default, deserialize_with = "validate::optional_integer")]
    pub overlap_seconds: Option<i64>,
}

/// Schema-only type of a resource type a subscription names: 1 to 64 lower-case letters
/// or underscores (a type no change has never matches).
pub struct ResourceTypeName;

impl utoipa::PartialSchema for ResourceTypeName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("A resource type, e.g. `project` or `ledger_entry`."))
            .pattern(Some("^[a-z_]{1,64}$"))
            .into()
    }
}

impl ToSchema for ResourceTypeName {}

fn is_resource_type_name(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// The grammar of a subscription's URL (the document's `pattern`, checked before the URI
/// is parsed): `http` or `https`, a host name or IPv4 address, an optional port (1 to
/// 65535), a path
/// and a query of URI characters; no credentials, no fragment, no white space.
pub const WEBHOOK_URL_PATTERN: &str = concat!(
    r"^https?://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?",
    r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?",
    r"(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"
);

fn check_url(url: &str) -> Result<(), FieldError> {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(WEBHOOK_URL_PATTERN).expect("WEBHOOK_URL_PATTERN")
    });
    let bad = |m| FieldError::new("url", "invalid", m);
    if url.len() < 10
        || url.len() > 2000
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad(text!(
            "must be an http or https URL of 10 to 2000 characters",
            "debe ser una URL http o https de 10 a 2000 caracteres"
        )));
    }
    let uri: actix_web::http::Uri = url.parse().map_err(|_| {
        bad(text!(
            "must be an absolute http or https URL",
            "debe ser una URL http o https absoluta"
        ))
    })?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https")) && RE.is_match(url);
    let host_ok = uri.host().is_some_and(|h| !h.is_empty());
    let no_userinfo = !uri.authority().is_some_and(|a| a.as_str().contains('@'));
    if !scheme_ok || !host_ok || !no_userinfo || url.contains('#') {
        return Err(bad(text!(
            "must be an http or https URL with a host, without credentials or a fragment",
            "debe ser una URL http o https con un host, sin credenciales ni fragmento"
        )));
    }
    Ok(())
}

/// Whether the caller is a service account (an active one's client id).
async fn is_service_account(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
) -> Result<bool, ApiError> {
    let n: i64 = service_accounts::table
        .filter(service_accounts::client_id.eq(&caller.sub))
        .filter(service_accounts::status.eq("active"))
        .count()
        .get_result(conn)
        .await?;
    Ok(n > 0)
}

/// The subscription `id` if the caller may see it (its owner, or the Coordinating
/// Office); 404 otherwise.
async fn visible(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<SubscriptionRow, ApiError> {
    let row: SubscriptionRow = webhook_subscriptions::table
        .find(id)
        .select(SubscriptionRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    if caller.sees_all_webhooks() || row.owner_sub == caller.sub {
        Ok(row)
    } else {
        Err(ApiError::not_found())
    }
}

async fn authorize(conn: &mut AsyncPgConnection, caller: &Caller) -> Result<(), ApiError> {
    let service_account = is_service_account(conn, caller).await?;
    caller.may_manage_webhooks(service_account)
}

page_type!(WebhookPage, Webhook, "A page of webhook subscriptions.");

/// Query parameters of lists of subscriptions and deliveries.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WebhookListQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List webhook subscriptions: the caller's own (all of them for the Coordinating Office).
#[utoipa::path(
    context_path = "/webhooks",
    tag = "Webhooks",
    params(WebhookListQuery),
    responses(
        (status = 200, description = "A page of subscriptions", body = WebhookPage),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<WebhookListQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // Authorized before the parameters are read: a caller who may not list webhooks
    // learns nothing of their rules (403 whatever it sends).
    let mut conn = state.pool.get().await?;
    authorize(&mut conn, &caller).await?;
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, "created_at"))
        .transpose()?
        .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
        .transpose()?;
    let mut q = webhook_subscriptions::table
        .select(SubscriptionRow::as_select())
        .into_boxed();
    if !caller.sees_all_webhooks() {
        q = q.filter(webhook_subscriptions::owner_sub.eq(caller.sub.clone()));
    }
    let q = keyset!(
        q,
        webhook_subscriptions::created_at,
        webhook_subscriptions::id,
        false,
        after
    );
    let rows: Vec<SubscriptionRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: "created_at".to_owned(),
        value: serde_json::json!(r.created_at),
        id: r.id,
    })
    .map(|r| r.webhook());
    Ok(WebhookPage::respond(page, &req))
}

/// Subscribe a URL to changes. Deliveries start with the changes after the subscription.
/// The answer carries the signing `secret`, shown this once.
#[utoipa::path(
    context_path = "/webhooks",
    tag = "Webhooks",
    request_body = NewWebhook,
    responses(
        (status = 201, description = "The subscription, with its secret", body = Webhook,
         headers(("Location" = String, description = "The subscription's URL"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    authorize(&mut conn, &caller).await?;
    let new = body.0;
    let mut errors = Vec::new();
    let url = new.url;
    if let Err(e) = check_url(&url) {
        errors.push(e);
    }
    let description = new.description;
    if let Some(d) = &description {
        validate::line("description", d, 500, &mut errors);
    }
    if let Some(types) = &new.resource_types
        && (types.is_empty() || types.len() > 50 || !types.iter().all(|t| is_resource_type_name(t)))
    {
        errors.push(FieldError::new(
            "resource_types",
            "invalid",
            text!(
                "must be 1 to 50 resource types such as `project`",
                "deben ser de 1 a 50 tipos de recurso como `project`"
            ),
        ));
    }
    if new
        .actions
        .as_ref()
        .is_some_and(|a| a.is_empty() || a.len() > 3)
    {
        errors.push(FieldError::new(
            "actions",
            "invalid",
            text!(
                "must name one to three actions",
                "debe nombrar de una a tres acciones"
            ),
        ));
    }
    validate::finish(errors)?;
    let actions: Option<Vec<String>> = new.actions.map(|a| {
        let mut v: Vec<String> = a
            .iter()
            .map(|x| {
                serde_json::to_value(x)
                    .expect("serializes")
                    .as_str()
                    .expect("a string")
                    .to_owned()
            })
            .collect();
        v.sort();
        v.dedup();
        v
    });
    let secret = new_secret();
    let horizon = changes::horizon(&mut conn).await?;
    let start = Position(horizon - 1, i64::MAX);
    let actor = caller.actor();
    let row = conn
        .transaction(async |conn| {
            let row: SubscriptionRow = diesel::insert_into(webhook_subscriptions::table)
                .values((
                    webhook_subscriptions::id.eq(Uuid::now_v7()),
                    webhook_subscriptions::url.eq(&url),
                    webhook_subscriptions::description.eq(&description),
                    webhook_subscriptions::resource_types.eq(&new.resource_types),
                    webhook_subscriptions::actions.eq(&actions),
                    webhook_subscriptions::owner_sub.eq(&caller.sub),
                    webhook_subscriptions::owner_role.eq(caller.role.as_str()),
                    webhook_subscriptions::owner_office_id.eq(caller.office_id),
                    webhook_subscriptions::owner_department_id.eq(caller.department_id),
                    webhook_subscriptions::secret.eq(&secret),
                    webhook_subscriptions::cursor_txid.eq(start.0),
                    webhook_subscriptions::cursor_seq.eq(start.1),
                ))
                .returning(SubscriptionRow::as_returning())
                .get_result(conn)
                .await?;
            let hook = row.webhook();
            audit::record(conn, &actor, "create", "webhook", row.id, None, Some(&hook)).await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    let mut hook = row.webhook();
    hook.secret = Some(secret);
    Ok(Tagged::new(&hook).created(&format!("/v1/webhooks/{}", row.id)))
}

/// One subscription (without its secret).
#[utoipa::path(
    context_path = "/webhooks",
    tag = "Webhooks",
    params(("id" = Uuid, Path, description = "The subscription's id")),
    responses(
        (status = 200, description = "The subscription", body = Webhook,
         headers(("ETag" = String, description = "The representation's tag"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    authorize(&mut conn, &caller).await?;
    let row = visible(&mut conn, &caller, path.into_inner()).await?;
    Ok(Tagged::new(&row.webhook()).ok(&req))
}

/// Unsubscribe (and drop the delivery log). `If-Match` is checked when given.
#[utoipa::path(
    context_path = "/webhooks",
    tag = "Webhooks",
    params(
        ("id" = Uuid, Path, description = "The subscription's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the subscription as last read"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[delete("/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    authorize(&mut conn, &caller).await?;
    let id = path.into_inner();
    let actor = caller.actor();
    conn.transaction(async |conn| {
        let row = visible(conn, &caller, id).await?;
        let hook = row.webhook();
        if_match.check_if_present(&Tagged::new(&hook).etag)?;
        diesel::delete(webhook_subscriptions::table.find(id))
            .execute(conn)
            .await?;
        audit::record(conn, &actor, "delete", "webhook", id, Some(&hook), None).await?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate the signing secret. The new secret is in the answer (shown this once); the
/// previous one stays valid for `overlap_seconds` (default one day): until then every
/// delivery carries a signature with each.
#[utoipa::path(
    context_path = "/webhooks",
    tag = "Webhooks",
    params(("id" = Uuid, Path, description = "The subscription's id")),
    request_body = SecretRotation,
    responses(
        (status = 200, description = "The subscription, with its new secret", body = Webhook),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/secret-rotations")]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: JsonBody<SecretRotation>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    authorize(&mut conn, &caller).await?;
    let id = path.into_inner();
    let overlap = body.0.overlap_seconds.unwrap_or(86_400);
    if !(0..=604_800).contains(&overlap) {
        return Err(ApiError::validation(vec![FieldError::new(
            "overlap_seconds",
            "out_of_range",
            text!("must be from 0 to 604800", "debe estar entre 0 y 604800"),
        )]));
    }
    let secret = new_secret();
    let actor = caller.actor();
    let row = conn
        .transaction(async |conn| {
            let before = visible(conn, &caller, id).await?;
            let row: SubscriptionRow = diesel::update(webhook_subscriptions::table.find(id))
                .set((
                    webhook_subscriptions::previous_secret.eq(Some(&before.secret)),
                    webhook_subscriptions::previous_secret_expires_at
                        .eq(Some(Utc::now() + chrono::Duration::seconds(overlap))),
                    webhook_subscriptions::secret.eq(&secret),
                    webhook_subscriptions::updated_at.eq(Utc::now()),
                ))
                .returning(SubscriptionRow::as_returning())
                .get_result(conn)
                .await?;
            audit::record(
                conn,
                &actor,
                "rotate_secret",
                "webhook",
                id,
                Some(&before.webhook()),
                Some(&row.webhook()),
            )
            .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    let mut hook = row.webhook();
    hook.secret = Some(secret);
    Ok(HttpResponse::Ok().json(hook))
}

/// Resume a failing subscription: deliveries start again with the event that failed.
#[utoipa::path(
    context_path = "/webhooks",
    tag = "Webhooks",
    params(("id" = Uuid, Path, description = "The subscription's id")),
    responses(
        (status = 200, description = "The subscription, active", body = Webhook),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/reactivation")]
pub async fn reactivate_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    authorize(&mut conn, &caller).await?;
    let id = path.into_inner();
    let actor = caller.actor();
    let row = conn
        .transaction(async |conn| {
            let before = visible(conn, &caller, id).await?;
            let row: SubscriptionRow = diesel::update(webhook_subscriptions::table.find(id))
                .set((
                    webhook_subscriptions::status.eq("active"),
                    webhook_subscriptions::attempts.eq(0),
                    webhook_subscriptions::failing_since.eq(None::<DateTime<Utc>>),
                    webhook_subscriptions::next_attempt_at.eq(Utc::now()),
                    webhook_subscriptions::updated_at.eq(Utc::now()),
                ))
                .returning(SubscriptionRow::as_returning())
                .get_result(conn)
                .await?;
            if before.status != "active" {
                audit::record(
                    conn,
                    &actor,
                    "reactivate",
                    "webhook",
                    id,
                    Some(&before.webhook()),
                    Some(&row.webhook()),
                )
                .await?;
            }
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(row.webhook()))
}

/// One event's delivery to a subscription.
#[derive(Serialize, ToSchema)]
pub struct WebhookDelivery {
    pub id: Uuid,
    /// The change event's id.
    pub event_id: Uuid,
    pub resource_type: String,
    pub resource_id: String,
    pub action: String,
    /// `pending` (being retried), `delivered` (acknowledged with a 2xx) or `failed`
    /// (given up after the retry window; the subscription is failing).
    pub status: String,
    pub attempts: i32,
    /// The receiver's last HTTP status, if it answered.
    pub last_status_code: Option<i32>,
    /// Why the last attempt failed (a timeout, a refused connection, a non-2xx status).
    pub last_error: Option<String>,
    pub first_attempt_at: DateTime<Utc>,
    pub last_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
struct DeliveryRow {
    id: Uuid,
    event_id: Uuid,
    resource_type: String,
    resource_id: String,
    action: String,
    status: String,
    attempts: i32,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    first_attempt_at: DateTime<Utc>,
    last_attempt_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
}

page_type!(
    WebhookDeliveryPage,
    WebhookDelivery,
    "A page of a subscription's delivery log."
);

/// The delivery log of a subscription, oldest first: every event it was sent, with its
/// attempts and outcome.
#[utoipa::path(
    context_path = "/webhooks",
    tag = "Webhooks",
    params(("id" = Uuid, Path, description = "The subscription's id"), WebhookListQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = WebhookDeliveryPage),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
    query: web::Query<WebhookListQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // Authorized (and the subscription found) before the parameters are read.
    let mut conn = state.pool.get().await?;
    authorize(&mut conn, &caller).await?;
    let sub = visible(&mut conn, &caller, path.into_inner()).await?;
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, "first_attempt_at"))
        .transpose()?
        .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
        .transpose()?;
    let q = webhook_deliveries::table
        .filter(webhook_deliveries::subscription_id.eq(sub.id))
        .select(DeliveryRow::as_select())
        .into_boxed();
    let q = keyset!(
        q,
        webhook_deliveries::first_attempt_at,
        webhook_deliveries::id,
        false,
        after
    );
    let rows: Vec<DeliveryRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: "first_attempt_at".to_owned(),
        value: serde_json::json!(r.first_attempt_at),
        id: r.id,
    })
    .map(|r| WebhookDelivery {
        id: r.id,
        event_id: r.event_id,
        resource_type: r.resource_type,
        resource_id: r.resource_id,
        action: r.action,
        status: r.status,
        attempts: r.attempts,
        last_status_code: r.last_status_code,
        last_error: r.last_error,
        first_attempt_at: r.first_attempt_at,
        last_attempt_at: r.last_attempt_at,
        delivered_at: r.delivered_at,
    });
    Ok(WebhookDeliveryPage::respond(page, &req))
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    // The Coordinating Office and service accounts, which no role table row describes.
    r.under("/webhooks")
        .handler_decides()
        .service(list_webhooks)
        .service(create_webhook)
        .service(get_webhook)
        .service(delete_webhook)
        .service(rotate_secret)
        .service(reactivate_webhook)
        .service(list_deliveries);
}
