//! `/v1/ledgers/{id}/verify`: recomputes the hash chain.

use super::*;

/// The result of re-computing a ledger's hash chain.
#[derive(Serialize, ToSchema)]
pub struct Verification {
    pub ledger_id: Uuid,
    /// Whether every entry's hash matches its content and its predecessor.
    pub ok: bool,
    pub entry_count: i64,
    /// The last entry's hash, recomputed.
    pub head_hash: String,
    /// The first sequence number whose stored hash does not match (or that is missing).
    pub first_broken_seq: Option<i64>,
    /// What is wrong there.
    pub problem: Option<String>,
    /// When this verification ran; an intact chain's is kept and shown with the
    /// balance (`provenance.last_verification`).
    pub verified_at: DateTime<Utc>,
}

/// Recompute the hash chain from the first entry and report the first break.
///
/// The outcome is recorded (when, how many entries, whether the chain held), so that a
/// ledger with entries posted after its last good verification can be told.
#[utoipa::path(
    context_path = "/ledgers",
    tag = "Ledgers",
    params(("id" = Uuid, Path, description = "The ledger's id")),
    responses(
        (status = 200, description = "The verification", body = Verification),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/verification")]
pub async fn verify_ledger(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let ledger = load_ledger(&mut conn, &caller, id, false).await?;
    caller.may_read_whole_ledger(ledger.office_id)?;
    let checked = check_chain(&mut conn, id, ledger.entry_count, &ledger.head_hash).await?;
    let verified_at = if checked.broken.is_none() {
        super::provenance::record_verification(&mut conn, id, checked.count, &checked.head).await?
    } else {
        Utc::now()
    };
    let (count, prev, broken) = (checked.count, checked.head, checked.broken);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Verification {
            ledger_id: id,
            ok: broken.is_none(),
            entry_count: count,
            head_hash: prev,
            first_broken_seq: broken.as_ref().map(|b| b.0),
            problem: broken.map(|b| b.1),
            verified_at,
        }))
}

/// What re-computing a chain found: how many entries in order, the last hash, and the
/// first break (its sequence number and what is wrong) if any.
pub struct ChainCheck {
    pub count: i64,
    pub head: String,
    pub broken: Option<(i64, String)>,
}

/// Re-computes ledger `id`'s hash chain from its first entry, in batches, and compares
/// the end with the ledger's head (`entry_count`, `head_hash`).
pub async fn check_chain(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    entry_count: i64,
    head_hash: &str,
) -> Result<ChainCheck, ApiError> {
    let mut prev = ZERO_HASH.to_owned();
    let mut expected_seq = 1i64;
    let mut broken: Option<(i64, String)> = None;
    let mut last_seq = 0i64;
    'outer: loop {
        let batch: Vec<EntryRow> = ledger_entries::table
            .filter(ledger_entries::ledger_id.eq(id))
            .filter(ledger_entries::seq.gt(last_seq))
            .order(ledger_entries::seq.asc())
            .limit(5000)
            .select(EntryRow::as_select())
            .load(conn)
            .await?;
        if batch.is_empty() {
            break;
        }
        for row in batch {
            last_seq = row.seq;
            if row.seq != expected_seq {
                broken = Some((expected_seq, format!("entry {expected_seq} is missing")));
                break 'outer;
            }
            if row.prev_hash != prev {
                broken = Some((
                    row.seq,
                    "its prev_hash is not the previous entry's hash".to_owned(),
                ));
                break 'outer;
            }
            let computed = row.compute_hash();
            if computed != row.hash {
                broken = Some((row.seq, "its content does not match its hash".to_owned()));
                break 'outer;
            }
            prev = computed;
            expected_seq += 1;
        }
    }
    let count = expected_seq - 1;
    if broken.is_none() && (count != entry_count || prev != head_hash) {
        broken = Some((
            count + 1,
            "the ledger's head does not match its last entry".to_owned(),
        ));
    }
    Ok(ChainCheck {
        count,
        head: prev,
        broken,
    })
}

/// Verifies a ledger just written by the demo loader the way `GET …/verification` does,
/// and keeps the verification when the chain holds (an error when it does not).
pub async fn verify_and_record(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    entry_count: i64,
    head_hash: &str,
) -> Result<bool, ApiError> {
    let checked = check_chain(conn, id, entry_count, head_hash).await?;
    if checked.broken.is_some() {
        return Ok(false);
    }
    super::provenance::record_verification(conn, id, checked.count, &checked.head).await?;
    Ok(true)
}
