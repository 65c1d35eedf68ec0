//! `/v1/projects`: the projects an office monitors, with their mandates and executing
//! agencies.
//!
//! A project's status changes through `PATCH` (`{"status": "approved"}`, with
//! `If-Match`), along pipeline → approved → active ⇄ suspended; active or suspended →
//! completed → closed; and pipeline, approved, active or suspended → cancelled. Only a
//! `pipeline` project without monitoring reports can be deleted; a project with history
//! is closed or cancelled instead.

pub mod monitoring_reports;

use std::collections::{HashMap, HashSet};

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::core::enums::string_enum;
use crate::core::error::{ApiError, FieldError, ProblemType};
use crate::core::http::{IfMatch, JsonBody, Tagged, from_value};
use crate::core::i18n::text;
use crate::core::localized::LocalizedText;
use crate::core::money::{MonetaryAmount, Money};
use crate::core::pagination::keyset;
use crate::core::pagination::{self, Cursor, Page, Sort, SortField};
use crate::core::validate::{self, nullable};
use crate::db::Prepared;
use crate::db::audit;
use crate::db::schema::{
    departments, executing_agencies, mandates, offices, project_agencies, project_mandates,
    projects,
};
use crate::db::{Constraint, Meaning};
use crate::formats::page_type;
use crate::state::AppState;

pub use crate::resources::shared::Pillar;

string_enum! {
    /// Where a project is in its life: pipeline → approved → active ⇄ suspended; active
    /// or suspended → completed → closed; cancelled from pipeline, approved, active or
    /// suspended.
    pub enum ProjectStatus {
        Pipeline = "pipeline" ("Pipeline", "En preparación"),
        Approved = "approved" ("Approved", "Aprobado"),
        Active = "active" ("Active", "En ejecución"),
        Suspended = "suspended" ("Suspended", "Suspendido"),
        Completed = "completed" ("Completed", "Finalizado"),
        Closed = "closed" ("Closed", "Cerrado"),
        Cancelled = "cancelled" ("Cancelled", "Cancelado"),
    }
}

impl ProjectStatus {
    /// Whether a project may move from `self` to `to`. Staying in the same status is not
    /// a move.
    pub fn can_become(self, to: ProjectStatus) -> bool {
        use ProjectStatus::*;
        matches!(
            (self, to),
            (Pipeline, Approved)
                | (Approved, Active)
                | (Active, Suspended)
                | (Suspended, Active)
                | (Active | Suspended, Completed)
                | (Completed, Closed)
                | (Pipeline | Approved | Active | Suspended, Cancelled)
        )
    }

    /// Decisions reserved to the Coordinating Office and the owning HQ department.
    pub fn is_decision(self) -> bool {
        matches!(
            self,
            ProjectStatus::Approved | ProjectStatus::Closed | ProjectStatus::Cancelled
        )
    }

    /// A closed or cancelled project is history: read-only, its reports too.
    pub fn is_final(self) -> bool {
        matches!(self, ProjectStatus::Closed | ProjectStatus::Cancelled)
    }
}

string_enum! {
    /// The fund a project is financed from.
    pub enum FundingSource {
        RegularFund = "regular_fund" ("Regular Fund", "Fondo Regular"),
        SpecificFund = "specific_fund" ("Specific fund", "Fondo específico"),
        TrustFund = "trust_fund" ("Trust fund", "Fondo fiduciario"),
        DevelopmentCooperationFund = "development_cooperation_fund" ("Development Cooperation Fund", "Fondo de Cooperación para el Desarrollo"),
        IndirectCostRecovery = "indirect_cost_recovery" ("Indirect cost recovery", "Recuperación de costos indirectos"),
    }
}

impl FundingSource {
    /// Specific and trust funds come from a donor, under an agreement.
    pub fn has_donor(self) -> bool {
        matches!(self, FundingSource::SpecificFund | FundingSource::TrustFund)
    }
}

string_enum! {
    /// What an executing agency does in a project: one lead at most (exactly one while
    /// the project is active), any number of partners.
    pub enum AgencyRole {
        Lead = "lead" ("Lead", "Principal"),
        Partner = "partner" ("Partner", "Asociada"),
    }
}

pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "projects_code_key",
        field: "code",
        meaning: Meaning::Unique,
    },
    Constraint {
        name: "projects_code_check",
        field: "code",
        meaning: Meaning::Check(|| {
            text!(
                "must be 2 to 32 upper-case letters, digits or hyphens",
                "debe tener de 2 a 32 letras mayúsculas, dígitos o guiones"
            )
        }),
    },
    Constraint {
        name: "projects_office_id_fkey",
        field: "office_id",
        meaning: Meaning::Reference,
    },
    Constraint {
        name: "projects_department_id_fkey",
        field: "department_id",
        meaning: Meaning::Reference,
    },
    Constraint {
        name: "projects_ends_after_starts",
        field: "ends_on",
        meaning: Meaning::Check(|| {
            text!(
                "must not be before starts_on",
                "no puede ser anterior a starts_on"
            )
        }),
    },
    Constraint {
        name: "projects_budget_amount_check",
        field: "budget.amount",
        meaning: Meaning::Check(|| {
            text!(
                "must be from 0 to below 10^15 minor units",
                "debe estar entre 0 y menos de 10^15 unidades fraccionarias"
            )
        }),
    },
    Constraint {
        name: "projects_donor_for_earmarked_funds",
        field: "donor",
        meaning: Meaning::Check(|| {
            text!(
                "is required for specific and trust funds, and only for them",
                "es obligatorio para fondos específicos y fiduciarios, y solo para ellos"
            )
        }),
    },
    Constraint {
        name: "project_agencies_one_lead",
        field: "agencies",
        meaning: Meaning::Check(|| {
            text!(
                "may name at most one lead agency",
                "puede nombrar como máximo una agencia principal"
            )
        }),
    },
];

