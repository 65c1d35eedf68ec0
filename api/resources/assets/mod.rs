//! `/v1/offices/{id}/assets`: an office's material resources — equipment, vehicles and
//! furniture — with custody, transfers between offices (`transfers.rs`), disposals that
//! keep the record, yearly physical counts (`counts.rs`) and straight-line depreciation
//! by category (`depreciation.rs`).
//!
//! An asset is seen by the Coordinating Office, auditors, and the representative and
//! staff of the office that holds it or held it before a transfer (both offices see the
//! history); nobody else (404). Only its current office (and the coordinator) changes
//! it. A tag number is unique across the organisation. A disposed asset is never
//! deleted: it keeps its record with the disposal's date, reason and proceeds.

pub mod counts;
pub mod depreciation;
pub mod transfers;

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::core::enums::string_enum;
use crate::core::error::{ApiError, FieldError};
use crate::core::http::{IfMatch, JsonBody, Tagged, from_value};
use crate::core::i18n::text;
use crate::core::money::{MonetaryAmount, Money};
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate::{self, nullable};
use crate::db::audit;
use crate::db::schema::{appointments, asset_transfers, assets, ledger_entries, ledgers, offices};
use crate::db::{Constraint, Meaning};
use crate::formats::page_type;
use crate::state::AppState;

string_enum! {
    /// What kind of asset it is; each category has its useful life for depreciation.
    pub enum AssetCategory {
        Vehicles = "vehicles" ("Vehicles", "Vehículos"),
        ItEquipment = "it_equipment" ("IT equipment", "Equipo informático"),
        CommunicationsEquipment = "communications_equipment" ("Communications equipment", "Equipo de comunicaciones"),
        OfficeEquipment = "office_equipment" ("Office equipment", "Equipo de oficina"),
        Furniture = "furniture" ("Furniture", "Mobiliario"),
        Other = "other" ("Other", "Otros"),
    }
}

string_enum! {
    /// Where an asset is in its life. `transferred`: received from another office and
    /// not yet placed in use or storage; `disposed`: out of the inventory (the record
    /// stays). Both are set by their own operations, never by an update.
    pub enum AssetStatus {
        InUse = "in_use" ("In use", "En uso"),
        InStorage = "in_storage" ("In storage", "En depósito"),
        UnderRepair = "under_repair" ("Under repair", "En reparación"),
        Transferred = "transferred" ("Transferred", "Transferido"),
        Disposed = "disposed" ("Disposed", "Dado de baja"),
    }
}

string_enum! {
    /// The physical condition of an asset.
    pub enum AssetCondition {
        New = "new" ("New", "Nuevo"),
        Good = "good" ("Good", "Bueno"),
        Fair = "fair" ("Fair", "Regular"),
        Poor = "poor" ("Poor", "Malo"),
        Unserviceable = "unserviceable" ("Unserviceable", "Inservible"),
    }
}

string_enum! {
    /// Why an asset left the inventory.
    pub enum DisposalReason {
        Sold = "sold" ("Sold", "Vendido"),
        Donated = "donated" ("Donated", "Donado"),
        Scrapped = "scrapped" ("Scrapped", "Desechado"),
        Lost = "lost" ("Lost", "Extraviado"),
        Stolen = "stolen" ("Stolen", "Robado"),
        WrittenOff = "written_off" ("Written off", "Dado de baja contablemente"),
    }
}

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "assets_tag_number_key",
        field: "tag_number",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "assets_cost_amount_check",
        field: "cost.amount",
        meaning: Meaning::Check(|| text!("must not be negative", "no puede ser negativo")),
    },
    Constraint {
        name: "assets_disposed_after_acquired",
        field: "disposed_on",
        meaning: Meaning::Check(|| {
            text!(
                "must not be before the asset's acquired_on",
                "no puede ser anterior a acquired_on del bien"
            )
        }),
    },
    Constraint {
        name: "assets_office_id_fkey",
        field: "office_id",
        meaning: Meaning::Reference,
    },
    Constraint {
        name: "assets_custodian_id_fkey",
        field: "custodian_id",
        meaning: Meaning::Reference,
    },
    Constraint {
        name: "assets_ledger_id_fkey",
        field: "ledger_id",
        meaning: Meaning::Reference,
    },
    Constraint {
        name: "assets_entry_id_fkey",
        field: "entry_id",
        meaning: Meaning::Reference,
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

/// How an asset left the inventory.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct Disposal {
    pub disposed_on: NaiveDate,
    pub reason: DisposalReason,
    /// What the sale brought in; null when nothing did.
    #[schema(value_type = Option<MonetaryAmount>)]
    pub proceeds: Option<Money>,
    pub note: Option<String>,
}

