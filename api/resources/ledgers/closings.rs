//! Closing a period or a whole ledger.

use super::*;

/// Closing a period.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClosing {
    /// Entries dated on or before this day are frozen from now on.
    pub closed_through: NaiveDate,
}

/// A period closing.
#[derive(Serialize, ToSchema)]
pub struct Closing {
    pub id: Uuid,
    pub ledger_id: Uuid,
    pub closed_through: NaiveDate,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// Close a period (Coordinating Office): nothing dated on or before `closed_through`
/// can be posted any more.
#[utoipa::path(
    context_path = "/ledgers",
    tag = "Ledgers",
    params(("id" = Uuid, Path, description = "The ledger's id")),
    request_body = NewClosing,
    responses(
        (status = 201, description = "The closing", body = Closing),
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
#[post("/{id}/closings")]
pub async fn close_period(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: JsonBody<NewClosing>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let through = body.0.closed_through;
    let mut conn = state.pool.get().await?;
    let closing = conn
        .transaction(async |conn| close_in_tx(conn, &caller, id, through).await)
        .await?;
    Ok(HttpResponse::Created().json(closing))
}

/// Closes `id` through `through` inside the caller's transaction (the endpoint, and the
/// demo data).
pub(super) async fn close_in_tx(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    through: NaiveDate,
) -> Result<Closing, ApiError> {
    let ledger = load_ledger(conn, caller, id, true).await?;
    caller.may_manage_finance()?;
    if ledger.status == "closed" {
        return Err(ApiError::new(
            ProblemType::PeriodClosed,
            text!("The ledger is closed.", "El libro está cerrado."),
        ));
    }
    if let Some(current) = ledger.closed_through
        && through <= current
    {
        return Err(ApiError::invalid_state(text!(
            "The ledger is already closed through {current}.",
            "El libro ya está cerrado hasta {current}."
        )));
    }
    if through.year() != ledger.fiscal_year {
        return Err(ApiError::invalid_field(
            "closed_through",
            "outside_fiscal_year",
            text!(
                "must fall in the ledger's fiscal year",
                "debe caer en el año fiscal del libro"
            ),
        ));
    }
    let row: (Uuid, Uuid, NaiveDate, String, DateTime<Utc>) =
        diesel::insert_into(ledger_closings::table)
            .values((
                ledger_closings::id.eq(Uuid::now_v7()),
                ledger_closings::ledger_id.eq(id),
                ledger_closings::closed_through.eq(through),
                ledger_closings::created_by.eq(&caller.sub),
            ))
            .returning((
                ledger_closings::id,
                ledger_closings::ledger_id,
                ledger_closings::closed_through,
                ledger_closings::created_by,
                ledger_closings::created_at,
            ))
            .get_result(conn)
            .await?;
    diesel::update(ledgers::table.find(id))
        .set(ledgers::closed_through.eq(through))
        .execute(conn)
        .await?;
    let closing = Closing {
        id: row.0,
        ledger_id: row.1,
        closed_through: row.2,
        created_by: row.3,
        created_at: row.4,
    };
    audit::record(
        conn,
        &caller.actor(),
        "close_period",
        "ledger",
        id,
        None,
        Some(&closing),
    )
    .await?;
    Ok(closing)
}

/// Close a ledger (Coordinating Office): no entry can be posted into it any more.
#[utoipa::path(
    context_path = "/ledgers",
    tag = "Ledgers",
    params(("id" = Uuid, Path, description = "The ledger's id")),
    responses(
        (status = 200, description = "The closed ledger", body = Ledger, headers(("ETag" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/close")]
pub async fn close_ledger(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let closed = conn
        .transaction(async |conn| {
            let ledger = load_ledger(conn, &caller, id, true).await?;
            caller.may_manage_finance()?;
            if ledger.status == "closed" {
                return Err(ApiError::invalid_state(text!(
                    "The ledger is already closed.",
                    "El libro ya está cerrado."
                )));
            }
            let before = Ledger::from(ledger);
            let row: LedgerRow = diesel::update(ledgers::table.find(id))
                .set(ledgers::status.eq("closed"))
                .returning(LedgerRow::as_returning())
                .get_result(conn)
                .await?;
            let after = Ledger::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "close",
                "ledger",
                id,
                Some(&before),
                Some(&after),
            )
            .await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&closed).ok(&req))
}
