//! Transfers of assets between offices: `POST …/assets/{asset_id}/transfers` moves an
//! asset to another office in one step (its status becomes `transferred` until the new
//! office places it), and `/offices/{id}/asset-transfers` is the history both offices
//! read. Transfers are append-only (the database refuses to change or delete them).

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Asset, AssetRow, AssetStatus, check_custodian, load, must_be_held};
use crate::auth::Caller;
use crate::core::error::{ApiError, FieldError};
use crate::core::http::{IfMatch, JsonBody, Tagged};
use crate::core::i18n::text;
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate;
use crate::db::audit;
use crate::db::schema::{asset_transfers, assets, offices};
use crate::db::{Constraint, Meaning};
use crate::formats::page_type;
use crate::state::AppState;

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "asset_transfers_to_office_id_fkey",
        field: "to_office_id",
        meaning: Meaning::Reference,
    },
    Constraint {
        name: "asset_transfers_to_custodian_id_fkey",
        field: "custodian_id",
        meaning: Meaning::Reference,
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

/// An asset's move from one office to another.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct AssetTransfer {
    pub id: Uuid,
    pub asset_id: Uuid,
    #[schema(example = "OAS-PE-0001")]
    pub tag_number: String,
    pub from_office_id: Uuid,
    pub to_office_id: Uuid,
    pub transferred_on: NaiveDate,
    #[schema(example = "The Bogotá office needs a second vehicle for the electoral mission.")]
    pub reason: String,
    /// The custodian in the sending office, if there was one.
    pub from_custodian_id: Option<Uuid>,
    /// The custodian named in the receiving office, if any.
    pub to_custodian_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = asset_transfers)]
