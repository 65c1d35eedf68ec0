//! `/v1/projects/{id}/monitoring-reports`: the office's periodic monitoring of a
//! project, one report per project and period (a month or a quarter).
//!
//! Financial progress is not typed in: it will be derived from the ledgers. The reports
//! of a closed or cancelled project are read-only.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
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
use crate::core::localized::{LocalizedText, LocalizedText10000};
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate;
use crate::db::audit;
use crate::db::schema::monitoring_reports;
use crate::db::{Constraint, Meaning};
use crate::formats::page_type;
use crate::resources::projects::{self, Lock, ProjectStatus};
use crate::state::AppState;

string_enum! {
    /// How much the project's objectives are at risk.
    pub enum RiskLevel {
        Low = "low" ("Low", "Bajo"),
        Medium = "medium" ("Medium", "Medio"),
        High = "high" ("High", "Alto"),
        Critical = "critical" ("Critical", "Crítico"),
    }
}

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "monitoring_reports_project_period_key",
        field: "period",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "monitoring_reports_project_id_fkey",
        field: "project_id",
        meaning: Meaning::ReferencedBy("monitoring_reports"),
    },
    Constraint {
        name: "monitoring_reports_period_check",
        field: "period",
        meaning: Meaning::Check(period_message),
    },
    Constraint {
        name: "monitoring_reports_physical_progress_check",
        field: "physical_progress",
        meaning: Meaning::Check(|| {
            text!(
                "must be an integer from 0 to 100",
                "debe ser un entero de 0 a 100"
            )
        }),
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

fn period_message() -> crate::core::i18n::Text {
    text!(
        "must be a month YYYY-MM or a quarter YYYY-Qn, e.g. 2026-03 or 2026-Q1",
        "debe ser un mes AAAA-MM o un trimestre AAAA-Qn, p. ej. 2026-03 o 2026-Q1"
    )
}

/// The grammar of a report's period in a request body (the document's `pattern`): a
/// month `YYYY-MM` or a quarter `YYYY-Qn` of the years 1900–2199, as [`parse_period`]
/// normalizes them (the list's `period` parameter also takes lower case and spaces).
pub const PERIOD_PATTERN: &str = r"^(19[0-9]{2}|2[01][0-9]{2})-(0[1-9]|1[0-2]|Q[1-4])$";

fn is_period(s: &str) -> bool {
    static RE: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(PERIOD_PATTERN).expect("PERIOD_PATTERN"));
    RE.is_match(s)
}

/// The first and last day of a period: `YYYY-MM` (a month) or `YYYY-Qn` (a quarter),
/// years 1900–2199. Returns the normalized period too (`2026-q1` → `2026-Q1`).
pub fn parse_period(raw: &str) -> Option<(String, NaiveDate, NaiveDate)> {
    let p = raw.trim().to_ascii_uppercase();
    let (year, rest) = p.split_once('-')?;
    if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    if !(1900..=2199).contains(&year) {
        return None;
    }
    let (first_month, months) = if let Some(q) = rest.strip_prefix('Q') {
        let q: u32 = match q {
            "1" => 1,
            "2" => 2,
            "3" => 3,
            "4" => 4,
            _ => return None,
        };
        ((q - 1) * 3 + 1, 3)
    } else {
        if rest.len() != 2 || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let m: u32 = rest.parse().ok()?;
        if !(1..=12).contains(&m) {
            return None;
        }
        (m, 1)
    };
    let start = NaiveDate::from_ymd_opt(year, first_month, 1)?;
    let next = start.checked_add_months(chrono::Months::new(months))?;
    Some((p, start, next.pred_opt()?))
}

/// A monitoring report.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MonitoringReport {
    pub id: Uuid,
    pub project_id: Uuid,
    /// `YYYY-MM` (a month) or `YYYY-Qn` (a quarter).
    #[schema(example = "2026-Q1")]
    pub period: String,
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Last day of the period.
    pub period_end: NaiveDate,
    /// Physical progress of the project, in percent (0–100).
    #[schema(minimum = 0, maximum = 100, example = 40)]
    pub physical_progress: i16,
    pub risk_level: RiskLevel,
    pub narrative: LocalizedText,
    /// The `sub` of whoever created the report.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = monitoring_reports)]
