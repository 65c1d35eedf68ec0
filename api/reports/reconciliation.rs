//! Reconciliation of an office's finances per ledger (fund), fiscal year and period:
//! `GET /v1/offices/{id}/reconciliation` and, across offices, `GET /v1/reconciliation`.
//! The table the quarterly report to the Coordinating Office is built from.
//!
//! ## Figures (per ledger, in the ledger's currency of account, US dollars)
//! The period is a month (`period=1..12`) of the fiscal year, or the whole fiscal year
//! when `period` is absent (a quarter is three monthly rows added up: every figure but
//! the opening and closing balances is additive). A ledger holds one fiscal year, so
//! the opening balance of January (and of the whole year) is zero.
//! - `opening_balance`: the effect of every entry dated before the period;
//! - `allocations`, `expenses` (and `expenses_by_category`), `refunds`, `adjustments`
//!   (signed), `reversals` (signed: the effect of the reversals dated in the period);
//! - `closing_balance` = opening + allocations − expenses + refunds + adjustments +
//!   reversals;
//! - `net_spending`: expenses − refunds, net of their reversals (as the statistics);
//! - `commitments`: the budgets of the projects the ledger funds: projects of the
//!   ledger's office, financed from its fund (and, when the ledger has a fund code, under
//!   that donor agreement), running during the fiscal year, neither in the pipeline nor
//!   cancelled. Budgets in another currency than US dollars are counted in
//!   `commitment_projects_other_currency`, not converted (no rate applies to a budget);
//! - `execution_percent`: net spending ÷ allocations from the start of the fiscal year
//!   to the end of the period, two decimals.
//!
//! ## Variance flags
//! - `project_over_budget`: the model has no budget per object of expenditure (a
//!   project's `budget_lines` are per period), so the flag compares, for each project
//!   with spending in the ledger up to the end of the period, its net spending in every
//!   ledger up to that day with its budget (US dollar budgets only).
//! - `expense_outside_project_dates`: an expense dated in the period, tagged to a
//!   project, dated before the project's start or after its end, and not reversed (the
//!   controls on money accept those; they are flagged here).
//! - `period_not_closed_on_time`: a month of the period whose closing deadline (its last
//!   day + [`CLOSE_DEADLINE_DAYS`]) has passed and that was not closed by then: no period
//!   closing covering it (or closing of the whole ledger) made on or before the deadline.
//! - `chain_not_verified`: the ledger has entries and its last successful verification
//!   (`GET /v1/ledgers/{id}/verification`) covered fewer entries than it has now.
//!
//! ## Who may read it
//! The office variant: whoever sees the office's ledgers whole (the Coordinating Office,
//! auditors, the office's representative and staff); anyone else gets 404. The
//! cross-office variant: the Coordinating Office and auditors; others get 403.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::core::error::ApiError;
use crate::core::i18n::text;
use crate::core::money::{Money, SignedAmount};
use crate::core::validate;
use crate::db::schema::offices;
use crate::formats::{
    Context, Encoder, Format, Honored, Negotiated, TEXT_CSV, content_disposition,
};
use crate::reports::stats::percent;
use crate::resources::ledgers::provenance::{LedgerProvenance, of_ledgers};
use crate::resources::ledgers::{Category, Fund, LedgerStatus};
use crate::state::AppState;

/// Days after a month's last day by which the month must be closed
/// (`POST /v1/ledgers/{id}/closings`): the deadline of the monthly closing.
pub const CLOSE_DEADLINE_DAYS: i64 = 30;

/// Query parameters of a reconciliation.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationQuery {
    /// The ledgers' fiscal year (required).
    #[param(value_type = i32, minimum = 1948, maximum = 2200, example = 2026)]
    pub fiscal_year: Option<String>,
    /// A month of the fiscal year, 1 to 12; absent: the whole fiscal year.
    #[param(value_type = Option<i32>, minimum = 1, maximum = 12, example = 3)]
    pub period: Option<String>,
}

