//! `/v1/projects`: the projects an office monitors, with their mandates and executing
//! agencies.
//!
//! A project's status changes through `PATCH` (`{"status": "approved"}`, with
//! `If-Match`), along pipeline → approved → active ⇄ suspended; active or suspended →
//! completed → closed; and pipeline, approved, active or suspended → cancelled. Only a
//! `pipeline` project without monitoring reports can be deleted; a project with history
//! is closed or cancelled instead.

pub mod iati_fields;
pub mod list;
pub mod monitoring_reports;
pub mod writes;

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
use crate::core::localized::{LocalizedText, LocalizedText300, LocalizedText5000};
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
pub use iati_fields::{BudgetLine, BudgetLineStatus, ProjectSector};

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
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct ProjectAgency {
    pub agency_id: Uuid,
    pub role: AgencyRole,
}

crate::core::validate::object_only!(ProjectAgency, serialize);

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
    /// The IATI organisation identifier of the donor (e.g. `XM-DAC-7`), when known;
    /// null for funds without a donor.
    pub donor_org_identifier: Option<String>,
    /// The project's sectors: OECD DAC 5-digit purpose codes with percentages summing to
    /// 100 (IATI sector vocabulary 1).
    #[schema(min_items = 1, max_items = 100)]
    pub sectors: Vec<ProjectSector>,
    /// The budget by period (at most a year each), sorted by period; empty when not
    /// broken down (the IATI export then splits the budget pro rata by days into
    /// calendar years, marked indicative).
    #[schema(max_items = 100)]
    pub budget_lines: Vec<BudgetLine>,
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
    sectors: serde_json::Value,
    budget_lines: serde_json::Value,
    donor_org_identifier: Option<String>,
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
            donor_org_identifier: self.donor_org_identifier,
            sectors: iati_fields::sectors_from_json(self.sectors),
            budget_lines: iati_fields::lines_from_json(self.budget_lines, &self.budget_currency),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A new project. It starts in `pipeline`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"code": "PE-DEM-2026-09", "title": {"en": "Electoral observation", "es": "Observación electoral"}, "office_id": "0b5c7a3e-7d0e-4f6b-9a57-2d1f0e8c9b11", "department_id": "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", "pillar": "democracy", "starts_on": "2026-01-05", "ends_on": "2026-12-18", "budget": {"amount": "150000.00", "currency": "USD"}, "funding_source": "regular_fund"}))]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// Unique code: 2–32 upper-case letters, digits or hyphens.
    #[schema(example = "PE-DEM-2026-01", pattern = "^[A-Z0-9][A-Z0-9-]{1,31}$")]
    pub code: String,
    #[schema(value_type = LocalizedText300)]
    pub title: LocalizedText,
    #[serde(default)]
    #[schema(value_type = Option<LocalizedText5000>)]
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
    #[schema(pattern = "<line>", max_length = 200)]
    pub donor: Option<String>,
    /// Required for `specific_fund` and `trust_fund`, refused for the other funds.
    #[serde(default)]
    #[schema(pattern = "<line>", max_length = 64)]
    pub donor_agreement: Option<String>,
    /// Existing mandates, each at most once.
    #[serde(default)]
    #[schema(max_items = 100, value_type = std::collections::HashSet<Uuid>)]
    pub mandate_ids: Vec<Uuid>,
    /// Executing agencies, each at most once and active when linked; at most one lead.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub agencies: Vec<ProjectAgency>,
    /// The donor's IATI organisation identifier (`{registration agency}-{number}`, the
    /// prefix from IATI's OrganisationRegistrationAgency codelist); only for specific and
    /// trust funds.
    #[serde(default)]
    #[schema(example = "XM-DAC-7", pattern = "<org_identifier>", max_length = 100)]
    pub donor_org_identifier: Option<String>,
    /// OECD DAC 5-digit sectors with percentages summing to 100. Omitted, the project
    /// gets its pillar's sector at 100 %: democracy 15150 (Democratic participation and
    /// civil society), human_rights 15160 (Human rights), integral_development 43010
    /// (Multisector aid), multidimensional_security 15210 (Security system management
    /// and reform), legal_cooperation 15130 (Legal and judicial development).
    #[serde(default)]
    #[schema(min_items = 1, max_items = 100)]
    pub sectors: Option<Vec<ProjectSector>>,
    /// The budget by period: periods of at most a year within the project's dates, in
    /// the budget's currency, not overlapping, one original and one revised line per
    /// period at most, summing to `budget` (a period's revised line in place of its
    /// original). Empty: not broken down.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub budget_lines: Vec<BudgetLine>,
}

