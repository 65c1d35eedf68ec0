//! Service accounts for scripted pulls and dashboards, and the OAuth 2.0
//! client-credentials token endpoint (RFC 6749 §4.4) that gives them short-lived tokens.
//!
//! Accounts are created and disabled with the binary's `service-account` command; their
//! secret is shown once and stored only as an argon2id hash.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::auth::policy::Role;
use crate::core::enums::string_enum;
use crate::core::error::{ApiError, FieldError, ProblemType};
use crate::core::http::JsonBody;
use crate::core::i18n::text;
use crate::db::audit::{self, Actor};
use crate::db::schema::{revoked_tokens, service_accounts};
use crate::db::{Constraint, Meaning};
use crate::state::AppState;

string_enum! {
    /// Whether an account may get tokens.
    pub enum AccountStatus {
        Active = "active" ("Active", "Activa"),
        Disabled = "disabled" ("Disabled", "Deshabilitada"),
    }
}

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "service_accounts_client_id_key",
        field: "client_id",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "service_accounts_office_id_fkey",
        field: "office_id",
        meaning: Meaning::Reference,
    },
    Constraint {
        name: "service_accounts_department_id_fkey",
        field: "department_id",
        meaning: Meaning::Reference,
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

/// A service account as shown to administrators (never its secret or hash).
#[derive(Serialize, Clone, Debug)]
pub struct ServiceAccount {
    pub id: Uuid,
    pub client_id: String,
    pub name: String,
    pub role: Role,
    pub office_id: Option<Uuid>,
    pub department_id: Option<Uuid>,
    pub status: AccountStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = service_accounts)]
struct AccountRow {
    id: Uuid,
    client_id: String,
    name: String,
    role: String,
    office_id: Option<Uuid>,
    department_id: Option<Uuid>,
    secret_hash: String,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl AccountRow {
    fn account(&self) -> ServiceAccount {
        ServiceAccount {
            id: self.id,
            client_id: self.client_id.clone(),
            name: self.name.clone(),
            role: Role::from_db(&self.role),
            office_id: self.office_id,
            department_id: self.department_id,
            status: AccountStatus::from_db(&self.status),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

fn hash_secret(secret: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the secret: {e}"))
}

fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the client is unknown, so that unknown and known
/// clients take the same time to refuse.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_secret("decoy secret that matches nothing").expect("hashing works"))
}

/// Creates an account; returns it with its secret (shown once, stored only hashed).
pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    client_id: &str,
    name: &str,
    role: Role,
    office_id: Option<Uuid>,
    department_id: Option<Uuid>,
) -> Result<(ServiceAccount, String), ApiError> {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_secret(&secret).map_err(|e| {
        log::error!("{e}");
        ApiError::internal()
    })?;
    let account = conn
        .transaction(async |conn| {
            let row: AccountRow = diesel::insert_into(service_accounts::table)
                .values((
                    service_accounts::id.eq(Uuid::now_v7()),
                    service_accounts::client_id.eq(client_id),
                    service_accounts::name.eq(name),
                    service_accounts::role.eq(role.as_str()),
                    service_accounts::office_id.eq(office_id),
                    service_accounts::department_id.eq(department_id),
                    service_accounts::secret_hash.eq(&hash),
                ))
                .returning(AccountRow::as_returning())
                .get_result(conn)
                .await?;
            let account = row.account();
            audit::record(
                conn,
                actor,
                "service_account.create",
                "service_account",
                account.id,
                None,
                Some(&account),
            )
            .await?;
            Ok::<_, ApiError>(account)
        })
        .await?;
    Ok((account, secret))
}

/// Sets an account's status; a disabled account gets no new tokens.
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    client_id: &str,
    status: AccountStatus,
) -> Result<ServiceAccount, ApiError> {
    conn.transaction(async |conn| {
        let before: AccountRow = service_accounts::table
            .filter(service_accounts::client_id.eq(client_id))
            .select(AccountRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or_else(ApiError::not_found)?;
        let after: AccountRow = diesel::update(service_accounts::table.find(before.id))
            .set(service_accounts::status.eq(status.as_str()))
            .returning(AccountRow::as_returning())
            .get_result(conn)
            .await?;
        let action = match status {
            AccountStatus::Active => "service_account.enable",
            AccountStatus::Disabled => "service_account.disable",
        };
        audit::record(
            conn,
            actor,
            action,
            "service_account",
            after.id,
            Some(&before.account()),
            Some(&after.account()),
        )
        .await?;
        Ok(after.account())
    })
    .await
}

/// Every account, by client id.
pub async fn list(conn: &mut AsyncPgConnection) -> Result<Vec<ServiceAccount>, ApiError> {
    let rows: Vec<AccountRow> = service_accounts::table
        .select(AccountRow::as_select())
        .order(service_accounts::client_id)
        .load(conn)
        .await?;
    Ok(rows.iter().map(AccountRow::account).collect())
}

/// A client-credentials token request (form-encoded as RFC 6749 says, or JSON). The
/// client may instead authenticate with HTTP Basic (`client_id:client_secret`).
#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials` (any other is a 400 `unsupported_grant_type`).
    #[schema(example = "client_credentials", pattern = "^client_credentials$")]
    pub grant_type: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Ignored: a token carries its account's role.
    pub scope: Option<String>,
}

/// An access token (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
}