/// Query parameters of the reconciliation across offices.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AllReconciliationQuery {
    /// The ledgers' fiscal year (required).
    #[param(value_type = i32, minimum = 1948, maximum = 2200, example = 2026)]
    pub fiscal_year: Option<String>,
    /// A month of the fiscal year, 1 to 12; absent: the whole fiscal year.
    #[param(value_type = Option<i32>, minimum = 1, maximum = 12, example = 3)]
    pub period: Option<String>,
    /// Only this office's ledgers.
    #[param(value_type = Option<Uuid>)]
    pub office_id: Option<String>,
}

/// Gross expenses of the period by object of expenditure.
#[derive(Serialize, ToSchema, Debug)]
pub struct ExpensesByCategory {
    pub personnel: SignedAmount,
    pub travel: SignedAmount,
    pub rent: SignedAmount,
    pub utilities: SignedAmount,
    pub communications: SignedAmount,
    pub supplies: SignedAmount,
    pub equipment: SignedAmount,
    pub contractual_services: SignedAmount,
    pub project_disbursement: SignedAmount,
    pub bank_charges: SignedAmount,
    pub other: SignedAmount,
}

/// Which variance flags are raised (the details are in the lists beside them).
#[derive(Serialize, ToSchema, Debug, Default, PartialEq, Eq)]
pub struct ReconciliationFlags {
    /// A project funded here spent more than its budget (see `over_budget_projects`).
    pub project_over_budget: bool,
    /// An expense of the period is dated outside its project's dates.
    pub expense_outside_project_dates: bool,
    /// A month of the period was not closed by its deadline (see `late_periods`).
    pub period_not_closed_on_time: bool,
    /// The hash chain was not verified since the last entry.
    pub chain_not_verified: bool,
}

/// A project whose net spending (every ledger, up to the end of the period) exceeds its
/// budget.
#[derive(Serialize, ToSchema, Debug)]
pub struct OverBudgetProject {
    pub project_id: Uuid,
    #[schema(example = "PE-DEM-2026-01")]
    pub project_code: String,
    /// Net spending ÷ budget × 100, two decimals.
    #[schema(example = "112.50")]
    pub executed_percent: String,
}

/// An expense dated outside its project's dates.
#[derive(Serialize, ToSchema, Debug)]
pub struct ExpenseOutsideProjectDates {
    pub entry_id: Uuid,
    pub seq: i64,
    pub entry_date: NaiveDate,
    pub project_id: Uuid,
    pub project_code: String,
    pub project_starts_on: NaiveDate,
    pub project_ends_on: Option<NaiveDate>,
}

/// A month not closed by its deadline.
#[derive(Serialize, ToSchema, Debug, PartialEq, Eq)]
pub struct LatePeriod {
    /// `YYYY-MM`.
    #[schema(example = "2026-03")]
    pub month: String,
    /// The month's last day + `close_deadline_days`.
    pub deadline: NaiveDate,
    /// The day the month was closed (after the deadline); null: not closed yet.
    pub closed_on: Option<NaiveDate>,
}

