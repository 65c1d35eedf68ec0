//! Authentication: bearer JWTs, validated with a key and algorithm fixed by
//! configuration (never by the token), and the caller as an actix extractor.
//!
//! Supported: HS256 with a shared secret (the default, for local use and tests), and
//! RS256 or EdDSA with public keys from a JWKS file, picked by `kid` (so keys can rotate:
//! list the old and the new key while both are valid). `jku`, `x5u` and embedded `jwk`
//! headers are never followed. Required claims: `sub`, `role`, `exp`, `iat`, `iss`,
//! `aud`, `jti`, plus `office_id` for office roles and `department_id` for the HQ
//! department role. A revoked `jti` is refused until the token would have expired.

pub mod me;
pub mod policy;
pub mod role;
pub mod routes;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::{DateTime, Utc};
use futures_util::future::{FutureExt, LocalBoxFuture, Shared};

use crate::ops::Remaining;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::role::Role;
use crate::core::error::{ApiError, ProblemType};
use crate::core::i18n::text;

/// Most seconds of clock skew tolerated on `exp` and `nbf`.
pub const MAX_LEEWAY_SECS: u64 = 30;

/// Installs the process's JWT crypto provider (RustCrypto). Idempotent.
pub fn install_crypto_provider() {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

/// The HS256 secret kept in `<data_dir>/jwt-secret`, made (48 random bytes) on first
/// use. Errors name the file and the settings that move it or replace it.
fn secret_file(data_dir: &std::path::Path) -> anyhow::Result<String> {
    use std::io::{ErrorKind, Write};
    use std::os::unix::fs::OpenOptionsExt;
    const FIX: &str = "set OGSMS_DATA_DIR (--data-dir) to a directory this user can write, \
                       or OGSMS_JWT_SECRET to a secret of at least 32 bytes";
    let path = data_dir.join("jwt-secret");
    let read = |path: &std::path::Path| -> anyhow::Result<String> {
        let s = std::fs::read_to_string(path).map_err(|e| {
            crate::core::settings::path_error("read the token signing key", path, &e, FIX)
        })?;
        let s = s.trim().to_owned();
        if s.len() < 32 {
            return Err(crate::core::settings::path_error(
                "use the token signing key",
                path,
                &std::io::Error::other("it holds fewer than 32 bytes"),
                "delete it to have a new one made, or set OGSMS_JWT_SECRET",
            ));
        }
        Ok(s)
    };
    match std::fs::metadata(&path) {
        Ok(_) => return read(&path),
        Err(e) if e.kind() != ErrorKind::NotFound => {
            return Err(crate::core::settings::path_error(
                "read the token signing key",
                &path,
                &e,
                FIX,
            ));
        }
        Err(_) => {}
    }
    let mut bytes = [0u8; 48];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let s = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
    std::fs::create_dir_all(data_dir).map_err(|e| {
        crate::core::settings::path_error(
            "create the directory of the token signing key",
            data_dir,
            &e,
            FIX,
        )
    })?;
    // Written whole under a private name, then linked into place: a process that starts
    // at the same moment (`ogsms token` beside `serve`) never reads half a key, and the
    // one that links second uses the first one's.
    let tmp = data_dir.join(format!(".jwt-secret.{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(s.as_bytes()))
        .and_then(|()| std::fs::hard_link(&tmp, &path));
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            log::info!("made a new token signing key in {}", path.display());
            Ok(s)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => read(&path),
        Err(e) => Err(crate::core::settings::path_error(
            "create the token signing key",
            &path,
            &e,
            FIX,
        )),
    }
}

/// How tokens are checked and made.
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    pub algorithm: Algorithm,
    /// Keys that verify, by `kid` (`""` for the HS256 secret, which has no kid).
    verify_keys: HashMap<String, DecodingKey>,
    /// The key tokens are signed with, and its kid.
    signing: Option<(Option<String>, EncodingKey)>,
    pub leeway_secs: u64,
    /// Lifetime of the tokens this service issues.
    pub token_ttl: Duration,
    /// Tokens this configuration verified, with their claims (see [`AuthConfig::verify`]).
    verified: VerifiedTokens,
    /// SHA-256 (hex) of the key material: the HS256 secret's hash, or the JWKS's public
    /// keys (sorted by kid), with the algorithm. Never the secret itself: recorded in the
    /// database so that instances with different keys are not run side by side.
    pub fingerprint: String,
}

/// SHA-256 of the algorithm's name and the key material, in hex.
fn fingerprint(algorithm: &str, material: &[u8]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(algorithm.as_bytes());
    h.update([0]);
    h.update(material);
    hex::encode(h.finalize())
}

/// Tokens already verified, by their text: a client sends the same token with every
/// request until it expires, and checking its signature and claims again (base64, JSON,
/// HMAC or RSA/EC) was a tenth of the service's CPU for a one-statement read. Bounded:
/// emptied when full.
#[derive(Default)]
struct VerifiedTokens(RwLock<HashMap<String, Claims>>);

/// Tokens kept at most (about 2 MB); a service sees far fewer distinct tokens within
/// their lifetime (15 minutes).
const MAX_VERIFIED_TOKENS: usize = 10_000;

impl AuthConfig {
    /// HS256 with a shared secret (at least 32 bytes).
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> anyhow::Result<AuthConfig> {
        anyhow::ensure!(
            secret.len() >= 32,
            "the HS256 secret must be at least 32 bytes"
        );
        install_crypto_provider();
        Ok(AuthConfig {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            algorithm: Algorithm::HS256,
            verify_keys: HashMap::from([(String::new(), DecodingKey::from_secret(secret))]),
            signing: Some((None, EncodingKey::from_secret(secret))),
            leeway_secs: MAX_LEEWAY_SECS,
            token_ttl: Duration::from_secs(15 * 60),
            verified: VerifiedTokens::default(),
            fingerprint: fingerprint("HS256", secret),
        })
    }

    /// RS256 or EdDSA: verification keys from a JWKS document (each with a `kid`), and
    /// optionally a PEM private key (with its kid) to sign the tokens this service issues.
    pub fn asymmetric(
        algorithm: Algorithm,
        jwks_json: &str,
        signing_pem: Option<(&str, &[u8])>,
        issuer: &str,
        audience: &str,
    ) -> anyhow::Result<AuthConfig> {
        install_crypto_provider();
        anyhow::ensure!(
            matches!(algorithm, Algorithm::RS256 | Algorithm::EdDSA),
            "only RS256 and EdDSA are supported with a JWKS"
        );
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(jwks_json)?;
        let mut verify_keys = HashMap::new();
        let mut public: Vec<(String, String)> = Vec::new();
        for jwk in &set.keys {
            public.push((
                jwk.common.key_id.clone().unwrap_or_default(),
                serde_json::to_string(&jwk.algorithm)?,
            ));
            let kid = jwk
                .common
                .key_id
                .clone()
                .ok_or_else(|| anyhow::anyhow!("every JWKS key needs a kid"))?;
            verify_keys.insert(kid, DecodingKey::from_jwk(jwk)?);
        }
        anyhow::ensure!(!verify_keys.is_empty(), "the JWKS has no keys");
        let signing = match signing_pem {
            Some((kid, pem)) => {
                let key = match algorithm {
                    Algorithm::RS256 => EncodingKey::from_rsa_pem(pem)?,
                    _ => EncodingKey::from_ed_pem(pem)?,
                };
                Some((Some(kid.to_owned()), key))
            }
            None => None,
        };
        Ok(AuthConfig {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            algorithm,
            verify_keys,
            signing,
            leeway_secs: MAX_LEEWAY_SECS,
            token_ttl: Duration::from_secs(15 * 60),
            verified: VerifiedTokens::default(),
            fingerprint: {
                public.sort();
                fingerprint(
                    &format!("{algorithm:?}"),
                    serde_json::to_string(&public)?.as_bytes(),
                )
            },
        })
    }

    /// From the environment: `OGSMS_JWT_ALG` (HS256, RS256 or EdDSA; default HS256),
    /// `OGSMS_JWT_ISSUER` (default `ogsms`), `OGSMS_JWT_AUDIENCE` (default `ogsms-api`),
    /// `OGSMS_TOKEN_TTL_SECS` (default 900). HS256 takes `OGSMS_JWT_SECRET`, or else a
    /// secret kept in `<data_dir>/jwt-secret` (made on first use), so that the `token`
    /// command and the service share it. RS256/EdDSA take `OGSMS_JWKS_FILE` (public keys
    /// with their kids) and optionally `OGSMS_JWT_SIGNING_KEY` (a PEM private key) with
    /// `OGSMS_JWT_SIGNING_KID` to issue tokens.
    pub fn from_env(data_dir: &std::path::Path) -> anyhow::Result<AuthConfig> {
        use anyhow::Context;
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let issuer = var("OGSMS_JWT_ISSUER").unwrap_or_else(|| "ogsms".to_owned());
        let audience = var("OGSMS_JWT_AUDIENCE").unwrap_or_else(|| "ogsms-api".to_owned());
        let alg = var("OGSMS_JWT_ALG").unwrap_or_else(|| "HS256".to_owned());
        let mut config = match alg.as_str() {
            "HS256" => {
                let secret = match var("OGSMS_JWT_SECRET") {
                    Some(s) => s,
                    None => secret_file(data_dir)?,
                };
                AuthConfig::hs256(secret.as_bytes(), &issuer, &audience)?
            }
            "RS256" | "EdDSA" => {
                let algorithm = if alg == "RS256" {
                    Algorithm::RS256
                } else {
                    Algorithm::EdDSA
                };
                let jwks_path = var("OGSMS_JWKS_FILE")
                    .context("OGSMS_JWKS_FILE is required with RS256 or EdDSA")?;
                let jwks = std::fs::read_to_string(&jwks_path).map_err(|e| {
                    crate::core::settings::path_error(
                        "read the JWKS",
                        jwks_path.as_ref(),
                        &e,
                        "OGSMS_JWKS_FILE names it",
                    )
                })?;
                let signing = match (var("OGSMS_JWT_SIGNING_KEY"), var("OGSMS_JWT_SIGNING_KID")) {
                    (Some(path), Some(kid)) => Some((
                        kid,
                        std::fs::read(&path).map_err(|e| {
                            crate::core::settings::path_error(
                                "read the signing key",
                                path.as_ref(),
                                &e,
                                "OGSMS_JWT_SIGNING_KEY names it",
                            )
                        })?,
                    )),
                    (None, None) => None,
                    _ => {
                        anyhow::bail!("OGSMS_JWT_SIGNING_KEY and OGSMS_JWT_SIGNING_KID go together")
                    }
                };
                AuthConfig::asymmetric(
                    algorithm,
                    &jwks,
                    signing
                        .as_ref()
                        .map(|(kid, pem)| (kid.as_str(), pem.as_slice())),
                    &issuer,
                    &audience,
                )?
            }
            other => anyhow::bail!("OGSMS_JWT_ALG must be HS256, RS256 or EdDSA, not {other}"),
        };
        if let Some(ttl) = var("OGSMS_TOKEN_TTL_SECS") {
            config.token_ttl = Duration::from_secs(ttl.parse().context("OGSMS_TOKEN_TTL_SECS")?);
        }
        Ok(config)
    }

    fn validation(&self) -> Validation {
        let mut v = Validation::new(self.algorithm);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.validate_exp = true;
        v.validate_nbf = true;
        v.validate_aud = true;
        v.leeway = self.leeway_secs.min(MAX_LEEWAY_SECS);
        v
    }

    /// Checks a token: signature with the configured algorithm and key, then claims.
    ///
    /// A token verified before by this configuration is not checked again while it has
    /// not expired: its text is what was signed, its signature and scope cannot have
    /// changed, and a `nbf` already passed stays passed; only `exp` moves, and a token
    /// within a second of it goes through the full check (with the leeway).
    /// Revocation is not part of this: callers check it at every request.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        if token.len() > 8192 {
            return Err(AuthError);
        }
        let now = Utc::now().timestamp();
        if let Ok(cache) = self.verified.0.read()
            && let Some(claims) = cache.get(token)
            && claims.exp > now
        {
            return Ok(claims.clone());
        }
        let claims = self.verify_fully(token)?;
        if let Ok(mut cache) = self.verified.0.write() {
            if cache.len() >= MAX_VERIFIED_TOKENS {
                cache.clear();
            }
            cache.insert(token.to_owned(), claims.clone());
        }
        Ok(claims)
    }

    fn verify_fully(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError)?;
        // The algorithm is ours, not the token's: a token naming another is refused
        // before any key is touched (alg confusion, `none`).
        if header.alg != self.algorithm {
            return Err(AuthError);
        }
        let kid = match (&header.kid, self.algorithm) {
            (_, Algorithm::HS256) => String::new(),
            (Some(kid), _) if is_sane_kid(kid) => kid.clone(),
            _ => return Err(AuthError),
        };
        let key = self.verify_keys.get(&kid).ok_or(AuthError)?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation())
            .map_err(|_| AuthError)?;
        let claims = data.claims;
        claims.check_scope()?;
        Ok(claims)
    }

    /// Signs `claims` with the configured signing key.
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let (kid, key) = self
            .signing
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no signing key is configured"))?;
        let mut header = Header::new(self.algorithm);
        header.kid = kid.clone();
        header.typ = Some("JWT".to_owned());
        Ok(jsonwebtoken::encode(&header, claims, key)?)
    }

    /// Claims for a new token of `role` for `sub`, valid for `ttl` (this config's TTL
    /// when `None`).
    pub fn claims(
        &self,
        sub: &str,
        role: Role,
        office_id: Option<Uuid>,
        department_id: Option<Uuid>,
        ttl: Option<Duration>,
    ) -> Claims {
        let now = Utc::now().timestamp();
        let ttl = ttl.unwrap_or(self.token_ttl).as_secs() as i64;
        Claims {
            sub: sub.to_owned(),
            role,
            office_id,
            department_id,
            jti: Uuid::new_v4().to_string(),
            iat: now,
            nbf: Some(now),
            exp: now + ttl,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        }
    }
}

