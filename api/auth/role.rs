//! A caller's role, as its token carries it; what each role may do is [`super::policy`].

use crate::core::enums::string_enum;

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