/// One ledger's reconciliation for the period.
#[derive(Serialize, ToSchema, Debug)]
pub struct LedgerReconciliation {
    pub ledger_id: Uuid,
    pub office_id: Uuid,
    #[schema(example = "OGSMS-PE")]
    pub office_code: String,
    #[schema(example = 2026)]
    pub fiscal_year: i32,
    /// The month, or null for the whole fiscal year.
    pub period: Option<i32>,
    /// First day of the period.
    pub from: NaiveDate,
    /// Last day of the period.
    pub to: NaiveDate,
    pub fund: Fund,
    pub fund_code: Option<String>,
    pub status: LedgerStatus,
    pub opening_balance: SignedAmount,
    pub allocations: SignedAmount,
    /// Gross expenses (before refunds and reversals).
    pub expenses: SignedAmount,
    pub expenses_by_category: ExpensesByCategory,
    pub refunds: SignedAmount,
    /// Signed: increases − decreases.
    pub adjustments: SignedAmount,
    /// Signed: the effect of the reversals dated in the period.
    pub reversals: SignedAmount,
    /// opening + allocations − expenses + refunds + adjustments + reversals.
    pub closing_balance: SignedAmount,
    /// Expenses − refunds, net of their reversals, in the period.
    pub net_spending: SignedAmount,
    /// Entries dated in the period.
    pub entries: i64,
    /// The US dollar budgets of the projects the ledger funds.
    pub commitments: SignedAmount,
    pub commitment_projects: i64,
    /// Projects the ledger funds whose budget is not in US dollars (not in `commitments`).
    pub commitment_projects_other_currency: i64,
    /// Allocations from the start of the fiscal year to the end of the period.
    pub allocations_to_date: SignedAmount,
    /// Net spending from the start of the fiscal year to the end of the period.
    pub net_spending_to_date: SignedAmount,
    /// `net_spending_to_date` ÷ `allocations_to_date` × 100, two decimals; null without
    /// allocations.
    #[schema(example = "45.23")]
    pub execution_percent: Option<String>,
    pub flags: ReconciliationFlags,
    pub over_budget_projects: Vec<OverBudgetProject>,
    pub expenses_outside_project_dates: Vec<ExpenseOutsideProjectDates>,
    pub late_periods: Vec<LatePeriod>,
    /// The ledger's entries now.
    pub ledger_entries: i64,
    /// Entries covered by the last successful verification (0: never verified).
    pub verified_entries: i64,
    pub verified_at: Option<DateTime<Utc>>,
}

/// A reconciliation: one row per ledger.
#[derive(Serialize, ToSchema, Debug)]
pub struct Reconciliation {
    #[schema(example = 2026)]
    pub fiscal_year: i32,
    /// The month, or null for the whole fiscal year.
    pub period: Option<i32>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The office, when the reconciliation is of one office.
    pub office_id: Option<Uuid>,
    /// Days after a month's end by which it must be closed.
    #[schema(example = 30)]
    pub close_deadline_days: i64,
    /// By office code, fund and fund code.
    pub ledgers: Vec<LedgerReconciliation>,
    /// The data's watermark (as `X-Sync-Watermark`): every change committed before this
    /// instant is counted; one made at or after it may not be.
    pub as_of: DateTime<Utc>,
    /// What the figures are as of: the ledgers' closings and verifications, and the
    /// exchange rates that converted their entries of the period to USD (in CSV, the
    /// `OGSMS-*` headers).
    pub provenance: LedgerProvenance,
}

