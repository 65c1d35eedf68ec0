//! Finance seen from projects and mandates: a project's budget execution
//! (`/v1/projects/{id}/budget-execution`) and the spending traced to a mandate through
//! the projects that implement it (`/v1/mandates/{id}/expenditures`).
//!
//! Both read the per-project daily totals kept with every entry (see `api/reports/stats.rs`),
//! and both follow the finance rules (`Caller::finance_scope`): viewers get 403; an
//! office's representative and staff see the figures of their office's ledgers; an HQ
//! department sees the figures of its projects; the Coordinating Office and auditors see
//! everything. Net spending is expenses − refunds, net of reversals, in US dollars.

use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Nullable, Text};
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::auth::policy::FinanceScope;
use crate::core::error::ApiError;
use crate::core::money::{MonetaryAmount, Money, SignedAmount};
use crate::db::schema::{mandates, project_mandates, projects};
use crate::reports::stats::{date_range, percent};
use crate::resources::ledgers::Fund;
use crate::resources::ledgers::provenance::{LedgerProvenance, of_ledgers};
use crate::state::AppState;

/// Query parameters of a finance report: a date range of the entries counted.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FinanceReportQuery {
    /// Count entries dated on or after this day.
    #[param(value_type = Option<NaiveDate>)]
    pub from: Option<String>,
    /// Count entries dated on or before this day.
    #[param(value_type = Option<NaiveDate>)]
    pub to: Option<String>,
}

/// The office and department a caller's finance scope restricts figures to.
fn scope_filters(caller: &Caller) -> (Option<Uuid>, Option<Uuid>) {
    match caller.finance_scope() {
        FinanceScope::Office(o) => (Some(o), None),
        FinanceScope::Department(d) => (None, Some(d)),
        FinanceScope::All | FinanceScope::Nothing => (None, None),
    }
}

// ---------------------------------------------------------------------------------
// A project's budget execution

/// A project's net spending in one ledger.
#[derive(Serialize, ToSchema, Debug)]
pub struct LedgerExecution {
    pub ledger_id: Uuid,
    pub office_id: Uuid,
    #[schema(example = "OGSMS-PE")]
    pub office_code: String,
    #[schema(example = 2026)]
    pub fiscal_year: i32,
    pub fund: Fund,
    pub fund_code: Option<String>,
    pub spent: SignedAmount,
    /// Expenses, refunds and reversals of them.
    pub entries: i64,
}

/// A project's budget against the net spending tagged to it, across ledgers.
#[derive(Serialize, ToSchema, Debug)]
pub struct ProjectBudgetExecution {
    pub project_id: Uuid,
    #[schema(example = "PE-DEM-2026-01")]
    pub project_code: String,
    /// The budget, in its own currency.
    pub budget: MonetaryAmount,
    /// Net spending in US dollars (in the ledgers the caller may see).
    pub spent: SignedAmount,
    /// `budget` − `spent`, when the budget is in US dollars.
    pub remaining: Option<SignedAmount>,
    /// `spent` / `budget` × 100 with two decimals, when the budget is in US dollars and
    /// not zero (no exchange rate is applied to a budget).
    #[schema(example = "45.23")]
    pub executed_percent: Option<String>,
    pub entries: i64,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// By ledger (office, fiscal year, fund).
    pub by_ledger: Vec<LedgerExecution>,
    /// The data's watermark (as `X-Sync-Watermark`): every change committed before this
    /// instant is counted; one made at or after it may not be.
    pub as_of: chrono::DateTime<chrono::Utc>,
    /// What the figures are as of: the counted ledgers' closings and verifications, and
    /// the exchange rates that converted the project's entries to USD.
    pub provenance: LedgerProvenance,
}

#[derive(diesel::QueryableByName)]
struct LedgerExecutionRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    ledger_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    office_id: Uuid,
    #[diesel(sql_type = Text)]
    office_code: String,
    #[diesel(sql_type = Integer)]
    fiscal_year: i32,
    #[diesel(sql_type = Text)]
    fund: String,
    #[diesel(sql_type = Nullable<Text>)]
    fund_code: Option<String>,
    #[diesel(sql_type = BigInt)]
    spent: i64,
    #[diesel(sql_type = BigInt)]
    entries: i64,
}

