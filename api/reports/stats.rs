//! `/v1/stats`: aggregates for dashboards, readable by every role (viewers included).
//!
//! ## What they read
//! Summaries kept in the transaction of every ledger entry, never the entries:
//! `ledger_daily_totals` (per ledger, day, kind and category) and
//! `project_daily_totals` (the same per project, for entries tagged to a project). A
//! statistic therefore costs about as much for ten million entries as for ten.
//!
//! ## Spending
//! Net spending in US dollars: expenses − refunds, net of reversals (a reversal undoes
//! its entry on the reversal's own date). Allocations and adjustments are not spending.
//! Grouped by project, the row whose `project_id` is null is the spending not tagged to
//! any project, so that the rows always add up to the ledgers' totals.
//!
//! ## Spending by sector
//! A project has one or more OECD DAC 5-digit sectors with percentages summing to 100.
//! Grouped by `sector` (or filtered with `sector=`), the spending of each project in each
//! group of the other dimensions asked for (office, month, category, project, fund) is
//! split across its sectors in exact minor units: each sector gets ⌊|spent| × percentage
//! / 100⌋, and the units left over go one each to the sectors with the largest remainders
//! (ties: the larger percentage, then the lower code); a negative amount (refunds above
//! expenses) is split the same way with its sign. The shares of a project therefore sum
//! exactly to its spending, and the total to the unsplit total. Since the split is made
//! per group, adding a dimension may move a cent between two sectors of a project.
//! Spending not tagged to a project has no sector: its row has a null `sector` (listed
//! last), and the `sector` filter leaves it out; the filter keeps the shares in the
//! given sectors, not the projects' whole spending. In a sector row `entries` counts the
//! entries of the projects split into it (an entry of a project in two sectors counts
//! in both); `total_entries` counts every entry once. The sector join is only made when
//! sector is grouped or filtered.
//!
//! ## Who sees what
//! Every role sees every office's aggregates: they are the published, dashboard face of
//! the ledgers. No statistic carries an entry (descriptions, payees, references); a
//! group may still hold a single entry (`entries` = 1). Entry-level data stays behind the
//! finance rules of `/v1/ledgers`.
//!
//! ## CSV
//! `Accept: text/csv` or `format=csv` answers the rows as CSV, the same way as the lists
//! (see `crate::formats`): the row schema's columns (a dimension not grouped by is an
//! empty column), each code followed by its label, money as `spent_amount` and
//! `spent_currency`, parents' codes after their ids.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{Datelike, NaiveDate};
use diesel::sql_types::{Array, BigInt, Date, Integer, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::core::enums::string_enum;
use crate::core::error::ApiError;
use crate::core::i18n::text;
use crate::core::money::{self, MonetaryAmount, Money, SignedAmount};
use crate::core::validate;
use crate::formats::{
    Context, Encoder, Format, Honored, Negotiated, TEXT_CSV, content_disposition,
};
use crate::resources::ledgers::{Category, Fund};
use crate::resources::projects::{Pillar, ProjectStatus};
use crate::state::AppState;

// ---------------------------------------------------------------------------------
// Shared: formats, parameters, CSV

/// Answers `body` as JSON, or `rows` as CSV when the request asked for it: the same
/// CSV as the lists' (`crate::formats`), the columns of `R`'s schema with a label after
/// each code and the parents' codes after their ids.
async fn respond<R: Serialize + ToSchema, B: Serialize>(
    req: &HttpRequest,
    conn: &mut AsyncPgConnection,
    rows: &[R],
    body: B,
) -> Result<HttpResponse, ApiError> {
    let negotiated = Negotiated::of(req);
    if negotiated.choose(&[Format::Json, Format::Csv])? == Format::Json {
        return Ok(HttpResponse::Ok()
            .insert_header((header::VARY, "Accept, Accept-Language"))
            .json(body));
    }
    let encoder = Encoder::new(&R::name(), req, negotiated.bom);
    let rows = encoder.flatten(rows);
    let ctx = if encoder.needs_context() {
        encoder
            .context(conn, &rows, &mut Context::default())
            .await?
    } else {
        Context::default()
    };
    let mut bytes = encoder.header();
    encoder.write_rows(&mut bytes, &rows, &ctx);
    let mut res = HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, TEXT_CSV))
        .insert_header((header::VARY, "Accept, Accept-Language"))
        .insert_header(content_disposition(req, "csv"))
        .insert_header((header::CONTENT_LANGUAGE, encoder.data_lang))
        .body(bytes);
    res.extensions_mut().insert(Honored);
    Ok(res)
}

/// The `from` and `to` days of a date range (each optional, inclusive); `to` before
/// `from` is a 400.
pub(crate) fn date_range(
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(Option<NaiveDate>, Option<NaiveDate>), ApiError> {
    let from = validate::param_date("from", from)?;
    let to = validate::param_date("to", to)?;
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        return Err(ApiError::invalid_parameter(
            "to",
            text!("must not be before from", "no puede ser anterior a from"),
        ));
    }
    Ok((from, to))
}

/// Whether `from`..=`to` covers whole months: `from` absent or a first of a month, `to`
/// absent or a last day of a month.
fn whole_months(from: Option<NaiveDate>, to: Option<NaiveDate>) -> bool {
    from.is_none_or(|f| f.day() == 1)
        && to.is_none_or(|t| t.succ_opt().is_none_or(|n| n.day() == 1))
}