/// The office's reconciliation per ledger (fund) for a fiscal year and period.
///
/// Opening balance, allocations, expenses by category, refunds, adjustments, reversals,
/// closing balance, commitments (projects' budgets), budget execution and variance flags
/// (project over budget, expense outside its project's dates, period not closed within
/// 30 days of its end, chain not verified since the last entry). Visible to whoever sees
/// the office's whole ledgers (the Coordinating Office, auditors, the office's
/// representative and staff); others get 404. `Accept: text/csv` or `format=csv` for CSV.
#[utoipa::path(
    context_path = "/offices",
    tag = "Offices",
    params(("id" = Uuid, Path, description = "The office's id"), ReconciliationQuery),
    responses(
        (status = 200, description = "The reconciliation", content(
            (Reconciliation = "application/json"),
            (String = "text/csv"),
        ), headers(
            ("OGSMS-As-Of" = String, description = "In CSV: the data's watermark (RFC 3339), the JSON `provenance.data_as_of`"),
            ("OGSMS-Closed-Through" = String, description = "In CSV, when every ledger counted has a closed period: the earliest of their last closed periods (`provenance.closed_through`)"),
            ("OGSMS-Exchange-Rates" = String, description = "In CSV: the exchange rates that converted counted entries to USD (`provenance.exchange_rates`), comma-separated `CUR=rate;first_entry_date/last_entry_date;entries`; empty when none"),
        )),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/reconciliation")]
pub async fn office_reconciliation(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<ReconciliationQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (year, period) = year_and_period(query.fiscal_year.as_deref(), query.period.as_deref())?;
    let mut conn = state.read_pool().get().await?;
    let as_of = crate::core::sync::watermark(&mut conn).await?;
    let exists: Option<Uuid> = offices::table
        .find(id)
        .select(offices::id)
        .first(&mut conn)
        .await
        .optional()?;
    exists.ok_or_else(ApiError::not_found)?;
    caller.may_read_office_finance(id)?;
    let body = reconcile(&mut conn, year, period, Some(id), as_of).await?;
    respond(&req, &mut conn, body).await
}

/// The reconciliation of every office's ledgers (or one office's) for a fiscal year and
/// period: the Coordinating Office and auditors; others get 403.
///
/// The same rows as `GET /v1/offices/{id}/reconciliation`, for every office.
/// `Accept: text/csv` or `format=csv` for CSV.
#[utoipa::path(
    context_path = "/reconciliation",
    tag = "Statistics",
    params(AllReconciliationQuery),
    responses(
        (status = 200, description = "The reconciliation", content(
            (Reconciliation = "application/json"),
            (String = "text/csv"),
        ), headers(
            ("OGSMS-As-Of" = String, description = "In CSV: the data's watermark (RFC 3339), the JSON `provenance.data_as_of`"),
            ("OGSMS-Closed-Through" = String, description = "In CSV, when every ledger counted has a closed period: the earliest of their last closed periods (`provenance.closed_through`)"),
            ("OGSMS-Exchange-Rates" = String, description = "In CSV: the exchange rates that converted counted entries to USD (`provenance.exchange_rates`), comma-separated `CUR=rate;first_entry_date/last_entry_date;entries`; empty when none"),
        )),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("")]
pub async fn reconciliation(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<AllReconciliationQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.may_read_all_finance()?;
    let (year, period) = year_and_period(query.fiscal_year.as_deref(), query.period.as_deref())?;
    let office = query
        .office_id
        .as_deref()
        .map(|s| {
            s.trim().parse::<Uuid>().map_err(|_| {
                ApiError::invalid_parameter(
                    "office_id",
                    text!("must be a UUID", "debe ser un UUID"),
                )
            })
        })
        .transpose()?;
    let mut conn = state.read_pool().get().await?;
    let as_of = crate::core::sync::watermark(&mut conn).await?;
    let body = reconcile(&mut conn, year, period, office, as_of).await?;
    respond(&req, &mut conn, body).await
}

fn year_and_period(
    year: Option<&str>,
    period: Option<&str>,
) -> Result<(i32, Option<u32>), ApiError> {
    let year = validate::param_i64("fiscal_year", year)?
        .ok_or_else(|| {
            ApiError::invalid_parameter("fiscal_year", text!("is required", "es obligatorio"))
        })
        .and_then(|y| {
            i32::try_from(y)
                .ok()
                .filter(|y| (1948..=2200).contains(y))
                .ok_or_else(|| {
                    ApiError::invalid_parameter(
                        "fiscal_year",
                        text!(
                            "must be a year between 1948 and 2200",
                            "debe ser un año entre 1948 y 2200"
                        ),
                    )
                })
        })?;
    let period = validate::param_i64("period", period)?
        .map(|m| {
            u32::try_from(m)
                .ok()
                .filter(|m| (1..=12).contains(m))
                .ok_or_else(|| {
                    ApiError::invalid_parameter(
                        "period",
                        text!("must be a month, 1 to 12", "debe ser un mes, de 1 a 12"),
                    )
                })
        })
        .transpose()?;
    Ok((year, period))
}

/// The first and last day of a month.
fn month_bounds(year: i32, month: u32) -> (NaiveDate, NaiveDate) {
    let first = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month");
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .expect("valid month");
    (first, next - Duration::days(1))
}

/// The months of `months` of `year` whose closing deadline is before `today` and that
/// were not closed by it. `closings`: (closed through, day it was made); a ledger closed
/// whole on `ledger_closed_on` closes every month that day.
fn late_periods(
    year: i32,
    months: &[u32],
    closings: &[(NaiveDate, NaiveDate)],
    ledger_closed_on: Option<NaiveDate>,
    today: NaiveDate,
) -> Vec<LatePeriod> {
    let mut out = Vec::new();
    for &m in months {
        let (_, last) = month_bounds(year, m);
        let deadline = last + Duration::days(CLOSE_DEADLINE_DAYS);
        if deadline >= today {
            continue;
        }
        let closed_on = closings
            .iter()
            .filter(|(through, _)| *through >= last)
            .map(|(_, on)| *on)
            .chain(ledger_closed_on)
            .min();
        if closed_on.is_none_or(|on| on > deadline) {
            out.push(LatePeriod {
                month: format!("{year:04}-{m:02}"),
                deadline,
                closed_on,
            });
        }
    }
    out
}

#[derive(diesel::QueryableByName)]
struct LedgerSqlRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    office_id: Uuid,
    #[diesel(sql_type = Text)]
    office_code: String,
    #[diesel(sql_type = Text)]
    fund: String,
    #[diesel(sql_type = Nullable<Text>)]
    fund_code: Option<String>,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    entry_count: i64,
    #[diesel(sql_type = BigInt)]
    verified_entries: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    verified_at: Option<DateTime<Utc>>,
}