inventory::submit! { crate::db::Constraints(CONSTRAINTS) }

/// An executing agency's part in a project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectAgency {
    pub agency_id: Uuid,
    pub role: AgencyRole,
}

/// A project monitored by an office.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Project {
    pub id: Uuid,
    /// Unique code, e.g. `PE-DEM-2026-01`.
    #[schema(example = "PE-DEM-2026-01")]
    pub code: String,
    pub title: LocalizedText,
    pub description: Option<LocalizedText>,
    /// The country office that monitors the project.
    pub office_id: Uuid,
    /// The HQ Secretariat or Department responsible for it.
    pub department_id: Uuid,
    pub pillar: Pillar,
    pub status: ProjectStatus,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    #[schema(value_type = MonetaryAmount)]
    pub budget: Money,
    pub funding_source: FundingSource,
    /// The donor of a specific or trust fund; null for other funds.
    pub donor: Option<String>,
    /// The code of the donor agreement of a specific or trust fund; null for other funds.
    pub donor_agreement: Option<String>,
    /// The mandates the project executes, sorted by id.
    #[schema(max_items = 100)]
    pub mandate_ids: Vec<Uuid>,
    /// The executing agencies, the lead first, then by id.
    #[schema(max_items = 100)]
    pub agencies: Vec<ProjectAgency>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = projects)]
struct ProjectRow {
    id: Uuid,
    code: String,
    title: serde_json::Value,
    description: Option<serde_json::Value>,
    office_id: Uuid,
    department_id: Uuid,
    pillar: String,
    status: String,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    budget_amount: i64,
    budget_currency: String,
    funding_source: String,
    donor: Option<String>,
    donor_agreement: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ProjectRow {
    fn into_project(self, mandate_ids: Vec<Uuid>, agencies: Vec<ProjectAgency>) -> Project {
        Project {
            id: self.id,
            code: self.code,
            title: LocalizedText::from_json(self.title),
            description: self.description.map(LocalizedText::from_json),
            office_id: self.office_id,
            department_id: self.department_id,
            pillar: Pillar::from_db(&self.pillar),
            status: ProjectStatus::from_db(&self.status),
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            budget: Money::from_db(self.budget_amount, &self.budget_currency),
            funding_source: FundingSource::from_db(&self.funding_source),
            donor: self.donor,
            donor_agreement: self.donor_agreement,
            mandate_ids,
            agencies,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A new project. It starts in `pipeline`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// Unique code: 2–32 upper-case letters, digits or hyphens.
    #[schema(example = "PE-DEM-2026-01")]
    pub code: String,
    pub title: LocalizedText,
    #[serde(default)]
    pub description: Option<LocalizedText>,
    /// An open office. Office roles may only name their own.
    pub office_id: Uuid,
    /// An active Secretariat or Department. An HQ department may only name itself.
    pub department_id: Uuid,
    pub pillar: Pillar,
    pub starts_on: NaiveDate,
    /// Not before `starts_on`.
    #[serde(default)]
    pub ends_on: Option<NaiveDate>,
    pub budget: MonetaryAmount,
    pub funding_source: FundingSource,
    /// Required for `specific_fund` and `trust_fund`, refused for the other funds.
    #[serde(default)]
    pub donor: Option<String>,
    /// Required for `specific_fund` and `trust_fund`, refused for the other funds.
    #[serde(default)]
    pub donor_agreement: Option<String>,
    /// Existing mandates, each at most once.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub mandate_ids: Vec<Uuid>,
    /// Executing agencies, each at most once and active when linked; at most one lead.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub agencies: Vec<ProjectAgency>,
}

/// Changes to a project (JSON merge patch: an absent field is unchanged, `null` clears
/// an optional one; `mandate_ids` and `agencies` replace the whole list).
///
/// `status` moves the project along its life cycle (see `ProjectStatus`); moving it
/// elsewhere, or to the status it has, is a 409 naming `status`. Approving, closing and
/// cancelling are reserved to the Coordinating Office and the project's HQ department
/// (422 naming `status` for other roles). A closed or cancelled project is read-only.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    pub code: Option<String>,
    pub title: Option<LocalizedText>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<LocalizedText>)]
    pub description: Option<Option<LocalizedText>>,
    pub office_id: Option<Uuid>,
    pub department_id: Option<Uuid>,
    pub pillar: Option<Pillar>,
    pub status: Option<ProjectStatus>,
    pub starts_on: Option<NaiveDate>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub ends_on: Option<Option<NaiveDate>>,
    pub budget: Option<MonetaryAmount>,
    pub funding_source: Option<FundingSource>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub donor: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub donor_agreement: Option<Option<String>>,
    #[schema(max_items = 100)]
    pub mandate_ids: Option<Vec<Uuid>>,
    #[schema(max_items = 100)]
    pub agencies: Option<Vec<ProjectAgency>>,
}

const READ_ONLY: &[&str] = &["id", "created_at", "updated_at"];

const NOT_NULL: &[&str] = &[
    "code",
    "title",
    "office_id",
    "department_id",
    "pillar",
    "status",
    "starts_on",
    "budget",
    "funding_source",
    "mandate_ids",
    "agencies",
];

/// Most mandates or agencies a project may list.
/// At most this many mandates and agencies a project (`max_items` in the schemas says it too).
const MAX_LINKS: usize = 100;

