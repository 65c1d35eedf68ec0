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

pub mod balances;
pub mod closings;
pub mod direct;
pub mod entries;
pub mod idempotency;
pub mod posting;
pub mod provenance;
pub mod verification;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Datelike, NaiveDate, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
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
    exchange_rates, ledger_closings, ledger_entries, ledgers, offices, projects,
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
    // An integer as JSON Schema counts them (`2026.0` is one), as every integer field.
    #[schema(value_type = i32, example = 2026, minimum = 1948, maximum = 2200)]
    #[serde(deserialize_with = "crate::core::validate::integer")]
    pub fiscal_year: i64,
    pub fund: Fund,
    /// Required for a specific or trust fund (the donor agreement), refused otherwise.
    #[schema(pattern = "<line>", max_length = 64)]
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
    context_path = "/ledgers",
    tag = "Ledgers",
    params(LedgerQuery),
    responses(
        (status = 200, description = "A page of ledgers", body = LedgerPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
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
    context_path = "/ledgers",
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
#[get("/{id}")]
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
    context_path = "/ledgers",
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
#[post("")]
pub async fn create_ledger(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<NewLedger>,
) -> Result<HttpResponse, ApiError> {
    caller.may_manage_finance()?;
    let new = body.0;
    let fund_code = new.fund_code;
    let mut errors = Vec::new();
    let fiscal_year = i32::try_from(new.fiscal_year).unwrap_or(i32::MIN);
    if !(1948..=2200).contains(&fiscal_year) {
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
                // Shares the lock an office's closing takes: no ledger appears in an
                // office while it closes.
                .for_share()
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
                    ledgers::fiscal_year.eq(fiscal_year),
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

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/ledgers")
        .writes("ledgers")
        .service(list_ledgers)
        .service(create_ledger)
        .service(get_ledger);
    // Below a ledger, finance a caller may not see is a 404: the handlers decide.
    r.handler_decides()
        .service(entries::list_entries)
        .service(entries::post_entry)
        .service(entries::get_entry)
        .service(entries::reverse_entry)
        .service(balances::get_balance)
        .service(closings::close_period)
        .service(closings::close_ledger)
        .service(verification::verify_ledger);
}
