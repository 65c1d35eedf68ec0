//! Who may do what: the role table of the design brief, in one place.
//!
//! Handlers ask this module; they never compare roles themselves. Not visible means
//! 404 (existence never leaks); visible but not writable means 403.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
pub use crate::auth::role::Role;
use crate::core::error::{ApiError, FieldError, ProblemType};
use crate::core::i18n::text;

/// One thing a role may do.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct Permission {
    /// `offices`, `departments`, `member_states`, `audit_events`, …
    pub resource: &'static str,
    /// `read` or `write`.
    pub action: &'static str,
    /// `all`, `own_office` or `own_department`.
    pub scope: &'static str,
}

const fn p(resource: &'static str, action: &'static str, scope: &'static str) -> Permission {
    Permission {
        resource,
        action,
        scope,
    }
}

/// Everything `role` may do.
pub fn permissions(role: Role) -> Vec<Permission> {
    let mut out: Vec<Permission> = [
        "member_states",
        "departments",
        "offices",
        "appointments",
        "mandates",
        "mandate_assignments",
        "executing_agencies",
        "projects",
        "monitoring_reports",
    ]
    .into_iter()
    .chain(["exchange_rates", "stats", "iati_activities"])
    .map(|r| p(r, "read", "all"))
    .collect();
    match role {
        Role::Coordinator => out.extend([
            p("departments", "write", "all"),
            p("offices", "write", "all"),
            p("appointments", "write", "all"),
            p("mandates", "write", "all"),
            p("mandate_assignments", "write", "all"),
            p("executing_agencies", "write", "all"),
            p("projects", "write", "all"),
            p("monitoring_reports", "write", "all"),
            p("audit_events", "read", "all"),
            p("tokens", "revoke", "all"),
            p("ledgers", "read", "all"),
            p("ledgers", "write", "all"),
            p("ledger_entries", "write", "all"),
            p("exchange_rates", "write", "all"),
        ]),
        Role::Representative => out.extend([
            p("ledgers", "read", "own_office"),
            p("ledger_entries", "write", "own_office"),
            p("appointments", "write", "own_office"),
            p("mandate_assignments", "write", "own_office"),
            p("executing_agencies", "write", "all"),
            p("projects", "write", "own_office"),
            p("monitoring_reports", "write", "own_office"),
        ]),
        Role::OfficeStaff => out.extend([
            p("ledgers", "read", "own_office"),
            p("ledger_entries", "write", "own_office"),
            p("executing_agencies", "write", "all"),
            p("projects", "write", "own_office"),
            p("monitoring_reports", "write", "own_office"),
        ]),
        Role::HqDepartment => out.extend([
            p("ledger_entries", "read", "own_department"),
            p("projects", "write", "own_department"),
            p("monitoring_reports", "write", "own_department"),
        ]),
        Role::Auditor => out.extend([
            p("audit_events", "read", "all"),
            p("ledgers", "read", "all"),
        ]),
        Role::Viewer => {}
    }
    out
}

fn forbidden() -> ApiError {
    ApiError::new(
        ProblemType::Forbidden,
        text!(
            "Your role may not do this to this resource.",
            "Su rol no permite esta operación sobre este recurso."
        ),
    )
}

/// Which money a caller may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinanceScope {
    /// Every ledger (the Coordinating Office, auditors).
    All,
    /// One office's ledgers (its representative and staff).
    Office(Uuid),
    /// Entries tagged to one HQ department's projects.
    Department(Uuid),
    /// None (viewers).
    Nothing,
}

impl Caller {
    /// The money this caller may see.
    pub fn finance_scope(&self) -> FinanceScope {
        match (self.role, self.office_id, self.department_id) {
            (Role::Coordinator | Role::Auditor, _, _) => FinanceScope::All,
            (Role::Representative | Role::OfficeStaff, Some(office), _) => {
                FinanceScope::Office(office)
            }
            (Role::HqDepartment, _, Some(department)) => FinanceScope::Department(department),
            _ => FinanceScope::Nothing,
        }
    }

