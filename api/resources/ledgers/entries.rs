//! `/v1/ledgers/{id}/entries`: posting and reversing entries (with their
//! idempotency), reading one, listing them, and the rows of the entry export.

use super::idempotency::{Created, KeyClaim, claim_key, idempotency_key, replay, request_hash};
use super::posting::{self, NewEntry, NewReversal, Posting, append, check_new_entry};
use super::*;

/// A write to a ledger's entries.
pub(super) enum Action {
    Post {
        ledger_id: Uuid,
        posting: Posting,
    },
    Reverse {
        ledger_id: Uuid,
        entry_id: Uuid,
        new: NewReversal,
    },
}

/// Runs `action` with the idempotency protocol around it.
pub(super) async fn post_idempotently(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    body_json: &serde_json::Value,
    action: Action,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(req)?;
    let hash = request_hash(req.path(), body_json);
    let claim = key.as_deref().map(|key| KeyClaim { key, hash: &hash });
    let mut conn = state.pool.get().await?;
    let outcome = conn
        .transaction(async |conn| match action {
            // A posting claims its key in its first statement.
            Action::Post { ledger_id, posting } => {
                posting::post(conn, caller, ledger_id, posting, claim.as_ref()).await
            }
            Action::Reverse {
                ledger_id,
                entry_id,
                new,
            } => {
                if let Some(claim) = &claim
                    && let Some(stored) = claim_key(conn, caller, claim.key, claim.hash).await?
                {
                    return Ok::<_, ApiError>(Err(stored));
                }
                let created =
                    reverse(conn, caller, ledger_id, entry_id, new, None, claim.as_ref()).await?;
                Ok(Ok(created))
            }
        })
        .await?;
    Ok(match outcome {
        Ok(created) => created.tagged.created(&created.location),
        Err(stored) => replay(stored),
    })
}

