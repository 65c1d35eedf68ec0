//! The pillars of the OAS, by which mandates and projects are both classified.

use crate::core::enums::string_enum;

string_enum! {
    /// The pillars of the OAS Charter and the Inter-American Democratic Charter.
    pub enum Pillar {
        Democracy = "democracy" ("Democracy", "Democracia"),
        HumanRights = "human_rights" ("Human rights", "Derechos humanos"),
        IntegralDevelopment = "integral_development" ("Integral development", "Desarrollo integral"),
        MultidimensionalSecurity = "multidimensional_security" ("Multidimensional security", "Seguridad multidimensional"),
        LegalCooperation = "legal_cooperation" ("Legal cooperation", "Cooperación jurídica"),
    }
}
