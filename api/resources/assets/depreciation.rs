//! Straight-line depreciation of an office's assets as of any date
//! (`/offices/{id}/asset-depreciation?as_of=`).
//!
//! Each category has a useful life in months (table `asset_categories`). An asset
//! depreciates from its acquisition date, by day, to zero at the end of its useful life:
//! accumulated depreciation = cost × days elapsed ÷ days of the useful life, rounded down
//! to the minor unit (exact integer arithmetic), and the book value is the rest. The
//! report counts the assets the office held on `as_of` (following transfers), acquired
//! on or before it and not disposed of by then.

use std::collections::{BTreeMap, HashMap};

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{Months, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Asset, AssetCategory, AssetRow, office_status};
use crate::auth::Caller;
use crate::core::error::ApiError;
use crate::core::http::Tagged;
use crate::core::money::{MonetaryAmount, Money};
use crate::core::validate;
use crate::db::schema::{asset_categories, asset_transfers, assets};
use crate::state::AppState;

/// One asset's depreciation.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct AssetDepreciationLine {
    pub asset_id: Uuid,
    pub tag_number: String,
    pub category: AssetCategory,
    pub acquired_on: NaiveDate,
    pub useful_life_months: i32,
    /// The day its book value reaches zero.
    pub fully_depreciated_on: NaiveDate,
    #[schema(value_type = MonetaryAmount)]
    pub cost: Money,
    #[schema(value_type = MonetaryAmount)]
    pub accumulated_depreciation: Money,
    #[schema(value_type = MonetaryAmount)]
    pub book_value: Money,
}

/// The totals of one category in one currency.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct CategoryDepreciation {
    pub category: AssetCategory,
    pub useful_life_months: i32,
    /// The currency of the totals (assets are summed per currency of their cost).
    #[schema(example = "USD")]
    pub currency: String,
    pub assets: i64,
    #[schema(value_type = MonetaryAmount)]
    pub cost: Money,
    #[schema(value_type = MonetaryAmount)]
    pub accumulated_depreciation: Money,
    #[schema(value_type = MonetaryAmount)]
    pub book_value: Money,
}

/// An office's assets depreciated to a date.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct AssetDepreciation {
    pub office_id: Uuid,
    pub as_of: NaiveDate,
    /// Always `straight_line` (by day, no residual value).
    #[schema(example = "straight_line")]
    pub method: String,
    /// By category, then currency.
    pub categories: Vec<CategoryDepreciation>,
    /// By tag number.
    pub assets: Vec<AssetDepreciationLine>,
}

/// Query parameters of the depreciation.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DepreciationQuery {
    /// The date to depreciate to (default today).
    #[param(value_type = Option<NaiveDate>, example = "2026-12-31")]
    pub as_of: Option<String>,
}

/// The accumulated depreciation of `cost_minor` acquired on `acquired_on` over
/// `life_months`, on `as_of`, and the day it is fully depreciated.
pub fn straight_line(
    cost_minor: i64,
    acquired_on: NaiveDate,
    life_months: u32,
    as_of: NaiveDate,
) -> (i64, NaiveDate) {
    let end = acquired_on
        .checked_add_months(Months::new(life_months))
        .unwrap_or(NaiveDate::MAX);
    let life_days = (end - acquired_on).num_days().max(1);
    let elapsed = (as_of - acquired_on).num_days().clamp(0, life_days);
    let accumulated = i128::from(cost_minor) * i128::from(elapsed) / i128::from(life_days);
    (i64::try_from(accumulated).expect("at most the cost"), end)
}

/// The office that held an asset on `day`, from its transfers (ordered by date).
fn office_on(asset: &Asset, transfers: &[(NaiveDate, Uuid, Uuid)], day: NaiveDate) -> Uuid {
    match transfers.iter().rev().find(|(on, _, _)| *on <= day) {
        Some((_, _, to)) => *to,
        None => transfers
            .first()
            .map_or(asset.office_id, |(_, from, _)| *from),
    }
}