#[derive(diesel::QueryableByName)]
struct TotalSqlRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    ledger_id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    category: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    in_period: bool,
    #[diesel(sql_type = BigInt)]
    effect: i64,
    #[diesel(sql_type = BigInt)]
    entries: i64,
}

#[derive(diesel::QueryableByName)]
struct CommitmentSqlRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    ledger_id: Uuid,
    #[diesel(sql_type = BigInt)]
    usd: i64,
    #[diesel(sql_type = BigInt)]
    projects: i64,
    #[diesel(sql_type = BigInt)]
    other_currency: i64,
}

#[derive(diesel::QueryableByName)]
struct OverBudgetSqlRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    ledger_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    project_id: Uuid,
    #[diesel(sql_type = Text)]
    project_code: String,
    #[diesel(sql_type = BigInt)]
    spent: i64,
    #[diesel(sql_type = BigInt)]
    budget: i64,
}

#[derive(diesel::QueryableByName)]
struct OutsideSqlRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    ledger_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    entry_id: Uuid,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Date)]
    entry_date: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    project_id: Uuid,
    #[diesel(sql_type = Text)]
    project_code: String,
    #[diesel(sql_type = Date)]
    starts_on: NaiveDate,
    #[diesel(sql_type = Nullable<Date>)]
    ends_on: Option<NaiveDate>,
}

#[derive(diesel::QueryableByName)]
struct ClosingSqlRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    ledger_id: Uuid,
    #[diesel(sql_type = Date)]
    closed_through: NaiveDate,
    #[diesel(sql_type = Date)]
    closed_on: NaiveDate,
}

