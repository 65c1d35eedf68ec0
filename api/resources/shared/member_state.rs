//! The codes of the OAS member states, as the `member_states` table holds them (its
//! migration seeds the 35 states and nothing adds or removes one): the document's enum
//! for every body field that names a member state, and the check of those fields, so
//! that a code the schema allows is one the database knows.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::core::error::FieldError;
use crate::core::i18n::text;

/// ISO 3166-1 alpha-2 codes of the member states (migration
/// `2026-11-28-000002_member_states`).
pub const MEMBER_STATES: [&str; 35] = [
    "AG", "AR", "BS", "BB", "BZ", "BO", "BR", "CA", "CL", "CO", "CR", "CU", "DM", "DO", "EC", "SV",
    "GD", "GT", "GY", "HT", "HN", "JM", "MX", "NI", "PA", "PY", "PE", "KN", "LC", "VC", "SR", "TT",
    "US", "UY", "VE",
];

/// Whether `code` is a member state's code (exactly as listed: upper case).
pub fn is_member_state(code: &str) -> bool {
    MEMBER_STATES.contains(&code)
}

/// Checks a body's member-state field: `invalid_format` for what is not an alpha-2 code,
/// `unknown` for one of no member state (what the database's reference said before).
pub fn check_member_state(field: &str, code: &str, errors: &mut Vec<FieldError>) {
    if is_member_state(code) {
        return;
    }
    errors.push(if crate::core::validate::is_alpha2(code) {
        FieldError::new(
            field,
            "unknown",
            text!(
                "is not the code of an OAS member state",
                "no es el código de un Estado miembro de la OEA"
            ),
        )
    } else {
        FieldError::new(
            field,
            "invalid_format",
            text!(
                "must be an ISO 3166-1 alpha-2 code",
                "debe ser un código ISO 3166-1 alfa-2"
            ),
        )
    });
}

/// Schema-only type of a member state's code in a request
/// (`#[schema(value_type = MemberStateCode)]`).
pub struct MemberStateCode;

impl PartialSchema for MemberStateCode {
    fn schema() -> RefOr<Schema> {
        let mut codes = MEMBER_STATES.to_vec();
        codes.sort_unstable();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "ISO 3166-1 alpha-2 code of an OAS member state (`GET /v1/member-states`).",
            ))
            .enum_values(Some(codes))
            .examples(["PE"])
            .into()
    }
}

impl ToSchema for MemberStateCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_are_the_seeded_ones() {
        let sql = include_str!("../../../migrations/2026-11-28-000002_member_states/up.sql");
        let mut seeded: Vec<&str> = sql
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("('"))
            .filter_map(|l| l.get(..2))
            .collect();
        let mut listed = MEMBER_STATES.to_vec();
        seeded.sort_unstable();
        listed.sort_unstable();
        assert_eq!(seeded, listed);
    }
}