/// A kid is a lookup key only: short and of plain characters, else the token is refused.
fn is_sane_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 64
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The claims of an access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_id: Option<Uuid>,
    pub jti: String,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

impl Claims {
    /// An office role carries its office, the HQ department role its department, and no
    /// role carries what it does not need.
    fn check_scope(&self) -> Result<(), AuthError> {
        let ok = match self.role {
            Role::Representative | Role::OfficeStaff => {
                self.office_id.is_some() && self.department_id.is_none()
            }
            Role::HqDepartment => self.department_id.is_some() && self.office_id.is_none(),
            Role::Coordinator | Role::Auditor | Role::Viewer => {
                self.office_id.is_none() && self.department_id.is_none()
            }
        };
        if ok && !self.jti.is_empty() && self.jti.len() <= 128 && !self.sub.is_empty() {
            Ok(())
        } else {
            Err(AuthError)
        }
    }
}

/// A token that is not accepted; the response says nothing about why.
#[derive(Debug)]
pub struct AuthError;

impl From<AuthError> for ApiError {
    fn from(_: AuthError) -> ApiError {
        ApiError::new(
            ProblemType::Unauthorized,
            text!(
                "A valid bearer token is required.",
                "Se requiere un token de portador válido."
            ),
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ogsms\", error=\"invalid_token\""),
        )
    }
}

