//! Who may do what: the role table of the design brief, in one place.
//!
//! Handlers ask this module; they never compare roles themselves. Not visible means
//! 404 (existence never leaks); visible but not writable means 403.

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
    /// `all`, `own_office`, `own_department` or `published` (published items only).
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
    // Published events and accomplishments are everyone's (the feed needs no token).
    out.push(p("accomplishments", "read", "published"));
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
            p("assets", "read", "all"),
            p("assets", "write", "all"),
            p("memoranda", "read", "all"),
            p("memoranda", "write", "all"),
            p("memorandum_compliance", "read", "all"),
            p("memorandum_compliance", "review", "all"),
            p("accomplishments", "read", "all"),
            p("accomplishments", "write", "all"),
            p("accomplishments", "publish", "all"),
        ]),
        Role::Representative => out.extend([
            p("ledgers", "read", "own_office"),
            p("ledger_entries", "write", "own_office"),
            p("appointments", "write", "own_office"),
            p("mandate_assignments", "write", "own_office"),
            p("executing_agencies", "write", "all"),
            p("projects", "write", "own_office"),
            p("monitoring_reports", "write", "own_office"),
            p("assets", "read", "own_office"),
            p("assets", "write", "own_office"),
            p("memoranda", "read", "own_office"),
            p("memorandum_compliance", "write", "own_office"),
            p("accomplishments", "read", "own_office"),
            p("accomplishments", "write", "own_office"),
        ]),
        Role::OfficeStaff => out.extend([
            p("ledgers", "read", "own_office"),
            p("ledger_entries", "write", "own_office"),
            p("executing_agencies", "write", "all"),
            p("projects", "write", "own_office"),
            p("monitoring_reports", "write", "own_office"),
            p("assets", "read", "own_office"),
            p("assets", "write", "own_office"),
            p("memoranda", "read", "own_office"),
            p("memorandum_compliance", "write", "own_office"),
            p("accomplishments", "read", "own_office"),
            p("accomplishments", "write", "own_office"),
        ]),
        Role::HqDepartment => out.extend([
            p("ledger_entries", "read", "own_department"),
            p("projects", "write", "own_department"),
            p("monitoring_reports", "write", "own_department"),
        ]),
        Role::Auditor => out.extend([
            p("audit_events", "read", "all"),
            p("ledgers", "read", "all"),
            p("assets", "read", "all"),
            p("memoranda", "read", "all"),
            p("memorandum_compliance", "read", "all"),
            p("accomplishments", "read", "all"),
        ]),
        Role::Viewer => {}
    }
    out
}