/// An item of an office's inventory.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Asset {
    pub id: Uuid,
    /// The office that holds it now.
    pub office_id: Uuid,
    /// Unique across the organisation (upper-case letters, digits, hyphens).
    #[schema(example = "OAS-PE-0001")]
    pub tag_number: String,
    pub category: AssetCategory,
    #[schema(example = "Toyota Hilux 4x4, white, plate ABC-123")]
    pub description: String,
    pub acquired_on: NaiveDate,
    /// The acquisition cost, depreciated over the category's useful life.
    #[schema(value_type = MonetaryAmount)]
    pub cost: Money,
    /// The ledger it was bought through, if any.
    pub ledger_id: Option<Uuid>,
    /// The expense entry of that ledger that paid for it, if any.
    pub entry_id: Option<Uuid>,
    /// The appointment (of the holding office) answerable for it.
    pub custodian_id: Option<Uuid>,
    #[schema(example = "Main building, room 204")]
    pub location: Option<String>,
    pub condition: AssetCondition,
    pub status: AssetStatus,
    /// Set when the asset was disposed of (status `disposed`).
    pub disposal: Option<Disposal>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = assets)]
pub(crate) struct AssetRow {
    id: Uuid,
    office_id: Uuid,
    tag_number: String,
    category: String,
    description: String,
    acquired_on: NaiveDate,
    cost_amount: i64,
    cost_currency: String,
    ledger_id: Option<Uuid>,
    entry_id: Option<Uuid>,
    custodian_id: Option<Uuid>,
    location: Option<String>,
    condition: String,
    status: String,
    disposed_on: Option<NaiveDate>,
    disposal_reason: Option<String>,
    disposal_proceeds_amount: Option<i64>,
    disposal_proceeds_currency: Option<String>,
    disposal_note: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<AssetRow> for Asset {
    fn from(r: AssetRow) -> Self {
        let disposal = match (r.disposed_on, r.disposal_reason) {
            (Some(on), Some(reason)) => Some(Disposal {
                disposed_on: on,
                reason: DisposalReason::from_db(&reason),
                proceeds: match (r.disposal_proceeds_amount, r.disposal_proceeds_currency) {
                    (Some(a), Some(c)) => Some(Money::from_db(a, &c)),
                    _ => None,
                },
                note: r.disposal_note,
            }),
            _ => None,
        };
        Asset {
            id: r.id,
            office_id: r.office_id,
            tag_number: r.tag_number,
            category: AssetCategory::from_db(&r.category),
            description: r.description,
            acquired_on: r.acquired_on,
            cost: Money::from_db(r.cost_amount, &r.cost_currency),
            ledger_id: r.ledger_id,
            entry_id: r.entry_id,
            custodian_id: r.custodian_id,
            location: r.location,
            condition: AssetCondition::from_db(&r.condition),
            status: AssetStatus::from_db(&r.status),
            disposal,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new asset of the office.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"tag_number": "OAS-PE-0931", "category": "it_equipment", "description": "Laptop Dell Latitude 5440", "acquired_on": "2025-01-02", "cost": {"amount": "1100.00", "currency": "USD"}}))]
#[serde(deny_unknown_fields)]
pub struct NewAsset {
    /// Unique across the organisation: 2 to 40 upper-case letters, digits or hyphens.
    #[schema(example = "OAS-PE-0001", pattern = "^[A-Z0-9][A-Z0-9-]{1,39}$")]
    pub tag_number: String,
    pub category: AssetCategory,
    #[schema(
        example = "Laptop Dell Latitude 5440",
        pattern = "<line>",
        max_length = 500
    )]
    pub description: String,
    pub acquired_on: NaiveDate,
    pub cost: MonetaryAmount,
    /// A ledger of this office, when it was bought through one.
    #[serde(default)]
    pub ledger_id: Option<Uuid>,
    /// An expense entry of `ledger_id`.
    #[serde(default)]
    pub entry_id: Option<Uuid>,
    /// An appointment of this office that has not ended.
    #[serde(default)]
    pub custodian_id: Option<Uuid>,
    #[serde(default)]
    #[schema(pattern = "<line>", max_length = 200)]
    pub location: Option<String>,
    /// Default `new`.
    #[serde(default)]
    pub condition: Option<AssetCondition>,
    /// Default `in_use`.
    #[serde(default)]
    #[schema(value_type = Option<SettableAssetStatus>)]
    pub status: Option<AssetStatus>,
}