fn oauth_error(
    status: ProblemType,
    code: &'static str,
    detail: crate::core::i18n::Text,
) -> ApiError {
    let mut e = ApiError::new(status, detail);
    e.oauth_error = Some(code);
    e
}

fn invalid_client() -> ApiError {
    oauth_error(
        ProblemType::Unauthorized,
        "invalid_client",
        text!(
            "Client authentication failed.",
            "La autenticación del cliente falló."
        ),
    )
    .with_header(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"ogsms\""),
    )
}

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    Some((unescape(id), unescape(secret)))
}

/// Get an access token with client credentials.
///
/// OAuth 2.0 client-credentials grant (RFC 6749 §4.4). Send
/// `grant_type=client_credentials&client_id=…&client_secret=…` form-encoded, or the
/// credentials in HTTP Basic. Errors are problems that also carry the RFC 6749 `error`
/// code. (The same fields as a JSON object are accepted too, for scripts; the document
/// declares only the standard form encoding, because client generators turn one schema
/// under two media types into code that does not import.)
#[utoipa::path(
    context_path = "/auth",
    tag = "Authentication",
    request_body(content(
        (TokenRequest = "application/x-www-form-urlencoded"),
    )),
    security(()),
    responses(
        (status = 200, description = "A short-lived access token", body = TokenResponse,
         headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 401, response = crate::core::error::responses::Unauthorized),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 429, response = crate::core::error::responses::TooManyRequests),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/token")]
pub async fn issue_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let invalid_request = |detail: crate::core::i18n::Text| {
        oauth_error(ProblemType::InvalidParameter, "invalid_request", detail)
    };
    let form: TokenRequest = if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(&body).map_err(|e| {
            let message = e.to_string();
            invalid_request(text!(
                "The form is invalid: {message}.",
                "El formulario no es válido: {message}."
            ))
        })?
    } else if content_type.starts_with("application/json") {
        serde_json::from_slice(&body).map_err(|e| {
            let message = e.to_string();
            invalid_request(text!(
                "The body is invalid: {message}.",
                "El cuerpo no es válido: {message}."
            ))
        })?
    } else {
        return Err(ApiError::new(
            ProblemType::UnsupportedMediaType,
            text!(
                "Send the request as application/x-www-form-urlencoded or application/json.",
                "Envíe la solicitud como application/x-www-form-urlencoded o application/json."
            ),
        ));
    };
    if form.grant_type != "client_credentials" {
        return Err(oauth_error(
            ProblemType::InvalidParameter,
            "unsupported_grant_type",
            text!(
                "Only grant_type=client_credentials is supported.",
                "Solo se admite grant_type=client_credentials."
            ),
        )
        .with_errors(vec![FieldError::new(
            "grant_type",
            "unsupported",
            text!("must be client_credentials", "debe ser client_credentials"),
        )]));
    }
    let (client_id, secret) = match (basic_credentials(&req), form.client_id, form.client_secret) {
        (Some(creds), None, None) => creds,
        (None, Some(id), Some(secret)) => (id, secret),
        (Some(_), _, _) => {
            return Err(invalid_request(text!(
                "Use one way to authenticate the client, not two.",
                "Use una sola forma de autenticar al cliente."
            )));
        }
        _ => {
            return Err(invalid_request(text!(
                "client_id and client_secret are required.",
                "client_id y client_secret son obligatorios."
            )));
        }
    };
    if client_id.len() > 64 || secret.len() > 256 {
        return Err(invalid_client());
    }
    // Guessing secrets is slowed per client and per address.
    let peer = req
        .connection_info()
        .realip_remote_addr()
        .unwrap_or("unknown")
        .to_owned();
    let by_client = crate::db::limits::spend(
        &state.limits,
        &state.pool,
        &format!("token-client:{client_id}"),
    )
    .await?;
    let by_peer =
        crate::db::limits::spend(&state.limits, &state.pool, &format!("token-peer:{peer}")).await?;
    // The headers tell the tighter of the two budgets.
    actix_web::HttpMessage::extensions_mut(&req).insert(
        if by_peer.remaining < by_client.remaining {
            by_peer
        } else {
            by_client
        },
    );

    let mut conn = state.pool.get().await?;
    let row: Option<AccountRow> = service_accounts::table
        .filter(service_accounts::client_id.eq(&client_id))
        .select(AccountRow::as_select())
        .first(&mut conn)
        .await
        .optional()?;
    let hash = row
        .as_ref()
        .map(|r| r.secret_hash.clone())
        .unwrap_or_else(|| decoy_hash().to_owned());
    let verified = web::block(move || verify_secret(&secret, &hash))
        .await
        .map_err(|_| ApiError::internal())?;
    let row = match row {
        Some(row) if verified && row.status == "active" => row,
        _ => return Err(invalid_client()),
    };
    let account = row.account();
    let claims = state.auth.claims(
        &account.client_id,
        account.role,
        account.office_id,
        account.department_id,
        None,
    );
    let token = state.auth.sign(&claims).map_err(|e| {
        log::error!("signing a token: {e}");
        ApiError::internal()
    })?;
    let actor = Actor {
        sub: account.client_id.clone(),
        role: account.role.as_str().to_owned(),
        request_id: crate::core::http::RequestId::of(&req),
    };
    let issued = serde_json::json!({
        "jti": claims.jti,
        "expires_at": DateTime::from_timestamp(claims.exp, 0),
        "role": account.role,
    });
    audit::record(
        &conn,
        &actor,
        "token.issue",
        "service_account",
        account.id,
        None,
        Some(&issued),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token: token,
            token_type: "Bearer",
            expires_in: (claims.exp - claims.iat).max(0) as u64,
        }))
}

