//! `/v1/ledgers`: each office's expense ledger for a fiscal year and fund, with its
//! append-only, hash-chained entries.
//!
//! ## How an entry is posted
//! In one transaction: the ledger row is locked (`SELECT … FOR UPDATE`), which orders
//! every writer of that ledger; the entry gets the next sequence number, its hash over
//! the previous entry's hash, and is checked against the available balance kept on the
//! ledger row; then the entry, the ledger's running state, the daily totals, the audit
//! event and the idempotency record are written and committed together. Racing writers
//! therefore see each other's effects: none can overdraw, none can skip a number.
//!
//! ## The hash chain (how anyone can re-verify it)
//! `hash = hex(SHA-256(prev_hash + ":" + canonical))`, where `prev_hash` is the previous
//! entry's hash as 64 lower-case hex characters (64 zeros for the first entry) and
//! `canonical` is this JSON array, written without whitespace, UTF-8, with non-ASCII
//! characters not escaped (Python: `json.dumps(a, ensure_ascii=False,
//! separators=(",", ":"))`):
//!
//! `["ogsms-ledger-entry/v1", ledger_id, seq, id, kind, category, entry_date, description,
//! reference, project_id, payee_agency_id, amount_minor, currency, usd_per_unit_e12,
//! usd_minor, effect_minor, reverses_entry_id, created_by, created_at]`
//!
//! ids are lower-case hyphenated UUIDs, dates `YYYY-MM-DD`, `created_at`
//! `YYYY-MM-DDTHH:MM:SS.ffffffZ`, amounts integers (minor units; the rate is US dollars
//! per unit × 10^12), absent values `null`. Every field is in the entry's JSON
//! representation.
//!
//! ## Conversion
//! An entry in another currency uses the exchange rate in force on its date (the latest
//! with `effective_on` ≤ the entry date): `usd_minor = round_half_even(amount_minor ×
//! rate × 100 / 10^exponent)`, computed exactly in integers.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Datelike, NaiveDate, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::TryFutureExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::auth::policy::FinanceScope;
use crate::core::enums::string_enum;
use crate::core::error::{ApiError, FieldError, ProblemType};
use crate::core::http::{JsonBody, Tagged};
use crate::core::i18n::text;
use crate::core::money::{self, MonetaryAmount, Money, SignedAmount};
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate;
use crate::db::audit;
use crate::db::schema::{
    exchange_rates, ledger_closings, ledger_daily_totals, ledger_entries, ledger_totals, ledgers,
    offices, projects,
};
use crate::db::{Constraint, Meaning, Prepared};
use crate::formats::page_type;
use crate::state::AppState;

string_enum! {
    /// The fund a ledger accounts for.
    pub enum Fund {
        RegularFund = "regular_fund" ("Regular Fund", "Fondo Regular"),
        SpecificFund = "specific_fund" ("Specific fund", "Fondo específico"),
        TrustFund = "trust_fund" ("Trust fund", "Fondo fiduciario"),
        DevelopmentCooperationFund = "development_cooperation_fund" ("Development Cooperation Fund", "Fondo de Cooperación para el Desarrollo"),
        IndirectCostRecovery = "indirect_cost_recovery" ("Indirect cost recovery", "Recuperación de costos indirectos"),
    }
}

string_enum! {
    /// Whether entries may still be posted.
    pub enum LedgerStatus {
        Open = "open" ("Open", "Abierto"),
        Closed = "closed" ("Closed", "Cerrado"),
    }
}

string_enum! {
    /// What an entry does to the available balance.
    pub enum EntryKind {
        /// Money made available (+).
        Allocation = "allocation" ("Allocation", "Asignación"),
        /// Money spent (−).
        Expense = "expense" ("Expense", "Gasto"),
        /// Money returned (+).
        Refund = "refund" ("Refund", "Reembolso"),
        /// A correction, up or down (`direction`).
        Adjustment = "adjustment" ("Adjustment", "Ajuste"),
        /// Undoes another entry: same amount, opposite effect.
        Reversal = "reversal" ("Reversal", "Reversión"),
    }
}

string_enum! {
    /// Object of expenditure.
    pub enum Category {
        Personnel = "personnel" ("Personnel", "Personal"),
        Travel = "travel" ("Travel", "Viajes"),
        Rent = "rent" ("Rent", "Alquiler"),
        Utilities = "utilities" ("Utilities", "Servicios públicos"),
        Communications = "communications" ("Communications", "Comunicaciones"),
        Supplies = "supplies" ("Supplies", "Suministros"),
        Equipment = "equipment" ("Equipment", "Equipos"),
        ContractualServices = "contractual_services" ("Contractual services", "Servicios por contrato"),
        ProjectDisbursement = "project_disbursement" ("Project disbursement", "Desembolso a proyectos"),
        BankCharges = "bank_charges" ("Bank charges", "Cargos bancarios"),
        Other = "other" ("Other", "Otros"),
    }
}

string_enum! {
    /// The direction of an adjustment.
    pub enum Direction {
        Increase = "increase" ("Increase", "Aumento"),
        Decrease = "decrease" ("Decrease", "Disminución"),
    }
}

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "ledgers_office_year_fund_key",
        field: "fund",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "ledgers_office_id_fkey",
        field: "office_id",
        meaning: Meaning::Reference,
    },
    Constraint {
        name: "ledger_entries_ledger_seq_key",
        field: "seq",
        meaning: Meaning::Unique,
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

pub(crate) const ZERO_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

// ---------------------------------------------------------------------------------
// Ledgers

/// An office's ledger for one fiscal year and fund, in US dollars.
#[derive(Serialize, ToSchema)]
pub struct Ledger {
    pub id: Uuid,
    pub office_id: Uuid,
    #[schema(example = 2026)]
    pub fiscal_year: i32,
    pub fund: Fund,
    /// The donor agreement of a specific or trust fund.
    pub fund_code: Option<String>,
    /// Currency of account: always `USD`.
    #[schema(example = "USD")]
    pub currency: String,
    pub status: LedgerStatus,
    /// Entries dated on or before this day are frozen.
    pub closed_through: Option<NaiveDate>,
    pub entry_count: i64,
    /// The hash of the last entry (64 zeros before the first).
    pub head_hash: String,
    /// Allocations − expenses + refunds ± adjustments ∓ reversals.
    pub available: MonetaryAmount,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = ledgers)]