fn blank_to_none(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A project row with its links, read in the same query (one round trip for a project or
/// a page of them): the mandate ids, then the agency ids and their roles, lead first.
type LinkedRow = (ProjectRow, (Vec<Uuid>, Vec<Uuid>, Vec<String>));

type LinkColumns = (
    diesel::expression::SqlLiteral<diesel::sql_types::Array<diesel::sql_types::Uuid>>,
    diesel::expression::SqlLiteral<diesel::sql_types::Array<diesel::sql_types::Uuid>>,
    diesel::expression::SqlLiteral<diesel::sql_types::Array<diesel::sql_types::Text>>,
);

/// The links of each `projects` row, as correlated subqueries (each an index scan of the
/// link table's primary key).
fn link_columns() -> LinkColumns {
    use diesel::dsl::sql;
    (
        sql(
            "ARRAY(SELECT m.mandate_id FROM project_mandates m WHERE m.project_id = projects.id \
             ORDER BY m.mandate_id)",
        ),
        // 'lead' sorts before 'partner'.
        sql(
            "ARRAY(SELECT a.agency_id FROM project_agencies a WHERE a.project_id = projects.id \
             ORDER BY a.role, a.agency_id)",
        ),
        sql(
            "ARRAY(SELECT a.role FROM project_agencies a WHERE a.project_id = projects.id \
             ORDER BY a.role, a.agency_id)",
        ),
    )
}

fn linked((row, (mandate_ids, agency_ids, roles)): LinkedRow) -> Project {
    let agencies = agency_ids
        .into_iter()
        .zip(roles)
        .map(|(agency_id, role)| ProjectAgency {
            agency_id,
            role: AgencyRole::from_db(&role),
        })
        .collect();
    row.into_project(mandate_ids, agencies)
}

/// How to read a project row.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    None,
    /// `FOR SHARE`: its status cannot change until the transaction ends (for writes of
    /// its monitoring reports).
    Share,
    /// `FOR UPDATE`: for changes of the project itself.
    Update,
}

/// Loads a project with its links.
async fn load(conn: &mut AsyncPgConnection, id: Uuid, lock: Lock) -> Result<Project, ApiError> {
    let q = projects::table
        .find(id)
        .select((ProjectRow::as_select(), link_columns()));
    // `Prepared`: the links are SQL literals, which diesel would prepare at every run.
    let row: Option<LinkedRow> = match lock {
        Lock::None => Prepared(q.limit(1)).get_result(conn).await.optional()?,
        Lock::Share => Prepared(q.for_share().limit(1))
            .get_result(conn)
            .await
            .optional()?,
        Lock::Update => Prepared(q.for_update().limit(1))
            .get_result(conn)
            .await
            .optional()?,
    };
    Ok(linked(row.ok_or_else(ApiError::not_found)?))
}

/// What monitoring reports need to know of their project.
pub(crate) struct ProjectScope {
    pub office_id: Uuid,
    pub department_id: Uuid,
    pub status: ProjectStatus,
}

/// A project's office, department and status, without its links; 404 when it does not
/// exist.
pub(crate) async fn load_scope(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    lock: Lock,
) -> Result<ProjectScope, ApiError> {
    let q = projects::table.find(id).select((
        projects::office_id,
        projects::department_id,
        projects::status,
    ));
    let row: Option<(Uuid, Uuid, String)> = match lock {
        Lock::None => q.first(conn).await.optional()?,
        Lock::Share => q.for_share().first(conn).await.optional()?,
        Lock::Update => q.for_update().first(conn).await.optional()?,
    };
    let (office_id, department_id, status) = row.ok_or_else(ApiError::not_found)?;
    Ok(ProjectScope {
        office_id,
        department_id,
        status: ProjectStatus::from_db(&status),
    })
}

/// The project before a change, for the checks that only apply to what changes.
struct Before<'a> {
    office_id: Uuid,
    department_id: Uuid,
    agencies: &'a [ProjectAgency],
}