/// Post an entry.
///
/// Send an `Idempotency-Key` to make retries safe: the same key and body replay the
/// first response (with `Idempotent-Replayed: true`) and create nothing; the same key
/// with another body is a 422; the same key while the first request is still running a
/// 409. Keys are per caller and kept at least 24 hours.
#[utoipa::path(
    context_path = "/ledgers",
    tag = "Ledgers",
    params(
        ("id" = Uuid, Path, description = "The ledger's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters, unique per request"),
    ),
    request_body = NewEntry,
    responses(
        (status = 201, description = "The entry", body = Entry, headers(("ETag" = String), ("Location" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/entries")]
pub async fn post_entry(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: JsonBody<serde_json::Value>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let new: NewEntry = crate::core::http::from_value(body.0.clone())?;
    let posting = check_new_entry(&new)?;
    post_idempotently(
        &state,
        &caller,
        &req,
        &body.0,
        Action::Post {
            ledger_id: id,
            posting,
        },
    )
    .await
}

/// Reverse an entry.
///
/// Appends a reversal: the same amount with the opposite effect. An entry is reversed
/// at most once (409 `already-reversed`); a reversal is not itself reversed. Honours
/// `Idempotency-Key` like posting.
#[utoipa::path(
    context_path = "/ledgers",
    tag = "Ledgers",
    params(
        ("id" = Uuid, Path, description = "The ledger's id"),
        ("entry_id" = Uuid, Path, description = "The entry to reverse"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters, unique per request"),
    ),
    request_body = NewReversal,
    responses(
        (status = 201, description = "The reversal", body = Entry, headers(("ETag" = String), ("Location" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/entries/{entry_id}/reversal")]
pub async fn reverse_entry(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: JsonBody<serde_json::Value>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (id, entry_id) = path.into_inner();
    let new: NewReversal = crate::core::http::from_value(body.0.clone())?;
    let mut errors = Vec::new();
    if let Some(d) = &new.description {
        validate::line("description", d, 1000, &mut errors);
    }
    if let Some(r) = &new.reference {
        validate::line("reference", r, 100, &mut errors);
    }
    validate::finish(errors)?;
    post_idempotently(
        &state,
        &caller,
        &req,
        &body.0,
        Action::Reverse {
            ledger_id: id,
            entry_id,
            new,
        },
    )
    .await
}

/// Appends the reversal of `entry_id` to a ledger.
pub(super) async fn reverse(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    entry_id: Uuid,
    new: NewReversal,
    new_id: Option<Uuid>,
    claim: Option<&KeyClaim<'_>>,
) -> Result<Created, ApiError> {
    let ledger = load_ledger(conn, caller, id, true).await?;
    let original: EntryRow = ledger_entries::table
        .filter(ledger_entries::ledger_id.eq(id))
        .filter(ledger_entries::id.eq(entry_id))
        .select(EntryRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    caller.may_post_entries(ledger.office_id)?;
    if original.kind == "reversal" {
        return Err(ApiError::invalid_state(text!(
            "A reversal is not reversed; post a new entry instead.",
            "Una reversión no se revierte; registre un nuevo asiento."
        )));
    }
    let already: bool = diesel::select(diesel::dsl::exists(
        ledger_entries::table.filter(ledger_entries::reverses_entry_id.eq(entry_id)),
    ))
    .get_result(conn)
    .await?;
    if already {
        return Err(ApiError::new(
            ProblemType::AlreadyReversed,
            text!(
                "The entry was reversed already.",
                "El asiento ya fue revertido."
            ),
        ));
    }
    let seq = original.seq;
    let entry_date = new.entry_date.unwrap_or_else(|| Utc::now().date_naive());
    let posting = Posting {
        id: new_id.unwrap_or_else(Uuid::now_v7),
        kind: EntryKind::Reversal,
        category: original.category.as_deref().map(Category::from_db),
        entry_date,
        description: new
            .description
            .unwrap_or_else(|| format!("Reversal of entry {seq}")),
        reference: new.reference,
        project_id: original.project_id,
        payee_agency_id: original.payee_agency_id,
        amount: Money::from_db(original.amount_minor, &original.currency),
        sign: if original.effect_minor > 0 { -1 } else { 1 },
        reverses: Some(original.id),
    };
    // The reversal undoes the original's effect exactly, at the original's rate.
    let rate_fixed = original.usd_per_unit_e12;
    append_with_rate(
        conn,
        caller,
        &ledger,
        posting,
        rate_fixed,
        original.usd_minor,
        claim,
    )
    .await
}

/// [`append`] for a reversal, which keeps the original's rate and USD amount.
pub(super) async fn append_with_rate(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    ledger: &LedgerRow,
    p: Posting,
    rate: Option<i64>,
    usd_minor: i64,
    claim: Option<&KeyClaim<'_>>,
) -> Result<Created, ApiError> {
    // A reversal posts in USD at the original's converted amount when the original was
    // in another currency, so that it undoes exactly what was recorded.
    let p = if rate.is_some() {
        Posting {
            amount: Money::usd(usd_minor),
            ..p
        }
    } else {
        p
    };
    append(conn, caller, ledger, p, claim).await
}

/// Get an entry.
#[utoipa::path(
    context_path = "/ledgers",
    tag = "Ledgers",
    params(
        ("id" = Uuid, Path, description = "The ledger's id"),
        ("entry_id" = Uuid, Path, description = "The entry's id"),
    ),
    responses(
        (status = 200, description = "The entry", body = Entry, headers(("ETag" = String))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/entries/{entry_id}")]
pub async fn get_entry(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (id, entry_id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    load_ledger(&mut conn, &caller, id, false).await?;
    let row: EntryRow = ledger_entries::table
        .filter(ledger_entries::ledger_id.eq(id))
        .filter(ledger_entries::id.eq(entry_id))
        .select(EntryRow::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    if let FinanceScope::Department(d) = caller.finance_scope() {
        let ours = match row.project_id {
            Some(p) => {
                projects::table
                    .find(p)
                    .select(projects::department_id)
                    .first::<Uuid>(&mut conn)
                    .await
                    .optional()?
                    == Some(d)
            }
            None => false,
        };
        if !ours {
            return Err(ApiError::not_found());
        }
    }
    Ok(Tagged::new(&Entry::from(row)).ok(&req))
}

page_type!(EntryPage, Entry, "A page of ledger entries.");

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum EntrySort {
    Seq,
}

impl SortField for EntrySort {
    const NAMES: &'static [(&'static str, Self)] = &[("seq", EntrySort::Seq)];
    const DEFAULT: Self = EntrySort::Seq;
}

/// Query parameters of the entry list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntryQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `seq` (default) or `-seq`.
    pub sort: Option<String>,
    /// Kinds, comma-separated.
    pub kind: Option<String>,
    /// Categories, comma-separated.
    pub category: Option<String>,
    /// Projects (ids), comma-separated.
    pub project_id: Option<String>,
    /// Payee executing agencies (ids), comma-separated.
    pub payee_agency_id: Option<String>,
    /// Entries dated on or after this day.
    #[param(value_type = Option<NaiveDate>)]
    pub posted_from: Option<String>,
    /// Entries dated on or before this day.
    #[param(value_type = Option<NaiveDate>)]
    pub posted_to: Option<String>,
    /// Entries recorded at or after this instant (entries never change).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// A boxed query of entries with their row type.
pub(super) type BoxedEntries = diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::Select<ledger_entries::table, diesel::dsl::AsSelect<EntryRow, diesel::pg::Pg>>,
    diesel::pg::Pg,
>;

/// Checks an export's filters (a 400 naming the parameter) before it takes a slot.
pub(crate) fn check_filters(caller: &Caller, query: &EntryQuery) -> Result<(), ApiError> {
    entries_query(caller, query).map(drop)
}

/// The entries the caller may see (the finance scope) that the filters of
/// [`EntryQuery`] select, in every ledger: a list narrows it to one ledger, an export
/// to its own filters.
pub(super) fn entries_query(caller: &Caller, query: &EntryQuery) -> Result<BoxedEntries, ApiError> {
    let kinds = query
        .kind
        .as_deref()
        .map(|s| EntryKind::parse_filter("kind", s))
        .transpose()?;
    let categories = query
        .category
        .as_deref()
        .map(|s| Category::parse_filter("category", s))
        .transpose()?;
    let project_ids = validate::param_uuids("project_id", query.project_id.as_deref())?;
    let agency_ids = validate::param_uuids("payee_agency_id", query.payee_agency_id.as_deref())?;
    let from = validate::param_date("posted_from", query.posted_from.as_deref())?;
    let to = validate::param_date("posted_to", query.posted_to.as_deref())?;
    let since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;

    let mut q = ledger_entries::table
        .select(EntryRow::as_select())
        .into_boxed();
    match caller.finance_scope() {
        FinanceScope::All => {}
        FinanceScope::Office(o) => {
            q = q.filter(
                ledger_entries::ledger_id.eq_any(
                    ledgers::table
                        .filter(ledgers::office_id.eq(o))
                        .select(ledgers::id),
                ),
            )
        }
        // An HQ department sees only the entries tagged to its projects.
        FinanceScope::Department(d) => {
            q = q.filter(
                ledger_entries::project_id.eq_any(
                    projects::table
                        .filter(projects::department_id.eq(d))
                        .select(projects::id.nullable()),
                ),
            )
        }
        FinanceScope::Nothing => q = q.filter(diesel::dsl::sql::<diesel::sql_types::Bool>("false")),
    }
    if let Some(v) = kinds {
        q = crate::core::pagination::filter_in!(q, ledger_entries::kind, v);
    }
    if let Some(v) = categories {
        q = crate::core::pagination::filter_in!(q, ledger_entries::category, v);
    }
    if let Some(v) = project_ids {
        q = crate::core::pagination::filter_in!(q, ledger_entries::project_id, v);
    }
    if let Some(v) = agency_ids {
        q = crate::core::pagination::filter_in!(q, ledger_entries::payee_agency_id, v);
    }
    if let Some(d) = from {
        q = q.filter(ledger_entries::entry_date.ge(d));
    }
    if let Some(d) = to {
        q = q.filter(ledger_entries::entry_date.le(d));
    }
    if let Some(t) = since {
        q = q.filter(ledger_entries::created_at.ge(t));
    }
    Ok(q)
}

/// The ledgers an entry export narrows to.
pub(crate) struct LedgerFilter {
    pub ledger_ids: Option<Vec<Uuid>>,
    pub office_ids: Option<Vec<Uuid>>,
    pub fiscal_year: Option<i32>,
}

/// One batch of an entry export across the ledgers the caller may see: the `limit`
/// entries after `after` in `(created_at, id)` order, with that key.
pub(crate) async fn export_entries_batch(
    conn: &AsyncPgConnection,
    caller: &Caller,
    query: &EntryQuery,
    ledger: &LedgerFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<((DateTime<Utc>, Uuid), EntryRow)>, ApiError> {
    let mut q = entries_query(caller, query)?;
    if let Some(v) = &ledger.ledger_ids {
        q = q.filter(ledger_entries::ledger_id.eq_any(v.clone()));
    }
    if ledger.office_ids.is_some() || ledger.fiscal_year.is_some() {
        let mut l = ledgers::table.select(ledgers::id).into_boxed();
        if let Some(v) = &ledger.office_ids {
            l = l.filter(ledgers::office_id.eq_any(v.clone()));
        }
        if let Some(y) = ledger.fiscal_year {
            l = l.filter(ledgers::fiscal_year.eq(y));
        }
        q = q.filter(ledger_entries::ledger_id.eq_any(l));
    }
    let q = keyset!(
        q,
        ledger_entries::created_at,
        ledger_entries::id,
        false,
        after
    );
    // `Prepared`: the batches of an export run the same statement (its filters do not
    // change), so it is parsed and planned once, and goes out in one round trip.
    let rows: Vec<EntryRow> = Prepared(q.limit(limit)).load(&mut { conn }).await?;
    // Made into `Entry`s (their amounts formatted) by the export's encoding thread.
    Ok(rows
        .into_iter()
        .map(|r| ((r.created_at, r.id), r))
        .collect())
}

/// List a ledger's entries.
///
/// An HQ department sees only the entries tagged to its projects.
#[utoipa::path(
    context_path = "/ledgers",
    tag = "Ledgers",
    params(("id" = Uuid, Path, description = "The ledger's id"), EntryQuery),
    responses(
        (status = 200, description = "A page of entries", body = EntryPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/entries")]
pub async fn list_entries(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<EntryQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    // The ledger first: one the caller may not see is a 404 whatever the parameters.
    let mut conn = state.pool.get().await?;
    load_ledger(&mut conn, &caller, id, false).await?;
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<EntrySort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let q = entries_query(&caller, &query)?.filter(ledger_entries::ledger_id.eq(id));
    let after = after
        .map(|c| Ok::<_, ApiError>((c.value_as::<i64>()?, c.value_as::<i64>()?)))
        .transpose()?;
    let q = keyset!(
        q,
        ledger_entries::seq,
        ledger_entries::seq,
        sort.desc,
        after
    );
    let rows: Vec<EntryRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: serde_json::json!(r.seq),
        id: r.id,
    })
    .map(Entry::from);
    Ok(EntryPage::respond(page, &req))
}

// ---------------------------------------------------------------------------------
// Balance, closings, verification
