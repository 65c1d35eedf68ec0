//! The physical count of an office's assets (`/offices/{id}/asset-counts`): a count is
//! opened (its items are every asset the office holds and has not disposed of), each
//! item is confirmed as found (with the condition and location seen) or reported
//! missing, and the count is closed with its discrepancies: missing items, items never
//! counted, and items found in another condition or place than the register says. One
//! open count per office at a time.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{AssetCondition, AssetStatus, office_status};
use crate::auth::Caller;
use crate::core::enums::string_enum;
use crate::core::error::{ApiError, FieldError};
use crate::core::http::{IfMatch, JsonBody, Tagged};
use crate::core::i18n::text;
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate;
use crate::db::audit;
use crate::db::schema::{asset_count_items, asset_counts, assets};
use crate::db::{Constraint, Meaning};
use crate::formats::page_type;
use crate::state::AppState;

string_enum! {
    /// Whether a count still takes results.
    pub enum AssetCountStatus {
        Open = "open" ("Open", "Abierto"),
        Closed = "closed" ("Closed", "Cerrado"),
    }
}

string_enum! {
    /// What the count found of an asset.
    pub enum AssetCountResult {
        Pending = "pending" ("Pending", "Pendiente"),
        Found = "found" ("Found", "Encontrado"),
        Missing = "missing" ("Missing", "Faltante"),
    }
}

string_enum! {
    /// What a count reports of an asset.
    pub enum AssetCountOutcome {
        Found = "found" ("Found", "Encontrado"),
        Missing = "missing" ("Missing", "Faltante"),
    }
}

string_enum! {
    /// A difference between the register and what the count found.
    pub enum DiscrepancyKind {
        Missing = "missing" ("Missing", "Faltante"),
        NotCounted = "not_counted" ("Not counted", "No contado"),
        ConditionChanged = "condition_changed" ("Condition differs", "Estado distinto"),
        LocationChanged = "location_changed" ("Location differs", "Ubicación distinta"),
    }
}

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "asset_counts_one_open",
        field: "counted_on",
        meaning: Meaning::Conflict(|| {
            text!(
                "The office already has an open count; close it first.",
                "La oficina ya tiene un recuento abierto; ciérrelo primero."
            )
        }),
    },
    Constraint {
        name: "asset_counts_closed_after_counted",
        field: "closed_on",
        meaning: Meaning::Check(|| {
            text!(
                "must not be before counted_on",
                "no puede ser anterior a counted_on"
            )
        }),
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

/// One asset of a count.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct AssetCountItem {
    pub asset_id: Uuid,
    #[schema(example = "OAS-PE-0001")]
    pub tag_number: String,
    pub description: String,
    /// Where the register said it was when the count was opened.
    pub expected_location: Option<String>,
    /// Its condition in the register when the count was opened.
    pub expected_condition: AssetCondition,
    pub result: AssetCountResult,
    /// Where it was found.
    pub found_location: Option<String>,
    /// The condition it was found in.
    pub found_condition: Option<AssetCondition>,
    pub note: Option<String>,
    /// When the result was recorded.
    pub counted_at: Option<DateTime<Utc>>,
}

/// A difference between the register and the count.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Discrepancy {
    pub asset_id: Uuid,
    pub tag_number: String,
    pub kind: DiscrepancyKind,
    /// The register's value (the location or condition), for a difference of value.
    pub expected: Option<String>,
    /// The value found.
    pub found: Option<String>,
}

/// How many items a count has in each result.
#[derive(Serialize, ToSchema, Clone, Debug, Default)]
pub struct CountSummary {
    pub items: i64,
    pub found: i64,
    pub missing: i64,
    pub pending: i64,
    pub discrepancies: i64,
}

/// A physical count of an office's assets, with its items and discrepancies.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct AssetCount {
    pub id: Uuid,
    pub office_id: Uuid,
    /// The day of the count.
    pub counted_on: NaiveDate,
    pub note: Option<String>,
    pub status: AssetCountStatus,
    pub closed_on: Option<NaiveDate>,
    pub summary: CountSummary,
    /// Every asset the office held when the count was opened, by tag number.
    pub items: Vec<AssetCountItem>,
    /// Differences between the register and the count (final once closed; items still
    /// pending are `not_counted`).
    pub discrepancies: Vec<Discrepancy>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = asset_counts)]