/// Depreciation of an office's assets as of a date.
///
/// Straight-line by category (useful lives: vehicles 60 months, IT equipment 36,
/// communications equipment 60, office equipment 60, furniture 120, other 60), by day,
/// no residual value, rounded down to the minor unit. Counts the assets the office held
/// on `as_of`, acquired by then and not disposed of by then. The same readers as the
/// office's assets.
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(("id" = Uuid, Path, description = "The office's id"), DepreciationQuery),
    responses(
        (status = 200, description = "The depreciation", body = AssetDepreciation,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/asset-depreciation")]
pub async fn asset_depreciation(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<DepreciationQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let office_id = id.into_inner();
    caller.may_read_assets(office_id)?;
    let as_of = validate::param_date("as_of", query.as_of.as_deref())?
        .unwrap_or_else(|| Utc::now().date_naive());
    let mut conn = state.read_pool().get().await?;
    office_status(&mut conn, office_id, false).await?;
    let lives: HashMap<String, i32> = asset_categories::table
        .select((asset_categories::code, asset_categories::useful_life_months))
        .load::<(String, i32)>(&mut conn)
        .await?
        .into_iter()
        .collect();
    // Every asset the office holds or held, with its transfers.
    let moved: Vec<Uuid> = asset_transfers::table
        .filter(
            asset_transfers::from_office_id
                .eq(office_id)
                .or(asset_transfers::to_office_id.eq(office_id)),
        )
        .select(asset_transfers::asset_id)
        .distinct()
        .load(&mut conn)
        .await?;
    let rows: Vec<AssetRow> = assets::table
        .filter(
            assets::office_id
                .eq(office_id)
                .or(assets::id.eq_any(&moved)),
        )
        .filter(assets::acquired_on.le(as_of))
        .order(assets::tag_number)
        .select(AssetRow::as_select())
        .load(&mut conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut transfers: HashMap<Uuid, Vec<(NaiveDate, Uuid, Uuid)>> = HashMap::new();
    for (asset_id, on, from, to) in asset_transfers::table
        .filter(asset_transfers::asset_id.eq_any(&ids))
        .order((asset_transfers::transferred_on, asset_transfers::created_at))
        .select((
            asset_transfers::asset_id,
            asset_transfers::transferred_on,
            asset_transfers::from_office_id,
            asset_transfers::to_office_id,
        ))
        .load::<(Uuid, NaiveDate, Uuid, Uuid)>(&mut conn)
        .await?
    {
        transfers.entry(asset_id).or_default().push((on, from, to));
    }
    let mut lines = Vec::new();
    let mut totals: BTreeMap<(usize, String), CategoryDepreciation> = BTreeMap::new();
    for row in rows {
        let asset = Asset::from(row);
        let history = transfers.get(&asset.id).map(Vec::as_slice).unwrap_or(&[]);
        if office_on(&asset, history, as_of) != office_id {
            continue;
        }
        if asset
            .disposal
            .as_ref()
            .is_some_and(|d| d.disposed_on <= as_of)
        {
            continue;
        }
        let life = lives.get(asset.category.as_str()).copied().unwrap_or(60);
        let (accumulated, end) = straight_line(
            asset.cost.minor,
            asset.acquired_on,
            u32::try_from(life).unwrap_or(60),
            as_of,
        );
        let currency = asset.cost.currency.code;
        let money = |minor| Money::from_db(minor, currency);
        let line = AssetDepreciationLine {
            asset_id: asset.id,
            tag_number: asset.tag_number.clone(),
            category: asset.category,
            acquired_on: asset.acquired_on,
            useful_life_months: life,
            fully_depreciated_on: end,
            cost: asset.cost,
            accumulated_depreciation: money(accumulated),
            book_value: money(asset.cost.minor - accumulated),
        };
        let order = AssetCategory::ALL
            .iter()
            .position(|c| *c == asset.category)
            .unwrap_or(usize::MAX);
        let t = totals
            .entry((order, currency.to_owned()))
            .or_insert_with(|| CategoryDepreciation {
                category: asset.category,
                useful_life_months: life,
                currency: currency.to_owned(),
                assets: 0,
                cost: money(0),
                accumulated_depreciation: money(0),
                book_value: money(0),
            });
        t.assets += 1;
        t.cost.minor += line.cost.minor;
        t.accumulated_depreciation.minor += line.accumulated_depreciation.minor;
        t.book_value.minor += line.book_value.minor;
        lines.push(line);
    }
    let report = AssetDepreciation {
        office_id,
        as_of,
        method: "straight_line".to_owned(),
        categories: totals.into_values().collect(),
        assets: lines,
    };
    Ok(Tagged::new(&report).ok(&req))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn straight_line_by_day_rounded_down() {
        // 36 months from 2024-01-01 is 2027-01-01: 1096 days.
        assert_eq!(
            straight_line(300_000, d("2024-01-01"), 36, d("2024-01-01")),
            (0, d("2027-01-01"))
        );
        // 366 days (2024 is a leap year): 300000 × 366 / 1096 = 100182.48… → 100182.
        assert_eq!(
            straight_line(300_000, d("2024-01-01"), 36, d("2025-01-01")).0,
            100_182
        );
        assert_eq!(
            straight_line(300_000, d("2024-01-01"), 36, d("2027-01-01")).0,
            300_000
        );
        assert_eq!(
            straight_line(300_000, d("2024-01-01"), 36, d("2030-06-30")).0,
            300_000
        );
        assert_eq!(
            straight_line(300_000, d("2024-01-01"), 36, d("2023-06-30")).0,
            0
        );
    }
}