/// Changes to an asset (JSON merge patch: an absent field is unchanged, `null` clears an
/// optional one). The office changes by a transfer, `disposed` by a disposal.
#[derive(Deserialize, ToSchema, Default)]
#[schema(example = json!({"location": "Storage room 2"}))]
#[serde(deny_unknown_fields)]
pub struct AssetPatch {
    #[schema(nullable = false, pattern = "^[A-Z0-9][A-Z0-9-]{1,39}$")]
    pub tag_number: Option<String>,
    #[schema(value_type = AssetCategory, required = false)]
    pub category: Option<AssetCategory>,
    #[schema(nullable = false, pattern = "<line>", max_length = 500)]
    pub description: Option<String>,
    #[schema(nullable = false)]
    pub acquired_on: Option<NaiveDate>,
    #[schema(value_type = MonetaryAmount, required = false)]
    pub cost: Option<MonetaryAmount>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub ledger_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub entry_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub custodian_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "<line>", max_length = 200)]
    pub location: Option<Option<String>>,
    #[schema(value_type = AssetCondition, required = false)]
    pub condition: Option<AssetCondition>,
    #[schema(value_type = SettableAssetStatus, required = false)]
    pub status: Option<AssetStatus>,
}

/// Disposing of an asset: it leaves the inventory, its record stays.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"disposed_on": "2026-12-01", "reason": "scrapped", "note": "Beyond repair"}))]
#[serde(deny_unknown_fields)]
pub struct NewDisposal {
    /// Not before `acquired_on`, not after today.
    pub disposed_on: NaiveDate,
    pub reason: DisposalReason,
    /// What a sale brought in (only for `sold`, `donated` has none).
    #[serde(default)]
    pub proceeds: Option<MonetaryAmount>,
    #[serde(default)]
    #[schema(pattern = "<line>", max_length = 1000)]
    pub note: Option<String>,
}

const READ_ONLY: &[&str] = &["id", "office_id", "disposal", "created_at", "updated_at"];

/// Schema-only type of the statuses an office sets by hand: `in_use`, `in_storage` or
/// `under_repair` (transfers and disposals have their own operations), what
/// [`settable_status`] takes.
pub struct SettableAssetStatus;

impl utoipa::PartialSchema for SettableAssetStatus {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "`in_use`, `in_storage` or `under_repair` (an asset is transferred and \
                 disposed of by operations of their own).",
            ))
            .enum_values(Some(
                [
                    AssetStatus::InUse,
                    AssetStatus::InStorage,
                    AssetStatus::UnderRepair,
                ]
                .map(|s| s.as_str()),
            ))
            .into()
    }
}

impl ToSchema for SettableAssetStatus {}

/// The statuses an office sets by hand (the others have their own operations).
fn settable_status(field: &str, s: AssetStatus, errors: &mut Vec<FieldError>) {
    if matches!(s, AssetStatus::Transferred | AssetStatus::Disposed) {
        errors.push(FieldError::new(
            field,
            "not_settable",
            text!(
                "must be in_use, in_storage or under_repair (transfers and disposals have their own operations)",
                "debe ser in_use, in_storage o under_repair (las transferencias y bajas tienen sus propias operaciones)"
            ),
        ));
    }
}

fn validate_fields(a: &Asset, errors: &mut Vec<FieldError>) {
    validate::code("tag_number", &a.tag_number, 40, errors);
    validate::line("description", &a.description, 500, errors);
    if let Some(l) = &a.location {
        validate::line("location", l, 200, errors);
    }
    if a.acquired_on > Utc::now().date_naive() {
        errors.push(FieldError::new(
            "acquired_on",
            "in_future",
            text!("must not be after today", "no puede ser posterior a hoy"),
        ));
    }
}