/// Checks a project as it would be after a create (`before` None) or a change, pushing
/// every fault onto `errors`. Referenced rows are locked `FOR SHARE` so they cannot
/// disappear or change status before the transaction commits.
async fn check_project(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    p: &Project,
    before: Option<&Before<'_>>,
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    validate::code("code", &p.code, 32, errors);
    p.title.validate("title", 300, errors);
    if let Some(d) = &p.description {
        d.validate("description", 5000, errors);
    }
    if let Some(ends) = p.ends_on
        && ends < p.starts_on
    {
        errors.push(FieldError::new(
            "ends_on",
            "before_starts_on",
            text!(
                "must not be before starts_on",
                "no puede ser anterior a starts_on"
            ),
        ));
    }
    let earmarked = p.funding_source.has_donor();
    for (field, value, max) in [
        ("donor", &p.donor, 200),
        ("donor_agreement", &p.donor_agreement, 64),
    ] {
        match (earmarked, value) {
            (true, None) => errors.push(FieldError::new(
                field,
                "required",
                text!(
                    "is required for specific and trust funds",
                    "es obligatorio para fondos específicos y fiduciarios"
                ),
            )),
            (false, Some(_)) => errors.push(FieldError::new(
                field,
                "not_allowed",
                text!(
                    "only specific and trust funds have a donor",
                    "solo los fondos específicos y fiduciarios tienen un donante"
                ),
            )),
            (true, Some(v)) => validate::line(field, v, max, errors),
            (false, None) => {}
        }
    }

    // Office and department: the caller may put the project there, and a new link must
    // be to an open office and an active department.
    let office_changed = before.is_none_or(|b| b.office_id != p.office_id);
    let department_changed = before.is_none_or(|b| b.department_id != p.department_id);
    if (office_changed || department_changed)
        && let Some(fault) = caller.may_place_project(p.office_id, p.department_id)?
    {
        errors.push(fault);
    }
    if office_changed {
        let status: Option<String> = offices::table
            .find(p.office_id)
            .select(offices::status)
            .for_share()
            .first(conn)
            .await
            .optional()?;
        match status.as_deref() {
            None => errors.push(FieldError::new(
                "office_id",
                "unknown",
                text!("no such office", "no existe esa oficina"),
            )),
            Some("open") => {}
            Some(_) => errors.push(FieldError::new(
                "office_id",
                "closed",
                text!("the office is closed", "la oficina está cerrada"),
            )),
        }
    }
    if department_changed {
        let status: Option<String> = departments::table
            .find(p.department_id)
            .select(departments::status)
            .for_share()
            .first(conn)
            .await
            .optional()?;
        match status.as_deref() {
            None => errors.push(FieldError::new(
                "department_id",
                "unknown",
                text!("no such department", "no existe ese departamento"),
            )),
            Some("active") => {}
            Some(_) => errors.push(FieldError::new(
                "department_id",
                "inactive",
                text!(
                    "the department is inactive",
                    "el departamento está inactivo"
                ),
            )),
        }
    }

    // Mandates: each existing, each once.
    if p.mandate_ids.len() > MAX_LINKS {
        errors.push(FieldError::new(
            "mandate_ids",
            "too_many",
            text!(
                "may list at most {MAX_LINKS} mandates",
                "puede incluir como máximo {MAX_LINKS} mandatos"
            ),
        ));
    } else if !p.mandate_ids.is_empty() {
        let found: HashSet<Uuid> = mandates::table
            .filter(mandates::id.eq_any(&p.mandate_ids))
            .select(mandates::id)
            .for_share()
            .load::<Uuid>(conn)
            .await?
            .into_iter()
            .collect();
        let mut seen = HashSet::new();
        for (i, id) in p.mandate_ids.iter().enumerate() {
            if !seen.insert(id) {
                errors.push(FieldError::new(
                    format!("mandate_ids[{i}]"),
                    "duplicate",
                    text!("is listed twice", "aparece dos veces"),
                ));
            } else if !found.contains(id) {
                errors.push(FieldError::new(
                    format!("mandate_ids[{i}]"),
                    "unknown",
                    text!("no such mandate", "no existe ese mandato"),
                ));
            }
        }
    }

    // Agencies: each existing, each once, active when newly linked (a link made before
    // the agency was suspended survives); one lead at most, exactly one while active.
    if p.agencies.len() > MAX_LINKS {
        errors.push(FieldError::new(
            "agencies",
            "too_many",
            text!(
                "may list at most {MAX_LINKS} agencies",
                "puede incluir como máximo {MAX_LINKS} agencias"
            ),
        ));
    } else if !p.agencies.is_empty() {
        let ids: Vec<Uuid> = p.agencies.iter().map(|a| a.agency_id).collect();
        let found: HashMap<Uuid, String> = executing_agencies::table
            .filter(executing_agencies::id.eq_any(&ids))
            .select((executing_agencies::id, executing_agencies::status))
            .for_share()
            .load::<(Uuid, String)>(conn)
            .await?
            .into_iter()
            .collect();
        let linked: HashSet<Uuid> = before
            .map(|b| b.agencies.iter().map(|a| a.agency_id).collect())
            .unwrap_or_default();
        let mut seen = HashSet::new();
        for (i, a) in p.agencies.iter().enumerate() {
            let field = format!("agencies[{i}].agency_id");
            if !seen.insert(a.agency_id) {
                errors.push(FieldError::new(
                    field,
                    "duplicate",
                    text!("is listed twice", "aparece dos veces"),
                ));
                continue;
            }
            match found.get(&a.agency_id).map(String::as_str) {
                None => errors.push(FieldError::new(
                    field,
                    "unknown",
                    text!(
                        "no such executing agency",
                        "no existe esa agencia ejecutora"
                    ),
                )),
                Some("active") => {}
                Some(_) if linked.contains(&a.agency_id) => {}
                Some(_) => errors.push(FieldError::new(
                    field,
                    "suspended",
                    text!(
                        "the executing agency is suspended and cannot be linked to a project",
                        "la agencia ejecutora está suspendida y no puede vincularse a un proyecto"
                    ),
                )),
            }
        }
    }
    let leads = p
        .agencies
        .iter()
        .filter(|a| a.role == AgencyRole::Lead)
        .count();
    if leads > 1 {
        errors.push(FieldError::new(
            "agencies",
            "too_many_leads",
            text!(
                "may name at most one lead agency",
                "puede nombrar como máximo una agencia principal"
            ),
        ));
    } else if leads == 0 && p.status == ProjectStatus::Active {
        errors.push(FieldError::new(
            "agencies",
            "lead_required",
            text!(
                "an active project needs exactly one lead agency",
                "un proyecto en ejecución necesita exactamente una agencia principal"
            ),
        ));
    }
    Ok(())
}