struct LedgerRow {
    id: Uuid,
    office_id: Uuid,
    fiscal_year: i32,
    fund: String,
    fund_code: Option<String>,
    currency: String,
    status: String,
    closed_through: Option<NaiveDate>,
    entry_count: i64,
    head_hash: String,
    available_minor: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<LedgerRow> for Ledger {
    fn from(r: LedgerRow) -> Self {
        Ledger {
            id: r.id,
            office_id: r.office_id,
            fiscal_year: r.fiscal_year,
            fund: Fund::from_db(&r.fund),
            fund_code: r.fund_code,
            currency: r.currency,
            status: LedgerStatus::from_db(&r.status),
            closed_through: r.closed_through,
            entry_count: r.entry_count,
            head_hash: r.head_hash,
            available: Money::usd(r.available_minor).to_json(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new ledger.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLedger {
    pub office_id: Uuid,
    #[schema(example = 2026)]
    pub fiscal_year: i32,
    pub fund: Fund,
    /// Required for a specific or trust fund (the donor agreement), refused otherwise.
    pub fund_code: Option<String>,
}

/// Whether the caller sees the ledger at all (else 404).
async fn ledger_visible(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    ledger: &LedgerRow,
) -> Result<bool, ApiError> {
    Ok(match caller.finance_scope() {
        FinanceScope::All => true,
        FinanceScope::Office(o) => o == ledger.office_id,
        FinanceScope::Department(d) => {
            diesel::select(diesel::dsl::exists(
                ledger_entries::table
                    .inner_join(projects::table)
                    .filter(ledger_entries::ledger_id.eq(ledger.id))
                    .filter(projects::department_id.eq(d)),
            ))
            .get_result(conn)
            .await?
        }
        FinanceScope::Nothing => false,
    })
}

/// Loads a ledger the caller may see (404 otherwise), locking it when `for_update`.
async fn load_ledger(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    for_update: bool,
) -> Result<LedgerRow, ApiError> {
    let q = ledgers::table.find(id).select(LedgerRow::as_select());
    let row = if for_update {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    visible_or_404(conn, caller, row).await
}

/// The ledger read, when there is one and the caller sees it; 404 otherwise.
async fn visible_or_404(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    row: Option<LedgerRow>,
) -> Result<LedgerRow, ApiError> {
    let row = row.ok_or_else(ApiError::not_found)?;
    if !ledger_visible(conn, caller, &row).await? {
        return Err(ApiError::not_found());
    }
    Ok(row)
}

page_type!(LedgerPage, Ledger, "A page of ledgers.");

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum LedgerSort {
    CreatedAt,
    UpdatedAt,
}

impl SortField for LedgerSort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("created_at", LedgerSort::CreatedAt),
        ("updated_at", LedgerSort::UpdatedAt),
    ];
    const DEFAULT: Self = LedgerSort::CreatedAt;
}

/// Query parameters of the ledger list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `created_at` (default) or `updated_at`, `-` for descending.
    pub sort: Option<String>,
    /// Offices (ids), comma-separated.
    pub office_id: Option<String>,
    /// Fiscal year.
    #[param(value_type = Option<i32>)]
    pub fiscal_year: Option<String>,
    /// Funds, comma-separated.
    pub fund: Option<String>,
    /// `open` and/or `closed`.
    pub status: Option<String>,
    /// Ledgers changed (an entry posted, a period closed) at or after this instant.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// List the ledgers the caller may see.
#[utoipa::path(
    tag = "Ledgers",
    params(LedgerQuery),
    responses(
        (status = 200, description = "A page of ledgers", body = LedgerPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/ledgers")]
pub async fn list_ledgers(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<LedgerQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<LedgerSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let office_ids = validate::param_uuids("office_id", query.office_id.as_deref())?;
    let year = validate::param_i32("fiscal_year", query.fiscal_year.as_deref())?;
    let funds = query
        .fund
        .as_deref()
        .map(|s| Fund::parse_filter("fund", s))
        .transpose()?;
    let statuses = query
        .status
        .as_deref()
        .map(|s| LedgerStatus::parse_filter("status", s))
        .transpose()?;
    let since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;

    let mut q = ledgers::table.select(LedgerRow::as_select()).into_boxed();
    match caller.finance_scope() {
        FinanceScope::All => {}
        FinanceScope::Office(o) => q = q.filter(ledgers::office_id.eq(o)),
        FinanceScope::Department(d) => {
            q = q.filter(diesel::dsl::exists(
                ledger_entries::table
                    .inner_join(projects::table)
                    .filter(ledger_entries::ledger_id.eq(ledgers::id))
                    .filter(projects::department_id.eq(d)),
            ))
        }
        FinanceScope::Nothing => q = q.filter(diesel::dsl::sql::<diesel::sql_types::Bool>("false")),
    }
    if let Some(v) = office_ids {
        q = crate::core::pagination::filter_in!(q, ledgers::office_id, v);
    }
    if let Some(y) = year {
        q = q.filter(ledgers::fiscal_year.eq(y));
    }
    if let Some(v) = funds {
        q = crate::core::pagination::filter_in!(q, ledgers::fund, v);
    }
    if let Some(v) = statuses {
        q = crate::core::pagination::filter_in!(q, ledgers::status, v);
    }
    if let Some(t) = since {
        q = q.filter(ledgers::updated_at.ge(t));
    }
    let after = after
        .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
        .transpose()?;
    let q = match sort.field {
        LedgerSort::CreatedAt => keyset!(q, ledgers::created_at, ledgers::id, sort.desc, after),
        LedgerSort::UpdatedAt => keyset!(q, ledgers::updated_at, ledgers::id, sort.desc, after),
    };
    let mut conn = state.pool.get().await?;
    let rows: Vec<LedgerRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: match sort.field {
            LedgerSort::CreatedAt => serde_json::json!(r.created_at),
            LedgerSort::UpdatedAt => serde_json::json!(r.updated_at),
        },
        id: r.id,
    })
    .map(Ledger::from);
    Ok(LedgerPage::respond(page, &req))
}

/// Get a ledger.
#[utoipa::path(
    tag = "Ledgers",
    params(("id" = Uuid, Path, description = "The ledger's id")),
    responses(
        (status = 200, description = "The ledger", body = Ledger, headers(("ETag" = String))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/ledgers/{id}")]
pub async fn get_ledger(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let row = load_ledger(&mut conn, &caller, id.into_inner(), false).await?;
    Ok(Tagged::new(&Ledger::from(row)).ok(&req))
}

/// Open a ledger (Coordinating Office).
#[utoipa::path(
    tag = "Ledgers",
    request_body = NewLedger,
    responses(
        (status = 201, description = "The ledger", body = Ledger, headers(("ETag" = String), ("Location" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/ledgers")]
pub async fn create_ledger(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewLedger>,
) -> Result<HttpResponse, ApiError> {
    caller.may_manage_finance()?;
    let new = body.0;
    let fund_code = new
        .fund_code
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let mut errors = Vec::new();
    if !(1948..=2200).contains(&new.fiscal_year) {
        errors.push(FieldError::new(
            "fiscal_year",
            "out_of_range",
            text!(
                "must be a year between 1948 and 2200",
                "debe ser un año entre 1948 y 2200"
            ),
        ));
    }
    let earmarked = matches!(new.fund, Fund::SpecificFund | Fund::TrustFund);
    match (&fund_code, earmarked) {
        (None, true) => errors.push(FieldError::new(
            "fund_code",
            "required",
            text!(
                "a specific or trust fund names its donor agreement",
                "un fondo específico o fiduciario indica su acuerdo con el donante"
            ),
        )),
        (Some(_), false) => errors.push(FieldError::new(
            "fund_code",
            "not_allowed",
            text!(
                "only specific and trust funds have a fund code",
                "solo los fondos específicos y fiduciarios tienen código"
            ),
        )),
        (Some(c), true) => validate::line("fund_code", c, 64, &mut errors),
        (None, false) => {}
    }
    validate::finish(errors)?;
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            let office: Option<String> = offices::table
                .find(new.office_id)
                .select(offices::status)
                .first(conn)
                .await
                .optional()?;
            match office.as_deref() {
                None => {
                    return Err(ApiError::invalid_field(
                        "office_id",
                        "unknown",
                        text!("no such office", "no existe esa oficina"),
                    ));
                }
                Some("closed") => {
                    return Err(ApiError::invalid_state(text!(
                        "The office is closed.",
                        "La oficina está cerrada."
                    )));
                }
                _ => {}
            }
            let row: LedgerRow = diesel::insert_into(ledgers::table)
                .values((
                    ledgers::id.eq(Uuid::now_v7()),
                    ledgers::office_id.eq(new.office_id),
                    ledgers::fiscal_year.eq(new.fiscal_year),
                    ledgers::fund.eq(new.fund.as_str()),
                    ledgers::fund_code.eq(&fund_code),
                ))
                .returning(LedgerRow::as_returning())
                .get_result(conn)
                .await?;
            let ledger = Ledger::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "ledger",
                ledger.id,
                None,
                Some(&ledger),
            )
            .await?;
            Ok::<_, ApiError>(ledger)
        })
        .await?;
    let location = format!("/v1/ledgers/{}", created.id);
    Ok(Tagged::new(&created).created(&location))
}

// ---------------------------------------------------------------------------------
// Entries

/// An entry of a ledger. Entries are never changed or removed; a mistake is undone by
/// a reversal.
#[derive(Serialize, ToSchema, Clone)]
pub struct Entry {
    pub id: Uuid,
    pub ledger_id: Uuid,
    /// 1, 2, 3, … within the ledger, without gaps.
    pub seq: i64,
    pub kind: EntryKind,
    /// For expenses and refunds (and reversals of them).
    pub category: Option<Category>,
    pub entry_date: NaiveDate,
    pub description: String,
    /// The voucher, invoice or transfer reference.
    pub reference: Option<String>,
    pub project_id: Option<Uuid>,
    pub payee_agency_id: Option<Uuid>,
    /// The amount as posted, in its currency.
    pub amount: MonetaryAmount,
    /// The exchange rate used (US dollars per unit), when not posted in USD.
    pub rate: Option<String>,
    /// The amount in US dollars.
    pub amount_usd: MonetaryAmount,
    /// The signed effect on the available balance, in US dollars.
    pub effect: SignedAmount,
    /// For a reversal: the entry it reverses.
    pub reverses_entry_id: Option<Uuid>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub prev_hash: String,
    pub hash: String,
    /// The same amounts as integers (minor units), as hashed.
    pub amount_minor: i64,
    pub usd_minor: i64,
    pub effect_minor: i64,
    pub usd_per_unit_e12: Option<i64>,
}

#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = ledger_entries)]
pub(crate) struct EntryRow {
    pub(crate) id: Uuid,
    pub(crate) ledger_id: Uuid,
    pub(crate) seq: i64,
    pub(crate) kind: String,
    pub(crate) category: Option<String>,
    pub(crate) entry_date: NaiveDate,
    pub(crate) description: String,
    pub(crate) reference: Option<String>,
    pub(crate) project_id: Option<Uuid>,
    pub(crate) payee_agency_id: Option<Uuid>,
    pub(crate) amount_minor: i64,
    pub(crate) currency: String,
    pub(crate) usd_per_unit_e12: Option<i64>,
    pub(crate) usd_minor: i64,
    pub(crate) effect_minor: i64,
    pub(crate) reverses_entry_id: Option<Uuid>,
    pub(crate) created_by: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

impl EntryRow {
    /// The canonical serialization that is hashed (see the module documentation).
    fn canonical(&self) -> String {
        let opt = |v: &Option<Uuid>| {
            v.map(|u| serde_json::Value::String(u.to_string()))
                .unwrap_or(serde_json::Value::Null)
        };
        serde_json::json!([
            "ogsms-ledger-entry/v1",
            self.ledger_id.to_string(),
            self.seq,
            self.id.to_string(),
            self.kind,
            self.category,
            self.entry_date.format("%Y-%m-%d").to_string(),
            self.description,
            self.reference,
            opt(&self.project_id),
            opt(&self.payee_agency_id),
            self.amount_minor,
            self.currency,
            self.usd_per_unit_e12,
            self.usd_minor,
            self.effect_minor,
            opt(&self.reverses_entry_id),
            self.created_by,
            self.created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        ])
        .to_string()
    }

    pub(crate) fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(b":");
        h.update(self.canonical().as_bytes());
        hex::encode(h.finalize())
    }
}

impl From<EntryRow> for Entry {
    fn from(r: EntryRow) -> Self {
        let exp = money::exponent(&r.currency).unwrap_or(2) as usize;
        Entry {
            id: r.id,
            ledger_id: r.ledger_id,
            seq: r.seq,
            kind: EntryKind::from_db(&r.kind),
            category: r.category.as_deref().map(Category::from_db),
            entry_date: r.entry_date,
            description: r.description,
            reference: r.reference,
            project_id: r.project_id,
            payee_agency_id: r.payee_agency_id,
            amount: MonetaryAmount {
                amount: money::format_decimal(r.amount_minor, exp),
                currency: r.currency,
            },
            rate: r.usd_per_unit_e12.map(money::format_rate),
            amount_usd: Money::usd(r.usd_minor).to_json(),
            effect: Money::usd(r.effect_minor).to_signed(),
            reverses_entry_id: r.reverses_entry_id,
            created_by: r.created_by,
            created_at: r.created_at,
            prev_hash: r.prev_hash,
            hash: r.hash,
            amount_minor: r.amount_minor,
            usd_minor: r.usd_minor,
            effect_minor: r.effect_minor,
            usd_per_unit_e12: r.usd_per_unit_e12,
        }
    }
}

/// A new entry. (Reversals have their own operation.)
#[derive(Deserialize, ToSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// `allocation`, `expense`, `refund` or `adjustment`.
    pub kind: EntryKind,
    /// Required for expenses and refunds; refused otherwise.
    pub category: Option<Category>,
    /// Required for adjustments; refused otherwise.
    pub direction: Option<Direction>,
    /// Within the ledger's fiscal year, after its closed periods.
    pub entry_date: NaiveDate,
    #[schema(example = "Airfare Lima–Washington, electoral observation mission")]
    pub description: String,
    pub reference: Option<String>,
    /// A project of the ledger's office.
    pub project_id: Option<Uuid>,
    /// The executing agency paid.
    pub payee_agency_id: Option<Uuid>,
    pub amount: MonetaryAmount,
}

/// Reversing an entry.
#[derive(Deserialize, ToSchema, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewReversal {
    /// Defaults to today.
    pub entry_date: Option<NaiveDate>,
    /// Defaults to "Reversal of entry N".
    pub description: Option<String>,
    pub reference: Option<String>,
}

/// The rate in force on `date` for `currency`: the latest on or before it.
async fn rate_on(
    mut conn: &AsyncPgConnection,
    currency: &str,
    date: NaiveDate,
) -> QueryResult<Option<i64>> {
    exchange_rates::table
        .filter(exchange_rates::currency.eq(currency))
        .filter(exchange_rates::effective_on.le(date))
        .order(exchange_rates::effective_on.desc())
        .select(exchange_rates::usd_per_unit_e12)
        .first(&mut conn)
        .await
        .optional()
}

/// What a posting carries once the body is checked.
struct Posting {
    kind: EntryKind,
    category: Option<Category>,
    entry_date: NaiveDate,
    description: String,
    reference: Option<String>,
    project_id: Option<Uuid>,
    payee_agency_id: Option<Uuid>,
    amount: Money,
    /// Sign of the effect: +1 or −1.
    sign: i64,
    reverses: Option<Uuid>,
}

fn check_new_entry(new: &NewEntry) -> Result<Posting, ApiError> {
    let mut errors = Vec::new();
    let amount = Money::validate("amount", &new.amount, &mut errors);
    if amount.is_some_and(|a| a.minor == 0) {
        errors.push(FieldError::new(
            "amount.amount",
            "not_positive",
            text!("must be greater than zero", "debe ser mayor que cero"),
        ));
    }
    let needs_category = matches!(new.kind, EntryKind::Expense | EntryKind::Refund);
    match (needs_category, new.category) {
        (true, None) => errors.push(FieldError::new(
            "category",
            "required",
            text!(
                "expenses and refunds name their object of expenditure",
                "los gastos y reembolsos indican su objeto de gasto"
            ),
        )),
        (false, Some(_)) => errors.push(FieldError::new(
            "category",
            "not_allowed",
            text!(
                "only expenses and refunds have a category",
                "solo los gastos y reembolsos tienen categoría"
            ),
        )),
        _ => {}
    }
    let sign = match (new.kind, new.direction) {
        (EntryKind::Adjustment, Some(Direction::Increase)) => 1,
        (EntryKind::Adjustment, Some(Direction::Decrease)) => -1,
        (EntryKind::Adjustment, None) => {
            errors.push(FieldError::new(
                "direction",
                "required",
                text!(
                    "an adjustment says whether it increases or decreases",
                    "un ajuste indica si aumenta o disminuye"
                ),
            ));
            1
        }
        (_, Some(_)) => {
            errors.push(FieldError::new(
                "direction",
                "not_allowed",
                text!(
                    "only adjustments have a direction",
                    "solo los ajustes tienen dirección"
                ),
            ));
            1
        }
        (EntryKind::Allocation | EntryKind::Refund, None) => 1,
        (EntryKind::Expense, None) => -1,
        (EntryKind::Reversal, None) => {
            errors.push(FieldError::new(
                "kind",
                "use_reversal_operation",
                text!(
                    "post reversals with POST /v1/ledgers/{{id}}/entries/{{entry_id}}/reversal",
                    "las reversiones se registran con POST /v1/ledgers/{{id}}/entries/{{entry_id}}/reversal"
                ),
            ));
            1
        }
    };
    let description = new.description.trim().to_owned();
    validate::line("description", &description, 1000, &mut errors);
    let reference = new
        .reference
        .as_ref()
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if let Some(r) = &reference {
        validate::line("reference", r, 100, &mut errors);
    }
    validate::finish(errors)?;
    Ok(Posting {
        kind: new.kind,
        category: new.category,
        entry_date: new.entry_date,
        description,
        reference,
        project_id: new.project_id,
        payee_agency_id: new.payee_agency_id,
        amount: amount.expect("checked above"),
        sign,
        reverses: None,
    })
}

fn insufficient_funds(available: i64, needed: i64) -> ApiError {
    let available = money::format_decimal(available, 2);
    let needed = money::format_decimal(needed, 2);
    ApiError::new(
        ProblemType::InsufficientFunds,
        text!(
            "The entry needs USD {needed} but the ledger has USD {available} available.",
            "El asiento necesita USD {needed} pero el libro tiene USD {available} disponibles."
        ),
    )
}

/// Adds one entry to every summary kept with the entries, in one statement (each
/// data-modifying `WITH` runs exactly once): the ledger's daily, monthly and all-time
/// totals, its monthly spending when the entry has a category (`$4 <> ''`), and its
/// project's daily totals when it is tagged to one (`$7`). Binds: ledger,
/// entry date, kind, category (`''` for none), effect and USD amount in minor units,
/// project.
const ADD_TO_TOTALS: &str = "\
WITH daily AS (
  INSERT INTO ledger_daily_totals AS t (ledger_id, entry_date, kind, category, effect_minor, usd_minor, entries)
  VALUES ($1, $2, $3, $4, $5, $6, 1)
  ON CONFLICT (ledger_id, entry_date, kind, category) DO UPDATE
    SET effect_minor = t.effect_minor + EXCLUDED.effect_minor,
        usd_minor = t.usd_minor + EXCLUDED.usd_minor, entries = t.entries + 1
), monthly AS (
  INSERT INTO ledger_monthly_totals AS t (ledger_id, month, kind, category, effect_minor, usd_minor, entries)
  VALUES ($1, date_trunc('month', $2::timestamp)::date, $3, $4, $5, $6, 1)
  ON CONFLICT (ledger_id, month, kind, category) DO UPDATE
    SET effect_minor = t.effect_minor + EXCLUDED.effect_minor,
        usd_minor = t.usd_minor + EXCLUDED.usd_minor, entries = t.entries + 1
), spending AS (
  INSERT INTO ledger_monthly_spending AS t (ledger_id, month, effect_minor, entries)
  SELECT $1, date_trunc('month', $2::timestamp)::date, $5, 1 WHERE $4 <> ''
  ON CONFLICT (ledger_id, month) DO UPDATE
    SET effect_minor = t.effect_minor + EXCLUDED.effect_minor, entries = t.entries + 1
), overall AS (
  INSERT INTO ledger_totals AS t (ledger_id, kind, category, effect_minor, usd_minor, entries)
  VALUES ($1, $3, $4, $5, $6, 1)
  ON CONFLICT (ledger_id, kind, category) DO UPDATE
    SET effect_minor = t.effect_minor + EXCLUDED.effect_minor,
        usd_minor = t.usd_minor + EXCLUDED.usd_minor, entries = t.entries + 1
)
INSERT INTO project_daily_totals AS t (project_id, ledger_id, entry_date, kind, category, effect_minor, usd_minor, entries)
SELECT $7, $1, $2, $3, $4, $5, $6, 1 WHERE $7 IS NOT NULL
ON CONFLICT (project_id, ledger_id, entry_date, kind, category) DO UPDATE
  SET effect_minor = t.effect_minor + EXCLUDED.effect_minor,
      usd_minor = t.usd_minor + EXCLUDED.usd_minor, entries = t.entries + 1";

/// Appends a posting to a locked ledger: checks, hashes, writes the entry, the running
/// state, the daily totals and the audit event. Call inside the transaction that
/// locked `ledger`.
async fn append(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    ledger: &LedgerRow,
    p: Posting,
    claim: Option<&KeyClaim<'_>>,
) -> Result<Created, ApiError> {
    caller.may_post_entries(ledger.office_id)?;
    if ledger.status == "closed" {
        return Err(ApiError::new(
            ProblemType::PeriodClosed,
            text!("The ledger is closed.", "El libro está cerrado."),
        ));
    }
    if let Some(through) = ledger.closed_through
        && p.entry_date <= through
    {
        return Err(ApiError::new(
            ProblemType::PeriodClosed,
            text!(
                "The period through {through} is closed; date the entry after it.",
                "El período hasta {through} está cerrado; feche el asiento después."
            ),
        )
        .with_errors(vec![FieldError::new(
            "entry_date",
            "period_closed",
            text!("falls in a closed period", "cae en un período cerrado"),
        )]));
    }
    let mut errors = Vec::new();
    if p.entry_date.year() != ledger.fiscal_year {
        let year = ledger.fiscal_year;
        errors.push(FieldError::new(
            "entry_date",
            "outside_fiscal_year",
            text!(
                "must fall in the ledger's fiscal year {year}",
                "debe caer en el año fiscal {year} del libro"
            ),
        ));
    }
    // The checks that read the database, and the database's clock, in one pipeline: the
    // statements go out together and come back in one round trip.
    let currency = p.amount.currency.code.to_owned();
    let (project_office, agency_exists, rate, created_at) = {
        let c: &AsyncPgConnection = conn;
        futures_util::try_join!(
            async {
                match p.project_id {
                    None => Ok(None),
                    Some(project) => projects::table
                        .find(project)
                        .select(projects::office_id)
                        .first::<Uuid>(&mut { c })
                        .await
                        .optional(),
                }
            },
            async {
                match p.payee_agency_id {
                    None => Ok(true),
                    Some(agency) => {
                        diesel::select(diesel::dsl::exists(
                            crate::db::schema::executing_agencies::table.find(agency),
                        ))
                        .get_result::<bool>(&mut { c })
                        .await
                    }
                }
            },
            async {
                if currency == "USD" {
                    Ok(None)
                } else {
                    rate_on(c, &currency, p.entry_date).await
                }
            },
            // The database's clock, read inside the transaction: incremental sync relies
            // on it never being before the transaction's start (see `crate::core::sync`).
            Prepared(diesel::select(diesel::dsl::sql::<
                diesel::sql_types::Timestamptz,
            >("clock_timestamp()")))
            .get_result::<DateTime<Utc>>(&mut { c }),
        )?
    };
    if p.project_id.is_some() && project_office != Some(ledger.office_id) {
        errors.push(FieldError::new(
            "project_id",
            "not_of_this_office",
            text!(
                "must be a project of the ledger's office",
                "debe ser un proyecto de la oficina del libro"
            ),
        ));
    }
    if !agency_exists {
        errors.push(FieldError::new(
            "payee_agency_id",
            "unknown",
            text!(
                "no such executing agency",
                "no existe esa agencia ejecutora"
            ),
        ));
    }
    if currency != "USD" && rate.is_none() {
        let date = p.entry_date;
        errors.push(FieldError::new(
            "amount.currency",
            "no_rate",
            text!(
                "has no exchange rate in force on {date}",
                "no tiene tipo de cambio vigente el {date}"
            ),
        ));
    }
    validate::finish(errors)?;
    let usd_minor = match rate {
        None => p.amount.minor,
        Some(r) => money::to_usd_minor(p.amount.minor, p.amount.currency.exponent, r)
            .filter(|v| *v > 0)
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "amount.amount",
                    "out_of_range",
                    text!(
                        "converts to an amount out of range",
                        "convierte a un monto fuera de rango"
                    ),
                )
            })?,
    };
    let effect = p.sign * usd_minor;
    let available = ledger
        .available_minor
        .checked_add(effect)
        .ok_or_else(|| insufficient_funds(ledger.available_minor, usd_minor))?;
    if available < 0 {
        return Err(insufficient_funds(ledger.available_minor, usd_minor));
    }
    let mut row = EntryRow {
        id: Uuid::now_v7(),
        ledger_id: ledger.id,
        seq: ledger.entry_count + 1,
        kind: p.kind.as_str().to_owned(),
        category: p.category.map(|c| c.as_str().to_owned()),
        entry_date: p.entry_date,
        description: p.description,
        reference: p.reference,
        project_id: p.project_id,
        payee_agency_id: p.payee_agency_id,
        amount_minor: p.amount.minor,
        currency,
        usd_per_unit_e12: rate,
        usd_minor,
        effect_minor: effect,
        reverses_entry_id: p.reverses,
        created_by: caller.sub.clone(),
        created_at: created_at.trunc_subsecs(6),
        prev_hash: ledger.head_hash.clone(),
        hash: String::new(),
    };
    row.hash = row.compute_hash();
    let entry = Entry::from(row.clone());
    let action = if entry.kind == EntryKind::Reversal {
        "reverse"
    } else {
        "post"
    };
    // The entry, the ledger's running state, every summary and the audit event, in one
    // pipeline (one round trip); the transaction makes them one change.
    let location = format!("/v1/ledgers/{}/entries/{}", entry.ledger_id, entry.id);
    let tagged = Tagged::new(&entry);
    let c: &AsyncPgConnection = conn;
    let actor = caller.actor();
    futures_util::try_join!(
        Prepared(diesel::insert_into(ledger_entries::table).values(&row))
            .execute(&mut { c })
            .map_err(ApiError::from),
        Prepared(diesel::update(ledgers::table.find(ledger.id)).set((
            ledgers::entry_count.eq(row.seq),
            ledgers::head_hash.eq(&row.hash),
            ledgers::available_minor.eq(available),
        )))
        .execute(&mut { c })
        .map_err(ApiError::from),
        {
            use diesel::sql_types::{BigInt, Date, Nullable, Text, Uuid as SqlUuid};
            Prepared(
                diesel::sql_query(ADD_TO_TOTALS)
                    .bind::<SqlUuid, _>(ledger.id)
                    .bind::<Date, _>(row.entry_date)
                    .bind::<Text, _>(&row.kind)
                    .bind::<Text, _>(row.category.as_deref().unwrap_or_default())
                    .bind::<BigInt, _>(effect)
                    .bind::<BigInt, _>(usd_minor)
                    .bind::<Nullable<SqlUuid>, _>(row.project_id),
            )
            .execute(&mut { c })
            .map_err(ApiError::from)
        },
        async {
            audit::record(
                c,
                &actor,
                action,
                "ledger_entry",
                entry.id,
                None,
                Some(&entry),
            )
            .await
        },
        async {
            match claim {
                Some(claim) => store_key(c, caller, claim, &tagged.bytes, &location).await,
                None => Ok(()),
            }
        },
    )?;
    Ok(Created { tagged, location })
}

/// How long idempotency keys are kept (the contract promises at least 24 hours).
pub const IDEMPOTENCY_RETENTION: chrono::TimeDelta = chrono::TimeDelta::hours(48);

/// Removes idempotency keys older than [`IDEMPOTENCY_RETENTION`], every hour, until the
/// process ends.
pub fn spawn_idempotency_purge(pool: crate::db::DbPool) {
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let result = async {
                use crate::db::schema::idempotency_keys as k;
                let mut conn = pool.get().await?;
                let n = diesel::delete(
                    k::table.filter(k::created_at.lt(Utc::now() - IDEMPOTENCY_RETENTION)),
                )
                .execute(&mut conn)
                .await?;
                Ok::<_, ApiError>(n)
            }
            .await;
            match result {
                Ok(n) if n > 0 => log::info!("purged {n} idempotency keys"),
                Ok(_) => {}
                Err(e) => log::warn!("purging idempotency keys: {e}"),
            }
        }
    });
}