/// The office's status (`open`/`closed`), 404 when there is no such office; locks the
/// office row against a concurrent close when `lock`.
pub(crate) async fn office_status(
    conn: &mut AsyncPgConnection,
    office_id: Uuid,
    lock: bool,
) -> Result<String, ApiError> {
    let q = offices::table.find(office_id).select(offices::status);
    let status: Option<String> = if lock {
        q.for_share().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    status.ok_or_else(ApiError::not_found)
}

/// The field error when `custodian_id` is not an appointment of `office_id` that has
/// not ended.
pub(crate) async fn check_custodian(
    conn: &mut AsyncPgConnection,
    office_id: Uuid,
    custodian_id: Uuid,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    let today = Utc::now().date_naive();
    let found: Option<(Uuid, Option<NaiveDate>)> = appointments::table
        .find(custodian_id)
        .select((appointments::office_id, appointments::ends_on))
        .first(conn)
        .await
        .optional()?;
    let ok = found.is_some_and(|(o, ends)| o == office_id && ends.is_none_or(|e| e >= today));
    if !ok {
        errors.push(FieldError::new(
            field,
            "not_a_custodian",
            text!(
                "is not a current appointment of the asset's office",
                "no es un nombramiento vigente de la oficina del bien"
            ),
        ));
    }
    Ok(())
}

/// The field errors when the funding does not hold: a ledger of the office, an expense
/// entry of that ledger.
async fn check_funding(
    conn: &mut AsyncPgConnection,
    office_id: Uuid,
    ledger_id: Option<Uuid>,
    entry_id: Option<Uuid>,
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    if let Some(l) = ledger_id {
        let office: Option<Uuid> = ledgers::table
            .find(l)
            .select(ledgers::office_id)
            .first(conn)
            .await
            .optional()?;
        if office != Some(office_id) {
            errors.push(FieldError::new(
                "ledger_id",
                "not_of_office",
                text!(
                    "is not a ledger of the asset's office",
                    "no es un libro de la oficina del bien"
                ),
            ));
        }
    }
    if let Some(e) = entry_id {
        let Some(l) = ledger_id else {
            errors.push(FieldError::new(
                "ledger_id",
                "required",
                text!(
                    "is required with entry_id",
                    "es obligatorio junto con entry_id"
                ),
            ));
            return Ok(());
        };
        let entry: Option<(Uuid, String)> = ledger_entries::table
            .find(e)
            .select((ledger_entries::ledger_id, ledger_entries::kind))
            .first(conn)
            .await
            .optional()?;
        if !entry.is_some_and(|(el, kind)| el == l && kind == "expense") {
            errors.push(FieldError::new(
                "entry_id",
                "not_an_expense",
                text!(
                    "is not an expense entry of ledger_id",
                    "no es un gasto del libro ledger_id"
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `office_id` holds the asset or held it before a transfer.
async fn office_knows(
    conn: &mut AsyncPgConnection,
    asset: &Asset,
    office_id: Uuid,
) -> Result<bool, ApiError> {
    if asset.office_id == office_id {
        return Ok(true);
    }
    let n: i64 = asset_transfers::table
        .filter(asset_transfers::asset_id.eq(asset.id))
        .filter(
            asset_transfers::from_office_id
                .eq(office_id)
                .or(asset_transfers::to_office_id.eq(office_id)),
        )
        .count()
        .get_result(conn)
        .await?;
    Ok(n > 0)
}

/// Loads an asset seen from `office_id` (its holder, or an office it was transferred
/// from or to): 404 otherwise. Locks it when `for_update`.
pub(crate) async fn load(
    conn: &mut AsyncPgConnection,
    office_id: Uuid,
    id: Uuid,
    for_update: bool,
) -> Result<Asset, ApiError> {
    let q = assets::table.find(id).select(AssetRow::as_select());
    let row = if for_update {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    let asset = row.map(Asset::from).ok_or_else(ApiError::not_found)?;
    if office_knows(conn, &asset, office_id).await? {
        Ok(asset)
    } else {
        Err(ApiError::not_found())
    }
}

/// The 409 when the asset may not change from `office_id`: it is held by another office
/// now, or disposed of.
pub(crate) fn must_be_held(asset: &Asset, office_id: Uuid) -> Result<(), ApiError> {
    if asset.office_id != office_id {
        return Err(ApiError::invalid_state(text!(
            "The asset was transferred to another office: only the office that holds it changes it.",
            "El bien fue transferido a otra oficina: solo la oficina que lo tiene puede modificarlo."
        )));
    }
    if asset.status == AssetStatus::Disposed {
        return Err(ApiError::invalid_state(text!(
            "The asset was disposed of: its record no longer changes.",
            "El bien fue dado de baja: su registro ya no cambia."
        )));
    }
    Ok(())
}

page_type!(AssetPage, Asset, "A page of an office's assets.");

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum AssetSort {
    TagNumber,
    AcquiredOn,
    UpdatedAt,
}

impl SortField for AssetSort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("tag_number", AssetSort::TagNumber),
        ("acquired_on", AssetSort::AcquiredOn),
        ("updated_at", AssetSort::UpdatedAt),
    ];
    const DEFAULT: Self = AssetSort::TagNumber;
}

/// Query parameters of the asset list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssetQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `tag_number`, `acquired_on` or `updated_at`, prefixed with `-` for descending
    /// order.
    #[param(example = "-acquired_on")]
    pub sort: Option<String>,
    /// Categories, comma-separated.
    #[param(example = "vehicles,it_equipment")]
    pub category: Option<String>,
    /// Statuses, comma-separated: `in_use`, `in_storage`, `under_repair`,
    /// `transferred`, `disposed`.
    #[param(example = "in_use")]
    pub status: Option<String>,
    /// Conditions, comma-separated.
    #[param(example = "poor,unserviceable")]
    pub condition: Option<String>,
    /// Only the assets in the custody of these appointments (ids, comma-separated).
    pub custodian_id: Option<String>,
    /// Only assets acquired on or after this date.
    #[param(value_type = Option<NaiveDate>)]
    pub acquired_from: Option<String>,
    /// Only assets acquired on or before this date.
    #[param(value_type = Option<NaiveDate>)]
    pub acquired_to: Option<String>,
    /// Text in the tag number, description or location (case and accents ignored).
    pub q: Option<String>,
    /// Only assets changed at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// List an office's assets.
///
/// The assets the office holds now, disposed ones included (filter by `status`);
/// assets it transferred away are in its transfers (`/asset-transfers`). The
/// Coordinating Office, auditors and the office's representative and staff see them;
/// for anyone else the office's inventory is a 404.
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(("id" = Uuid, Path, description = "The office's id"), AssetQuery),
    responses(
        (status = 200, description = "A page of the office's assets", body = AssetPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/assets")]
pub async fn list_assets(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<AssetQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let office_id = id.into_inner();
    caller.may_read_assets(office_id)?;
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<AssetSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let categories = query
        .category
        .as_deref()
        .map(|s| AssetCategory::parse_filter("category", s))
        .transpose()?;
    let statuses = query
        .status
        .as_deref()
        .map(|s| AssetStatus::parse_filter("status", s))
        .transpose()?;
    let conditions = query
        .condition
        .as_deref()
        .map(|s| AssetCondition::parse_filter("condition", s))
        .transpose()?;
    let custodian = validate::param_uuids("custodian_id", query.custodian_id.as_deref())?;
    let acquired_from = validate::param_date("acquired_from", query.acquired_from.as_deref())?;
    let acquired_to = validate::param_date("acquired_to", query.acquired_to.as_deref())?;
    let search = crate::resources::shared::search::param_search(query.q.as_deref())?;
    let updated_since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;

    let mut q = assets::table
        .filter(assets::office_id.eq(office_id))
        .select(AssetRow::as_select())
        .into_boxed();
    if let Some(v) = categories {
        q = crate::core::pagination::filter_in!(q, assets::category, v);
    }
    if let Some(v) = statuses {
        q = crate::core::pagination::filter_in!(q, assets::status, v);
    }
    if let Some(v) = conditions {
        q = crate::core::pagination::filter_in!(q, assets::condition, v);
    }
    if let Some(v) = custodian {
        q = q.filter(assets::custodian_id.eq_any(v));
    }
    if let Some(d) = acquired_from {
        q = q.filter(assets::acquired_on.ge(d));
    }
    if let Some(d) = acquired_to {
        q = q.filter(assets::acquired_on.le(d));
    }
    if let Some(term) = search {
        q = q.filter(crate::resources::shared::search::search_condition(
            "tag_number || ' ' || description || ' ' || coalesce(location, '')",
            &term,
        ));
    }
    if let Some(t) = updated_since {
        q = q.filter(assets::updated_at.ge(t));
    }
    let q = match sort.field {
        AssetSort::TagNumber => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<String>()?, c.id)))
                .transpose()?;
            keyset!(q, assets::tag_number, assets::id, sort.desc, after)
        }
        AssetSort::AcquiredOn => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<NaiveDate>()?, c.id)))
                .transpose()?;
            keyset!(q, assets::acquired_on, assets::id, sort.desc, after)
        }
        AssetSort::UpdatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(q, assets::updated_at, assets::id, sort.desc, after)
        }
    };
    let mut conn = state.read_pool().get().await?;
    office_status(&mut conn, office_id, false).await?;
    let rows: Vec<AssetRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: match sort.field {
            AssetSort::TagNumber => serde_json::json!(r.tag_number),
            AssetSort::AcquiredOn => serde_json::json!(r.acquired_on),
            AssetSort::UpdatedAt => serde_json::json!(r.updated_at),
        },
        id: r.id,
    })
    .map(Asset::from);
    Ok(AssetPage::respond(page, &req))
}