/// Reads a `group_by` list of dimensions (each at most once, in the caller's order);
/// absent means `default`.
fn group_by<D: Copy + PartialEq>(
    raw: Option<&str>,
    default: &[D],
    parse_filter: fn(&str, &str) -> Result<Vec<&'static str>, ApiError>,
    parse: fn(&str) -> Option<D>,
) -> Result<Vec<D>, ApiError> {
    let Some(raw) = raw else {
        return Ok(default.to_vec());
    };
    let mut out = Vec::new();
    for code in parse_filter("group_by", raw)? {
        let d = parse(code).expect("parsed above");
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

fn fiscal_year(raw: Option<&str>) -> Result<Option<i32>, ApiError> {
    validate::param_i64("fiscal_year", raw)?
        .map(|y| {
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
        })
        .transpose()
}

fn owned(v: Option<Vec<&'static str>>) -> Option<Vec<String>> {
    v.map(|v| v.into_iter().map(str::to_owned).collect())
}

/// `numerator / denominator` as a percentage with two decimals (half away from zero);
/// none when the denominator is not positive.
pub(crate) fn percent(numerator: i64, denominator: i64) -> Option<String> {
    if denominator <= 0 {
        return None;
    }
    let scaled = i128::from(numerator) * 10_000;
    let d = i128::from(denominator);
    let q = scaled / d;
    let r = scaled % d;
    let rounded = if 2 * r.abs() >= d {
        q + scaled.signum()
    } else {
        q
    };
    i64::try_from(rounded)
        .ok()
        .map(|v| money::format_decimal(v, 2))
}

fn usd(minor: i64) -> SignedAmount {
    Money::usd(minor).to_signed()
}

// ---------------------------------------------------------------------------------
// Spending

string_enum! {
    /// A dimension spending is grouped by.
    pub enum SpendingDimension {
        /// The office whose ledger holds the entries.
        Office = "office" ("Office", "Oficina"),
        /// The calendar month of the entries' dates (`YYYY-MM`).
        Month = "month" ("Month", "Mes"),
        /// The object of expenditure.
        Category = "category" ("Category", "Categoría"),
        /// The project the entries are tagged to (null: not tagged to any).
        Project = "project" ("Project", "Proyecto"),
        /// The ledger's fund.
        Fund = "fund" ("Fund", "Fondo"),
        /// The OECD DAC 5-digit sector of the projects the entries are tagged to: a
        /// project's spending split across its sectors by percentage (null: not tagged
        /// to any project, so without sector).
        Sector = "sector" ("Sector", "Sector"),
    }
}

/// Query parameters of spending statistics.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SpendingQuery {
    /// Dimensions, comma-separated, among `office`, `month`, `category`, `project`,
    /// `fund`, `sector` (default `office`). Empty (`group_by=`) gives one overall row.
    #[param(example = "office,month")]
    pub group_by: Option<String>,
    /// Entries dated on or after this day.
    #[param(value_type = Option<NaiveDate>)]
    pub from: Option<String>,
    /// Entries dated on or before this day.
    #[param(value_type = Option<NaiveDate>)]
    pub to: Option<String>,
    /// Offices (ids), comma-separated.
    pub office_id: Option<String>,
    /// Funds, comma-separated.
    pub fund: Option<String>,
    /// The ledgers' fiscal year.
    #[param(value_type = Option<i32>)]
    pub fiscal_year: Option<String>,
    /// Categories, comma-separated.
    pub category: Option<String>,
    /// Projects (ids), comma-separated: only spending tagged to them.
    pub project_id: Option<String>,
    /// HQ departments (ids), comma-separated: only spending tagged to their projects.
    pub department_id: Option<String>,
    /// OECD DAC 5-digit sectors (codes), comma-separated: only the shares of projects'
    /// spending split into these sectors (spending not tagged to a project has no
    /// sector and is left out). A code not in the DAC codelist is a 422.
    #[param(example = "15151,15160")]
    pub sector: Option<String>,
}

/// Net spending of one group. Fields of dimensions not grouped by are null.
#[derive(Serialize, ToSchema, Debug)]
pub struct SpendingRow {
    pub office_id: Option<Uuid>,
    #[schema(example = "OGSMS-PE")]
    pub office_code: Option<String>,
    /// `YYYY-MM`.
    #[schema(example = "2026-03")]
    pub month: Option<String>,
    pub category: Option<Category>,
    /// Null when grouped by project: spending not tagged to any project.
    pub project_id: Option<Uuid>,
    pub project_code: Option<String>,
    pub fund: Option<Fund>,
    /// OECD DAC 5-digit sector code. Null when grouped by sector: spending not tagged to
    /// any project.
    #[schema(example = "15151")]
    pub sector: Option<String>,
    /// The sector's name in the DAC codelist (English).
    #[schema(example = "Elections")]
    pub sector_name: Option<String>,
    /// Expenses − refunds, net of reversals, in US dollars.
    pub spent: SignedAmount,
    /// The entries counted: expenses, refunds, and reversals of them. By sector, an entry
    /// of a project in several sectors counts in each (`total_entries` counts it once).
    pub entries: i64,
}

/// Net spending, grouped.
#[derive(Serialize, ToSchema, Debug)]
pub struct SpendingStats {
    pub group_by: Vec<SpendingDimension>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub rows: Vec<SpendingRow>,
    /// The sum of the rows.
    pub total_spent: SignedAmount,
    /// The entries counted, each once (also by sector).
    pub total_entries: i64,
    /// The data's watermark (as `X-Sync-Watermark`): every change committed before this
    /// instant is counted; one made at or after it may not be.
    pub as_of: chrono::DateTime<chrono::Utc>,
}

#[derive(diesel::QueryableByName)]
struct SpendingSqlRow {
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    office_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    office_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    month: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    category: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    project_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    project_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    fund: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    sector: Option<String>,
    #[diesel(sql_type = BigInt)]
    spent: i64,
    #[diesel(sql_type = BigInt)]
    entries: i64,
    /// The entries counted once: by sector, only in the first sector of their project.
    #[diesel(sql_type = BigInt)]
    entries_once: i64,
}

/// Spending of every ledger, from the ledgers' daily totals.
const LEDGER_SOURCE: &str = "SELECT ledger_id, entry_date, category, NULL::uuid AS project_id, \
     effect_minor, entries FROM ledger_daily_totals WHERE category <> ''";
/// The same from the ledgers' monthly totals (`entry_date` is the first of the month):
/// for whole months, about 30 times fewer rows.
const LEDGER_MONTHLY_SOURCE: &str = "SELECT ledger_id, month AS entry_date, category, \
     NULL::uuid AS project_id, effect_minor, entries FROM ledger_monthly_totals WHERE category <> ''";
/// The same from the ledgers' monthly spending (every category together, one row per
/// ledger and month): for whole months neither grouped nor filtered by category.
const LEDGER_MONTHLY_SPENDING_SOURCE: &str = "SELECT ledger_id, month AS entry_date, \
     NULL::text AS category, NULL::uuid AS project_id, effect_minor, entries FROM ledger_monthly_spending";
/// Spending tagged to projects, from the projects' daily totals.
const PROJECT_SOURCE: &str = "SELECT ledger_id, entry_date, category, project_id, effect_minor, \
     entries FROM project_daily_totals WHERE category <> ''";
/// Spending by project plus a null project for the rest: the ledgers' totals minus the
/// projects' totals.
const PROJECT_AND_REST_SOURCE: &str = "SELECT ledger_id, entry_date, category, project_id, \
     effect_minor, entries FROM project_daily_totals WHERE category <> '' \
     UNION ALL SELECT ledger_id, entry_date, category, NULL::uuid, effect_minor, entries \
     FROM ledger_daily_totals WHERE category <> '' \
     UNION ALL SELECT ledger_id, entry_date, category, NULL::uuid, -effect_minor, -entries \
     FROM project_daily_totals WHERE category <> ''";

/// The shares of `g.spent` (numeric, signed) in each sector of project `sp`: each sector
/// gets ⌊|spent| × percentage / 100⌋ minor units, and the units left over (fewer than
/// the sectors) go one each to the sectors with the largest remainders (ties: the larger
/// percentage, then the lower code), so that the shares sum exactly to `g.spent`. The
/// percentages are stored normalized with at most two decimals (hundredths × 100).
const SECTOR_SHARES: &str = "SELECT code, sign(g.spent) * (base + CASE WHEN \
       row_number() OVER (ORDER BY rem DESC, h DESC, code) <= abs(g.spent) - sum(base) OVER () \
       THEN 1 ELSE 0 END) AS share \
     FROM (SELECT s.code, h.h, floor(abs(g.spent) * h.h / 10000) AS base, \
             (abs(g.spent) * h.h) % 10000 AS rem \
           FROM jsonb_to_recordset(sp.sectors) AS s(code text, percentage text) \
           CROSS JOIN LATERAL (SELECT s.percentage::numeric * 100 AS h) h) a";

/// The `sector` filter: 5-digit codes (a 400 otherwise), each in the DAC 5-digit
/// codelist (a 422 naming the code otherwise; withdrawn codes are accepted, since
/// projects may still carry them).
fn sector_filter(raw: Option<&str>) -> Result<Option<Vec<String>>, ApiError> {
    let codes = validate::param_codes("sector", raw, |c| {
        c.len() == 5 && c.bytes().all(|b| b.is_ascii_digit())
    })?;
    if let Some(unknown) = codes
        .iter()
        .flatten()
        .find(|c| !crate::resources::shared::iati::sectors().contains_key(c.as_str()))
    {
        return Err(ApiError::invalid_field(
            "sector",
            "unknown",
            text!(
                "{unknown} is not an OECD DAC 5-digit sector code (IATI Sector codelist)",
                "{unknown} no es un código de sector de 5 dígitos del CAD de la OCDE (lista Sector de IATI)"
            ),
        ));
    }
    Ok(codes)
}

/// The English name of a DAC 5-digit sector code.
fn sector_name(code: &str) -> Option<String> {
    crate::resources::shared::iati::sectors()
        .get(code)
        .map(|i| i.name.clone())
}

/// Net spending, grouped by office, month, category, project, fund and/or sector.
///
/// Net spending is expenses − refunds, net of reversals, in US dollars, read from the
/// daily totals kept with every entry (never from the entries). Readable by every role:
/// these are aggregates of every office. `Accept: text/csv` or `format=csv` for CSV.
#[utoipa::path(
    context_path = "/stats",
    tag = "Statistics",
    params(SpendingQuery),
    responses(
        (status = 200, description = "Net spending by group", content(
            (SpendingStats = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/spending")]
pub async fn spending(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<SpendingQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.may_read_statistics()?;
    let dims = group_by(
        query.group_by.as_deref(),
        &[SpendingDimension::Office],
        SpendingDimension::parse_filter,
        SpendingDimension::parse,
    )?;
    let (from, to) = date_range(query.from.as_deref(), query.to.as_deref())?;
    let office_ids = validate::param_uuids("office_id", query.office_id.as_deref())?;
    let funds = owned(
        query
            .fund
            .as_deref()
            .map(|s| Fund::parse_filter("fund", s))
            .transpose()?,
    );
    let year = fiscal_year(query.fiscal_year.as_deref())?;
    let categories = owned(
        query
            .category
            .as_deref()
            .map(|s| Category::parse_filter("category", s))
            .transpose()?,
    );
    let project_ids = validate::param_uuids("project_id", query.project_id.as_deref())?;
    let department_ids = validate::param_uuids("department_id", query.department_id.as_deref())?;
    let sectors = sector_filter(query.sector.as_deref())?;

    let by_sector = dims.contains(&SpendingDimension::Sector);
    // By sector (or filtered by it), the spending of each project is split across its
    // sectors: the rows are summed by project first.
    let with_sectors = by_sector || sectors.is_some();
    let by_project = dims.contains(&SpendingDimension::Project) || by_sector;
    let project_filtered = project_ids.is_some() || department_ids.is_some() || sectors.is_some();
    let source = match (by_project, project_filtered) {
        (_, true) => PROJECT_SOURCE,
        (true, false) => PROJECT_AND_REST_SOURCE,
        // Whole months (no bounds, or bounds on month boundaries): the monthly totals
        // give the same sums, since every filter but the dates is on the ledger or the
        // category.
        (false, false)
            if whole_months(from, to)
                && categories.is_none()
                && !dims.contains(&SpendingDimension::Category) =>
        {
            LEDGER_MONTHLY_SPENDING_SOURCE
        }
        (false, false) if whole_months(from, to) => LEDGER_MONTHLY_SOURCE,
        (false, false) => LEDGER_SOURCE,
    };
    let mut select = Vec::new();
    let mut group = Vec::new();
    let mut order = Vec::new();
    for d in SpendingDimension::ALL {
        let on = dims.contains(d);
        match d {
            SpendingDimension::Office => {
                select.push(if on {
                    "o.id AS office_id, o.code AS office_code"
                } else {
                    "NULL::uuid AS office_id, NULL::text AS office_code"
                });
                if on {
                    group.push("o.id");
                }
            }
            SpendingDimension::Month => {
                select.push(if on {
                    // `timestamp`, not the implicit `timestamptz` (a time-zone lookup
                    // per row).
                    "to_char(t.month::timestamp, 'YYYY-MM') AS month"
                } else {
                    "NULL::text AS month"
                });
                if on {
                    group.push("t.month");
                }
            }
            SpendingDimension::Category => {
                select.push(if on {
                    "t.category AS category"
                } else {
                    "NULL::text AS category"
                });
                if on {
                    group.push("t.category");
                }
            }
            SpendingDimension::Project => {
                select.push(if on {
                    "t.project_id AS project_id, p.code AS project_code"
                } else {
                    "NULL::uuid AS project_id, NULL::text AS project_code"
                });
                if on {
                    group.push("t.project_id, p.id");
                }
            }
            SpendingDimension::Fund => {
                select.push(if on {
                    "l.fund AS fund"
                } else {
                    "NULL::text AS fund"
                });
                if on {
                    group.push("l.fund");
                }
            }
            // Added after the split (see below), never grouped in the first steps.
            SpendingDimension::Sector => {}
        }
    }
    for d in &dims {
        order.push(match d {
            SpendingDimension::Office => "office_code",
            SpendingDimension::Month => "month",
            SpendingDimension::Category => "category",
            SpendingDimension::Project => "project_code NULLS LAST",
            SpendingDimension::Fund => "fund",
            SpendingDimension::Sector => "sector NULLS LAST",
        });
    }
    // Two steps: the totals summed by ledger (and month, category, project as grouped)
    // first, where the rows are many (~100k monthly rows at 10M entries), then those few
    // sums joined to their ledgers, offices and projects and grouped as asked. The first
    // sum is left out where the source has one row per such group already (monthly rows
    // grouped by month, and by category when they have one): it gave the same rows and
    // was 40% of the time of spending by office and month.
    let by_month = dims.contains(&SpendingDimension::Month);
    let by_category = dims.contains(&SpendingDimension::Category);
    let one_row_a_group = match source {
        LEDGER_MONTHLY_SPENDING_SOURCE => by_month,
        LEDGER_MONTHLY_SOURCE => by_month && by_category,
        _ => false,
    };
    let (sums, sum_group) = if one_row_a_group {
        ("effect_minor, entries", "")
    } else {
        (
            "sum(effect_minor)::bigint AS effect_minor, sum(entries)::bigint AS entries",
            "GROUP BY 1, 2, 3, 4",
        )
    };
    let inner = format!(
        "SELECT ledger_id, {month} AS month, {category} AS category, {project} AS project_id, \
           {sums} \
         FROM ({source}) s \
         WHERE ($1::date IS NULL OR entry_date >= $1) \
           AND ($2::date IS NULL OR entry_date <= $2) \
           AND ($6::text[] IS NULL OR category = ANY($6)) \
           AND ($7::uuid[] IS NULL OR project_id = ANY($7)) \
         {sum_group}",
        // Monthly totals are dated on the first of their month already; a date cast to
        // `timestamp` (not `timestamptz`, which takes a time-zone lookup per row) for the
        // daily ones.
        month = match (by_month, source) {
            (false, _) => "NULL::date",
            (true, LEDGER_MONTHLY_SOURCE | LEDGER_MONTHLY_SPENDING_SOURCE) => "entry_date",
            (true, _) => "date_trunc('month', entry_date::timestamp)::date",
        },
        category = if by_category {
            "category"
        } else {
            "NULL::text"
        },
        // The department and sector filters need the project even when not grouped by it.
        project = if by_project || department_ids.is_some() || with_sectors {
            "project_id"
        } else {
            "NULL::uuid"
        },
    );
    let from_where = format!(
        "FROM ({inner}) t \
         JOIN ledgers l ON l.id = t.ledger_id \
         JOIN offices o ON o.id = l.office_id \
         LEFT JOIN projects p ON p.id = t.project_id \
         WHERE ($3::uuid[] IS NULL OR l.office_id = ANY($3)) \
           AND ($4::text[] IS NULL OR l.fund = ANY($4)) \
           AND ($5::int IS NULL OR l.fiscal_year = $5) \
           AND ($8::uuid[] IS NULL OR p.department_id = ANY($8))"
    );
    let order = if order.is_empty() {
        String::new()
    } else {
        format!("ORDER BY {}", order.join(", "))
    };
    let sql = if with_sectors {
        // Three steps: the spending of each project in each group of the other
        // dimensions (`g`); each such amount split across the project's sectors by
        // largest remainder (`split`); the shares summed by group and sector.
        group.push("t.project_id");
        format!(
            "WITH g AS (SELECT {select}, t.project_id AS split_project_id, \
               (-sum(t.effect_minor))::numeric AS spent, sum(t.entries)::bigint AS entries, \
               row_number() OVER () AS gid \
             {from_where} GROUP BY {group}), \
             split AS (SELECT g.*, x.code AS sector, coalesce(x.share, g.spent) AS share, \
               CASE WHEN row_number() OVER (PARTITION BY g.gid ORDER BY x.code) = 1 \
                 THEN g.entries ELSE 0 END AS entries_once \
             FROM g LEFT JOIN projects sp ON sp.id = g.split_project_id \
             LEFT JOIN LATERAL ({SECTOR_SHARES}) x ON true \
             WHERE ($9::text[] IS NULL OR x.code = ANY($9))) \
             SELECT office_id, office_code, month, category, project_id, project_code, fund, \
               {sector} AS sector, sum(share)::bigint AS spent, sum(entries)::bigint AS entries, \
               sum(entries_once)::bigint AS entries_once \
             FROM split GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 HAVING sum(entries) <> 0 {order}",
            select = select.join(", "),
            group = group.join(", "),
            sector = if by_sector { "sector" } else { "NULL::text" },
        )
    } else {
        format!(
            "SELECT {select}, NULL::text AS sector, (-sum(t.effect_minor))::bigint AS spent, \
               sum(t.entries)::bigint AS entries, sum(t.entries)::bigint AS entries_once \
             {from_where} {group} HAVING sum(t.entries) <> 0 {order}",
            select = select.join(", "),
            group = if group.is_empty() {
                String::new()
            } else {
                format!("GROUP BY {}", group.join(", "))
            },
        )
    };
    let mut conn = state.read_pool().get().await?;
    // Before the figures: every change committed before it is in them.
    let as_of = crate::core::sync::watermark(&mut conn).await?;
    let mut query = diesel::sql_query(sql)
        .into_boxed()
        .bind::<Nullable<Date>, _>(from)
        .bind::<Nullable<Date>, _>(to)
        .bind::<Nullable<Array<diesel::sql_types::Uuid>>, _>(office_ids)
        .bind::<Nullable<Array<Text>>, _>(funds)
        .bind::<Nullable<Integer>, _>(year)
        .bind::<Nullable<Array<Text>>, _>(categories)
        .bind::<Nullable<Array<diesel::sql_types::Uuid>>, _>(project_ids)
        .bind::<Nullable<Array<diesel::sql_types::Uuid>>, _>(department_ids);
    if with_sectors {
        query = query.bind::<Nullable<Array<Text>>, _>(sectors);
    }
    let rows: Vec<SpendingSqlRow> = query.load(&mut conn).await?;

    let total_spent = rows.iter().map(|r| r.spent).sum();
    let total_entries = rows.iter().map(|r| r.entries_once).sum();
    let body = SpendingStats {
        as_of,
        group_by: dims,
        from,
        to,
        rows: rows
            .into_iter()
            .map(|r| SpendingRow {
                office_id: r.office_id,
                office_code: r.office_code,
                month: r.month,
                category: r.category.as_deref().map(Category::from_db),
                project_id: r.project_id,
                project_code: r.project_code,
                fund: r.fund.as_deref().map(Fund::from_db),
                sector_name: r.sector.as_deref().and_then(sector_name),
                sector: r.sector,
                spent: usd(r.spent),
                entries: r.entries,
            })
            .collect(),
        total_spent: usd(total_spent),
        total_entries,
    };
    respond(&req, &mut conn, &body.rows, &body).await
}

// ---------------------------------------------------------------------------------
// Budget execution

string_enum! {
    /// A dimension budget execution is grouped by.
    pub enum ExecutionDimension {
        /// The project's office.
        Office = "office" ("Office", "Oficina"),
        /// The project's HQ Secretariat or Department.
        Department = "department" ("Department", "Departamento"),
        /// The project's pillar.
        Pillar = "pillar" ("Pillar", "Pilar"),
    }
}

/// Query parameters of budget execution.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExecutionQuery {
    /// Dimensions, comma-separated, among `office`, `department`, `pillar` (default
    /// `office`).
    #[param(example = "office,pillar")]
    pub group_by: Option<String>,
    /// Count spending dated on or after this day.
    #[param(value_type = Option<NaiveDate>)]
    pub from: Option<String>,
    /// Count spending dated on or before this day.
    #[param(value_type = Option<NaiveDate>)]
    pub to: Option<String>,
    /// Projects of these offices (ids), comma-separated.
    pub office_id: Option<String>,
    /// Projects of these HQ departments (ids), comma-separated.
    pub department_id: Option<String>,
    /// Pillars, comma-separated.
    pub pillar: Option<String>,
    /// Project statuses, comma-separated.
    pub status: Option<String>,
}

/// Budget against net spending for one group of projects.
///
/// Budgets are summed over the projects budgeted in US dollars only, and so is `spent`,
/// so that the two compare like with like; no exchange rate is applied to a budget (the
/// operational rates convert entries on their dates; a budget has no such date).
/// Projects budgeted in another currency are counted in `other_currency_projects`, their
/// spending (always in USD) in `other_currency_spent`.
#[derive(Serialize, ToSchema, Debug)]
pub struct ExecutionRow {
    pub office_id: Option<Uuid>,
    pub office_code: Option<String>,
    pub department_id: Option<Uuid>,
    pub department_code: Option<String>,
    pub pillar: Option<Pillar>,
    /// Every project of the group.
    pub projects: i64,
    /// The sum of the USD budgets.
    pub budget: MonetaryAmount,
    /// Net spending of the USD-budgeted projects.
    pub spent: SignedAmount,
    /// `spent` / `budget` × 100, two decimals; null when the budget is zero.
    #[schema(example = "45.23")]
    pub executed_percent: Option<String>,
    pub other_currency_projects: i64,
    pub other_currency_spent: SignedAmount,
}

/// Budget execution, grouped.
#[derive(Serialize, ToSchema, Debug)]
pub struct ExecutionStats {
    pub group_by: Vec<ExecutionDimension>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub rows: Vec<ExecutionRow>,
    /// The data's watermark (as `X-Sync-Watermark`): every change committed before this
    /// instant is counted; one made at or after it may not be.
    pub as_of: chrono::DateTime<chrono::Utc>,
}

#[derive(diesel::QueryableByName)]
struct ExecutionSqlRow {
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    office_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    office_code: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    department_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    department_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pillar: Option<String>,
    #[diesel(sql_type = BigInt)]
    projects: i64,
    #[diesel(sql_type = BigInt)]
    budget: i64,
    #[diesel(sql_type = BigInt)]
    spent: i64,
    #[diesel(sql_type = BigInt)]
    other_currency_projects: i64,
    #[diesel(sql_type = BigInt)]
    other_currency_spent: i64,
}

/// Budget execution: projects' budgets against their net spending, by office, HQ
/// department and/or pillar.
///
/// Only budgets in US dollars are summed (see `ExecutionRow`); spending is read from the
/// per-project totals kept with every entry. Readable by every role.
#[utoipa::path(
    context_path = "/stats",
    tag = "Statistics",
    params(ExecutionQuery),
    responses(
        (status = 200, description = "Budget execution by group", content(
            (ExecutionStats = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/budget-execution")]
pub async fn budget_execution(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ExecutionQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.may_read_statistics()?;
    let dims = group_by(
        query.group_by.as_deref(),
        &[ExecutionDimension::Office],
        ExecutionDimension::parse_filter,
        ExecutionDimension::parse,
    )?;
    let (from, to) = date_range(query.from.as_deref(), query.to.as_deref())?;
    let office_ids = validate::param_uuids("office_id", query.office_id.as_deref())?;
    let department_ids = validate::param_uuids("department_id", query.department_id.as_deref())?;
    let pillars = owned(
        query
            .pillar
            .as_deref()
            .map(|s| Pillar::parse_filter("pillar", s))
            .transpose()?,
    );
    let statuses = owned(
        query
            .status
            .as_deref()
            .map(|s| ProjectStatus::parse_filter("status", s))
            .transpose()?,
    );
    let mut select = Vec::new();
    let mut group = Vec::new();
    for d in ExecutionDimension::ALL {
        let on = dims.contains(d);
        match d {
            ExecutionDimension::Office => {
                select.push(if on {
                    "o.id AS office_id, o.code AS office_code"
                } else {
                    "NULL::uuid AS office_id, NULL::text AS office_code"
                });
                if on {
                    group.push("o.id");
                }
            }
            ExecutionDimension::Department => {
                select.push(if on {
                    "d.id AS department_id, d.code AS department_code"
                } else {
                    "NULL::uuid AS department_id, NULL::text AS department_code"
                });
                if on {
                    group.push("d.id");
                }
            }
            ExecutionDimension::Pillar => {
                select.push(if on {
                    "p.pillar AS pillar"
                } else {
                    "NULL::text AS pillar"
                });
                if on {
                    group.push("p.pillar");
                }
            }
        }
    }
    let order: Vec<&str> = dims
        .iter()
        .map(|d| match d {
            ExecutionDimension::Office => "office_code",
            ExecutionDimension::Department => "department_code",
            ExecutionDimension::Pillar => "pillar",
        })
        .collect();
    let sql = format!(
        "WITH s AS ( \
           SELECT project_id, -sum(effect_minor) AS spent FROM project_daily_totals \
            WHERE category <> '' \
              AND ($1::date IS NULL OR entry_date >= $1) \
              AND ($2::date IS NULL OR entry_date <= $2) \
            GROUP BY project_id) \
         SELECT {select}, count(*)::bigint AS projects, \
           coalesce(sum(p.budget_amount) FILTER (WHERE p.budget_currency = 'USD'), 0)::bigint AS budget, \
           coalesce(sum(s.spent) FILTER (WHERE p.budget_currency = 'USD'), 0)::bigint AS spent, \
           (count(*) FILTER (WHERE p.budget_currency <> 'USD'))::bigint AS other_currency_projects, \
           coalesce(sum(s.spent) FILTER (WHERE p.budget_currency <> 'USD'), 0)::bigint AS other_currency_spent \
         FROM projects p \
         JOIN offices o ON o.id = p.office_id \
         JOIN departments d ON d.id = p.department_id \
         LEFT JOIN s ON s.project_id = p.id \
         WHERE ($3::uuid[] IS NULL OR p.office_id = ANY($3)) \
           AND ($4::uuid[] IS NULL OR p.department_id = ANY($4)) \
           AND ($5::text[] IS NULL OR p.pillar = ANY($5)) \
           AND ($6::text[] IS NULL OR p.status = ANY($6)) \
         {group} {order}",
        select = select.join(", "),
        group = if group.is_empty() {
            String::new()
        } else {
            format!("GROUP BY {}", group.join(", "))
        },
        order = if order.is_empty() {
            String::new()
        } else {
            format!("ORDER BY {}", order.join(", "))
        },
    );
    let mut conn = state.read_pool().get().await?;
    // Before the figures: every change committed before it is in them.
    let as_of = crate::core::sync::watermark(&mut conn).await?;
    let mut rows: Vec<ExecutionSqlRow> = diesel::sql_query(sql)
        .bind::<Nullable<Date>, _>(from)
        .bind::<Nullable<Date>, _>(to)
        .bind::<Nullable<Array<diesel::sql_types::Uuid>>, _>(office_ids)
        .bind::<Nullable<Array<diesel::sql_types::Uuid>>, _>(department_ids)
        .bind::<Nullable<Array<Text>>, _>(pillars)
        .bind::<Nullable<Array<Text>>, _>(statuses)
        .load(&mut conn)
        .await?;
    // Without grouping, an aggregate over no project is still one row; keep it only
    // when there are projects.
    rows.retain(|r| r.projects > 0);

    let body = ExecutionStats {
        as_of,
        group_by: dims,
        from,
        to,
        rows: rows
            .into_iter()
            .map(|r| ExecutionRow {
                office_id: r.office_id,
                office_code: r.office_code,
                department_id: r.department_id,
                department_code: r.department_code,
                pillar: r.pillar.as_deref().map(Pillar::from_db),
                projects: r.projects,
                budget: Money::usd(r.budget).to_json(),
                spent: usd(r.spent),
                executed_percent: percent(r.spent, r.budget),
                other_currency_projects: r.other_currency_projects,
                other_currency_spent: usd(r.other_currency_spent),
            })
            .collect(),
    };
    respond(&req, &mut conn, &body.rows, &body).await
}

// ---------------------------------------------------------------------------------
// Project counts

string_enum! {
    /// A dimension projects are counted by.
    pub enum ProjectDimension {
        Status = "status" ("Status", "Estado"),
        Pillar = "pillar" ("Pillar", "Pilar"),
        /// The project's office.
        Office = "office" ("Office", "Oficina"),
        /// The member state of the project's office.
        MemberState = "member_state" ("Member state", "Estado miembro"),
        /// The project's HQ Secretariat or Department.
        Department = "department" ("Department", "Departamento"),
        /// The project's OECD DAC 5-digit sectors: a project with several counts once in
        /// each (`total_projects` still counts it once).
        Sector = "sector" ("Sector", "Sector"),
    }
}

/// Query parameters of project counts.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectCountQuery {
    /// Dimensions, comma-separated, among `status`, `pillar`, `office`,
    /// `member_state`, `department`, `sector` (default `status`).
    #[param(example = "pillar,status")]
    pub group_by: Option<String>,
    /// Offices (ids), comma-separated.
    pub office_id: Option<String>,
    /// HQ departments (ids), comma-separated.
    pub department_id: Option<String>,
    /// Member states of the projects' offices (alpha-2), comma-separated.
    pub member_state: Option<String>,
    /// Pillars, comma-separated.
    pub pillar: Option<String>,
    /// Statuses, comma-separated.
    pub status: Option<String>,
    /// Projects in any of these OECD DAC 5-digit sectors (codes), comma-separated.
    #[param(example = "15151,15160")]
    pub sector: Option<String>,
}

/// The number of projects in one group. Fields of dimensions not grouped by are null.
#[derive(Serialize, ToSchema, Debug)]
pub struct ProjectCountRow {
    pub status: Option<ProjectStatus>,
    pub pillar: Option<Pillar>,
    pub office_id: Option<Uuid>,
    pub office_code: Option<String>,
    #[schema(example = "PE")]
    pub member_state: Option<String>,
    pub department_id: Option<Uuid>,
    pub department_code: Option<String>,
    /// OECD DAC 5-digit sector code.
    #[schema(example = "15151")]
    pub sector: Option<String>,
    /// The sector's name in the DAC codelist (English).
    #[schema(example = "Elections")]
    pub sector_name: Option<String>,
    pub projects: i64,
}

/// Project counts, grouped.
#[derive(Serialize, ToSchema, Debug)]
pub struct ProjectCountStats {
    pub group_by: Vec<ProjectDimension>,
    pub rows: Vec<ProjectCountRow>,
    pub total_projects: i64,
    /// The data's watermark (as `X-Sync-Watermark`): every change committed before this
    /// instant is counted; one made at or after it may not be.
    pub as_of: chrono::DateTime<chrono::Utc>,
}

#[derive(diesel::QueryableByName)]
struct ProjectCountSqlRow {
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pillar: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    office_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    office_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    member_state: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    department_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    department_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    sector: Option<String>,
    #[diesel(sql_type = BigInt)]
    projects: i64,
}

/// Project counts by status, pillar, office, member state, HQ department and/or sector.
///
/// Readable by every role.
#[utoipa::path(
    context_path = "/stats",
    tag = "Statistics",
    params(ProjectCountQuery),
    responses(
        (status = 200, description = "Project counts by group", content(
            (ProjectCountStats = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/projects")]
pub async fn project_counts(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ProjectCountQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.may_read_statistics()?;
    let dims = group_by(
        query.group_by.as_deref(),
        &[ProjectDimension::Status],
        ProjectDimension::parse_filter,
        ProjectDimension::parse,
    )?;
    let office_ids = validate::param_uuids("office_id", query.office_id.as_deref())?;
    let department_ids = validate::param_uuids("department_id", query.department_id.as_deref())?;
    let member_states = validate::param_codes(
        "member_state",
        query.member_state.as_deref(),
        validate::is_alpha2,
    )?;
    let pillars = owned(
        query
            .pillar
            .as_deref()
            .map(|s| Pillar::parse_filter("pillar", s))
            .transpose()?,
    );
    let statuses = owned(
        query
            .status
            .as_deref()
            .map(|s| ProjectStatus::parse_filter("status", s))
            .transpose()?,
    );
    let sectors: Option<Vec<serde_json::Value>> =
        validate::param_codes("sector", query.sector.as_deref(), |c| {
            c.len() == 5 && c.bytes().all(|b| b.is_ascii_digit())
        })?
        .map(|v| {
            v.iter()
                .map(|c| serde_json::json!([{ "code": c }]))
                .collect()
        });
    let mut select = Vec::new();
    let mut group = Vec::new();
    for d in ProjectDimension::ALL {
        let on = dims.contains(d);
        let (yes, no, g) = match d {
            ProjectDimension::Status => ("p.status AS status", "NULL::text AS status", "p.status"),
            ProjectDimension::Pillar => ("p.pillar AS pillar", "NULL::text AS pillar", "p.pillar"),
            ProjectDimension::Office => (
                "o.id AS office_id, o.code AS office_code",
                "NULL::uuid AS office_id, NULL::text AS office_code",
                "o.id",
            ),
            ProjectDimension::MemberState => (
                "m.code::text AS member_state",
                "NULL::text AS member_state",
                "m.code",
            ),
            ProjectDimension::Department => (
                "d.id AS department_id, d.code AS department_code",
                "NULL::uuid AS department_id, NULL::text AS department_code",
                "d.id",
            ),
            ProjectDimension::Sector => ("s.code AS sector", "NULL::text AS sector", "s.code"),
        };
        select.push(if on { yes } else { no });
        if on {
            group.push(g);
        }
    }
    let order: Vec<&str> = dims
        .iter()
        .map(|d| match d {
            ProjectDimension::Status => "status",
            ProjectDimension::Pillar => "pillar",
            ProjectDimension::Office => "office_code",
            ProjectDimension::MemberState => "member_state",
            ProjectDimension::Department => "department_code",
            ProjectDimension::Sector => "sector",
        })
        .collect();
    let by_sector = dims.contains(&ProjectDimension::Sector);
    let from_where = format!(
        "FROM projects p \
         JOIN offices o ON o.id = p.office_id \
         JOIN member_states m ON m.code = o.member_state \
         JOIN departments d ON d.id = p.department_id \
         {sectors} \
         WHERE ($1::uuid[] IS NULL OR p.office_id = ANY($1)) \
           AND ($2::uuid[] IS NULL OR p.department_id = ANY($2)) \
           AND ($3::text[] IS NULL OR o.member_state = ANY($3)) \
           AND ($4::text[] IS NULL OR p.pillar = ANY($4)) \
           AND ($5::text[] IS NULL OR p.status = ANY($5)) \
           AND ($6::jsonb[] IS NULL OR p.sectors @> ANY($6))",
        sectors = if by_sector {
            "CROSS JOIN LATERAL jsonb_to_recordset(p.sectors) AS s(code text)"
        } else {
            ""
        },
    );
    let sql = format!(
        "SELECT {select}, count(*)::bigint AS projects {from_where} {group} {order}",
        select = select.join(", "),
        group = if group.is_empty() {
            String::new()
        } else {
            format!("GROUP BY {}", group.join(", "))
        },
        order = if order.is_empty() {
            String::new()
        } else {
            format!("ORDER BY {}", order.join(", "))
        },
    );
    let mut conn = state.read_pool().get().await?;
    // Before the figures: every change committed before it is in them.
    let as_of = crate::core::sync::watermark(&mut conn).await?;
    let (office_ids_again, department_ids_again, member_states_again, pillars_again) = (
        office_ids.clone(),
        department_ids.clone(),
        member_states.clone(),
        pillars.clone(),
    );
    let mut rows: Vec<ProjectCountSqlRow> = diesel::sql_query(sql)
        .bind::<Nullable<Array<diesel::sql_types::Uuid>>, _>(office_ids)
        .bind::<Nullable<Array<diesel::sql_types::Uuid>>, _>(department_ids)
        .bind::<Nullable<Array<Text>>, _>(member_states)
        .bind::<Nullable<Array<Text>>, _>(pillars)
        .bind::<Nullable<Array<Text>>, _>(statuses.clone())
        .bind::<Nullable<Array<diesel::sql_types::Jsonb>>, _>(sectors.clone())
        .load(&mut conn)
        .await?;
    rows.retain(|r| r.projects > 0);

    // By sector a project counts in each of its sectors: the total counts it once.
    let total_projects = if by_sector {
        #[derive(diesel::QueryableByName)]
        struct Total {
            #[diesel(sql_type = BigInt)]
            projects: i64,
        }
        let total: Total = diesel::sql_query(format!(
            "SELECT count(DISTINCT p.id)::bigint AS projects {from_where}"
        ))
        .bind::<Nullable<Array<diesel::sql_types::Uuid>>, _>(office_ids_again)
        .bind::<Nullable<Array<diesel::sql_types::Uuid>>, _>(department_ids_again)
        .bind::<Nullable<Array<Text>>, _>(member_states_again)
        .bind::<Nullable<Array<Text>>, _>(pillars_again)
        .bind::<Nullable<Array<Text>>, _>(statuses)
        .bind::<Nullable<Array<diesel::sql_types::Jsonb>>, _>(sectors)
        .get_result(&mut conn)
        .await?;
        total.projects
    } else {
        rows.iter().map(|r| r.projects).sum()
    };
    let body = ProjectCountStats {
        as_of,
        group_by: dims,
        rows: rows
            .into_iter()
            .map(|r| ProjectCountRow {
                status: r.status.as_deref().map(ProjectStatus::from_db),
                pillar: r.pillar.as_deref().map(Pillar::from_db),
                office_id: r.office_id,
                office_code: r.office_code,
                member_state: r.member_state,
                department_id: r.department_id,
                department_code: r.department_code,
                sector_name: r.sector.as_deref().and_then(|c| {
                    crate::resources::shared::iati::sectors()
                        .get(c)
                        .map(|i| i.name.clone())
                }),
                sector: r.sector,
                projects: r.projects,
            })
            .collect(),
        total_projects,
    };
    respond(&req, &mut conn, &body.rows, &body).await
}

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/stats")
        .handler_decides()
        .service(spending)
        .service(budget_execution)
        .service(project_counts);
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn percentages_round_half_away_from_zero() {
        assert_eq!(percent(1, 3).as_deref(), Some("33.33"));
        assert_eq!(percent(2, 3).as_deref(), Some("66.67"));
        assert_eq!(percent(1, 8).as_deref(), Some("12.50"));
        assert_eq!(percent(1, 80000).as_deref(), Some("0.00"));
        assert_eq!(percent(1, 20000).as_deref(), Some("0.01"));
        assert_eq!(percent(-2, 3).as_deref(), Some("-66.67"));
        assert_eq!(percent(150, 100).as_deref(), Some("150.00"));
        assert_eq!(percent(5, 0), None);
        assert_eq!(percent(5, -1), None);
    }
}