struct CountRow {
    id: Uuid,
    office_id: Uuid,
    counted_on: NaiveDate,
    note: Option<String>,
    status: String,
    closed_on: Option<NaiveDate>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = asset_count_items)]
struct ItemRow {
    count_id: Uuid,
    asset_id: Uuid,
    expected_location: Option<String>,
    expected_condition: String,
    result: String,
    found_location: Option<String>,
    found_condition: Option<String>,
    note: Option<String>,
    counted_at: Option<DateTime<Utc>>,
}

fn discrepancies_of(item: &AssetCountItem) -> Vec<Discrepancy> {
    let d = |kind, expected: Option<String>, found: Option<String>| Discrepancy {
        asset_id: item.asset_id,
        tag_number: item.tag_number.clone(),
        kind,
        expected,
        found,
    };
    match item.result {
        AssetCountResult::Missing => vec![d(DiscrepancyKind::Missing, None, None)],
        AssetCountResult::Pending => vec![d(DiscrepancyKind::NotCounted, None, None)],
        AssetCountResult::Found => {
            let mut out = Vec::new();
            if let Some(c) = item.found_condition
                && c != item.expected_condition
            {
                out.push(d(
                    DiscrepancyKind::ConditionChanged,
                    Some(item.expected_condition.as_str().to_owned()),
                    Some(c.as_str().to_owned()),
                ));
            }
            if let Some(l) = &item.found_location
                && Some(l) != item.expected_location.as_ref()
            {
                out.push(d(
                    DiscrepancyKind::LocationChanged,
                    item.expected_location.clone(),
                    Some(l.clone()),
                ));
            }
            out
        }
    }
}

/// The counts of `rows` with their items, in the rows' order.
async fn with_items(
    conn: &mut AsyncPgConnection,
    rows: Vec<CountRow>,
) -> Result<Vec<AssetCount>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let items: Vec<(ItemRow, String, String)> = asset_count_items::table
        .inner_join(assets::table)
        .filter(asset_count_items::count_id.eq_any(&ids))
        .order((asset_count_items::count_id, assets::tag_number))
        .select((
            ItemRow::as_select(),
            assets::tag_number,
            assets::description,
        ))
        .load(conn)
        .await?;
    let mut by_count: HashMap<Uuid, Vec<AssetCountItem>> = HashMap::new();
    for (i, tag, description) in items {
        by_count
            .entry(i.count_id)
            .or_default()
            .push(AssetCountItem {
                asset_id: i.asset_id,
                tag_number: tag,
                description,
                expected_location: i.expected_location,
                expected_condition: AssetCondition::from_db(&i.expected_condition),
                result: AssetCountResult::from_db(&i.result),
                found_location: i.found_location,
                found_condition: i.found_condition.as_deref().map(AssetCondition::from_db),
                note: i.note,
                counted_at: i.counted_at,
            });
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let items = by_count.remove(&r.id).unwrap_or_default();
            let discrepancies: Vec<Discrepancy> = items.iter().flat_map(discrepancies_of).collect();
            let n = |res| items.iter().filter(|i| i.result == res).count() as i64;
            let summary = CountSummary {
                items: items.len() as i64,
                found: n(AssetCountResult::Found),
                missing: n(AssetCountResult::Missing),
                pending: n(AssetCountResult::Pending),
                discrepancies: discrepancies.len() as i64,
            };
            AssetCount {
                id: r.id,
                office_id: r.office_id,
                counted_on: r.counted_on,
                note: r.note,
                status: AssetCountStatus::from_db(&r.status),
                closed_on: r.closed_on,
                summary,
                items,
                discrepancies,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect())
}

/// A count of `office_id` (404 otherwise), locked when `for_update`.
async fn load_count(
    conn: &mut AsyncPgConnection,
    office_id: Uuid,
    id: Uuid,
    for_update: bool,
) -> Result<AssetCount, ApiError> {
    let q = asset_counts::table
        .filter(asset_counts::id.eq(id))
        .filter(asset_counts::office_id.eq(office_id))
        .select(CountRow::as_select());
    let row = if for_update {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    let row = row.ok_or_else(ApiError::not_found)?;
    Ok(with_items(conn, vec![row]).await?.remove(0))
}

fn must_be_open(count: &AssetCount) -> Result<(), ApiError> {
    if count.status == AssetCountStatus::Closed {
        return Err(ApiError::invalid_state(text!(
            "The count is closed: its results no longer change.",
            "El recuento está cerrado: sus resultados ya no cambian."
        )));
    }
    Ok(())
}

/// Opening a count.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAssetCount {
    /// The day of the count; not after today.
    pub counted_on: NaiveDate,
    #[serde(default)]
    #[schema(
        example = "Yearly physical count 2026",
        pattern = "<line>",
        max_length = 1000
    )]
    pub note: Option<String>,
}