/// Which Administrative Memoranda a caller sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemorandumScope {
    /// Every memorandum (the Coordinating Office, auditors).
    All,
    /// Those that apply to one office (its representative and staff).
    Office(Uuid),
    /// None (HQ departments, viewers).
    Nothing,
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

    /// Whether the caller's role may write `resource` (of [`permissions`]) at all,
    /// decided from the route alone before its body is read (`core::http::BodyGate`;
    /// each route declares its resource where it is registered, `auth::routes`): a role
    /// that may write none of it is refused with 403 before a malformed body could teach
    /// it the validation rules. Which rows it may write is the handler's to decide.
    pub fn may_write_resource(&self, resource: &str) -> Result<(), ApiError> {
        if permissions(self.role)
            .iter()
            .any(|p| p.resource == resource && p.action != "read")
        {
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

    /// An office's material resources (assets, their transfers, physical counts and
    /// depreciation): the Coordinating Office, auditors, and the office's representative
    /// and staff, like its ledgers. Anyone else does not see them: 404.
    pub fn may_read_assets(&self, office_id: Uuid) -> Result<(), ApiError> {
        match self.finance_scope() {
            FinanceScope::All => Ok(()),
            FinanceScope::Office(o) if o == office_id => Ok(()),
            _ => Err(ApiError::not_found()),
        }
    }

    /// Changing an office's assets and counts: the Coordinating Office and the office's
    /// representative and staff. Those who see them without writing (auditors) get a
    /// 403, the others the 404 of [`Caller::may_read_assets`].
    pub fn may_write_assets(&self, office_id: Uuid) -> Result<(), ApiError> {
        self.may_read_assets(office_id)?;
        match self.role {
            Role::Coordinator => Ok(()),
            Role::Representative | Role::OfficeStaff if self.office_id == Some(office_id) => Ok(()),
            _ => Err(forbidden()),
        }
    }

    /// Which Administrative Memoranda the caller sees: the Coordinating Office and
    /// auditors all of them, an office's representative and staff those that apply to
    /// their office, the other roles none (memoranda are the offices' internal rules).
    pub fn memorandum_scope(&self) -> MemorandumScope {
        match (self.role, self.office_id) {
            (Role::Coordinator | Role::Auditor, _) => MemorandumScope::All,
            (Role::Representative | Role::OfficeStaff, Some(office)) => {
                MemorandumScope::Office(office)
            }
            _ => MemorandumScope::Nothing,
        }
    }

    /// Issuing and correcting memoranda, and accepting or returning an office's
    /// compliance: the Coordinating Office (for the General Secretariat).
    pub fn may_issue_memoranda(&self) -> Result<(), ApiError> {
        if self.is(Role::Coordinator) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// An office's reconciliation (`/v1/offices/{id}/reconciliation`): whoever sees the
    /// office's ledgers whole (the Coordinating Office, auditors, the office's
    /// representative and staff). Anyone else does not see it: 404.
    pub fn may_read_office_finance(&self, office_id: Uuid) -> Result<(), ApiError> {
        match self.finance_scope() {
            FinanceScope::All => Ok(()),
            FinanceScope::Office(o) if o == office_id => Ok(()),
            _ => Err(ApiError::not_found()),
        }
    }

    /// Every office's finance at once (the reconciliation across offices): the
    /// Coordinating Office and auditors.
    pub fn may_read_all_finance(&self) -> Result<(), ApiError> {
        if self.finance_scope() == FinanceScope::All {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// Acknowledging a memorandum and recording compliance: the office itself (its
    /// representative and staff), nobody on its behalf.
    pub fn may_answer_memorandum(&self, office_id: Uuid) -> Result<(), ApiError> {
        if self.belongs_to_office(office_id) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// The compliance view (memoranda × offices): the Coordinating Office and auditors.
    pub fn may_read_compliance(&self) -> Result<(), ApiError> {
        if matches!(self.role, Role::Coordinator | Role::Auditor) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// Writing an office's events and accomplishments (and submitting them): the
    /// Coordinating Office and the office's representative and staff.
    pub fn may_write_accomplishment(&self, office_id: Uuid) -> Result<(), ApiError> {
        if self.is(Role::Coordinator) || self.belongs_to_office(office_id) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// Publishing or returning a submitted item: the Coordinating Office.
    pub fn may_publish_accomplishments(&self) -> Result<(), ApiError> {
        if self.is(Role::Coordinator) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// Whether the caller sees an office's unpublished items (drafts, submitted,
    /// returned): the Coordinating Office, auditors and the office's people. Everyone
    /// sees published ones.
    pub fn sees_unpublished_accomplishments(&self, office_id: Uuid) -> bool {
        matches!(self.role, Role::Coordinator | Role::Auditor) || self.belongs_to_office(office_id)
    }

    /// The audit trail: auditors and the Coordinating Office.
    pub fn may_read_audit(&self) -> Result<(), ApiError> {
        if matches!(self.role, Role::Coordinator | Role::Auditor) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// Webhook subscriptions: the Coordinating Office, and service accounts (scripts and
    /// integrations, whatever their role; their deliveries carry what that role sees).
    pub fn may_manage_webhooks(&self, is_service_account: bool) -> Result<(), ApiError> {
        if self.is(Role::Coordinator) || is_service_account {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// Every webhook subscription, not only the caller's own: the Coordinating Office.
    pub fn sees_all_webhooks(&self) -> bool {
        self.is(Role::Coordinator)
    }
}

/// The role table pinned decision by decision, so that a change to the policy fails a unit
/// test (and mutation testing can measure this module with `--lib` alone). The expected
/// decisions come from the design brief's table ("Who may do what") and the statuses of
/// the authorization matrix (tests/api/authz.rs), not from this module's output.
#[cfg(test)]
mod tests {
    use super::*;

    const OWN_OFFICE: Uuid = Uuid::from_u128(0x0A);
    const OTHER_OFFICE: Uuid = Uuid::from_u128(0x0B);
    const OWN_DEPARTMENT: Uuid = Uuid::from_u128(0x0D);
    const OTHER_DEPARTMENT: Uuid = Uuid::from_u128(0x0E);

    /// A caller as its token makes it: an office and nothing else for office roles, a
    /// department and nothing else for HQ departments, neither for the others.
    fn caller(role: Role) -> Caller {
        let (office_id, department_id) = match role {
            Role::Representative | Role::OfficeStaff => (Some(OWN_OFFICE), None),
            Role::HqDepartment => (None, Some(OWN_DEPARTMENT)),
            Role::Coordinator | Role::Auditor | Role::Viewer => (None, None),
        };
        Caller {
            sub: "someone@example.org".to_owned(),
            role,
            office_id,
            department_id,
            jti: "jti".to_owned(),
            expires_at: 0,
            request_id: None,
        }
    }

    /// The columns of the authorization matrix: coordinator, representative (own, other),
    /// office staff (own, other), HQ department (own, other), auditor, viewer. "Own" is a
    /// target in the caller's office and department, "other" one in another office and
    /// another department. Roles whose rights are not scoped must decide alike for both.
    fn matrix(decide: impl Fn(&Caller, Uuid, Uuid) -> bool) -> [bool; 9] {
        let own = |c: &Caller| decide(c, OWN_OFFICE, OWN_DEPARTMENT);
        let other = |c: &Caller| decide(c, OTHER_OFFICE, OTHER_DEPARTMENT);
        let unscoped = |role: Role| {
            let c = caller(role);
            assert_eq!(
                own(&c),
                other(&c),
                "{role:?} decides by office or department"
            );
            own(&c)
        };
        let scoped = |role: Role| (own(&caller(role)), other(&caller(role)));
        let (rep, rep_other) = scoped(Role::Representative);
        let (staff, staff_other) = scoped(Role::OfficeStaff);
        let (hq, hq_other) = scoped(Role::HqDepartment);
        [
            unscoped(Role::Coordinator),
            rep,
            rep_other,
            staff,
            staff_other,
            hq,
            hq_other,
            unscoped(Role::Auditor),
            unscoped(Role::Viewer),
        ]
    }

    /// Ok, or the 403 of this module (never another error).
    fn allowed(result: Result<(), ApiError>) -> bool {
        match result {
            Ok(()) => true,
            Err(e) => {
                assert_eq!(e.kind, ProblemType::Forbidden);
                assert_eq!(e.status.as_u16(), 403);
                false
            }
        }
    }

    const T: bool = true;
    const F: bool = false;

    #[test]
    fn finance_scope_of_each_role() {
        let scope = |role| caller(role).finance_scope();
        assert_eq!(scope(Role::Coordinator), FinanceScope::All);
        assert_eq!(scope(Role::Auditor), FinanceScope::All);
        assert_eq!(
            scope(Role::Representative),
            FinanceScope::Office(OWN_OFFICE)
        );
        assert_eq!(scope(Role::OfficeStaff), FinanceScope::Office(OWN_OFFICE));
        assert_eq!(
            scope(Role::HqDepartment),
            FinanceScope::Department(OWN_DEPARTMENT)
        );
        assert_eq!(scope(Role::Viewer), FinanceScope::Nothing);
    }

    /// 200, 403 or 404 as the authorization matrix writes it.
    fn status(result: Result<(), ApiError>) -> u16 {
        match result {
            Ok(()) => 200,
            Err(e) => e.status.as_u16(),
        }
    }

    #[test]
    fn assets_are_seen_like_ledgers_and_written_by_the_office() {
        let decide = |f: &dyn Fn(&Caller, Uuid) -> Result<(), ApiError>| {
            let mut out = Vec::new();
            for (role, office) in [
                (Role::Coordinator, OWN_OFFICE),
                (Role::Representative, OWN_OFFICE),
                (Role::Representative, OTHER_OFFICE),
                (Role::OfficeStaff, OWN_OFFICE),
                (Role::OfficeStaff, OTHER_OFFICE),
                (Role::HqDepartment, OWN_OFFICE),
                (Role::Auditor, OWN_OFFICE),
                (Role::Viewer, OWN_OFFICE),
            ] {
                out.push(status(f(&caller(role), office)));
            }
            out
        };
        assert_eq!(
            decide(&|c, o| c.may_read_assets(o)),
            [200, 200, 404, 200, 404, 404, 200, 404]
        );
        assert_eq!(
            decide(&|c, o| c.may_write_assets(o)),
            [200, 200, 404, 200, 404, 404, 403, 404]
        );
    }

    #[test]
    fn reconciliation_of_an_office_and_of_all() {
        // GET /v1/offices/{id}/reconciliation: the office's whole ledgers, else 404.
        let of_office: Vec<u16> = [
            (Role::Coordinator, OWN_OFFICE),
            (Role::Representative, OWN_OFFICE),
            (Role::Representative, OTHER_OFFICE),
            (Role::OfficeStaff, OWN_OFFICE),
            (Role::OfficeStaff, OTHER_OFFICE),
            (Role::HqDepartment, OWN_OFFICE),
            (Role::Auditor, OWN_OFFICE),
            (Role::Viewer, OWN_OFFICE),
        ]
        .into_iter()
        .map(|(role, office)| status(caller(role).may_read_office_finance(office)))
        .collect();
        assert_eq!(of_office, [200, 200, 404, 200, 404, 404, 200, 404]);
        // GET /v1/reconciliation: the Coordinating Office and auditors.
        assert_eq!(
            matrix(|c, _, _| allowed(c.may_read_all_finance())),
            [T, F, F, F, F, F, F, T, F]
        );
    }

    #[test]
    fn ledgers_and_entries() {
        // POST /v1/ledgers/{id}/entries and the reversal: LEDGER_WRITE (201 or 403/404).
        assert_eq!(
            matrix(|c, office, _| allowed(c.may_post_entries(office))),
            [T, T, F, T, F, F, F, F, F]
        );
        // GET /v1/ledgers/{id}/balance and verification: WHOLE_LEDGER_READ.
        assert_eq!(
            matrix(|c, office, _| allowed(c.may_read_whole_ledger(office))),
            [T, T, F, T, F, F, F, T, F]
        );
        // Ledgers, closings, exchange rates: the Coordinating Office.
        assert_eq!(
            matrix(|c, _, _| allowed(c.may_manage_finance())),
            [T, F, F, F, F, F, F, F, F]
        );
    }

    #[test]
    fn finance_reports_and_statistics() {
        // GET /v1/mandates/{id}/expenditures: everyone who sees some finance.
        assert_eq!(
            matrix(|c, _, _| allowed(c.may_read_finance())),
            [T, T, T, T, T, T, T, T, F]
        );
        // GET /v1/projects/{id}/budget-execution.
        assert_eq!(
            matrix(|c, office, department| {
                allowed(c.may_read_project_finance(office, department))
            }),
            [T, T, F, T, F, T, F, T, F]
        );
        // A project of the caller's office but another department (and the reverse):
        // the office's people see it, the other department does not.
        let rep = caller(Role::Representative);
        assert!(allowed(
            rep.may_read_project_finance(OWN_OFFICE, OTHER_DEPARTMENT)
        ));
        let hq = caller(Role::HqDepartment);
        assert!(allowed(
            hq.may_read_project_finance(OTHER_OFFICE, OWN_DEPARTMENT)
        ));
        assert!(!allowed(
            hq.may_read_project_finance(OWN_OFFICE, OTHER_DEPARTMENT)
        ));
        // /v1/stats/* and the IATI activities: every role, viewers included.
        assert_eq!(matrix(|c, _, _| allowed(c.may_read_statistics())), [T; 9]);
    }

    #[test]
    fn projects() {
        // PATCH /v1/projects/{id}, its monitoring reports: PROJECT_WRITERS.
        assert_eq!(
            matrix(|c, office, department| allowed(c.may_write_project(office, department))),
            [T, T, F, T, F, T, F, F, F]
        );
        // An office's people write their office's projects whatever the department, an
        // HQ department its projects whatever the office.
        let staff = caller(Role::OfficeStaff);
        assert!(allowed(
            staff.may_write_project(OWN_OFFICE, OTHER_DEPARTMENT)
        ));
        assert!(!allowed(
            staff.may_write_project(OTHER_OFFICE, OWN_DEPARTMENT)
        ));
        let hq = caller(Role::HqDepartment);
        assert!(allowed(hq.may_write_project(OTHER_OFFICE, OWN_DEPARTMENT)));
        assert!(!allowed(hq.may_write_project(OWN_OFFICE, OTHER_DEPARTMENT)));
        // POST /v1/projects: a 403 only for the roles that write no project.
        assert_eq!(
            matrix(|c, _, _| allowed(c.may_create_projects())),
            [T, T, T, T, T, T, T, F, F]
        );
        // Approving, closing, cancelling: the coordinator and the owning HQ department.
        assert_eq!(
            matrix(|c, _, department| c.may_decide_project(department)),
            [T, F, F, F, F, T, F, F, F]
        );
    }

    #[test]
    fn placing_a_project_names_the_field_a_role_may_not_set() {
        // POST /v1/projects: 201, a 422 naming the field, or a 403.
        let place = |role, office, department| {
            caller(role)
                .may_place_project(office, department)
                .map(|e| e.map(|e| (e.field, e.code)))
                .map_err(|e| (e.kind, e.status.as_u16()))
        };
        let forbidden = Err((ProblemType::Forbidden, 403));
        let office = Ok(Some(("office_id".to_owned(), "not_allowed")));
        let department = Ok(Some(("department_id".to_owned(), "not_allowed")));
        for (office_id, department_id) in [
            (OWN_OFFICE, OWN_DEPARTMENT),
            (OTHER_OFFICE, OTHER_DEPARTMENT),
        ] {
            assert_eq!(place(Role::Coordinator, office_id, department_id), Ok(None));
            assert_eq!(place(Role::Auditor, office_id, department_id), forbidden);
            assert_eq!(place(Role::Viewer, office_id, department_id), forbidden);
        }
        for role in [Role::Representative, Role::OfficeStaff] {
            assert_eq!(place(role, OWN_OFFICE, OWN_DEPARTMENT), Ok(None));
            assert_eq!(place(role, OWN_OFFICE, OTHER_DEPARTMENT), Ok(None));
            assert_eq!(place(role, OTHER_OFFICE, OWN_DEPARTMENT), office);
        }
        assert_eq!(
            place(Role::HqDepartment, OWN_OFFICE, OWN_DEPARTMENT),
            Ok(None)
        );
        assert_eq!(
            place(Role::HqDepartment, OTHER_OFFICE, OWN_DEPARTMENT),
            Ok(None)
        );
        assert_eq!(
            place(Role::HqDepartment, OWN_OFFICE, OTHER_DEPARTMENT),
            department
        );
        let message = caller(Role::HqDepartment)
            .may_place_project(OWN_OFFICE, OTHER_DEPARTMENT)
            .unwrap()
            .unwrap()
            .message;
        assert_eq!(
            message.en,
            "your role may only create or move projects within its own department_id"
        );
    }

    #[test]
    fn appointments_and_assignments() {
        // POST/PATCH appointments: the coordinator and the office's representative.
        assert_eq!(
            matrix(|c, office, _| allowed(c.may_write_appointment(office, None))),
            [T, T, F, F, F, F, F, F, F]
        );
        assert_eq!(
            matrix(|c, office, _| {
                allowed(c.may_write_appointment(office, Some("another@example.org")))
            }),
            [T, T, F, F, F, F, F, F, F]
        );
        // Not the representative's own appointment (whatever the case of the address);
        // the coordinator writes it.
        let rep = caller(Role::Representative);
        for own in ["someone@example.org", "SomeOne@Example.ORG"] {
            assert!(!allowed(rep.may_write_appointment(OWN_OFFICE, Some(own))));
            let coordinator = caller(Role::Coordinator);
            assert!(allowed(
                coordinator.may_write_appointment(OWN_OFFICE, Some(own))
            ));
        }
        // PATCH an assignment's progress: the coordinator and the office's representative.
        assert_eq!(
            matrix(|c, office, _| allowed(c.may_update_assignment(office))),
            [T, T, F, F, F, F, F, F, F]
        );
        // Its due date: the coordinator, who assigns mandates.
        assert_eq!(
            matrix(|c, _, _| c.may_set_assignment_due_on()),
            [T, F, F, F, F, F, F, F, F]
        );
    }

    #[test]
    fn agencies_reference_data_tokens_and_audit() {
        // Executing agencies: the coordinator and every office's representative and staff.
        assert_eq!(
            matrix(|c, _, _| allowed(c.may_write_agencies())),
            [T, T, T, T, T, F, F, F, F]
        );
        // Departments, offices, mandates: the coordinator.
        assert_eq!(
            matrix(|c, _, _| allowed(c.may_manage_reference_data())),
            [T, F, F, F, F, F, F, F, F]
        );
        // POST /v1/auth/revocations: the coordinator.
        assert_eq!(
            matrix(|c, _, _| allowed(c.may_revoke_tokens())),
            [T, F, F, F, F, F, F, F, F]
        );
        // GET /v1/audit-events: the coordinator and auditors.
        assert_eq!(
            matrix(|c, _, _| allowed(c.may_read_audit())),
            [T, F, F, F, F, F, F, T, F]
        );
    }

    #[test]
    fn belonging_to_an_office_and_being_a_role() {
        assert_eq!(
            matrix(|c, office, _| c.belongs_to_office(office)),
            [F, T, F, T, F, F, F, F, F]
        );
        for role in Role::ALL {
            for other in Role::ALL {
                assert_eq!(
                    caller(*role).is(*other),
                    role == other,
                    "{role:?} {other:?}"
                );
            }
        }
    }

    /// What `/v1/me` lists for each role: the non-financial reads everyone has, and the
    /// rows of the design brief's table.
    #[test]
    fn permissions_of_each_role() {
        let everyone = [
            "member_states",
            "departments",
            "offices",
            "appointments",
            "mandates",
            "mandate_assignments",
            "executing_agencies",
            "projects",
            "monitoring_reports",
            "exchange_rates",
            "stats",
            "iati_activities",
        ];
        /// Resource, action, scope.
        type Row = (&'static str, &'static str, &'static str);
        let expected = |extra: &[Row]| {
            let mut all: Vec<Permission> = everyone.iter().map(|r| p(r, "read", "all")).collect();
            all.push(p("accomplishments", "read", "published"));
            all.extend(extra.iter().map(|(r, a, s)| p(r, a, s)));
            all
        };
        let sorted = |mut v: Vec<Permission>| {
            v.sort_by_key(|p| (p.resource, p.action, p.scope));
            v
        };
        let cases: [(Role, &[Row]); 6] = [
            (
                Role::Coordinator,
                &[
                    ("departments", "write", "all"),
                    ("offices", "write", "all"),
                    ("appointments", "write", "all"),
                    ("mandates", "write", "all"),
                    ("mandate_assignments", "write", "all"),
                    ("executing_agencies", "write", "all"),
                    ("projects", "write", "all"),
                    ("monitoring_reports", "write", "all"),
                    ("audit_events", "read", "all"),
                    ("tokens", "revoke", "all"),
                    ("ledgers", "read", "all"),
                    ("ledgers", "write", "all"),
                    ("ledger_entries", "write", "all"),
                    ("exchange_rates", "write", "all"),
                    ("assets", "read", "all"),
                    ("assets", "write", "all"),
                    ("memoranda", "read", "all"),
                    ("memoranda", "write", "all"),
                    ("memorandum_compliance", "read", "all"),
                    ("memorandum_compliance", "review", "all"),
                    ("accomplishments", "read", "all"),
                    ("accomplishments", "write", "all"),
                    ("accomplishments", "publish", "all"),
                ],
            ),
            (
                Role::Representative,
                &[
                    ("ledgers", "read", "own_office"),
                    ("ledger_entries", "write", "own_office"),
                    ("appointments", "write", "own_office"),
                    ("mandate_assignments", "write", "own_office"),
                    ("executing_agencies", "write", "all"),
                    ("projects", "write", "own_office"),
                    ("monitoring_reports", "write", "own_office"),
                    ("assets", "read", "own_office"),
                    ("assets", "write", "own_office"),
                    ("memoranda", "read", "own_office"),
                    ("memorandum_compliance", "write", "own_office"),
                    ("accomplishments", "read", "own_office"),
                    ("accomplishments", "write", "own_office"),
                ],
            ),
            (
                Role::OfficeStaff,
                &[
                    ("ledgers", "read", "own_office"),
                    ("ledger_entries", "write", "own_office"),
                    ("executing_agencies", "write", "all"),
                    ("projects", "write", "own_office"),
                    ("monitoring_reports", "write", "own_office"),
                    ("assets", "read", "own_office"),
                    ("assets", "write", "own_office"),
                    ("memoranda", "read", "own_office"),
                    ("memorandum_compliance", "write", "own_office"),
                    ("accomplishments", "read", "own_office"),
                    ("accomplishments", "write", "own_office"),
                ],
            ),
            (
                Role::HqDepartment,
                &[
                    ("ledger_entries", "read", "own_department"),
                    ("projects", "write", "own_department"),
                    ("monitoring_reports", "write", "own_department"),
                ],
            ),
            (
                Role::Auditor,
                &[
                    ("audit_events", "read", "all"),
                    ("ledgers", "read", "all"),
                    ("assets", "read", "all"),
                    ("memoranda", "read", "all"),
                    ("memorandum_compliance", "read", "all"),
                    ("accomplishments", "read", "all"),
                ],
            ),
            (Role::Viewer, &[]),
        ];
        for (role, extra) in cases {
            assert_eq!(
                sorted(permissions(role)),
                sorted(expected(extra)),
                "{role:?}"
            );
        }
    }

    #[test]
    fn memoranda_and_accomplishments() {
        // Seeing a memorandum that applies to the own office only.
        assert_eq!(
            matrix(|c, office, _| match c.memorandum_scope() {
                MemorandumScope::All => true,
                MemorandumScope::Office(o) => o == office,
                MemorandumScope::Nothing => false,
            }),
            [T, T, F, T, F, F, F, T, F]
        );
        // POST /v1/memoranda, the review of compliance: the coordinator.
        assert_eq!(
            matrix(|c, _, _| allowed(c.may_issue_memoranda())),
            [T, F, F, F, F, F, F, F, F]
        );
        // Acknowledgement and compliance: the office's own people only.
        assert_eq!(
            matrix(|c, office, _| allowed(c.may_answer_memorandum(office))),
            [F, T, F, T, F, F, F, F, F]
        );
        // GET /v1/memorandum-compliance: coordinator and auditor.
        assert_eq!(
            matrix(|c, _, _| allowed(c.may_read_compliance())),
            [T, F, F, F, F, F, F, T, F]
        );
        // Writing and submitting an office's items.
        assert_eq!(
            matrix(|c, office, _| allowed(c.may_write_accomplishment(office))),
            [T, T, F, T, F, F, F, F, F]
        );
        // Publishing and returning.
        assert_eq!(
            matrix(|c, _, _| allowed(c.may_publish_accomplishments())),
            [T, F, F, F, F, F, F, F, F]
        );
        // Unpublished items: coordinator, auditor, the office's people.
        assert_eq!(
            matrix(|c, office, _| c.sees_unpublished_accomplishments(office)),
            [T, T, F, T, F, F, F, T, F]
        );
    }
}