async fn insert_links(conn: &mut AsyncPgConnection, p: &Project) -> Result<(), ApiError> {
    if !p.mandate_ids.is_empty() {
        let rows: Vec<_> = p
            .mandate_ids
            .iter()
            .map(|m| {
                (
                    project_mandates::project_id.eq(p.id),
                    project_mandates::mandate_id.eq(*m),
                )
            })
            .collect();
        diesel::insert_into(project_mandates::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    if !p.agencies.is_empty() {
        let rows: Vec<_> = p
            .agencies
            .iter()
            .map(|a| {
                (
                    project_agencies::project_id.eq(p.id),
                    project_agencies::agency_id.eq(a.agency_id),
                    project_agencies::role.eq(a.role.as_str()),
                )
            })
            .collect();
        diesel::insert_into(project_agencies::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

page_type!(ProjectPage, Project, "A page of projects.");

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum ProjectSort {
    Code,
    StartsOn,
    CreatedAt,
    UpdatedAt,
}

impl SortField for ProjectSort {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("code", ProjectSort::Code),
        ("starts_on", ProjectSort::StartsOn),
        ("created_at", ProjectSort::CreatedAt),
        ("updated_at", ProjectSort::UpdatedAt),
    ];
    const DEFAULT: Self = ProjectSort::Code;
}

/// Query parameters of the project list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectQuery {
    /// Page size, 1–500 (larger values are clamped to 500).
    #[param(value_type = Option<i64>, minimum = 1, default = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `code`, `starts_on`, `created_at` or `updated_at`, prefixed with `-` for
    /// descending order.
    #[param(example = "code")]
    pub sort: Option<String>,
    /// Office ids, comma-separated.
    pub office_id: Option<String>,
    /// Department ids, comma-separated.
    pub department_id: Option<String>,
    /// Pillars, comma-separated.
    #[param(example = "democracy,human_rights")]
    pub pillar: Option<String>,
    /// Statuses, comma-separated.
    #[param(example = "active,suspended")]
    pub status: Option<String>,
    /// Projects that execute any of these mandates (ids, comma-separated).
    pub mandate_id: Option<String>,
    /// Projects with any of these executing agencies (ids, comma-separated).
    pub agency_id: Option<String>,
    /// Projects of offices in these member states (alpha-2 codes, comma-separated).
    #[param(example = "PE,CO")]
    pub member_state: Option<String>,
    /// Projects running on or after this date: `[starts_on, ends_on]` overlaps
    /// `[active_from, active_to]` (a project without `ends_on` runs on).
    #[param(value_type = Option<NaiveDate>)]
    pub active_from: Option<String>,
    /// Projects that start on or before this date (see `active_from`).
    #[param(value_type = Option<NaiveDate>)]
    pub active_to: Option<String>,
    /// Text search over the code and the title in every language, ignoring case and
    /// accents; every word must appear.
    #[param(example = "elecciones")]
    pub q: Option<String>,
    /// Only projects changed at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub updated_since: Option<String>,
}

diesel::define_sql_function! {
    /// Lower case without accents (the database's `search_fold`, which also makes
    /// `projects.search_text`).
    fn search_fold(t: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The words of a search, each escaped for `LIKE`.
fn search_terms(q: &str) -> Result<Vec<String>, ApiError> {
    let words: Vec<&str> = q.split_whitespace().collect();
    if words.is_empty()
        || words.len() > 10
        || q.chars().count() > 200
        || words.iter().any(|w| w.chars().any(char::is_control))
    {
        return Err(ApiError::invalid_parameter(
            "q",
            text!(
                "must have 1 to 10 words of text and at most 200 characters",
                "debe tener de 1 a 10 palabras de texto y como máximo 200 caracteres"
            ),
        ));
    }
    Ok(words
        .into_iter()
        .map(|w| {
            let escaped = w
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        })
        .collect())
}

/// A boxed query of projects with their row type.
type BoxedProjects = diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::Select<
        projects::table,
        (
            diesel::dsl::AsSelect<ProjectRow, diesel::pg::Pg>,
            LinkColumns,
        ),
    >,
    diesel::pg::Pg,
>;

/// Checks an export's filters (a 400 naming the parameter) before it takes a slot.
pub(crate) fn check_filters(query: &ProjectQuery) -> Result<(), ApiError> {
    filtered(query).map(drop)
}

/// The projects a list or an export selects: every filter of [`ProjectQuery`] but the
/// page (`limit`, `cursor`, `sort`). Projects are not financial: every role sees them.
fn filtered(query: &ProjectQuery) -> Result<BoxedProjects, ApiError> {
    let office_ids = validate::param_uuids("office_id", query.office_id.as_deref())?;
    let department_ids = validate::param_uuids("department_id", query.department_id.as_deref())?;
    let mandate_ids = validate::param_uuids("mandate_id", query.mandate_id.as_deref())?;
    let agency_ids = validate::param_uuids("agency_id", query.agency_id.as_deref())?;
    let pillars = query
        .pillar
        .as_deref()
        .map(|s| Pillar::parse_filter("pillar", s))
        .transpose()?;
    let statuses = query
        .status
        .as_deref()
        .map(|s| ProjectStatus::parse_filter("status", s))
        .transpose()?;
    let member_states = validate::param_codes(
        "member_state",
        query.member_state.as_deref(),
        validate::is_alpha2,
    )?;
    let active_from = validate::param_date("active_from", query.active_from.as_deref())?;
    let active_to = validate::param_date("active_to", query.active_to.as_deref())?;
    if let (Some(from), Some(to)) = (active_from, active_to)
        && to < from
    {
        return Err(ApiError::invalid_parameter(
            "active_to",
            text!(
                "must not be before active_from",
                "no puede ser anterior a active_from"
            ),
        ));
    }
    let terms = query.q.as_deref().map(search_terms).transpose()?;
    let updated_since = validate::param_datetime("updated_since", query.updated_since.as_deref())?;

    let mut q = projects::table
        .select((ProjectRow::as_select(), link_columns()))
        .into_boxed();
    if let Some(v) = office_ids {
        q = crate::core::pagination::filter_in!(q, projects::office_id, v);
    }
    if let Some(v) = department_ids {
        q = crate::core::pagination::filter_in!(q, projects::department_id, v);
    }
    if let Some(v) = pillars {
        q = crate::core::pagination::filter_in!(q, projects::pillar, v);
    }
    if let Some(v) = statuses {
        q = crate::core::pagination::filter_in!(q, projects::status, v);
    }
    if let Some(v) = mandate_ids {
        q = q.filter(
            projects::id.eq_any(
                project_mandates::table
                    .filter(project_mandates::mandate_id.eq_any(v))
                    .select(project_mandates::project_id),
            ),
        );
    }
    if let Some(v) = agency_ids {
        q = q.filter(
            projects::id.eq_any(
                project_agencies::table
                    .filter(project_agencies::agency_id.eq_any(v))
                    .select(project_agencies::project_id),
            ),
        );
    }
    if let Some(v) = member_states {
        q = q.filter(
            projects::office_id.eq_any(
                offices::table
                    .filter(offices::member_state.eq_any(v))
                    .select(offices::id),
            ),
        );
    }
    if let Some(from) = active_from {
        q = q.filter(projects::ends_on.is_null().or(projects::ends_on.ge(from)));
    }
    if let Some(to) = active_to {
        q = q.filter(projects::starts_on.le(to));
    }
    for term in terms.into_iter().flatten() {
        q = q.filter(projects::search_text.like(search_fold(term)));
    }
    if let Some(t) = updated_since {
        q = q.filter(projects::updated_at.ge(t));
    }
    Ok(q)
}

/// One batch of a project export: the `limit` projects after `after` in
/// `(updated_at, id)` order, with that key.
pub(crate) async fn export_batch(
    conn: &AsyncPgConnection,
    query: &ProjectQuery,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<((DateTime<Utc>, Uuid), Project)>, ApiError> {
    let q = keyset!(
        filtered(query)?,
        projects::updated_at,
        projects::id,
        false,
        after
    );
    let rows: Vec<LinkedRow> = Prepared(q.limit(limit)).load(&mut { conn }).await?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.0.updated_at, r.0.id), linked(r)))
        .collect())
}

/// List projects.
#[utoipa::path(
    tag = "Projects",
    params(ProjectQuery),
    responses(
        (status = 200, description = "A page of projects", body = ProjectPage,
         headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/projects")]
pub async fn list_projects(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<ProjectQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = pagination::limit(validate::param_i64("limit", query.limit.as_deref())?)?;
    let sort = Sort::<ProjectSort>::parse(query.sort.as_deref())?;
    let sort_name = sort.name();
    let after = query
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, &sort_name))
        .transpose()?;
    let q = filtered(&query)?;
    let q = match sort.field {
        ProjectSort::Code => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<String>()?, c.id)))
                .transpose()?;
            keyset!(q, projects::code, projects::id, sort.desc, after)
        }
        ProjectSort::StartsOn => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<NaiveDate>()?, c.id)))
                .transpose()?;
            keyset!(q, projects::starts_on, projects::id, sort.desc, after)
        }
        ProjectSort::CreatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(q, projects::created_at, projects::id, sort.desc, after)
        }
        ProjectSort::UpdatedAt => {
            let after = after
                .map(|c| Ok::<_, ApiError>((c.value_as::<DateTime<Utc>>()?, c.id)))
                .transpose()?;
            keyset!(q, projects::updated_at, projects::id, sort.desc, after)
        }
    };
    let mut conn = state.pool.get().await?;
    let rows: Vec<LinkedRow> = Prepared(q.limit(limit + 1)).load(&mut conn).await?;
    let page = Page::from_rows(rows, limit, |(r, ..)| Cursor {
        sort: sort_name.clone(),
        value: match sort.field {
            ProjectSort::Code => serde_json::json!(r.code),
            ProjectSort::StartsOn => serde_json::json!(r.starts_on),
            ProjectSort::CreatedAt => serde_json::json!(r.created_at),
            ProjectSort::UpdatedAt => serde_json::json!(r.updated_at),
        },
        id: r.id,
    });
    let page = page.map(linked);
    Ok(ProjectPage::respond(page, &req))
}