    /// Posting entries into a ledger of `office_id`: the Coordinating Office and the
    /// office's representative and staff.
    pub fn may_post_entries(&self, office_id: Uuid) -> Result<(), ApiError> {
        let ok = match self.role {
            Role::Coordinator => true,
            Role::Representative | Role::OfficeStaff => self.office_id == Some(office_id),
            _ => false,
        };
        if ok { Ok(()) } else { Err(forbidden()) }
    }

    /// A whole ledger's figures (balance, verification): everyone who sees the whole
    /// ledger, not HQ departments (who see only their projects' entries).
    pub fn may_read_whole_ledger(&self, office_id: Uuid) -> Result<(), ApiError> {
        match self.finance_scope() {
            FinanceScope::All => Ok(()),
            FinanceScope::Office(o) if o == office_id => Ok(()),
            _ => Err(forbidden()),
        }
    }

    /// Statistics (`/v1/stats/*`) and the IATI activities: every role, viewers included.
    /// They are aggregates or published data, so every caller sees every office's
    /// figures; no entry-level data is ever part of them. (The IATI transactions, which
    /// are entry-level, follow [`Caller::finance_scope`].)
    pub fn may_read_statistics(&self) -> Result<(), ApiError> {
        Ok(())
    }

    /// Figures derived from ledgers outside the ledgers themselves (a mandate's
    /// expenditures): everyone who sees some finance, each within its
    /// [`FinanceScope`]; not viewers.
    pub fn may_read_finance(&self) -> Result<(), ApiError> {
        if self.finance_scope() == FinanceScope::Nothing {
            Err(forbidden())
        } else {
            Ok(())
        }
    }

    /// A project's budget execution: the Coordinating Office and auditors, the
    /// representative and staff of the project's office, and its HQ department.
    pub fn may_read_project_finance(
        &self,
        office_id: Uuid,
        department_id: Uuid,
    ) -> Result<(), ApiError> {
        let ok = match self.finance_scope() {
            FinanceScope::All => true,
            FinanceScope::Office(o) => o == office_id,
            FinanceScope::Department(d) => d == department_id,
            FinanceScope::Nothing => false,
        };
        if ok { Ok(()) } else { Err(forbidden()) }
    }