/// What the count found of one asset.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountItemResult {
    pub result: AssetCountOutcome,
    /// Where it was found (only with `found`).
    #[serde(default)]
    #[schema(pattern = "<line>", max_length = 200)]
    pub location: Option<String>,
    /// The condition it was found in (only with `found`).
    #[serde(default)]
    pub condition: Option<AssetCondition>,
    #[serde(default)]
    #[schema(pattern = "<line>", max_length = 1000)]
    pub note: Option<String>,
}

/// Closing a count.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseAssetCount {
    /// Not before `counted_on`, not after today; default today.
    #[serde(default)]
    pub closed_on: Option<NaiveDate>,
}

page_type!(
    AssetCountPage,
    AssetCount,
    "A page of an office's physical counts."
);

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum CountSort {
    CountedOn,
}

impl SortField for CountSort {
    const NAMES: &'static [(&'static str, Self)] = &[("counted_on", CountSort::CountedOn)];
    const DEFAULT: Self = CountSort::CountedOn;
}

/// Query parameters of the count list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CountQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `counted_on`, prefixed with `-` for descending order.
    #[param(example = "-counted_on")]
    pub sort: Option<String>,
    /// `open` or `closed`.
    #[param(example = "closed")]
    pub status: Option<String>,
}

/// List an office's physical counts.
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(("id" = Uuid, Path, description = "The office's id"), CountQuery),
    responses(
        (status = 200, description = "A page of the office's counts", body = AssetCountPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/asset-counts")]
pub async fn list_counts(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<CountQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let office_id = id.into_inner();
    caller.may_read_assets(office_id)?;
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<CountSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?
        .map(|c| Ok::<_, ApiError>((c.value_as::<NaiveDate>()?, c.id)))
        .transpose()?;
    let statuses = query
        .status
        .as_deref()
        .map(|s| AssetCountStatus::parse_filter("status", s))
        .transpose()?;
    let mut q = asset_counts::table
        .filter(asset_counts::office_id.eq(office_id))
        .select(CountRow::as_select())
        .into_boxed();
    if let Some(v) = statuses {
        q = crate::core::pagination::filter_in!(q, asset_counts::status, v);
    }
    let q = keyset!(
        q,
        asset_counts::counted_on,
        asset_counts::id,
        sort.desc,
        after
    );
    let mut conn = state.read_pool().get().await?;
    office_status(&mut conn, office_id, false).await?;
    let rows: Vec<CountRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: serde_json::json!(r.counted_on),
        id: r.id,
    });
    let next_cursor = page.next_cursor.clone();
    let counts = with_items(&mut conn, page.items).await?;
    let page = Page {
        items: counts,
        next_cursor,
    };
    Ok(AssetCountPage::respond(page, &req))
}