/// Get a project.
#[utoipa::path(
    tag = "Projects",
    params(("id" = Uuid, Path, description = "The project's id")),
    responses(
        (status = 200, description = "The project", body = Project,
         headers(("ETag" = String, description = "Entity tag of the representation"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/projects/{id}")]
pub async fn get_project(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let project = load(&mut conn, id.into_inner(), Lock::None).await?;
    Ok(Tagged::new(&project).ok(&req))
}

/// Create a project.
///
/// The project starts in `pipeline`. Office roles create projects of their own office,
/// HQ departments projects under themselves (422 naming `office_id` or `department_id`
/// otherwise).
#[utoipa::path(
    tag = "Projects",
    request_body = NewProject,
    responses(
        (status = 201, description = "The project was created", body = Project,
         headers(("ETag" = String), ("Location" = String))),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 413, response = crate::core::error::responses::PayloadTooLarge),
        (status = 415, response = crate::core::error::responses::UnsupportedMediaType),
        (status = 422, response = crate::core::error::responses::Unprocessable),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[post("/projects")]
pub async fn create_project(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    caller.may_create_projects()?;
    let new: NewProject = from_value(body.0)?;
    let mut errors = Vec::new();
    let budget = Money::validate("budget", &new.budget, &mut errors);
    let now = Utc::now();
    let project = Project {
        id: Uuid::now_v7(),
        code: new.code.trim().to_owned(),
        title: new.title.trimmed(),
        description: new.description.map(LocalizedText::trimmed),
        office_id: new.office_id,
        department_id: new.department_id,
        pillar: new.pillar,
        status: ProjectStatus::Pipeline,
        starts_on: new.starts_on,
        ends_on: new.ends_on,
        budget: budget.unwrap_or(Money {
            minor: 0,
            currency: crate::core::money::Currency::from_db("USD"),
        }),
        funding_source: new.funding_source,
        donor: blank_to_none(new.donor),
        donor_agreement: blank_to_none(new.donor_agreement),
        mandate_ids: new.mandate_ids,
        agencies: new.agencies,
        created_at: now,
        updated_at: now,
    };
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            check_project(conn, &caller, &project, None, &mut errors).await?;
            validate::finish(errors)?;
            let row: ProjectRow = diesel::insert_into(projects::table)
                .values((
                    projects::id.eq(project.id),
                    projects::code.eq(&project.code),
                    projects::title.eq(project.title.to_json()),
                    projects::description.eq(project.description.as_ref().map(|d| d.to_json())),
                    projects::office_id.eq(project.office_id),
                    projects::department_id.eq(project.department_id),
                    projects::pillar.eq(project.pillar.as_str()),
                    projects::status.eq(project.status.as_str()),
                    projects::starts_on.eq(project.starts_on),
                    projects::ends_on.eq(project.ends_on),
                    projects::budget_amount.eq(project.budget.minor),
                    projects::budget_currency.eq(project.budget.currency.code),
                    projects::funding_source.eq(project.funding_source.as_str()),
                    projects::donor.eq(&project.donor),
                    projects::donor_agreement.eq(&project.donor_agreement),
                ))
                .returning(ProjectRow::as_returning())
                .get_result(conn)
                .await?;
            insert_links(conn, &project).await?;
            let created = load(conn, row.id, Lock::None).await?;
            audit::record(
                conn,
                &caller.actor(),
                "create",
                "project",
                created.id,
                None,
                Some(&created),
            )
            .await?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    let location = format!("/v1/projects/{}", created.id);
    Ok(Tagged::new(&created).created(&location))
}

fn status_conflict(from: ProjectStatus, to: ProjectStatus) -> ApiError {
    let detail = if from == to {
        text!(
            "The project is already {from}.",
            "El proyecto ya está en estado {from}."
        )
    } else {
        text!(
            "A {from} project cannot become {to}.",
            "Un proyecto en estado {from} no puede pasar a {to}."
        )
    };
    ApiError::invalid_state(detail).with_errors(vec![FieldError::new(
        "status",
        "invalid_transition",
        text!(
            "pipeline → approved → active ⇄ suspended; active or suspended → completed → closed; cancelled from pipeline, approved, active or suspended",
            "pipeline → approved → active ⇄ suspended; active o suspended → completed → closed; cancelled desde pipeline, approved, active o suspended"
        ),
    )])
}

fn final_conflict(status: ProjectStatus) -> ApiError {
    ApiError::invalid_state(text!(
        "The project is {status}: it and its monitoring reports are read-only.",
        "El proyecto está en estado {status}: él y sus informes de seguimiento son de solo lectura."
    ))
    .with_errors(vec![FieldError::new(
        "status",
        "final",
        text!("is final", "es definitivo"),
    )])
}

/// Update a project, or move it along its life cycle.
///
/// Requires `If-Match` with the current ETag (428 without it, 412 when stale). `status`
/// changes only along pipeline → approved → active ⇄ suspended; active or suspended →
/// completed → closed; pipeline, approved, active or suspended → cancelled (anything
/// else, the same status included, is a 409 naming `status`). Approving, closing and
/// cancelling are reserved to the Coordinating Office and the project's HQ department:
/// other roles get a 422 naming `status`. An active project needs exactly one lead
/// agency (422 naming `agencies`). A closed or cancelled project is read-only (409).
#[utoipa::path(
    tag = "Projects",
    params(
        ("id" = Uuid, Path, description = "The project's id"),
        ("If-Match" = String, Header, description = "The ETag of the project as last read"),
    ),
    request_body(content = ProjectPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated project", body = Project, headers(("ETag" = String))),
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
#[patch("/projects/{id}")]
pub async fn update_project(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: JsonBody<serde_json::Value>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    let updated = conn
        .transaction(async |conn| {
            let current = load(conn, id, Lock::Update).await?;
            caller.may_write_project(current.office_id, current.department_id)?;
            let before = Tagged::new(&current);
            if_match.require(&before.etag)?;
            validate::reject_read_only(&body.0, READ_ONLY)?;
            validate::reject_null(&body.0, NOT_NULL)?;
            let patch: ProjectPatch = from_value(body.0.clone())?;
            let mut errors = Vec::new();
            let mut next = current.clone();
            if let Some(v) = patch.code {
                next.code = v.trim().to_owned();
            }
            if let Some(v) = patch.title {
                next.title = v.trimmed();
            }
            if let Some(v) = patch.description {
                next.description = v.map(LocalizedText::trimmed);
            }
            if let Some(v) = patch.office_id {
                next.office_id = v;
            }
            if let Some(v) = patch.department_id {
                next.department_id = v;
            }
            if let Some(v) = patch.pillar {
                next.pillar = v;
            }
            if let Some(v) = patch.status {
                next.status = v;
            }
            if let Some(v) = patch.starts_on {
                next.starts_on = v;
            }
            if let Some(v) = patch.ends_on {
                next.ends_on = v;
            }
            if let Some(v) = &patch.budget
                && let Some(m) = Money::validate("budget", v, &mut errors)
            {
                next.budget = m;
            }
            if let Some(v) = patch.funding_source {
                next.funding_source = v;
            }
            if let Some(v) = patch.donor {
                next.donor = blank_to_none(v);
            }
            if let Some(v) = patch.donor_agreement {
                next.donor_agreement = blank_to_none(v);
            }
            if let Some(v) = patch.mandate_ids {
                next.mandate_ids = v;
            }
            if let Some(v) = patch.agencies {
                next.agencies = v;
            }
            let status_given = patch.status.is_some();
            if status_given
                && next.status.is_decision()
                && !caller.may_decide_project(current.department_id)
            {
                let to = next.status;
                errors.push(FieldError::new(
                    "status",
                    "not_allowed",
                    text!(
                        "making a project {to} is reserved to the Coordinating Office and the project's HQ department",
                        "pasar un proyecto a {to} está reservado a la Oficina de Coordinación y al departamento de la sede del proyecto"
                    ),
                ));
            }
            let was = Before {
                office_id: current.office_id,
                department_id: current.department_id,
                agencies: &current.agencies,
            };
            check_project(conn, &caller, &next, Some(&was), &mut errors).await?;
            validate::finish(errors)?;
            if current.status.is_final() {
                return Err(final_conflict(current.status));
            }
            if status_given && !current.status.can_become(next.status) {
                return Err(status_conflict(current.status, next.status));
            }
            diesel::update(projects::table.find(id))
                .set((
                    projects::code.eq(&next.code),
                    projects::title.eq(next.title.to_json()),
                    projects::description.eq(next.description.as_ref().map(|d| d.to_json())),
                    projects::office_id.eq(next.office_id),
                    projects::department_id.eq(next.department_id),
                    projects::pillar.eq(next.pillar.as_str()),
                    projects::status.eq(next.status.as_str()),
                    projects::starts_on.eq(next.starts_on),
                    projects::ends_on.eq(next.ends_on),
                    projects::budget_amount.eq(next.budget.minor),
                    projects::budget_currency.eq(next.budget.currency.code),
                    projects::funding_source.eq(next.funding_source.as_str()),
                    projects::donor.eq(&next.donor),
                    projects::donor_agreement.eq(&next.donor_agreement),
                ))
                .execute(conn)
                .await?;
            if next.mandate_ids != current.mandate_ids {
                diesel::delete(
                    project_mandates::table.filter(project_mandates::project_id.eq(id)),
                )
                .execute(conn)
                .await?;
            }
            if next.agencies != current.agencies {
                diesel::delete(
                    project_agencies::table.filter(project_agencies::project_id.eq(id)),
                )
                .execute(conn)
                .await?;
            }
            let mut links = next.clone();
            if next.mandate_ids == current.mandate_ids {
                links.mandate_ids.clear();
            }
            if next.agencies == current.agencies {
                links.agencies.clear();
            }
            insert_links(conn, &links).await?;
            let after = load(conn, id, Lock::None).await?;
            if Tagged::new(&after).etag != before.etag {
                let action = if after.status != current.status {
                    "update_status"
                } else {
                    "update"
                };
                audit::record(
                    conn,
                    &caller.actor(),
                    action,
                    "project",
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

/// Delete a project.
///
/// Only a project still in `pipeline` and without monitoring reports can be deleted
/// (409 otherwise); a project with history is closed or cancelled instead. Honours
/// `If-Match` when given.
#[utoipa::path(
    tag = "Projects",
    params(
        ("id" = Uuid, Path, description = "The project's id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the project as last read"),
    ),
    responses(
        (status = 204, description = "The project was deleted"),
        (status = 400, response = crate::core::error::responses::BadRequest),
        (status = 403, response = crate::core::error::responses::Forbidden),
        (status = 404, response = crate::core::error::responses::NotFound),
        (status = 409, response = crate::core::error::responses::Conflict),
        (status = 412, response = crate::core::error::responses::PreconditionFailed),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[delete("/projects/{id}")]
pub async fn delete_project(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let if_match = IfMatch::of(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async |conn| {
        let current = load(conn, id, Lock::Update).await?;
        caller.may_write_project(current.office_id, current.department_id)?;
        if_match.check_if_present(&Tagged::new(&current).etag)?;
        if current.status != ProjectStatus::Pipeline {
            let status = current.status;
            return Err(ApiError::invalid_state(text!(
                "Only a project in pipeline can be deleted; this one is {status}: close or cancel it instead.",
                "Solo se puede eliminar un proyecto en preparación; este está en estado {status}: ciérrelo o cancélelo."
            ))
            .with_errors(vec![FieldError::new(
                "status",
                "not_pipeline",
                text!("is not pipeline", "no es pipeline"),
            )]));
        }
        use crate::db::schema::monitoring_reports as reports;
        let has_reports: bool = diesel::select(diesel::dsl::exists(
            reports::table.filter(reports::project_id.eq(id)),
        ))
        .get_result(conn)
        .await?;
        if has_reports {
            return Err(ApiError::new(
                ProblemType::StillReferenced,
                text!(
                    "The project has monitoring reports; cancel it instead.",
                    "El proyecto tiene informes de seguimiento; cancélelo en su lugar."
                ),
            )
            .with_errors(vec![FieldError::new(
                "monitoring_reports",
                "referenced",
                text!(
                    "still refer to this project",
                    "todavía hacen referencia a este proyecto"
                ),
            )]));
        }
        diesel::delete(projects::table.find(id)).execute(conn).await?;
        audit::record(
            conn,
            &caller.actor(),
            "delete",
            "project",
            id,
            Some(&current),
            None,
        )
        .await?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