struct ReportRow {
    id: Uuid,
    project_id: Uuid,
    period: String,
    period_start: NaiveDate,
    period_end: NaiveDate,
    physical_progress: i16,
    risk_level: String,
    narrative: serde_json::Value,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ReportRow> for MonitoringReport {
    fn from(r: ReportRow) -> Self {
        MonitoringReport {
            id: r.id,
            project_id: r.project_id,
            period: r.period,
            period_start: r.period_start,
            period_end: r.period_end,
            physical_progress: r.physical_progress,
            risk_level: RiskLevel::from_db(&r.risk_level),
            narrative: LocalizedText::from_json(r.narrative),
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new monitoring report; at most one per project and period.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMonitoringReport {
    /// `YYYY-MM` (a month) or `YYYY-Qn` (a quarter), 1900 to 2199.
    #[schema(example = "2026-Q1", pattern = "<period>")]
    pub period: String,
    /// Percent, an integer from 0 to 100.
    #[schema(minimum = 0, maximum = 100, example = 40)]
    #[serde(deserialize_with = "crate::core::validate::integer")]
    pub physical_progress: i64,
    pub risk_level: RiskLevel,
    #[schema(value_type = LocalizedText10000)]
    pub narrative: LocalizedText,
}

/// Changes to a monitoring report (JSON merge patch).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct MonitoringReportPatch {
    #[schema(example = "2026-Q1", nullable = false, pattern = "<period>")]
    pub period: Option<String>,
    #[schema(nullable = false, minimum = 0, maximum = 100)]
    #[serde(default, deserialize_with = "crate::core::validate::optional_integer")]
    pub physical_progress: Option<i64>,
    #[schema(value_type = RiskLevel, required = false)]
    pub risk_level: Option<RiskLevel>,
    #[schema(value_type = LocalizedText10000, required = false)]
    pub narrative: Option<LocalizedText>,
}

const READ_ONLY: &[&str] = &[
    "id",
    "project_id",
    "period_start",
    "period_end",
    "created_by",
    "created_at",
    "updated_at",
];

/// Checks the typed-in fields; returns the normalized period and its dates.
fn check(
    period: &str,
    physical_progress: i64,
    narrative: &LocalizedText,
) -> Result<(String, NaiveDate, NaiveDate, i16), ApiError> {
    let mut errors = Vec::new();
    let parsed = parse_period(period).filter(|_| is_period(period));
    if parsed.is_none() {
        errors.push(FieldError::new(
            "period",
            "invalid_format",
            period_message(),
        ));
    }
    if !(0..=100).contains(&physical_progress) {
        errors.push(FieldError::new(
            "physical_progress",
            "out_of_range",
            text!(
                "must be an integer from 0 to 100",
                "debe ser un entero de 0 a 100"
            ),
        ));
    }
    narrative.validate("narrative", LocalizedText10000::MAX_CHARS, &mut errors);
    validate::finish(errors)?;
    let (period, start, end) = parsed.expect("checked");
    Ok((period, start, end, physical_progress as i16))
}

fn read_only_project(status: ProjectStatus) -> ApiError {
    ApiError::invalid_state(text!(
        "The project is {status}: its monitoring reports are read-only.",
        "El proyecto está en estado {status}: sus informes de seguimiento son de solo lectura."
    ))
}

page_type!(
    MonitoringReportPage,
    MonitoringReport,
    "A page of monitoring reports."
);

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum ReportSort {
    Period,
    CreatedAt,
    UpdatedAt,
}

impl SortField for ReportSort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("period", ReportSort::Period),
        ("created_at", ReportSort::CreatedAt),
        ("updated_at", ReportSort::UpdatedAt),
    ];
    const DEFAULT: Self = ReportSort::Period;
}

/// Query parameters of the monitoring report list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `period` (by its first day), `created_at` or `updated_at`, prefixed with `-` for
    /// descending order.
    #[param(example = "-period")]
    pub sort: Option<String>,
    /// Reports of periods that end on or after the start of this period (`YYYY-MM`,
    /// `YYYY-Qn`) or date (`YYYY-MM-DD`).
    #[param(example = "2026-01")]
    pub period_from: Option<String>,
    /// Reports of periods that start on or before the end of this period (`YYYY-MM`,
    /// `YYYY-Qn`) or date (`YYYY-MM-DD`).
    #[param(example = "2026-Q2")]
    pub period_to: Option<String>,
    /// Risk levels, comma-separated.
    #[param(example = "high,critical")]
    pub risk_level: Option<String>,
    /// Only reports changed at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

/// A period or date parameter: its first and last day.
fn param_period(name: &str, raw: Option<&str>) -> Result<Option<(NaiveDate, NaiveDate)>, ApiError> {
    raw.map(|v| {
        if let Some((_, start, end)) = parse_period(v) {
            return Ok((start, end));
        }
        NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
            .ok()
            .filter(|d| d.year() >= 1900)
            .map(|d| (d, d))
            .ok_or_else(|| {
                ApiError::invalid_parameter(
                    name,
                    text!(
                        "must be a month YYYY-MM, a quarter YYYY-Qn or a date YYYY-MM-DD",
                        "debe ser un mes AAAA-MM, un trimestre AAAA-Qn o una fecha AAAA-MM-DD"
                    ),
                )
            })
    })
    .transpose()
}

/// List a project's monitoring reports.
#[utoipa::path(
    context_path = "/projects",
    tag = "Monitoring reports",
    params(("id" = Uuid, Path, description = "The project's id"), ReportQuery),
    responses(
        (status = 200, description = "A page of monitoring reports", body = MonitoringReportPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/monitoring-reports")]
pub async fn list_monitoring_reports(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<ReportQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let project_id = id.into_inner();
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<ReportSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let period_from = param_period("period_from", query.period_from.as_deref())?;
    let period_to = param_period("period_to", query.period_to.as_deref())?;
    if let (Some((from, _)), Some((_, to))) = (period_from, period_to)
        && to < from
    {
        return Err(ApiError::invalid_parameter(
            "period_to",
            text!(
                "must not end before period_from starts",
                "no puede terminar antes de que empiece period_from"
            ),
        ));
    }
    let risk_levels = query
        .risk_level
        .as_deref()
        .map(|s| RiskLevel::parse_filter("risk_level", s))
        .transpose()?;
    let updated_since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;

    let mut q = monitoring_reports::table
        .filter(monitoring_reports::project_id.eq(project_id))
        .select(ReportRow::as_select())
        .into_boxed();
    if let Some((from, _)) = period_from {
        q = q.filter(monitoring_reports::period_end.ge(from));
    }
    if let Some((_, to)) = period_to {
        q = q.filter(monitoring_reports::period_start.le(to));
    }
    if let Some(v) = risk_levels {
        q = crate::core::pagination::filter_in!(q, monitoring_reports::risk_level, v);
    }
    if let Some(t) = updated_since {
        q = q.filter(monitoring_reports::updated_at.ge(t));
    }
    let q = match sort.field {
        ReportSort::Period => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<NaiveDate>()?, c.id)))
                .transpose()?;
            keyset!(
                q,
                monitoring_reports::period_start,
                monitoring_reports::id,
                sort.desc,
                after
            )
        }
        ReportSort::CreatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(
                q,
                monitoring_reports::created_at,
                monitoring_reports::id,
                sort.desc,
                after
            )
        }
        ReportSort::UpdatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(
                q,
                monitoring_reports::updated_at,
                monitoring_reports::id,
                sort.desc,
                after
            )
        }
    };
    let mut conn = state.read_pool().get().await?;
    projects::load_scope(&mut conn, project_id, Lock::None).await?;
    let rows: Vec<ReportRow> = q.limit(limit + 1).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor {
        sort: sort_name.clone(),
        value: match sort.field {
            ReportSort::Period => serde_json::json!(r.period_start),
            ReportSort::CreatedAt => serde_json::json!(r.created_at),
            ReportSort::UpdatedAt => serde_json::json!(r.updated_at),
        },
        id: r.id,
    })
    .map(MonitoringReport::from);
    Ok(MonitoringReportPage::respond(page, &req))
}