/// Revoked token ids, mirrored from the database: refreshed every second by a
/// background task (so a revocation reaches every instance within a second) and updated
/// at once in the instance that revokes.
#[derive(Clone, Default)]
pub struct Revocations {
    inner: Arc<RwLock<RevocationState>>,
}

#[derive(Default)]
struct RevocationState {
    jtis: HashSet<String>,
    loaded_until: Option<DateTime<Utc>>,
}

impl Revocations {
    pub fn contains(&self, jti: &str) -> bool {
        self.inner
            .read()
            .map(|s| s.jtis.contains(jti))
            .unwrap_or(true)
    }

    pub fn insert(&self, jti: &str) {
        if let Ok(mut s) = self.inner.write() {
            s.jtis.insert(jti.to_owned());
        }
    }

    /// Loads revocations recorded since the last refresh.
    pub async fn refresh(&self, pool: &crate::db::DbPool) -> Result<(), ApiError> {
        use crate::db::schema::revoked_tokens as r;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let since = self.inner.read().ok().and_then(|s| s.loaded_until);
        let mut conn = pool.get().await?;
        let mut q = r::table
            .filter(
                r::expires_at.gt(Utc::now() - chrono::Duration::seconds(MAX_LEEWAY_SECS as i64)),
            )
            .select((r::jti, r::revoked_at))
            .into_boxed();
        if let Some(t) = since {
            // Overlap a little: a revocation committed late with an earlier timestamp
            // is still seen.
            q = q.filter(r::revoked_at.ge(t - chrono::Duration::seconds(60)));
        }
        let rows: Vec<(String, DateTime<Utc>)> = q.load(&mut conn).await?;
        if let Ok(mut s) = self.inner.write() {
            for (jti, at) in rows {
                s.loaded_until = Some(s.loaded_until.map_or(at, |u| u.max(at)));
                s.jtis.insert(jti);
            }
            if s.loaded_until.is_none() {
                s.loaded_until = Some(Utc::now() - chrono::Duration::seconds(60));
            }
        }
        Ok(())
    }