/// Revoking a token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRevocation {
    /// The token's `jti`.
    #[schema(pattern = "<line>", max_length = 128)]
    pub jti: String,
    /// When the token expires (its `exp`); the revocation is kept until then. Defaults
    /// to 24 hours from now.
    pub expires_at: Option<DateTime<Utc>>,
    #[schema(pattern = "<line>", max_length = 500)]
    pub reason: Option<String>,
}

/// A revoked token.
#[derive(Serialize, ToSchema)]
pub struct Revocation {
    pub jti: String,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// Records a revocation (idempotent) with its audit event.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    jti: &str,
    expires_at: DateTime<Utc>,
    reason: Option<&str>,
) -> Result<Revocation, ApiError> {
    conn.transaction(async |conn| {
        let row: (String, DateTime<Utc>, DateTime<Utc>, Option<String>) =
            diesel::insert_into(revoked_tokens::table)
                .values((
                    revoked_tokens::jti.eq(jti),
                    revoked_tokens::expires_at.eq(expires_at),
                    revoked_tokens::reason.eq(reason),
                ))
                .on_conflict(revoked_tokens::jti)
                .do_update()
                .set(revoked_tokens::expires_at.eq(diesel::dsl::sql(
                    "GREATEST(revoked_tokens.expires_at, excluded.expires_at)",
                )))
                .returning((
                    revoked_tokens::jti,
                    revoked_tokens::expires_at,
                    revoked_tokens::revoked_at,
                    revoked_tokens::reason,
                ))
                .get_result(conn)
                .await?;
        let revocation = Revocation {
            jti: row.0,
            expires_at: row.1,
            revoked_at: row.2,
            reason: row.3,
        };
        audit::record(
            conn,
            actor,
            "token.revoke",
            "token",
            jti,
            None,
            Some(&revocation),
        )
        .await?;
        Ok(revocation)
    })
    .await
}

/// Revoke a token at once (Coordinating Office).
///
/// The token is refused from now until it would have expired anyway.
#[utoipa::path(
    context_path = "/auth",
    tag = "Authentication",
    request_body = NewRevocation,
    responses(
        (status = 201, description = "The token is revoked", body = Revocation),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/revocations")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewRevocation>,
) -> Result<HttpResponse, ApiError> {
    caller.may_revoke_tokens()?;
    let new = body.0;
    let mut errors = Vec::new();
    // (A NUL reached the database, which cannot store it, as a 500.)
    crate::core::validate::line("jti", &new.jti, 128, &mut errors);
    if let Some(r) = &new.reason {
        crate::core::validate::line("reason", r, 500, &mut errors);
    }
    crate::core::validate::finish(errors)?;
    let expires_at = new
        .expires_at
        .unwrap_or_else(|| Utc::now() + chrono::Duration::hours(24));
    let mut conn = state.pool.get().await?;
    let revocation = revoke(
        &mut conn,
        &caller.actor(),
        &new.jti,
        expires_at,
        new.reason.as_deref(),
    )
    .await?;
    // The in-memory list is outside the transaction a dry-run rolls back.
    if !crate::db::dry_run::active() {
        state.revocations.insert(&revocation.jti);
    }
    Ok(HttpResponse::Created().json(revocation))
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    // The token endpoint is public (client credentials in a form body).
    r.under("/auth").handler_decides().service(issue_token);
    r.writes("tokens").service(revoke_token);
}
