//! The `Idempotency-Key` protocol of the entry writes: claiming a key, storing the
//! response, replaying it, and purging old keys.

use super::*;

/// How long idempotency keys are kept (the contract promises at least 24 hours).
pub const IDEMPOTENCY_RETENTION: chrono::TimeDelta = chrono::TimeDelta::hours(48);

/// Removes idempotency keys older than [`IDEMPOTENCY_RETENTION`], every hour, until the
/// process ends.
pub fn spawn_idempotency_purge(pool: crate::db::DbPool, leader: &crate::db::leader::Leader) {
    crate::db::leader::spawn_led(
        leader,
        pool,
        "idempotency-purge",
        std::time::Duration::from_secs(3600),
        |pool| {
            Box::pin(async move {
                use crate::db::schema::idempotency_keys as k;
                let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                diesel::delete(
                    k::table.filter(k::created_at.lt(Utc::now() - IDEMPOTENCY_RETENTION)),
                )
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())
            })
        },
    );
}

/// A stored response to replay for an Idempotency-Key.
pub(super) struct Stored {
    pub(super) status: u16,
    pub(super) body: Vec<u8>,
    pub(super) location: Option<String>,
}

/// Reads and checks the `Idempotency-Key` header (1–255 visible ASCII characters).
pub(super) fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let ok = value.to_str().ok().filter(|v| {
        !v.is_empty() && v.len() <= 255 && v.bytes().all(|b| (0x21..=0x7e).contains(&b))
    });
    ok.map(|v| Some(v.to_owned())).ok_or_else(|| {
        ApiError::invalid_parameter(
            "Idempotency-Key",
            text!(
                "must be 1 to 255 visible ASCII characters",
                "debe tener de 1 a 255 caracteres ASCII visibles"
            ),
        )
    })
}

/// A stable hash of a request: the path and the body's JSON with object keys sorted.
pub(super) fn request_hash(path: &str, body: &serde_json::Value) -> String {
    fn canonical(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    out.insert(k.clone(), canonical(&m[k]));
                }
                serde_json::Value::Object(out)
            }
            serde_json::Value::Array(a) => {
                serde_json::Value::Array(a.iter().map(canonical).collect())
            }
            other => other.clone(),
        }
    }
    let mut h = Sha256::new();
    h.update(path.as_bytes());
    h.update(b"\n");
    // Keys are sorted by hand, so the hash holds whatever order serde_json keeps.
    let mut sorted = String::new();
    write_sorted(&canonical(body), &mut sorted);
    h.update(sorted.as_bytes());
    hex::encode(h.finalize())
}

pub(super) fn write_sorted(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String((*k).clone()).to_string());
                out.push(':');
                write_sorted(&m[*k], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Within the transaction: claims the key for this caller (409 while another request
/// holds it), and returns the stored response when the same request was done before
/// (422 when the key was used with another body).
pub(super) async fn claim_key(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    key: &str,
    hash: &str,
) -> Result<Option<Stored>, ApiError> {
    use crate::db::schema::idempotency_keys as k;
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    // The lock and the stored response in one pipeline; the stored row counts only when
    // the lock was taken.
    let c: &AsyncPgConnection = conn;
    let (locked, stored) = futures_util::try_join!(
        Prepared(
            diesel::sql_query(
                "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 7411)) AS locked"
            )
            .bind::<diesel::sql_types::Text, _>(format!("{}\n{key}", caller.sub))
        )
        .get_result::<Locked>(&mut { c }),
        async {
            k::table
                .filter(k::caller_sub.eq(&caller.sub))
                .filter(k::key.eq(key))
                .select((
                    k::request_hash,
                    k::response_status,
                    k::response_body,
                    k::location,
                ))
                .first::<(String, i16, Vec<u8>, Option<String>)>(&mut { c })
                .await
                .optional()
        },
    )?;
    key_outcome(locked.locked, stored, hash)
}

/// What a key's lock and stored response decide: 409 when the lock was not taken
/// (another request holds the key), the stored response to replay for the same request,
/// 422 for another request, nothing (`None`) for a new key. The stored row counts only
/// when the lock was taken.
pub(super) fn key_outcome(
    locked: bool,
    stored: Option<(String, i16, Vec<u8>, Option<String>)>,
    hash: &str,
) -> Result<Option<Stored>, ApiError> {
    if !locked {
        let mut e = ApiError::new(
            ProblemType::IdempotencyKeyInUse,
            text!(
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                "Una solicitud con esta Idempotency-Key aún se está procesando; reintente en breve."
            ),
        );
        e.retry_after = Some(1);
        return Err(e);
    }
    match stored {
        None => Ok(None),
        Some((stored_hash, status, body, location)) if stored_hash == hash => Ok(Some(Stored {
            status: status as u16,
            body,
            location,
        })),
        Some(_) => Err(ApiError::new(
            ProblemType::IdempotencyKeyReused,
            text!(
                "This Idempotency-Key was used with another request; use a new key.",
                "Esta Idempotency-Key se usó con otra solicitud; use una clave nueva."
            ),
        )),
    }
}

/// An `Idempotency-Key` claimed by this transaction and the request's hash.
pub(super) struct KeyClaim<'a> {
    pub(super) key: &'a str,
    pub(super) hash: &'a str,
}

/// A written entry's representation and address, as answered and as stored for replays.
pub(super) struct Created {
    pub(super) tagged: Tagged,
    pub(super) location: String,
}

pub(super) fn replay(stored: Stored) -> HttpResponse {
    let mut res = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(stored.status).unwrap_or_default(),
    );
    res.content_type("application/json")
        .insert_header(("Idempotent-Replayed", "true"))
        .insert_header((header::ETAG, crate::core::http::etag_of(&stored.body)));
    if let Some(l) = stored.location {
        res.insert_header((header::LOCATION, l));
    }
    res.body(stored.body)
}