    /// Refreshes every second until the process ends.
    pub fn spawn_refresher(&self, pool: crate::db::DbPool) {
        let this = self.clone();
        actix_web::rt::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Err(e) = this.refresh(&pool).await {
                    log::debug!("refreshing revoked tokens: {e}");
                }
            }
        });
    }
}

/// The authenticated caller's `sub`, left in the request for the access log.
#[derive(Clone, Debug)]
pub struct CallerSub(pub String);

/// What the [`Caller`] extractor checks a token against: the keys, the revoked tokens
/// and the per-caller budgets (the same ones the state holds, registered beside it).
#[derive(Clone)]
pub struct Gate {
    pub auth: Arc<AuthConfig>,
    pub revocations: Revocations,
    pub limits: Arc<crate::ops::Limits>,
    /// Where shared budgets are spent (the worker's pool).
    pub pool: crate::db::DbPool,
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub sub: String,
    pub role: Role,
    pub office_id: Option<Uuid>,
    pub department_id: Option<Uuid>,
    pub jti: String,
    pub expires_at: i64,
    /// The request id, for the audit trail.
    pub request_id: Option<String>,
}

impl Caller {
    /// Authenticates the request's token. Owns what it needs and never the request: the
    /// future is kept in the request's extensions (see [`Caller::of`]), and a future that
    /// held the request would keep both alive, with the pool connection of a spend that an
    /// early answer (a refused body) left pending, for ever.
    async fn authenticate(
        state: web::Data<Gate>,
        authorization: Option<String>,
        request_id: Option<String>,
    ) -> Result<(Caller, Remaining), ApiError> {
        let value = authorization.ok_or(AuthError)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError.into());
        }
        let claims = state.auth.verify(token.trim())?;
        if state.revocations.contains(&claims.jti) {
            return Err(AuthError.into());
        }
        crate::db::replica::set_caller(&claims.sub);
        let remaining = crate::db::limits::spend(&state.limits, &state.pool, &claims.sub).await?;
        Ok((
            Caller {
                sub: claims.sub,
                role: claims.role,
                office_id: claims.office_id,
                department_id: claims.department_id,
                jti: claims.jti,
                expires_at: claims.exp,
                request_id,
            },
            remaining,
        ))
    }

    /// The identity written into audit events.
    pub fn actor(&self) -> crate::db::audit::Actor {
        crate::db::audit::Actor {
            sub: self.sub.clone(),
            role: self.role.as_str().to_owned(),
            request_id: self.request_id.clone(),
        }
    }
}

