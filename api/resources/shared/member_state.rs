//! The codes of the OAS member states, as the `member_states` table holds them (its
//! migration seeds the 35 states and nothing adds or removes one): the document's enum
//! for every body field that names a member state, and the check of those fields, so
//! that a code the schema allows is one the database knows.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

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

impl ToSchema for MemberStateCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("MemberStateCode")
    }
}

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