pub(crate) struct TransferRow {
    id: Uuid,
    asset_id: Uuid,
    from_office_id: Uuid,
    to_office_id: Uuid,
    transferred_on: NaiveDate,
    reason: String,
    from_custodian_id: Option<Uuid>,
    to_custodian_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

impl TransferRow {
    fn into_transfer(self, tag_number: String) -> AssetTransfer {
        AssetTransfer {
            id: self.id,
            asset_id: self.asset_id,
            tag_number,
            from_office_id: self.from_office_id,
            to_office_id: self.to_office_id,
            transferred_on: self.transferred_on,
            reason: self.reason,
            from_custodian_id: self.from_custodian_id,
            to_custodian_id: self.to_custodian_id,
            created_at: self.created_at,
        }
    }
}

/// Transferring an asset to another office.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"to_office_id": "0b5c7a3e-7d0e-4f6b-9a57-2d1f0e8c9b11", "transferred_on": "2026-12-01", "reason": "Needed for the electoral mission"}))]
#[serde(deny_unknown_fields)]
pub struct NewAssetTransfer {
    /// An open office other than the one that holds the asset.
    pub to_office_id: Uuid,
    /// Not before the asset's acquisition or its last transfer, not after today.
    pub transferred_on: NaiveDate,
    #[schema(pattern = "<line>", max_length = 1000)]
    pub reason: String,
    /// A current appointment of the receiving office, answerable for it there.
    #[serde(default)]
    pub custodian_id: Option<Uuid>,
    /// Where it will be in the receiving office.
    #[serde(default)]
    #[schema(pattern = "<line>", max_length = 200)]
    pub location: Option<String>,
}

/// Transfer an asset to another office.
///
/// The asset moves to `to_office_id` at once, with status `transferred` until the
/// receiving office places it (`in_use`, `in_storage` or `under_repair`); both offices
/// then see the transfer in their `/asset-transfers`. Only the holding office (or the
/// coordinator) transfers; a disposed asset is a 409. Honours `If-Match` (the asset's
/// ETag) when given.
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(
        ("id" = Uuid, Path, description = "The office's id"),
        ("asset_id" = Uuid, Path, description = "The asset's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the asset as last read"),
    ),
    request_body = NewAssetTransfer,
    responses(
        (status = 201, description = "The asset was transferred", body = AssetTransfer,
         headers(("Location" = String))),
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
#[post("/{id}/assets/{asset_id}/transfers")]
pub async fn transfer_asset(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: JsonBody<NewAssetTransfer>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (office_id, id) = path.into_inner();
    caller.may_read_assets(office_id)?;
    let new = body.0;
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let transfer = conn
        .transaction(async |conn| {
            let current = load(conn, office_id, id, true).await?;
            caller.may_write_assets(office_id)?;
            if_match.check_if_present(&Tagged::new(&current).etag)?;
            let mut errors = Vec::new();
            let reason = new.reason;
            validate::line("reason", &reason, 1000, &mut errors);
            let location = new.location.clone();
            if let Some(l) = &location {
                validate::line("location", l, 200, &mut errors);
            }
            // The receiving office, locked against a concurrent close.
            let to_status: Option<String> = offices::table
                .find(new.to_office_id)
                .select(offices::status)
                .for_share()
                .first(conn)
                .await
                .optional()?;
            match to_status.as_deref() {
                None => errors.push(FieldError::new(
                    "to_office_id",
                    "unknown",
                    text!(
                        "refers to a resource that does not exist",
                        "hace referencia a un recurso que no existe"
                    ),
                )),
                Some(_) if new.to_office_id == current.office_id => {
                    errors.push(FieldError::new(
                        "to_office_id",
                        "same_office",
                        text!(
                            "is the office that holds the asset",
                            "es la oficina que tiene el bien"
                        ),
                    ))
                }
                Some("open") => {}
                Some(_) => errors.push(FieldError::new(
                    "to_office_id",
                    "closed",
                    text!("is a closed office", "es una oficina cerrada"),
                )),
            }
            if let Some(c) = new.custodian_id
                && to_status.is_some()
            {
                check_custodian(conn, new.to_office_id, c, "custodian_id", &mut errors).await?;
            }
            let last: Option<NaiveDate> = asset_transfers::table
                .filter(asset_transfers::asset_id.eq(id))
                .select(diesel::dsl::max(asset_transfers::transferred_on))
                .first(conn)
                .await?;
            let earliest = last.map_or(current.acquired_on, |l| l.max(current.acquired_on));
            if new.transferred_on < earliest {
                errors.push(FieldError::new(
                    "transferred_on",
                    "too_early",
                    text!(
                        "must not be before the asset's acquisition or its last transfer",
                        "no puede ser anterior a la adquisición del bien ni a su última transferencia"
                    ),
                ));
            }
            if new.transferred_on > Utc::now().date_naive() {
                errors.push(FieldError::new(
                    "transferred_on",
                    "in_future",
                    text!("must not be after today", "no puede ser posterior a hoy"),
                ));
            }
            validate::finish(errors)?;
            must_be_held(&current, office_id)?;
            let row: TransferRow = diesel::insert_into(asset_transfers::table)
                .values((
                    asset_transfers::id.eq(Uuid::now_v7()),
                    asset_transfers::asset_id.eq(id),
                    asset_transfers::from_office_id.eq(current.office_id),
                    asset_transfers::to_office_id.eq(new.to_office_id),
                    asset_transfers::transferred_on.eq(new.transferred_on),
                    asset_transfers::reason.eq(&reason),
                    asset_transfers::from_custodian_id.eq(current.custodian_id),
                    asset_transfers::to_custodian_id.eq(new.custodian_id),
                ))
                .returning(TransferRow::as_returning())
                .get_result(conn)
                .await?;
            let moved: AssetRow = diesel::update(assets::table.find(id))
                .set((
                    assets::office_id.eq(new.to_office_id),
                    assets::status.eq(AssetStatus::Transferred.as_str()),
                    assets::custodian_id.eq(new.custodian_id),
                    assets::location.eq(&location),
                ))
                .returning(AssetRow::as_returning())
                .get_result(conn)
                .await?;
            let moved = Asset::from(moved);
            audit::record(
                conn,
                &caller.actor(),
                "transfer",
                "asset",
                id,
                Some(&current),
                Some(&moved),
            )
            .await?;
            let transfer = row.into_transfer(moved.tag_number.clone());
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "asset_transfer",
                transfer.id,
                None,
                Some(&transfer),
            )
            .await?;
            Ok::<_, ApiError>(transfer)
        })
        .await?;
    let location = format!("/v1/offices/{office_id}/asset-transfers/{}", transfer.id);
    Ok(Tagged::new(&transfer).created(&location))
}

page_type!(
    AssetTransferPage,
    AssetTransfer,
    "A page of the transfers into and out of an office."
);

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum TransferSort {
    TransferredOn,
}

impl SortField for TransferSort {
    const NAMES: &'static [(&'static str, Self)] =
        &[("transferred_on", TransferSort::TransferredOn)];
    const DEFAULT: Self = TransferSort::TransferredOn;
}