    /// Ledgers, period closings, ledger closing, exchange rates: the Coordinating Office.
    pub fn may_manage_finance(&self) -> Result<(), ApiError> {
        if self.is(Role::Coordinator) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    pub fn is(&self, role: Role) -> bool {
        self.role == role
    }

    /// Whether the caller acts for `office` (its representative or staff).
    pub fn belongs_to_office(&self, office: Uuid) -> bool {
        matches!(self.role, Role::Representative | Role::OfficeStaff)
            && self.office_id == Some(office)
    }

    /// A project's office and department: may the caller change the project, its
    /// monitoring reports (and, with finance, its entries)? The Coordinating Office;
    /// the representative and staff of its office; the HQ department that owns it.
    pub fn may_write_project(&self, office_id: Uuid, department_id: Uuid) -> Result<(), ApiError> {
        let ok = match self.role {
            Role::Coordinator => true,
            Role::Representative | Role::OfficeStaff => self.office_id == Some(office_id),
            Role::HqDepartment => self.department_id == Some(department_id),
            Role::Auditor | Role::Viewer => false,
        };
        if ok { Ok(()) } else { Err(forbidden()) }
    }

    /// Whether the caller's role writes any project at all (checked before a new
    /// project's body is read, so that a role that may not create one learns it first).
    pub fn may_create_projects(&self) -> Result<(), ApiError> {
        if matches!(self.role, Role::Auditor | Role::Viewer) {
            Err(forbidden())
        } else {
            Ok(())
        }
    }

    /// Where a caller may put a project it creates or moves (its office and department):
    /// the Coordinating Office anywhere; the representative and staff of an office only
    /// in that office; an HQ department only under itself. Roles that write no project
    /// get a 403; a role that writes projects, but not there, gets the field it may not
    /// set, to be answered as a 422 with the body's other faults (mass assignment).
    pub fn may_place_project(
        &self,
        office_id: Uuid,
        department_id: Uuid,
    ) -> Result<Option<FieldError>, ApiError> {
        let field = match self.role {
            Role::Coordinator => None,
            Role::Representative | Role::OfficeStaff => {
                (self.office_id != Some(office_id)).then_some("office_id")
            }
            Role::HqDepartment => {
                (self.department_id != Some(department_id)).then_some("department_id")
            }
            Role::Auditor | Role::Viewer => return Err(forbidden()),
        };
        Ok(field.map(|f| {
            FieldError::new(
                f,
                "not_allowed",
                text!(
                    "your role may only create or move projects within its own {f}",
                    "su rol solo puede crear o trasladar proyectos dentro de su propio {f}"
                ),
            )
        }))
    }

    /// Project status changes reserved to the Coordinating Office and the owning HQ
    /// department: approving, closing and cancelling.
    pub fn may_decide_project(&self, department_id: Uuid) -> bool {
        match self.role {
            Role::Coordinator => true,
            Role::HqDepartment => self.department_id == Some(department_id),
            _ => false,
        }
    }

    /// An office's appointments: the Coordinating Office, or the office's
    /// representative — except the representative's own appointment (`person_email`).
    pub fn may_write_appointment(
        &self,
        office_id: Uuid,
        person_email: Option<&str>,
    ) -> Result<(), ApiError> {
        let ok = match self.role {
            Role::Coordinator => true,
            Role::Representative => {
                self.office_id == Some(office_id)
                    && !person_email.is_some_and(|e| e.eq_ignore_ascii_case(&self.sub))
            }
            _ => false,
        };
        if ok { Ok(()) } else { Err(forbidden()) }
    }

    /// Progress of a mandate assignment: the Coordinating Office, or the representative
    /// of the office it is assigned to. (Assigning a mandate is the coordinator's.)
    pub fn may_update_assignment(&self, office_id: Uuid) -> Result<(), ApiError> {
        let ok = match self.role {
            Role::Coordinator => true,
            Role::Representative => self.office_id == Some(office_id),
            _ => false,
        };
        if ok { Ok(()) } else { Err(forbidden()) }
    }

    /// Setting or moving an assignment's due date: the Coordinating Office's, who
    /// assigns mandates (for anyone else the field is a mass assignment, a 422).
    pub fn may_set_assignment_due_on(&self) -> bool {
        self.is(Role::Coordinator)
    }

    /// Executing agencies: the Coordinating Office and the offices (representatives and
    /// staff), who work with them.
    pub fn may_write_agencies(&self) -> Result<(), ApiError> {
        if matches!(
            self.role,
            Role::Coordinator | Role::Representative | Role::OfficeStaff
        ) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// Reference data (departments), offices, and other coordinator-managed records.
    pub fn may_manage_reference_data(&self) -> Result<(), ApiError> {
        if self.is(Role::Coordinator) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// Revoking tokens.
    pub fn may_revoke_tokens(&self) -> Result<(), ApiError> {
        if self.is(Role::Coordinator) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// The audit trail: auditors and the Coordinating Office.
    pub fn may_read_audit(&self) -> Result<(), ApiError> {
        if matches!(self.role, Role::Coordinator | Role::Auditor) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }
}

/// The caller's identity and what it may do.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub sub: String,
    pub role: Role,
    pub office_id: Option<Uuid>,
    pub department_id: Option<Uuid>,
    /// The token's id (`jti`).
    pub token_id: String,
    pub token_expires_at: DateTime<Utc>,
    /// What the role allows, as `resource:action` pairs, with their scope.
    pub permissions: Vec<Permission>,
}

/// Who am I?
#[utoipa::path(
    tag = "Authentication",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, response = crate::core::error::responses::Unauthorized),
    )
)]
#[get("/me")]
pub async fn me(caller: Caller) -> web::Json<Me> {
    web::Json(Me {
        permissions: permissions(caller.role),
        token_expires_at: DateTime::from_timestamp(caller.expires_at, 0).unwrap_or_default(),
        sub: caller.sub,
        role: caller.role,
        office_id: caller.office_id,
        department_id: caller.department_id,
        token_id: caller.jti,
    })
}