/// A stored response to replay for an Idempotency-Key.
struct Stored {
    status: u16,
    body: Vec<u8>,
    location: Option<String>,
}

/// Reads and checks the `Idempotency-Key` header (1–255 visible ASCII characters).
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
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
fn request_hash(path: &str, body: &serde_json::Value) -> String {
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

fn write_sorted(v: &serde_json::Value, out: &mut String) {
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
async fn claim_key(
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
    if !locked.locked {
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
struct KeyClaim<'a> {
    key: &'a str,
    hash: &'a str,
}

/// A written entry's representation and address, as answered and as stored for replays.
struct Created {
    tagged: Tagged,
    location: String,
}

/// Stores the response to a claimed key (in the write's pipeline).
async fn store_key(
    mut conn: &AsyncPgConnection,
    caller: &Caller,
    claim: &KeyClaim<'_>,
    body: &[u8],
    location: &str,
) -> Result<(), ApiError> {
    let KeyClaim { key, hash } = *claim;
    use crate::db::schema::idempotency_keys as k;
    Prepared(diesel::insert_into(k::table).values((
        k::caller_sub.eq(&caller.sub),
        k::key.eq(key),
        k::request_hash.eq(hash),
        k::response_status.eq(201i16),
        k::response_body.eq(body),
        k::location.eq(location),
    )))
    .execute(&mut conn)
    .await?;
    Ok(())
}

fn replay(stored: Stored) -> HttpResponse {
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

/// A write to a ledger's entries.
enum Action {
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

async fn run(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    action: Action,
    claim: Option<&KeyClaim<'_>>,
) -> Result<Created, ApiError> {
    match action {
        Action::Post { ledger_id, posting } => {
            let ledger = load_ledger(conn, caller, ledger_id, true).await?;
            append(conn, caller, &ledger, posting, claim).await
        }
        Action::Reverse {
            ledger_id,
            entry_id,
            new,
        } => reverse(conn, caller, ledger_id, entry_id, new, claim).await,
    }
}

/// Runs `action` with the idempotency protocol around it.
async fn post_idempotently(
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
        .transaction(async |conn| {
            if let Some(claim) = &claim
                && let Some(stored) = claim_key(conn, caller, claim.key, claim.hash).await?
            {
                return Ok::<_, ApiError>(Err(stored));
            }
            Ok(Ok(run(conn, caller, action, claim.as_ref()).await?))
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
#[post("/ledgers/{id}/entries")]
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
#[post("/ledgers/{id}/entries/{entry_id}/reversal")]
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
        validate::line("description", d.trim(), 1000, &mut errors);
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
async fn reverse(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    entry_id: Uuid,
    new: NewReversal,
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
    let posting = Posting {
        kind: EntryKind::Reversal,
        category: original.category.as_deref().map(Category::from_db),
        entry_date: new.entry_date.unwrap_or_else(|| Utc::now().date_naive()),
        description: new
            .description
            .map(|d| d.trim().to_owned())
            .unwrap_or_else(|| format!("Reversal of entry {seq}")),
        reference: new
            .reference
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
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
async fn append_with_rate(
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

/// Kind, category (`''` for none), effect, USD amount and entries of a ledger's totals.
type TotalsRow = (String, String, i64, i64, i64);

/// Get an entry.
#[utoipa::path(
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
#[get("/ledgers/{id}/entries/{entry_id}")]
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
type BoxedEntries = diesel::dsl::IntoBoxed<
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
fn entries_query(caller: &Caller, query: &EntryQuery) -> Result<BoxedEntries, ApiError> {
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
#[get("/ledgers/{id}/entries")]
pub async fn list_entries(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<EntryQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<EntrySort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let mut conn = state.pool.get().await?;
    load_ledger(&mut conn, &caller, id, false).await?;
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

/// Totals of one kind.
#[derive(Serialize, ToSchema)]
pub struct KindTotal {
    pub kind: EntryKind,
    pub entries: i64,
    /// Gross amount in USD.
    pub amount: MonetaryAmount,
    /// Signed effect on the available balance.
    pub effect: SignedAmount,
}

/// Net spending on one object of expenditure (expenses − refunds, net of reversals).
#[derive(Serialize, ToSchema)]
pub struct CategoryTotal {
    pub category: Category,
    pub spent: SignedAmount,
}

/// A ledger's balance as of a day.
#[derive(Serialize, ToSchema)]
pub struct Balance {
    pub ledger_id: Uuid,
    /// Entries dated on or before this day count (all entries when absent).
    pub as_of: Option<NaiveDate>,
    pub by_kind: Vec<KindTotal>,
    pub by_category: Vec<CategoryTotal>,
    /// Allocations − expenses + refunds ± adjustments ∓ reversals.
    pub available: MonetaryAmount,
    pub entry_count: i64,
}

/// Query parameters of the balance.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BalanceQuery {
    /// Count entries dated on or before this day.
    #[param(value_type = Option<NaiveDate>)]
    pub as_of: Option<String>,
}

/// A ledger's balance: totals by kind and category and the available balance, in USD.
///
/// Read from totals kept with every entry, never by summing the entries.
#[utoipa::path(
    tag = "Ledgers",
    params(("id" = Uuid, Path, description = "The ledger's id"), BalanceQuery),
    responses(
        (status = 200, description = "The balance", body = Balance),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/ledgers/{id}/balance")]
pub async fn get_balance(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<BalanceQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let as_of = validate::param_date("as_of", query.as_of.as_deref())?;
    let mut conn = state.pool.get().await?;
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    // The ledger and, in the same pipeline (one round trip), without `as_of` its totals
    // over all dates (a few dozen rows), with it the daily totals up to that day. The
    // totals are read before the caller is checked but shown only after.
    let (ledger, rows): (Option<LedgerRow>, Vec<TotalsRow>) = {
        let c: &AsyncPgConnection = &conn;
        futures_util::try_join!(
            async {
                ledgers::table
                    .find(id)
                    .select(LedgerRow::as_select())
                    .first(&mut { c })
                    .await
                    .optional()
            },
            async {
                match as_of {
                    None => {
                        ledger_totals::table
                            .filter(ledger_totals::ledger_id.eq(id))
                            .select((
                                ledger_totals::kind,
                                ledger_totals::category,
                                ledger_totals::effect_minor,
                                ledger_totals::usd_minor,
                                ledger_totals::entries,
                            ))
                            .load(&mut { c })
                            .await
                    }
                    Some(d) => {
                        ledger_daily_totals::table
                            .filter(ledger_daily_totals::ledger_id.eq(id))
                            .filter(ledger_daily_totals::entry_date.le(d))
                            .group_by((ledger_daily_totals::kind, ledger_daily_totals::category))
                            .select((
                                ledger_daily_totals::kind,
                                ledger_daily_totals::category,
                                sql::<BigInt>("SUM(effect_minor)::bigint"),
                                sql::<BigInt>("SUM(usd_minor)::bigint"),
                                sql::<BigInt>("SUM(entries)::bigint"),
                            ))
                            .load(&mut { c })
                            .await
                    }
                }
            },
        )?
    };
    let ledger = visible_or_404(&mut conn, &caller, ledger).await?;
    caller.may_read_whole_ledger(ledger.office_id)?;
    // kind → (entries, gross, effect)
    let mut kinds: std::collections::BTreeMap<usize, (i64, i64, i64)> = Default::default();
    let mut spent: std::collections::BTreeMap<String, i64> = Default::default();
    let mut available = 0i64;
    let mut count = 0i64;
    for (kind, category, effect, usd, entries) in rows {
        available += effect;
        count += entries;
        let k = EntryKind::from_db(&kind);
        let slot = kinds
            .entry(EntryKind::ALL.iter().position(|x| *x == k).unwrap_or(0))
            .or_default();
        slot.0 += entries;
        slot.1 += usd;
        slot.2 += effect;
        if !category.is_empty() {
            *spent.entry(category).or_default() -= effect;
        }
    }
    let by_kind: Vec<KindTotal> = kinds
        .into_iter()
        .map(|(i, (entries, gross, effect))| KindTotal {
            kind: EntryKind::ALL[i],
            entries,
            amount: Money::usd(gross).to_json(),
            effect: Money::usd(effect).to_signed(),
        })
        .collect();
    // `available` and `entry_count` are the totals' own sums, so that the figures agree
    // with each other even while entries are being posted (the ledger row, read by
    // another statement, may already count one more).
    let balance = Balance {
        ledger_id: id,
        as_of,
        by_kind,
        by_category: spent
            .into_iter()
            .map(|(c, v)| CategoryTotal {
                category: Category::from_db(&c),
                spent: Money::usd(v).to_signed(),
            })
            .collect(),
        available: Money::usd(available).to_json(),
        entry_count: count,
    };
    Ok(HttpResponse::Ok().json(balance))
}

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
#[post("/ledgers/{id}/closings")]
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
        .transaction(async |conn| {
            let ledger = load_ledger(conn, &caller, id, true).await?;
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
            if through.year() < ledger.fiscal_year - 1 || through.year() > ledger.fiscal_year {
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
            Ok::<_, ApiError>(closing)
        })
        .await?;
    Ok(HttpResponse::Created().json(closing))
}

/// Close a ledger (Coordinating Office): no entry can be posted into it any more.
#[utoipa::path(
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
#[post("/ledgers/{id}/close")]
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
}

/// Recompute the hash chain from the first entry and report the first break.
#[utoipa::path(
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
#[get("/ledgers/{id}/verification")]
pub async fn verify_ledger(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let ledger = load_ledger(&mut conn, &caller, id, false).await?;
    caller.may_read_whole_ledger(ledger.office_id)?;
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
            .load(&mut conn)
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
    if broken.is_none() && (count != ledger.entry_count || prev != ledger.head_hash) {
        broken = Some((
            count + 1,
            "the ledger's head does not match its last entry".to_owned(),
        ));
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Verification {
            ledger_id: id,
            ok: broken.is_none(),
            entry_count: count,
            head_hash: prev,
            first_broken_seq: broken.as_ref().map(|b| b.0),
            problem: broken.map(|b| b.1),
        }))
}