/// Get a physical count, with its items and discrepancies.
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(
        ("id" = Uuid, Path, description = "The office's id"),
        ("count_id" = Uuid, Path, description = "The count's id"),
    ),
    responses(
        (status = 200, description = "The count", body = AssetCount,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/asset-counts/{count_id}")]
pub async fn get_count(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (office_id, id) = path.into_inner();
    caller.may_read_assets(office_id)?;
    let mut conn = state.pool.get().await?;
    let count = load_count(&mut conn, office_id, id, false).await?;
    Ok(Tagged::new(&count).ok(&req))
}

/// Open a physical count.
///
/// Its items are every asset the office holds and has not disposed of, with the
/// location and condition the register gives them now. One open count per office (409
/// `invalid-state` naming `counted_on`); the office must be open.
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(("id" = Uuid, Path, description = "The office's id")),
    request_body = NewAssetCount,
    responses(
        (status = 201, description = "The count was opened", body = AssetCount,
         headers(("ETag" = String), ("Location" = String))),
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
#[post("/{id}/asset-counts")]
pub async fn open_count(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: JsonBody<NewAssetCount>,
) -> Result<HttpResponse, ApiError> {
    let office_id = id.into_inner();
    caller.may_write_assets(office_id)?;
    let new = body.0;
    let mut conn = state.pool.get().await?;
    let count = conn
        .transaction(async |conn| {
            // Locked: a concurrent open waits here and then meets this count.
            let status: Option<String> = crate::db::schema::offices::table
                .find(office_id)
                .select(crate::db::schema::offices::status)
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let status = status.ok_or_else(ApiError::not_found)?;
            let mut errors = Vec::new();
            if new.counted_on > Utc::now().date_naive() {
                errors.push(FieldError::new(
                    "counted_on",
                    "in_future",
                    text!("must not be after today", "no puede ser posterior a hoy"),
                ));
            }
            let note = new.note.clone();
            if let Some(n) = &note {
                validate::line("note", n, 1000, &mut errors);
            }
            validate::finish(errors)?;
            if status != "open" {
                return Err(ApiError::invalid_state(text!(
                    "The office is closed: it opens no counts.",
                    "La oficina está cerrada: no abre recuentos."
                )));
            }
            let open: i64 = asset_counts::table
                .filter(asset_counts::office_id.eq(office_id))
                .filter(asset_counts::status.eq(AssetCountStatus::Open.as_str()))
                .count()
                .get_result(conn)
                .await?;
            if open > 0 {
                return Err(ApiError::invalid_state(text!(
                    "The office already has an open count; close it first.",
                    "La oficina ya tiene un recuento abierto; ciérrelo primero."
                ))
                .with_errors(vec![FieldError::new(
                    "counted_on",
                    "conflict",
                    text!(
                        "conflicts with another resource",
                        "entra en conflicto con otro recurso"
                    ),
                )]));
            }
            let count_id = Uuid::now_v7();
            diesel::insert_into(asset_counts::table)
                .values((
                    asset_counts::id.eq(count_id),
                    asset_counts::office_id.eq(office_id),
                    asset_counts::counted_on.eq(new.counted_on),
                    asset_counts::note.eq(&note),
                    asset_counts::status.eq(AssetCountStatus::Open.as_str()),
                ))
                .execute(conn)
                .await?;
            let held: Vec<(Uuid, Option<String>, String)> = assets::table
                .filter(assets::office_id.eq(office_id))
                .filter(assets::status.ne(AssetStatus::Disposed.as_str()))
                .select((assets::id, assets::location, assets::condition))
                .load(conn)
                .await?;
            let rows: Vec<_> = held
                .into_iter()
                .map(|(asset_id, location, condition)| {
                    (
                        asset_count_items::count_id.eq(count_id),
                        asset_count_items::asset_id.eq(asset_id),
                        asset_count_items::expected_location.eq(location),
                        asset_count_items::expected_condition.eq(condition),
                    )
                })
                .collect();
            if !rows.is_empty() {
                diesel::insert_into(asset_count_items::table)
                    .values(rows)
                    .execute(conn)
                    .await?;
            }
            let count = load_count(conn, office_id, count_id, false).await?;
            audit::record(
                conn,
                &caller.actor(),
                "open",
                "asset_count",
                count.id,
                None,
                Some(&count),
            )
            .await?;
            Ok::<_, ApiError>(count)
        })
        .await?;
    let location = format!("/v1/offices/{office_id}/asset-counts/{}", count.id);
    Ok(Tagged::new(&count).created(&location))
}

/// Record what the count found of an asset.
///
/// `found` (with the location and condition seen) or `missing`; recording again
/// replaces the result while the count is open (a closed count is a 409). Honours
/// `If-Match` (the count's ETag) when given. Answers the whole count.
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(
        ("id" = Uuid, Path, description = "The office's id"),
        ("count_id" = Uuid, Path, description = "The count's id"),
        ("asset_id" = Uuid, Path, description = "An asset of the count"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the count as last read"),
    ),
    request_body = CountItemResult,
    responses(
        (status = 200, description = "The count with the result recorded", body = AssetCount, headers(("ETag" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[put("/{id}/asset-counts/{count_id}/items/{asset_id}")]
pub async fn record_count_item(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid, Uuid)>,
    body: JsonBody<CountItemResult>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (office_id, count_id, asset_id) = path.into_inner();
    caller.may_read_assets(office_id)?;
    let new = body.0;
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let count = conn
        .transaction(async |conn| {
            let current = load_count(conn, office_id, count_id, true).await?;
            caller.may_write_assets(office_id)?;
            let Some(before) = current
                .items
                .iter()
                .find(|i| i.asset_id == asset_id)
                .cloned()
            else {
                return Err(ApiError::not_found());
            };
            if_match.check_if_present(&Tagged::new(&current).etag)?;
            let mut errors = Vec::new();
            let location = new.location.clone();
            let note = new.note.clone();
            match new.result {
                AssetCountOutcome::Missing => {
                    let only_found = |f: &str| {
                        FieldError::new(
                            f,
                            "only_found",
                            text!(
                                "is only for a found asset",
                                "solo corresponde a un bien encontrado"
                            ),
                        )
                    };
                    if location.is_some() {
                        errors.push(only_found("location"));
                    }
                    if new.condition.is_some() {
                        errors.push(only_found("condition"));
                    }
                }
                AssetCountOutcome::Found => {}
            }
            if let Some(l) = &location {
                validate::line("location", l, 200, &mut errors);
            }
            if let Some(n) = &note {
                validate::line("note", n, 1000, &mut errors);
            }
            validate::finish(errors)?;
            must_be_open(&current)?;
            diesel::update(
                asset_count_items::table
                    .filter(asset_count_items::count_id.eq(count_id))
                    .filter(asset_count_items::asset_id.eq(asset_id)),
            )
            .set((
                asset_count_items::result.eq(new.result.as_str()),
                asset_count_items::found_location.eq(&location),
                asset_count_items::found_condition.eq(new.condition.map(|c| c.as_str())),
                asset_count_items::note.eq(&note),
                asset_count_items::counted_at.eq(Some(Utc::now())),
            ))
            .execute(conn)
            .await?;
            diesel::update(asset_counts::table.find(count_id))
                .set(asset_counts::version.eq(asset_counts::version + 1))
                .execute(conn)
                .await?;
            let count = load_count(conn, office_id, count_id, false).await?;
            let after = count.items.iter().find(|i| i.asset_id == asset_id).cloned();
            audit::record(
                conn,
                &caller.actor(),
                "count",
                "asset_count_item",
                format!("{count_id}/{asset_id}"),
                Some(&before),
                after.as_ref(),
            )
            .await?;
            Ok::<_, ApiError>(count)
        })
        .await?;
    Ok(Tagged::new(&count).ok(&req))
}

/// Close a physical count.
///
/// Its results are final; the answer lists its discrepancies (items missing, not
/// counted, or found in another condition or place). A closed count is a 409. Honours
/// `If-Match` when given.
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(
        ("id" = Uuid, Path, description = "The office's id"),
        ("count_id" = Uuid, Path, description = "The count's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the count as last read"),
    ),
    request_body = CloseAssetCount,
    responses(
        (status = 200, description = "The closed count", body = AssetCount, headers(("ETag" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/{id}/asset-counts/{count_id}/close")]
pub async fn close_count(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: JsonBody<CloseAssetCount>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (office_id, count_id) = path.into_inner();
    caller.may_read_assets(office_id)?;
    let closed_on = body.0.closed_on.unwrap_or_else(|| Utc::now().date_naive());
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let count = conn
        .transaction(async |conn| {
            let current = load_count(conn, office_id, count_id, true).await?;
            caller.may_write_assets(office_id)?;
            if_match.check_if_present(&Tagged::new(&current).etag)?;
            let mut errors = Vec::new();
            if closed_on < current.counted_on {
                errors.push(FieldError::new(
                    "closed_on",
                    "before_counted_on",
                    text!(
                        "must not be before counted_on",
                        "no puede ser anterior a counted_on"
                    ),
                ));
            }
            if closed_on > Utc::now().date_naive() {
                errors.push(FieldError::new(
                    "closed_on",
                    "in_future",
                    text!("must not be after today", "no puede ser posterior a hoy"),
                ));
            }
            validate::finish(errors)?;
            must_be_open(&current)?;
            diesel::update(asset_counts::table.find(count_id))
                .set((
                    asset_counts::status.eq(AssetCountStatus::Closed.as_str()),
                    asset_counts::closed_on.eq(closed_on),
                ))
                .execute(conn)
                .await?;
            let after = load_count(conn, office_id, count_id, false).await?;
            audit::record(
                conn,
                &caller.actor(),
                "close",
                "asset_count",
                count_id,
                Some(&current),
                Some(&after),
            )
            .await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&count).ok(&req))
}