/// Every figure of the reconciliation of `year` (and `period`), of one office or all.
async fn reconcile(
    conn: &mut AsyncPgConnection,
    year: i32,
    period: Option<u32>,
    office: Option<Uuid>,
    as_of: DateTime<Utc>,
) -> Result<Reconciliation, ApiError> {
    let (from, to) = match period {
        Some(m) => month_bounds(year, m),
        None => (month_bounds(year, 1).0, month_bounds(year, 12).1),
    };
    let months: Vec<u32> = period.map_or_else(|| (1..=12).collect(), |m| vec![m]);
    let ledgers: Vec<LedgerSqlRow> = diesel::sql_query(
        "SELECT l.id, l.office_id, o.code AS office_code, l.fund, l.fund_code, \
                l.currency::text AS currency, l.status, l.updated_at, l.entry_count, \
                coalesce(v.entry_count, 0)::bigint AS verified_entries, v.verified_at \
           FROM ledgers l \
           JOIN offices o ON o.id = l.office_id \
           LEFT JOIN ledger_verifications v ON v.ledger_id = l.id \
          WHERE l.fiscal_year = $1 AND ($2::uuid IS NULL OR l.office_id = $2) \
          ORDER BY o.code, l.fund, l.fund_code NULLS FIRST, l.id",
    )
    .bind::<Integer, _>(year)
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(office)
    .load(conn)
    .await?;
    let ids: Vec<Uuid> = ledgers.iter().map(|l| l.id).collect();
    let totals: Vec<TotalSqlRow> = diesel::sql_query(
        "SELECT ledger_id, kind, category, entry_date >= $2 AS in_period, \
                sum(effect_minor)::bigint AS effect, sum(entries)::bigint AS entries \
           FROM ledger_daily_totals \
          WHERE ledger_id = ANY($1) AND entry_date <= $3 \
          GROUP BY 1, 2, 3, 4",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await?;
    let commitments: Vec<CommitmentSqlRow> = diesel::sql_query(
        "SELECT l.id AS ledger_id, \
                coalesce(sum(p.budget_amount) FILTER (WHERE p.budget_currency = 'USD'), 0)::bigint AS usd, \
                count(*) FILTER (WHERE p.budget_currency = 'USD') AS projects, \
                count(*) FILTER (WHERE p.budget_currency <> 'USD') AS other_currency \
           FROM ledgers l \
           JOIN projects p ON p.office_id = l.office_id AND p.funding_source = l.fund \
                AND (l.fund_code IS NULL OR p.donor_agreement = l.fund_code) \
                AND p.starts_on <= make_date(l.fiscal_year, 12, 31) \
                AND (p.ends_on IS NULL OR p.ends_on >= make_date(l.fiscal_year, 1, 1)) \
                AND p.status NOT IN ('pipeline', 'cancelled') \
          WHERE l.id = ANY($1) \
          GROUP BY l.id",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .load(conn)
    .await?;
    let over_budget: Vec<OverBudgetSqlRow> = diesel::sql_query(
        "WITH here AS (SELECT DISTINCT ledger_id, project_id FROM project_daily_totals \
                        WHERE ledger_id = ANY($1) AND entry_date <= $2 AND category <> ''), \
              spent AS (SELECT project_id, (-sum(effect_minor))::bigint AS spent \
                          FROM project_daily_totals \
                         WHERE category <> '' AND entry_date <= $2 \
                           AND project_id IN (SELECT project_id FROM here) \
                         GROUP BY project_id) \
         SELECT h.ledger_id, p.id AS project_id, p.code AS project_code, s.spent, \
                p.budget_amount AS budget \
           FROM here h JOIN projects p ON p.id = h.project_id \
           JOIN spent s ON s.project_id = h.project_id \
          WHERE p.budget_currency = 'USD' AND s.spent > p.budget_amount \
          ORDER BY h.ledger_id, p.code",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .bind::<Date, _>(to)
    .load(conn)
    .await?;
    let outside: Vec<OutsideSqlRow> = diesel::sql_query(
        "SELECT e.ledger_id, e.id AS entry_id, e.seq, e.entry_date, p.id AS project_id, \
                p.code AS project_code, p.starts_on, p.ends_on \
           FROM ledger_entries e JOIN projects p ON p.id = e.project_id \
          WHERE e.ledger_id = ANY($1) AND e.kind = 'expense' \
            AND e.entry_date BETWEEN $2 AND $3 \
            AND (e.entry_date < p.starts_on OR e.entry_date > p.ends_on) \
            AND NOT EXISTS (SELECT 1 FROM ledger_entries r WHERE r.reverses_entry_id = e.id) \
          ORDER BY e.ledger_id, e.seq",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await?;
    let closings: Vec<ClosingSqlRow> = diesel::sql_query(
        "SELECT ledger_id, closed_through, (created_at AT TIME ZONE 'UTC')::date AS closed_on \
           FROM ledger_closings WHERE ledger_id = ANY($1)",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .load(conn)
    .await?;
    let today = as_of.date_naive();
    let provenance = of_ledgers(conn, &ids, Some(from), Some(to), None, as_of).await?;
    let rows = ledgers
        .into_iter()
        .map(|l| {
            let money = |minor: i64| Money::from_db(minor, &l.currency).to_signed();
            let mine = || totals.iter().filter(|t| t.ledger_id == l.id);
            let sum = |f: &dyn Fn(&TotalSqlRow) -> bool| -> i64 {
                mine().filter(|t| f(t)).map(|t| t.effect).sum()
            };
            let opening = sum(&|t| !t.in_period);
            let allocations = sum(&|t| t.in_period && t.kind == "allocation");
            let expense_of =
                |c: &str| -sum(&|t| t.in_period && t.kind == "expense" && t.category == c);
            let expenses = -sum(&|t| t.in_period && t.kind == "expense");
            let refunds = sum(&|t| t.in_period && t.kind == "refund");
            let adjustments = sum(&|t| t.in_period && t.kind == "adjustment");
            let reversals = sum(&|t| t.in_period && t.kind == "reversal");
            let movement = sum(&|t| t.in_period);
            let net_spending = -sum(&|t| t.in_period && !t.category.is_empty());
            let entries: i64 = mine().filter(|t| t.in_period).map(|t| t.entries).sum();
            let allocations_to_date = sum(&|t| t.kind == "allocation");
            let net_spending_to_date = -sum(&|t| !t.category.is_empty());
            let c = commitments.iter().find(|c| c.ledger_id == l.id);
            let over: Vec<OverBudgetProject> = over_budget
                .iter()
                .filter(|o| o.ledger_id == l.id)
                .map(|o| OverBudgetProject {
                    project_id: o.project_id,
                    project_code: o.project_code.clone(),
                    executed_percent: percent(o.spent, o.budget).unwrap_or_default(),
                })
                .collect();
            let out: Vec<ExpenseOutsideProjectDates> = outside
                .iter()
                .filter(|o| o.ledger_id == l.id)
                .map(|o| ExpenseOutsideProjectDates {
                    entry_id: o.entry_id,
                    seq: o.seq,
                    entry_date: o.entry_date,
                    project_id: o.project_id,
                    project_code: o.project_code.clone(),
                    project_starts_on: o.starts_on,
                    project_ends_on: o.ends_on,
                })
                .collect();
            let ledger_closings: Vec<(NaiveDate, NaiveDate)> = closings
                .iter()
                .filter(|c| c.ledger_id == l.id)
                .map(|c| (c.closed_through, c.closed_on))
                .collect();
            let status = LedgerStatus::from_db(&l.status);
            let ledger_closed_on =
                (status == LedgerStatus::Closed).then(|| l.updated_at.date_naive());
            let late = late_periods(year, &months, &ledger_closings, ledger_closed_on, today);
            let flags = ReconciliationFlags {
                project_over_budget: !over.is_empty(),
                expense_outside_project_dates: !out.is_empty(),
                period_not_closed_on_time: !late.is_empty(),
                chain_not_verified: l.entry_count > 0 && l.verified_entries < l.entry_count,
            };
            LedgerReconciliation {
                ledger_id: l.id,
                office_id: l.office_id,
                office_code: l.office_code.clone(),
                fiscal_year: year,
                period: period.map(|m| m as i32),
                from,
                to,
                fund: Fund::from_db(&l.fund),
                fund_code: l.fund_code.clone(),
                status,
                opening_balance: money(opening),
                allocations: money(allocations),
                expenses: money(expenses),
                expenses_by_category: ExpensesByCategory {
                    personnel: money(expense_of(Category::Personnel.as_str())),
                    travel: money(expense_of(Category::Travel.as_str())),
                    rent: money(expense_of(Category::Rent.as_str())),
                    utilities: money(expense_of(Category::Utilities.as_str())),
                    communications: money(expense_of(Category::Communications.as_str())),
                    supplies: money(expense_of(Category::Supplies.as_str())),
                    equipment: money(expense_of(Category::Equipment.as_str())),
                    contractual_services: money(expense_of(Category::ContractualServices.as_str())),
                    project_disbursement: money(expense_of(Category::ProjectDisbursement.as_str())),
                    bank_charges: money(expense_of(Category::BankCharges.as_str())),
                    other: money(expense_of(Category::Other.as_str())),
                },
                refunds: money(refunds),
                adjustments: money(adjustments),
                reversals: money(reversals),
                closing_balance: money(opening + movement),
                net_spending: money(net_spending),
                entries,
                commitments: money(c.map_or(0, |c| c.usd)),
                commitment_projects: c.map_or(0, |c| c.projects),
                commitment_projects_other_currency: c.map_or(0, |c| c.other_currency),
                allocations_to_date: money(allocations_to_date),
                net_spending_to_date: money(net_spending_to_date),
                execution_percent: percent(net_spending_to_date, allocations_to_date),
                flags,
                over_budget_projects: over,
                expenses_outside_project_dates: out,
                late_periods: late,
                ledger_entries: l.entry_count,
                verified_entries: l.verified_entries,
                verified_at: l.verified_at,
            }
        })
        .collect();
    Ok(Reconciliation {
        fiscal_year: year,
        period: period.map(|m| m as i32),
        from,
        to,
        office_id: office,
        close_deadline_days: CLOSE_DEADLINE_DAYS,
        ledgers: rows,
        as_of,
        provenance,
    })
}

/// Answers the reconciliation as JSON, or its ledger rows as CSV (the columns of
/// `LedgerReconciliation`, as the lists' CSV in `crate::formats`).
async fn respond(
    req: &HttpRequest,
    conn: &mut AsyncPgConnection,
    body: Reconciliation,
) -> Result<HttpResponse, ApiError> {
    let negotiated = Negotiated::of(req);
    if negotiated.choose(&[Format::Json, Format::Csv])? == Format::Json {
        return Ok(HttpResponse::Ok()
            .insert_header((header::VARY, "Accept, Accept-Language"))
            .json(body));
    }
    let encoder = Encoder::new(&LedgerReconciliation::name(), req, negotiated.bom);
    let rows = encoder.flatten(&body.ledgers);
    let ctx = if encoder.needs_context() {
        encoder
            .context(conn, &rows, &mut Context::default())
            .await?
    } else {
        Context::default()
    };
    let mut bytes = encoder.header();
    encoder.write_rows(&mut bytes, &rows, &ctx);
    let mut res = HttpResponse::Ok();
    crate::reports::provenance_headers(&mut res, &body.provenance);
    let mut res = res
        .insert_header((header::CONTENT_TYPE, TEXT_CSV))
        .insert_header((header::VARY, "Accept, Accept-Language"))
        .insert_header(content_disposition(req, "csv"))
        .insert_header((header::CONTENT_LANGUAGE, encoder.data_lang))
        .body(bytes);
    res.extensions_mut().insert(Honored);
    Ok(res)
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/offices")
        .handler_decides()
        .service(office_reconciliation);
    r.under("/reconciliation").service(reconciliation);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn months_and_their_deadlines() {
        assert_eq!(month_bounds(2024, 2), (d("2024-02-01"), d("2024-02-29")));
        assert_eq!(month_bounds(2025, 12), (d("2025-12-01"), d("2025-12-31")));
    }

    #[test]
    fn a_month_is_late_only_after_its_deadline_and_when_not_closed_by_it() {
        let today = d("2025-05-15");
        // March: deadline 2025-04-30. Closed through March on 2025-04-30: on time.
        assert!(
            late_periods(
                2025,
                &[3],
                &[(d("2025-03-31"), d("2025-04-30"))],
                None,
                today
            )
            .is_empty()
        );
        // Closed on 2025-05-01: late, with the day.
        assert_eq!(
            late_periods(
                2025,
                &[3],
                &[(d("2025-03-31"), d("2025-05-01"))],
                None,
                today
            ),
            vec![LatePeriod {
                month: "2025-03".into(),
                deadline: d("2025-04-30"),
                closed_on: Some(d("2025-05-01"))
            }]
        );
        // A later closing covering March made in time also counts.
        assert!(
            late_periods(
                2025,
                &[3],
                &[(d("2025-04-10"), d("2025-04-20"))],
                None,
                today
            )
            .is_empty()
        );
        // A closing through February does not cover March: not closed.
        assert_eq!(
            late_periods(
                2025,
                &[3],
                &[(d("2025-02-28"), d("2025-03-10"))],
                None,
                today
            )[0]
            .closed_on,
            None
        );
        // April's deadline (2025-05-30) has not passed: not evaluated.
        assert!(late_periods(2025, &[4], &[], None, today).is_empty());
        // The ledger closed whole in time closes every month.
        assert!(late_periods(2025, &[3], &[], Some(d("2025-04-01")), today).is_empty());
    }
}
