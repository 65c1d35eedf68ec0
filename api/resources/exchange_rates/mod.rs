//! `/v1/exchange-rates`: operational rates to US dollars by currency and effective
//! date. An entry in another currency uses the latest rate effective on or before its
//! date. Rates are never changed: a correction is a new rate for the same currency and
//! a later date (or the coordinator records the right one before it is used).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::core::error::{ApiError, FieldError};
use crate::core::http::{JsonBody, Tagged};
use crate::core::i18n::text;
use crate::core::money;
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate;
use crate::db::audit;
use crate::db::schema::exchange_rates;
use crate::db::{Constraint, Meaning};
use crate::formats::page_type;
use crate::state::AppState;

pub const CONSTRAINTS: &[Constraint] = &[Constraint {
    name: "exchange_rates_currency_date_key",
    field: "effective_on",
    meaning: Meaning::Unique,
}];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

/// A rate: how many US dollars one unit of the currency is worth from a date on.
#[derive(Serialize, ToSchema)]
pub struct ExchangeRate {
    pub id: Uuid,
    /// ISO 4217 code (not USD).
    #[schema(example = "PEN")]
    pub currency: String,
    pub effective_on: NaiveDate,
    /// US dollars per unit, a decimal string with up to 12 decimals.
    #[schema(example = "0.2671")]
    pub rate: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = exchange_rates)]
struct RateRow {
    id: Uuid,
    currency: String,
    effective_on: NaiveDate,
    usd_per_unit_e12: i64,
    created_by: String,
    created_at: DateTime<Utc>,
}

impl From<RateRow> for ExchangeRate {
    fn from(r: RateRow) -> Self {
        ExchangeRate {
            id: r.id,
            currency: r.currency,
            effective_on: r.effective_on,
            rate: money::format_rate(r.usd_per_unit_e12),
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// A new rate.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExchangeRate {
    #[schema(value_type = crate::core::money::RateCurrencyCode)]
    pub currency: String,
    pub effective_on: NaiveDate,
    /// US dollars per unit: a positive decimal string below 1,000,000, without leading
    /// zeros, at most 12 decimals.
    #[schema(example = "0.2671", pattern = "<rate>")]
    pub rate: String,
}

page_type!(ExchangeRatePage, ExchangeRate, "A page of exchange rates.");

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum RateSort {
    EffectiveOn,
}

impl SortField for RateSort {
    const NAMES: &'static [(&'static str, Self)] = &[("effective_on", RateSort::EffectiveOn)];
    const DEFAULT: Self = RateSort::EffectiveOn;
}

/// Query parameters of the rate list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RateQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `effective_on` (default) or `-effective_on`.
    pub sort: Option<String>,
    /// Currencies, comma-separated.
    pub currency: Option<String>,
    /// Rates effective on or after this day.
    #[param(value_type = Option<NaiveDate>)]
    pub effective_from: Option<String>,
    /// Rates effective on or before this day.
    #[param(value_type = Option<NaiveDate>)]
    pub effective_to: Option<String>,
    /// Rates recorded at or after this instant.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// List exchange rates.
#[utoipa::path(
    context_path = "/exchange-rates",
    tag = "Exchange rates",
    params(RateQuery),
    responses(
        (status = 200, description = "A page of rates", body = ExchangeRatePage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
pub async fn list_rates(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<RateQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<RateSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let currencies = validate::param_codes("currency", query.currency.as_deref(), |c| {
        money::exponent(c).is_some()
    })?;
    let from = validate::param_date("effective_from", query.effective_from.as_deref())?;
    let to = validate::param_date("effective_to", query.effective_to.as_deref())?;
    let since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;
    let mut q = exchange_rates::table
        .select(RateRow::as_select())
        .into_boxed();
    if let Some(v) = currencies {
        q = crate::core::pagination::filter_in!(q, exchange_rates::currency, v);
    }
    if let Some(d) = from {
        q = q.filter(exchange_rates::effective_on.ge(d));
    }
    if let Some(d) = to {
        q = q.filter(exchange_rates::effective_on.le(d));
    }
    if let Some(t) = since {
        q = q.filter(exchange_rates::created_at.ge(t));
    }
    let after = after
        .map(|c| Ok::<_, ApiError>((c.value_as::<NaiveDate>()?, c.id)))
        .transpose()?;
    let q = keyset!(
        q,
        exchange_rates::effective_on,
        exchange_rates::id,
        sort.desc,
        after
    );
    let mut conn = state.read_pool().get().await?;
    let rows: Vec<RateRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: serde_json::json!(r.effective_on),
        id: r.id,
    })
    .map(ExchangeRate::from);
    Ok(ExchangeRatePage::respond(page, &req))
}

/// Get an exchange rate.
#[utoipa::path(
    context_path = "/exchange-rates",
    tag = "Exchange rates",
    params(("id" = Uuid, Path, description = "The rate's id")),
    responses(
        (status = 200, description = "The rate", body = ExchangeRate, headers(("ETag" = String))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}")]
pub async fn get_rate(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let row: RateRow = exchange_rates::table
        .find(id.into_inner())
        .select(RateRow::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    Ok(Tagged::new(&ExchangeRate::from(row)).ok(&req))
}

/// Record an exchange rate (Coordinating Office).
#[utoipa::path(
    context_path = "/exchange-rates",
    tag = "Exchange rates",
    request_body = NewExchangeRate,
    responses(
        (status = 201, description = "The rate", body = ExchangeRate, headers(("ETag" = String), ("Location" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("")]
pub async fn create_rate(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewExchangeRate>,
) -> Result<HttpResponse, ApiError> {
    caller.may_manage_finance()?;
    let new = body.0;
    let currency = new.currency;
    let mut errors = Vec::new();
    if currency == "USD" {
        errors.push(FieldError::new(
            "currency",
            "is_usd",
            text!(
                "USD is the currency of account; it has no rate",
                "USD es la moneda de cuenta; no tiene tipo de cambio"
            ),
        ));
    } else if money::exponent(&currency).is_none() {
        errors.push(FieldError::new(
            "currency",
            "unknown_currency",
            text!(
                "is not an ISO 4217 currency the service accepts",
                "no es una moneda ISO 4217 aceptada"
            ),
        ));
    }
    let rate = money::parse_rate(&new.rate);
    if rate.is_none() {
        errors.push(FieldError::new(
            "rate",
            "invalid",
            text!(
                "must be a positive decimal string below 1000000, without leading zeros, with at most 12 decimals",
                "debe ser una cadena decimal positiva menor que 1000000, sin ceros a la izquierda, con hasta 12 decimales"
            ),
        ));
    }
    validate::finish(errors)?;
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            let row: RateRow = diesel::insert_into(exchange_rates::table)
                .values((
                    exchange_rates::id.eq(Uuid::now_v7()),
                    exchange_rates::currency.eq(&currency),
                    exchange_rates::effective_on.eq(new.effective_on),
                    exchange_rates::usd_per_unit_e12.eq(rate.expect("checked")),
                    exchange_rates::created_by.eq(&caller.sub),
                ))
                .returning(RateRow::as_returning())
                .get_result(conn)
                .await?;
            let rate = ExchangeRate::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "exchange_rate",
                rate.id,
                None,
                Some(&rate),
            )
            .await?;
            Ok::<_, ApiError>(rate)
        })
        .await?;
    let location = format!("/v1/exchange-rates/{}", created.id);
    Ok(Tagged::new(&created).created(&location))
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/exchange-rates")
        .writes("exchange_rates")
        .service(list_rates)
        .service(create_rate)
        .service(get_rate);
}