/// Loads a report of a project, locking it when `for_update`.
async fn load(
    conn: &mut AsyncPgConnection,
    project_id: Uuid,
    id: Uuid,
    for_update: bool,
) -> Result<MonitoringReport, ApiError> {
    let q = monitoring_reports::table
        .filter(monitoring_reports::id.eq(id))
        .filter(monitoring_reports::project_id.eq(project_id))
        .select(ReportRow::as_select());
    let row = if for_update {
        q.for_update().first(conn).await.optional()?
    } else {
        q.first(conn).await.optional()?
    };
    row.map(MonitoringReport::from)
        .ok_or_else(ApiError::not_found)
}

/// Get a monitoring report.
#[utoipa::path(
    context_path = "/projects",
    tag = "Monitoring reports",
    params(
        ("id" = Uuid, Path, description = "The project's id"),
        ("report_id" = Uuid, Path, description = "The report's id"),
    ),
    responses(
        (status = 200, description = "The monitoring report", body = MonitoringReport,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/{id}/monitoring-reports/{report_id}")]
pub async fn get_monitoring_report(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (project_id, id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let report = load(&mut conn, project_id, id, false).await?;
    Ok(Tagged::new(&report).ok(&req))
}

/// Create a monitoring report.
///
/// One report per project and period (409 naming `period` otherwise). The reports of a
/// closed or cancelled project are read-only (409).
#[utoipa::path(
    context_path = "/projects",
    tag = "Monitoring reports",
    params(("id" = Uuid, Path, description = "The project's id")),
    request_body = NewMonitoringReport,
    responses(
        (status = 201, description = "The report was created", body = MonitoringReport,
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
#[post("/{id}/monitoring-reports")]
pub async fn create_monitoring_report(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: JsonBody<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let project_id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            // FOR SHARE: the project cannot be closed, cancelled or deleted meanwhile.
            let project = projects::load_scope(conn, project_id, Lock::Share).await?;
            caller.may_write_project(project.office_id, project.department_id)?;
            let new: NewMonitoringReport = from_value(body.0.clone())?;
            let (period, start, end, progress) =
                check(&new.period, new.physical_progress, &new.narrative)?;
            if project.status.is_final() {
                return Err(read_only_project(project.status));
            }
            let row: ReportRow = diesel::insert_into(monitoring_reports::table)
                .values((
                    monitoring_reports::id.eq(Uuid::now_v7()),
                    monitoring_reports::project_id.eq(project_id),
                    monitoring_reports::period.eq(&period),
                    monitoring_reports::period_start.eq(start),
                    monitoring_reports::period_end.eq(end),
                    monitoring_reports::physical_progress.eq(progress),
                    monitoring_reports::risk_level.eq(new.risk_level.as_str()),
                    monitoring_reports::narrative.eq(new.narrative.to_json()),
                    monitoring_reports::created_by.eq(&caller.sub),
                ))
                .returning(ReportRow::as_returning())
                .get_result(conn)
                .await?;
            let created = MonitoringReport::from(row);
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "monitoring_report",
                created.id,
                None,
                Some(&created),
            )
            .await?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!(
        "/v1/projects/{}/monitoring-reports/{}",
        created.project_id, created.id
    );
    Ok(Tagged::new(&created).created(&location))
}

/// Update a monitoring report.
///
/// Requires `If-Match` with the current ETag (428 without it, 412 when stale). The
/// reports of a closed or cancelled project are read-only (409).
#[utoipa::path(
    context_path = "/projects",
    tag = "Monitoring reports",
    params(
        ("id" = Uuid, Path, description = "The project's id"),
        ("report_id" = Uuid, Path, description = "The report's id"),
        ("If-Match" = String, Header, description = "The ETag of the report as last read"),
    ),
    request_body(content = MonitoringReportPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated report", body = MonitoringReport, headers(("ETag" = String))),
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
#[patch("/{id}/monitoring-reports/{report_id}")]
pub async fn update_monitoring_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: JsonBody<serde_json::Value>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (project_id, id) = path.into_inner();
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let updated = conn
        .transaction(async |conn| {
            let project = projects::load_scope(conn, project_id, Lock::Share).await?;
            let current = load(conn, project_id, id, true).await?;
            caller.may_write_project(project.office_id, project.department_id)?;
            let before = Tagged::new(&current);
            if_match.require(&before.etag)?;
            validate::reject_read_only(&body.0, READ_ONLY)?;
            validate::reject_null(
                &body.0,
                &["period", "physical_progress", "risk_level", "narrative"],
            )?;
            let patch: MonitoringReportPatch = from_value(body.0.clone())?;
            let period = patch.period.unwrap_or_else(|| current.period.clone());
            let progress = patch
                .physical_progress
                .unwrap_or(i64::from(current.physical_progress));
            let narrative = patch.narrative.unwrap_or_else(|| current.narrative.clone());
            let risk_level = patch.risk_level.unwrap_or(current.risk_level);
            let (period, start, end, progress) = check(&period, progress, &narrative)?;
            if project.status.is_final() {
                return Err(read_only_project(project.status));
            }
            let row: ReportRow = diesel::update(monitoring_reports::table.find(id))
                .set((
                    monitoring_reports::period.eq(&period),
                    monitoring_reports::period_start.eq(start),
                    monitoring_reports::period_end.eq(end),
                    monitoring_reports::physical_progress.eq(progress),
                    monitoring_reports::risk_level.eq(risk_level.as_str()),
                    monitoring_reports::narrative.eq(narrative.to_json()),
                ))
                .returning(ReportRow::as_returning())
                .get_result(conn)
                .await?;
            let after = MonitoringReport::from(row);
            if Tagged::new(&after).etag != before.etag {
                audit::record(
                    conn,
                    &caller.actor(),
                    "update",
                    "monitoring_report",
                    id,
                    Some(&current),
                    Some(&after),
                )
                .await?;
            }
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(Tagged::new(&updated).ok(&req))
}

#[cfg(test)]
mod tests {
    use super::parse_period;
    use chrono::NaiveDate;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_are_months_or_quarters() {
        assert_eq!(
            parse_period("2026-03"),
            Some(("2026-03".into(), d("2026-03-01"), d("2026-03-31")))
        );
        assert_eq!(
            parse_period("2024-02"),
            Some(("2024-02".into(), d("2024-02-01"), d("2024-02-29")))
        );
        assert_eq!(
            parse_period("2026-12"),
            Some(("2026-12".into(), d("2026-12-01"), d("2026-12-31")))
        );
        assert_eq!(
            parse_period("2026-Q1"),
            Some(("2026-Q1".into(), d("2026-01-01"), d("2026-03-31")))
        );
        assert_eq!(
            parse_period(" 2026-q4 "),
            Some(("2026-Q4".into(), d("2026-10-01"), d("2026-12-31")))
        );
        for bad in [
            "2026",
            "2026-13",
            "2026-00",
            "2026-3",
            "2026-Q0",
            "2026-Q5",
            "26-01",
            "2026-01-01",
            "2026/01",
            "",
            "1899-01",
            "2026-Q",
            "2026-H1",
            "+2026-01",
        ] {
            assert_eq!(parse_period(bad), None, "{bad}");
        }
    }
}