/// A request's authentication, made once (the body gate and the extractor share it, so
/// the rate limit counts the request once, even while both wait for it at the same time).
#[derive(Clone)]
struct Authenticated(Shared<LocalBoxFuture<'static, Result<(Caller, Remaining), ApiError>>>);

impl Caller {
    /// The request's caller, authenticated at the first ask.
    pub async fn of(req: &HttpRequest) -> Result<Caller, ApiError> {
        let pending = req.extensions().get::<Authenticated>().cloned();
        let pending = match pending {
            Some(p) => p,
            None => {
                let state = req
                    .app_data::<web::Data<Gate>>()
                    .expect("the gate is registered beside the state")
                    .clone();
                let authorization = req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let request_id = crate::core::http::RequestId::of(req);
                let p = Authenticated(
                    Caller::authenticate(state, authorization, request_id)
                        .boxed_local()
                        .shared(),
                );
                req.extensions_mut().insert(p.clone());
                p
            }
        };
        let (caller, remaining) = pending.0.await?;
        let mut extensions = req.extensions_mut();
        extensions.insert(CallerSub(caller.sub.clone()));
        extensions.insert(remaining);
        Ok(caller)
    }
}

/// The check a JSON body waits for (`core::http::BodyGate`): a caller whose role may
/// not write the resource the route declared (`routes::Routes::writes`) is refused
/// before the body is read. An unauthenticated request passes here; its `Caller`
/// extractor answers 401. A route whose handler decides passes too.
pub fn may_send_body(req: HttpRequest) -> LocalBoxFuture<'static, Result<(), ApiError>> {
    async move {
        let Some(pattern) = req.match_pattern() else {
            return Ok(());
        };
        let declared = req
            .app_data::<routes::RouteResources>()
            .and_then(|table| table.of(req.method().as_str(), &pattern));
        let Some(routes::Writes::Resource(resource)) = declared else {
            return Ok(());
        };
        match Caller::of(&req).await {
            Ok(caller) => caller.may_write_resource(resource),
            Err(_) => Ok(()),
        }
    }
    .boxed_local()
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        async move { Caller::of(&req).await }.boxed_local()
    }
}