/// Query parameters of an office's transfers.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransferQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `transferred_on`, prefixed with `-` for descending order.
    #[param(example = "-transferred_on")]
    pub sort: Option<String>,
    /// `in` (received by the office) or `out` (sent by it); both by default.
    #[param(example = "out")]
    pub direction: Option<String>,
    /// Only the transfers of these assets (ids, comma-separated): an asset's history.
    pub asset_id: Option<String>,
    /// Only transfers on or after this date.
    #[param(value_type = Option<NaiveDate>)]
    pub transferred_from: Option<String>,
    /// Only transfers on or before this date.
    #[param(value_type = Option<NaiveDate>)]
    pub transferred_to: Option<String>,
}

async fn tag_numbers(
    conn: &mut AsyncPgConnection,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, String>, ApiError> {
    let rows: Vec<(Uuid, String)> = assets::table
        .filter(assets::id.eq_any(ids))
        .select((assets::id, assets::tag_number))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// List the transfers into and out of an office.
///
/// Both offices of a transfer see it. The Coordinating Office, auditors and the
/// office's representative and staff read them; for anyone else a 404.
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(("id" = Uuid, Path, description = "The office's id"), TransferQuery),
    responses(
        (status = 200, description = "A page of the office's transfers", body = AssetTransferPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/asset-transfers")]
pub async fn list_transfers(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<TransferQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let office_id = id.into_inner();
    caller.may_read_assets(office_id)?;
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<TransferSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?
        .map(|c| Ok::<_, ApiError>((c.value_as::<NaiveDate>()?, c.id)))
        .transpose()?;
    let asset_ids = validate::param_uuids("asset_id", query.asset_id.as_deref())?;
    let from = validate::param_date("transferred_from", query.transferred_from.as_deref())?;
    let to = validate::param_date("transferred_to", query.transferred_to.as_deref())?;
    let mut q = asset_transfers::table
        .select(TransferRow::as_select())
        .into_boxed();
    q = match query.direction.as_deref().map(str::trim) {
        None => q.filter(
            asset_transfers::from_office_id
                .eq(office_id)
                .or(asset_transfers::to_office_id.eq(office_id)),
        ),
        Some("in") => q.filter(asset_transfers::to_office_id.eq(office_id)),
        Some("out") => q.filter(asset_transfers::from_office_id.eq(office_id)),
        Some(_) => {
            return Err(ApiError::invalid_parameter(
                "direction",
                text!("must be in or out", "debe ser in u out"),
            ));
        }
    };
    if let Some(v) = asset_ids {
        q = q.filter(asset_transfers::asset_id.eq_any(v));
    }
    if let Some(d) = from {
        q = q.filter(asset_transfers::transferred_on.ge(d));
    }
    if let Some(d) = to {
        q = q.filter(asset_transfers::transferred_on.le(d));
    }
    let q = keyset!(
        q,
        asset_transfers::transferred_on,
        asset_transfers::id,
        sort.desc,
        after
    );
    let mut conn = state.read_pool().get().await?;
    super::office_status(&mut conn, office_id, false).await?;
    let rows: Vec<TransferRow> = q.limit(limit + 1).load(&mut conn).await?;
    let tags = tag_numbers(&mut conn, rows.iter().map(|r| r.asset_id).collect()).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: serde_json::json!(r.transferred_on),
        id: r.id,
    })
    .map(|r| {
        let tag = tags.get(&r.asset_id).cloned().unwrap_or_default();
        r.into_transfer(tag)
    });
    Ok(AssetTransferPage::respond(page, &req))
}

/// Get a transfer.
///
/// Seen from either of its offices.
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(
        ("id" = Uuid, Path, description = "The office's id"),
        ("transfer_id" = Uuid, Path, description = "The transfer's id"),
    ),
    responses(
        (status = 200, description = "The transfer", body = AssetTransfer,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/asset-transfers/{transfer_id}")]
pub async fn get_transfer(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (office_id, id) = path.into_inner();
    caller.may_read_assets(office_id)?;
    let mut conn = state.pool.get().await?;
    let row: TransferRow = asset_transfers::table
        .find(id)
        .filter(
            asset_transfers::from_office_id
                .eq(office_id)
                .or(asset_transfers::to_office_id.eq(office_id)),
        )
        .select(TransferRow::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    let tags = tag_numbers(&mut conn, vec![row.asset_id]).await?;
    let tag = tags.get(&row.asset_id).cloned().unwrap_or_default();
    Ok(Tagged::new(&row.into_transfer(tag)).ok(&req))
}