/// Get an asset.
///
/// Seen from the office that holds it, or from an office it was transferred from or to.
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(
        ("id" = Uuid, Path, description = "The office's id"),
        ("asset_id" = Uuid, Path, description = "The asset's id"),
    ),
    responses(
        (status = 200, description = "The asset", body = Asset,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/assets/{asset_id}")]
pub async fn get_asset(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (office_id, id) = path.into_inner();
    caller.may_read_assets(office_id)?;
    let mut conn = state.pool.get().await?;
    let asset = load(&mut conn, office_id, id, false).await?;
    Ok(Tagged::new(&asset).ok(&req))
}

/// Add an asset to an office's inventory.
///
/// The office must be open. The tag number is unique across the organisation (409
/// `duplicate` naming `tag_number`). The custodian is a current appointment of the
/// office; the ledger, one of the office's; the entry, an expense of that ledger.
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(("id" = Uuid, Path, description = "The office's id")),
    request_body = NewAsset,
    responses(
        (status = 201, description = "The asset was added", body = Asset,
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
#[post("/{id}/assets")]
pub async fn create_asset(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: JsonBody<NewAsset>,
) -> Result<HttpResponse, ApiError> {
    let office_id = id.into_inner();
    caller.may_write_assets(office_id)?;
    let new = body.0;
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            let status = office_status(conn, office_id, true).await?;
            let mut errors = Vec::new();
            let cost = Money::validate("cost", &new.cost, &mut errors);
            let asset_status = new.status.unwrap_or(AssetStatus::InUse);
            settable_status("status", asset_status, &mut errors);
            let now = Utc::now();
            let asset = Asset {
                id: Uuid::now_v7(),
                office_id,
                tag_number: new.tag_number,
                category: new.category,
                description: new.description,
                acquired_on: new.acquired_on,
                cost: cost.unwrap_or(Money::usd(0)),
                ledger_id: new.ledger_id,
                entry_id: new.entry_id,
                custodian_id: new.custodian_id,
                location: new.location,
                condition: new.condition.unwrap_or(AssetCondition::New),
                status: asset_status,
                disposal: None,
                created_at: now,
                updated_at: now,
            };
            validate_fields(&asset, &mut errors);
            if let Some(c) = asset.custodian_id {
                check_custodian(conn, office_id, c, "custodian_id", &mut errors).await?;
            }
            check_funding(
                conn,
                office_id,
                asset.ledger_id,
                asset.entry_id,
                &mut errors,
            )
            .await?;
            validate::finish(errors)?;
            if status != "open" {
                return Err(ApiError::invalid_state(text!(
                    "The office is closed: it takes no new assets.",
                    "La oficina está cerrada: no admite nuevos bienes."
                )));
            }
            let row: AssetRow = diesel::insert_into(assets::table)
                .values((
                    assets::id.eq(asset.id),
                    assets::office_id.eq(office_id),
                    assets::tag_number.eq(&asset.tag_number),
                    assets::category.eq(asset.category.as_str()),
                    assets::description.eq(&asset.description),
                    assets::acquired_on.eq(asset.acquired_on),
                    assets::cost_amount.eq(asset.cost.minor),
                    assets::cost_currency.eq(asset.cost.currency.code),
                    assets::ledger_id.eq(asset.ledger_id),
                    assets::entry_id.eq(asset.entry_id),
                    assets::custodian_id.eq(asset.custodian_id),
                    assets::location.eq(&asset.location),
                    assets::condition.eq(asset.condition.as_str()),
                    assets::status.eq(asset.status.as_str()),
                ))
                .returning(AssetRow::as_returning())
                .get_result(conn)
                .await?;
            let created = Asset::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "asset",
                created.id,
                None,
                Some(&created),
            )
            .await?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/v1/offices/{office_id}/assets/{}", created.id);
    Ok(Tagged::new(&created).created(&location))
}

/// Update an asset.
///
/// Requires `If-Match` with the current ETag (428 without it, 412 when stale). Only the
/// office that holds it changes it; a disposed asset no longer changes (409).
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(
        ("id" = Uuid, Path, description = "The office's id"),
        ("asset_id" = Uuid, Path, description = "The asset's id"),
        ("If-Match" = String, Header, description = "The ETag of the asset as last read"),
    ),
    request_body(content = AssetPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated asset", body = Asset, headers(("ETag" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 428, response = crate::core::error::responses::PreconditionRequired),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[patch("/{id}/assets/{asset_id}")]
pub async fn update_asset(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: JsonBody<serde_json::Value>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (office_id, id) = path.into_inner();
    caller.may_read_assets(office_id)?;
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let updated = conn
        .transaction(async |conn| {
            let current = load(conn, office_id, id, true).await?;
            caller.may_write_assets(office_id)?;
            if_match.require(&Tagged::new(&current).etag)?;
            validate::reject_read_only(&body.0, READ_ONLY)?;
            validate::reject_null(
                &body.0,
                &[
                    "tag_number",
                    "category",
                    "description",
                    "acquired_on",
                    "cost",
                    "condition",
                    "status",
                ],
            )?;
            let patch: AssetPatch = from_value(body.0.clone())?;
            must_be_held(&current, office_id)?;
            let before = current.clone();
            let mut next = current;
            let mut errors = Vec::new();
            if let Some(v) = patch.tag_number {
                next.tag_number = v;
            }
            if let Some(v) = patch.category {
                next.category = v;
            }
            if let Some(v) = patch.description {
                next.description = v;
            }
            if let Some(v) = patch.acquired_on {
                next.acquired_on = v;
            }
            if let Some(v) = &patch.cost
                && let Some(m) = Money::validate("cost", v, &mut errors)
            {
                next.cost = m;
            }
            if let Some(v) = patch.ledger_id {
                next.ledger_id = v;
            }
            if let Some(v) = patch.entry_id {
                next.entry_id = v;
            }
            if let Some(v) = patch.custodian_id {
                next.custodian_id = v;
            }
            if let Some(v) = patch.location {
                next.location = v;
            }
            if let Some(v) = patch.condition {
                next.condition = v;
            }
            if let Some(v) = patch.status {
                settable_status("status", v, &mut errors);
                next.status = v;
            }
            validate_fields(&next, &mut errors);
            if next.custodian_id != before.custodian_id
                && let Some(c) = next.custodian_id
            {
                check_custodian(conn, office_id, c, "custodian_id", &mut errors).await?;
            }
            if (next.ledger_id, next.entry_id) != (before.ledger_id, before.entry_id) {
                check_funding(conn, office_id, next.ledger_id, next.entry_id, &mut errors).await?;
            }
            validate::finish(errors)?;
            let same = (
                &next.tag_number,
                next.category,
                &next.description,
                next.acquired_on,
                next.cost,
                next.ledger_id,
                next.entry_id,
                next.custodian_id,
                &next.location,
                next.condition,
                next.status,
            ) == (
                &before.tag_number,
                before.category,
                &before.description,
                before.acquired_on,
                before.cost,
                before.ledger_id,
                before.entry_id,
                before.custodian_id,
                &before.location,
                before.condition,
                before.status,
            );
            if same {
                return Ok(before);
            }
            let row: AssetRow = diesel::update(assets::table.find(id))
                .set((
                    assets::tag_number.eq(&next.tag_number),
                    assets::category.eq(next.category.as_str()),
                    assets::description.eq(&next.description),
                    assets::acquired_on.eq(next.acquired_on),
                    assets::cost_amount.eq(next.cost.minor),
                    assets::cost_currency.eq(next.cost.currency.code),
                    assets::ledger_id.eq(next.ledger_id),
                    assets::entry_id.eq(next.entry_id),
                    assets::custodian_id.eq(next.custodian_id),
                    assets::location.eq(&next.location),
                    assets::condition.eq(next.condition.as_str()),
                    assets::status.eq(next.status.as_str()),
                ))
                .returning(AssetRow::as_returning())
                .get_result(conn)
                .await?;
            let after = Asset::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "update",
                "asset",
                id,
                Some(&before),
                Some(&after),
            )
            .await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&updated).ok(&req))
}

/// Dispose of an asset.
///
/// The asset leaves the inventory (status `disposed`) and keeps its record with the
/// disposal's date, reason and proceeds; nothing is deleted. Proceeds only for a sale.
/// A disposed asset is a 409. Honours `If-Match` when given.
#[utoipa::path(
    context_path = "/offices",
    tag = "Assets",
    params(
        ("id" = Uuid, Path, description = "The office's id"),
        ("asset_id" = Uuid, Path, description = "The asset's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the asset as last read"),
    ),
    request_body = NewDisposal,
    responses(
        (status = 200, description = "The disposed asset", body = Asset, headers(("ETag" = String))),
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
#[post("/{id}/assets/{asset_id}/disposal")]
pub async fn dispose_asset(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: JsonBody<NewDisposal>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (office_id, id) = path.into_inner();
    caller.may_read_assets(office_id)?;
    let new = body.0;
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let disposed = conn
        .transaction(async |conn| {
            let current = load(conn, office_id, id, true).await?;
            caller.may_write_assets(office_id)?;
            if_match.check_if_present(&Tagged::new(&current).etag)?;
            let mut errors = Vec::new();
            let proceeds = new
                .proceeds
                .as_ref()
                .and_then(|p| Money::validate("proceeds", p, &mut errors));
            if new.proceeds.is_some() && new.reason != DisposalReason::Sold {
                errors.push(FieldError::new(
                    "proceeds",
                    "not_a_sale",
                    text!(
                        "is only for a sale (reason sold)",
                        "solo corresponde a una venta (reason sold)"
                    ),
                ));
            }
            if new.disposed_on < current.acquired_on {
                errors.push(FieldError::new(
                    "disposed_on",
                    "before_acquired_on",
                    text!(
                        "must not be before the asset's acquired_on",
                        "no puede ser anterior a acquired_on del bien"
                    ),
                ));
            }
            if new.disposed_on > Utc::now().date_naive() {
                errors.push(FieldError::new(
                    "disposed_on",
                    "in_future",
                    text!("must not be after today", "no puede ser posterior a hoy"),
                ));
            }
            let note = new.note.clone();
            if let Some(n) = &note {
                validate::line("note", n, 1000, &mut errors);
            }
            validate::finish(errors)?;
            must_be_held(&current, office_id)?;
            let row: AssetRow = diesel::update(assets::table.find(id))
                .set((
                    assets::status.eq(AssetStatus::Disposed.as_str()),
                    assets::disposed_on.eq(new.disposed_on),
                    assets::disposal_reason.eq(new.reason.as_str()),
                    assets::disposal_proceeds_amount.eq(proceeds.map(|m| m.minor)),
                    assets::disposal_proceeds_currency.eq(proceeds.map(|m| m.currency.code)),
                    assets::disposal_note.eq(&note),
                    assets::custodian_id.eq(None::<Uuid>),
                ))
                .returning(AssetRow::as_returning())
                .get_result(conn)
                .await?;
            let after = Asset::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "dispose",
                "asset",
                id,
                Some(&current),
                Some(&after),
            )
            .await?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&disposed).ok(&req))
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/offices")
        .writes("assets")
        .service(list_assets)
        .service(create_asset)
        .service(get_asset)
        .service(update_asset)
        .service(dispose_asset)
        .service(transfers::transfer_asset)
        .service(transfers::list_transfers)
        .service(transfers::get_transfer)
        .service(depreciation::asset_depreciation)
        .service(counts::list_counts)
        .service(counts::open_count)
        .service(counts::get_count)
        .service(counts::record_count_item)
        .service(counts::close_count);
}