/// A project's budget execution: its budget against the net spending tagged to it,
/// with a breakdown by ledger (office, fiscal year, fund).
///
/// Finance: the Coordinating Office and auditors; the project's office (its ledgers
/// only) and HQ department. Others get 403.
#[utoipa::path(
    context_path = "/projects",
    tag = "Projects",
    params(("id" = Uuid, Path, description = "The project's id"), FinanceReportQuery),
    responses(
        (status = 200, description = "The budget execution", body = ProjectBudgetExecution),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/budget-execution")]
pub async fn project_budget_execution(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<FinanceReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut conn = state.read_pool().get().await?;
    // Before the figures: every change committed before it is in them.
    let as_of = crate::core::sync::watermark(&mut conn).await?;
    let project: Option<(String, Uuid, Uuid, i64, String)> = projects::table
        .find(id)
        .select((
            projects::code,
            projects::office_id,
            projects::department_id,
            projects::budget_amount,
            projects::budget_currency,
        ))
        .first(&mut conn)
        .await
        .optional()?;
    let (code, office_id, department_id, budget_minor, budget_currency) =
        project.ok_or_else(ApiError::not_found)?;
    caller.may_read_project_finance(office_id, department_id)?;
    // Authorized before the parameters are read.
    let (from, to) = date_range(query.from.as_deref(), query.to.as_deref())?;
    let (office, _) = scope_filters(&caller);
    let rows: Vec<LedgerExecutionRow> = diesel::sql_query(
        "SELECT l.id AS ledger_id, l.office_id, o.code AS office_code, l.fiscal_year, l.fund, \
                l.fund_code, (-sum(t.effect_minor))::bigint AS spent, sum(t.entries)::bigint AS entries \
           FROM project_daily_totals t \
           JOIN ledgers l ON l.id = t.ledger_id \
           JOIN offices o ON o.id = l.office_id \
          WHERE t.project_id = $1 AND t.category <> '' \
            AND ($2::uuid IS NULL OR l.office_id = $2) \
            AND ($3::date IS NULL OR t.entry_date >= $3) \
            AND ($4::date IS NULL OR t.entry_date <= $4) \
          GROUP BY l.id, o.code \
          ORDER BY l.fiscal_year, o.code, l.fund, l.fund_code",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(office)
    .bind::<Nullable<Date>, _>(from)
    .bind::<Nullable<Date>, _>(to)
    .load(&mut conn)
    .await?;
    let spent: i64 = rows.iter().map(|r| r.spent).sum();
    let entries: i64 = rows.iter().map(|r| r.entries).sum();
    let ledgers: Vec<Uuid> = rows.iter().map(|r| r.ledger_id).collect();
    let provenance = of_ledgers(&mut conn, &ledgers, from, to, Some(&[id][..]), as_of).await?;
    let budget = Money::from_db(budget_minor, &budget_currency);
    let in_usd = budget.currency.code == "USD";
    Ok(HttpResponse::Ok().json(ProjectBudgetExecution {
        as_of,
        provenance,
        project_id: id,
        project_code: code,
        budget: budget.to_json(),
        spent: Money::usd(spent).to_signed(),
        remaining: in_usd.then(|| Money::usd(budget_minor - spent).to_signed()),
        executed_percent: if in_usd {
            percent(spent, budget_minor)
        } else {
            None
        },
        entries,
        from,
        to,
        by_ledger: rows
            .into_iter()
            .map(|r| LedgerExecution {
                ledger_id: r.ledger_id,
                office_id: r.office_id,
                office_code: r.office_code,
                fiscal_year: r.fiscal_year,
                fund: Fund::from_db(&r.fund),
                fund_code: r.fund_code,
                spent: Money::usd(r.spent).to_signed(),
                entries: r.entries,
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------------------------
// A mandate's expenditures

/// Spending traced to a mandate in one office, fund and fiscal year.
#[derive(Serialize, ToSchema, Debug)]
pub struct MandateExpenditureRow {
    pub office_id: Uuid,
    #[schema(example = "OGSMS-PE")]
    pub office_code: String,
    pub fund: Fund,
    #[schema(example = 2026)]
    pub fiscal_year: i32,
    /// Projects of the mandate with spending here.
    pub projects: i64,
    pub spent: SignedAmount,
    pub entries: i64,
}

/// Spending traced to a mandate through the projects that implement it.
///
/// A project that implements several mandates counts in full under each of them (the
/// service does not apportion spending between mandates), so the expenditures of
/// different mandates must not be added up.
#[derive(Serialize, ToSchema, Debug)]
pub struct MandateExpenditures {
    pub mandate_id: Uuid,
    #[schema(example = "AG/RES. 2976 (LII-O/22)")]
    pub reference: String,
    /// Projects linked to the mandate.
    pub projects: i64,
    /// Net spending in US dollars (in the ledgers and projects the caller may see).
    pub spent: SignedAmount,
    pub entries: i64,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// By office, fund and fiscal year of the ledgers.
    pub rows: Vec<MandateExpenditureRow>,
    /// The data's watermark (as `X-Sync-Watermark`): every change committed before this
    /// instant is counted; one made at or after it may not be.
    pub as_of: chrono::DateTime<chrono::Utc>,
    /// What the figures are as of: the counted ledgers' closings and verifications, and
    /// the exchange rates that converted the mandate's projects' entries to USD.
    pub provenance: LedgerProvenance,
}

#[derive(diesel::QueryableByName)]
struct MandateSqlRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    office_id: Uuid,
    #[diesel(sql_type = Text)]
    office_code: String,
    #[diesel(sql_type = Text)]
    fund: String,
    #[diesel(sql_type = Integer)]
    fiscal_year: i32,
    #[diesel(sql_type = BigInt)]
    projects: i64,
    #[diesel(sql_type = BigInt)]
    spent: i64,
    #[diesel(sql_type = BigInt)]
    entries: i64,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Uuid>)]
    ledger_ids: Vec<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Uuid>)]
    project_ids: Vec<Uuid>,
}

/// The spending traced to a mandate through the projects that implement it, by office,
/// fund and fiscal year.
///
/// A project that implements several mandates counts in full under each. Finance: an
/// office sees its own ledgers' figures, an HQ department its projects' figures, the
/// Coordinating Office and auditors everything; viewers get 403.
#[utoipa::path(
    context_path = "/mandates",
    tag = "Mandates",
    params(("id" = Uuid, Path, description = "The mandate's id"), FinanceReportQuery),
    responses(
        (status = 200, description = "The expenditures", body = MandateExpenditures),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/expenditures")]
pub async fn mandate_expenditures(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<FinanceReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut conn = state.read_pool().get().await?;
    // Before the figures: every change committed before it is in them.
    let as_of = crate::core::sync::watermark(&mut conn).await?;
    let reference: String = mandates::table
        .find(id)
        .select(mandates::reference)
        .first(&mut conn)
        .await
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    caller.may_read_finance()?;
    // Authorized before the parameters are read.
    let (from, to) = date_range(query.from.as_deref(), query.to.as_deref())?;
    let (office, department) = scope_filters(&caller);
    let projects: i64 = project_mandates::table
        .filter(project_mandates::mandate_id.eq(id))
        .count()
        .get_result(&mut conn)
        .await?;
    let rows: Vec<MandateSqlRow> = diesel::sql_query(
        "SELECT l.office_id, o.code AS office_code, l.fund, l.fiscal_year, \
                count(DISTINCT t.project_id)::bigint AS projects, \
                (-sum(t.effect_minor))::bigint AS spent, sum(t.entries)::bigint AS entries, \
                array_agg(DISTINCT l.id) AS ledger_ids, array_agg(DISTINCT t.project_id) AS project_ids \
           FROM project_daily_totals t \
           JOIN project_mandates pm ON pm.project_id = t.project_id \
           JOIN projects p ON p.id = t.project_id \
           JOIN ledgers l ON l.id = t.ledger_id \
           JOIN offices o ON o.id = l.office_id \
          WHERE pm.mandate_id = $1 AND t.category <> '' \
            AND ($2::uuid IS NULL OR l.office_id = $2) \
            AND ($3::uuid IS NULL OR p.department_id = $3) \
            AND ($4::date IS NULL OR t.entry_date >= $4) \
            AND ($5::date IS NULL OR t.entry_date <= $5) \
          GROUP BY l.office_id, o.code, l.fund, l.fiscal_year \
          ORDER BY o.code, l.fiscal_year, l.fund",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(office)
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(department)
    .bind::<Nullable<Date>, _>(from)
    .bind::<Nullable<Date>, _>(to)
    .load(&mut conn)
    .await?;
    let spent: i64 = rows.iter().map(|r| r.spent).sum();
    let entries: i64 = rows.iter().map(|r| r.entries).sum();
    let mut ledgers: Vec<Uuid> = rows.iter().flat_map(|r| r.ledger_ids.clone()).collect();
    ledgers.sort();
    ledgers.dedup();
    let mut counted: Vec<Uuid> = rows.iter().flat_map(|r| r.project_ids.clone()).collect();
    counted.sort();
    counted.dedup();
    let provenance = of_ledgers(
        &mut conn,
        &ledgers,
        from,
        to,
        Some(counted.as_slice()),
        as_of,
    )
    .await?;
    Ok(HttpResponse::Ok().json(MandateExpenditures {
        as_of,
        provenance,
        mandate_id: id,
        reference,
        projects,
        spent: Money::usd(spent).to_signed(),
        entries,
        from,
        to,
        rows: rows
            .into_iter()
            .map(|r| MandateExpenditureRow {
                office_id: r.office_id,
                office_code: r.office_code,
                fund: Fund::from_db(&r.fund),
                fiscal_year: r.fiscal_year,
                projects: r.projects,
                spent: Money::usd(r.spent).to_signed(),
                entries: r.entries,
            })
            .collect(),
    }))
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/projects")
        .handler_decides()
        .service(project_budget_execution);
    r.under("/mandates").service(mandate_expenditures);
}
