//! Who may do what: the role table of the design brief, in one place.
//!
//! Handlers ask this module; they never compare roles themselves. Not visible means
//! 404 (existence never leaks); visible but not writable means 403.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ProblemType};
use crate::{string_enum, text};

string_enum! {
    /// A caller's role.
    pub enum Role {
        /// The Coordinating Office: reads and writes everything.
        Coordinator = "coordinator" ("Coordinator", "Coordinación"),
        /// The head of one office.
        Representative = "representative" ("Representative", "Representante"),
        /// Staff of one office.
        OfficeStaff = "office_staff" ("Office staff", "Personal de oficina"),
        /// A Secretariat or Department at headquarters.
        HqDepartment = "hq_department" ("HQ department", "Departamento de la sede"),
        /// Reads everything, audit trail included; writes nothing.
        Auditor = "auditor" ("Auditor", "Auditoría"),
        /// Dashboards and public data: non-financial data and statistics.
        Viewer = "viewer" ("Viewer", "Consulta"),
    }
}

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
    let mut out = vec![
        p("member_states", "read", "all"),
        p("departments", "read", "all"),
        p("offices", "read", "all"),
    ];
    match role {
        Role::Coordinator => out.extend([
            p("departments", "write", "all"),
            p("offices", "write", "all"),
            p("audit_events", "read", "all"),
            p("tokens", "revoke", "all"),
        ]),
        Role::Auditor => out.push(p("audit_events", "read", "all")),
        Role::Representative | Role::OfficeStaff | Role::HqDepartment | Role::Viewer => {}
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

impl Caller {
    pub fn is(&self, role: Role) -> bool {
        self.role == role
    }

    /// Whether the caller acts for `office` (its representative or staff).
    pub fn belongs_to_office(&self, office: Uuid) -> bool {
        matches!(self.role, Role::Representative | Role::OfficeStaff)
            && self.office_id == Some(office)
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