/// Changes to a project (JSON merge patch: an absent field is unchanged, `null` clears
/// an optional one; `mandate_ids` and `agencies` replace the whole list).
///
/// `status` moves the project along its life cycle (see `ProjectStatus`); moving it
/// elsewhere, or to the status it has, is a 409 naming `status`. Approving, closing and
/// cancelling are reserved to the Coordinating Office and the project's HQ department
/// (422 naming `status` for other roles). A closed or cancelled project is read-only.
#[derive(Deserialize, ToSchema, Default)]
#[schema(example = json!({"title": {"en": "Electoral observation, second round"}}))]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    #[schema(nullable = false, pattern = "^[A-Z0-9][A-Z0-9-]{1,31}$")]
    pub code: Option<String>,
    #[schema(value_type = LocalizedText300, required = false)]
    pub title: Option<LocalizedText>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<LocalizedText5000>)]
    pub description: Option<Option<LocalizedText>>,
    #[schema(nullable = false)]
    pub office_id: Option<Uuid>,
    #[schema(nullable = false)]
    pub department_id: Option<Uuid>,
    #[schema(value_type = Pillar, required = false)]
    pub pillar: Option<Pillar>,
    #[schema(value_type = ProjectStatus, required = false)]
    pub status: Option<ProjectStatus>,
    /// Not after `ends_on` (as patched or stored).
    #[schema(nullable = false)]
    pub starts_on: Option<NaiveDate>,
    /// Not before `starts_on` (as patched or stored).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub ends_on: Option<Option<NaiveDate>>,
    #[schema(value_type = MonetaryAmount, required = false)]
    pub budget: Option<MonetaryAmount>,
    #[schema(value_type = FundingSource, required = false)]
    pub funding_source: Option<FundingSource>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "<line>", max_length = 200)]
    pub donor: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "<line>", max_length = 64)]
    pub donor_agreement: Option<Option<String>>,
    #[schema(
        nullable = false,
        max_items = 100,
        value_type = Option<std::collections::HashSet<Uuid>>
    )]
    pub mandate_ids: Option<Vec<Uuid>>,
    #[schema(nullable = false, max_items = 100)]
    pub agencies: Option<Vec<ProjectAgency>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "<org_identifier>", max_length = 100)]
    pub donor_org_identifier: Option<Option<String>>,
    /// Replaces the sectors (at least one; percentages summing to 100).
    #[schema(nullable = false, min_items = 1, max_items = 100)]
    pub sectors: Option<Vec<ProjectSector>>,
    /// Replaces the budget lines (`[]` removes the breakdown). They must still sum to the
    /// budget and fit the project's dates after every change (a 422 naming
    /// `budget_lines` when a new budget or new dates no longer fit them).
    #[schema(nullable = false, max_items = 100)]
    pub budget_lines: Option<Vec<BudgetLine>>,
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
    "sectors",
    "budget_lines",
];

/// Most mandates or agencies a project may list.
/// At most this many mandates and agencies a project (`max_items` in the schemas says it too).
const MAX_LINKS: usize = 100;

/// A project row with its links, read in the same query (one round trip for a project or
/// a page of them): the mandate ids, then the agency ids and their roles, lead first.
type LinkedRow = (ProjectRow, (Vec<Uuid>, Vec<Uuid>, Vec<String>));

type LinkColumns = (
    projects::mandate_ids,
    projects::agency_ids,
    projects::agency_roles,
);

/// The links of each `projects` row: the copy kept on the row itself (by the triggers
/// of migration `2026-12-08-602_project_link_arrays`, in every write of the links), so
/// that a page of projects is one index scan of `projects`.
fn link_columns() -> LinkColumns {
    (
        projects::mandate_ids,
        projects::agency_ids,
        projects::agency_roles,
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
    // `Prepared`: one statement per lock, parsed and planned once per connection.
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
    p.title
        .validate("title", LocalizedText300::MAX_CHARS, errors);
    if let Some(d) = &p.description {
        d.validate("description", LocalizedText5000::MAX_CHARS, errors);
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

    match (&p.donor_org_identifier, earmarked) {
        (Some(_), false) => errors.push(FieldError::new(
            "donor_org_identifier",
            "not_allowed",
            text!(
                "only specific and trust funds have a donor",
                "solo los fondos específicos y fiduciarios tienen un donante"
            ),
        )),
        (Some(v), true) => {
            crate::resources::shared::iati::check_org_identifier("donor_org_identifier", v, errors)
        }
        (None, _) => {}
    }
    iati_fields::check_budget_lines(&p.budget_lines, &p.budget, p.starts_on, p.ends_on, errors);

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

/// This folder's routes, in the order they are matched, each with what it writes (read
/// by the body gate: `auth::routes`).
pub fn routes(r: &mut crate::auth::routes::Routes) {
    r.under("/projects")
        .writes("projects")
        .service(list::list_projects)
        .service(writes::create_project)
        .service(list::get_project)
        .service(writes::update_project)
        .service(writes::delete_project);
    r.writes("monitoring_reports")
        .service(monitoring_reports::list_monitoring_reports)
        .service(monitoring_reports::create_monitoring_report)
        .service(monitoring_reports::get_monitoring_report)
        .service(monitoring_reports::update_monitoring_report);
}
