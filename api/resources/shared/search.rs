//! The `q` parameter of the lists that search text: its reading and its SQL condition.

use diesel::dsl::{AsExprOf, sql};
use diesel::expression::{SqlLiteral, UncheckedBind};
use diesel::sql_types::{Bool, Text};

use crate::core::error::ApiError;
use crate::core::i18n::text;

/// A search condition: `term`, folded (lower case, no accents), occurs in the folded
/// `haystack` (an SQL expression over the table's columns).
pub fn search_condition(haystack: &str, term: &str) -> SearchCondition {
    sql::<Bool>(&format!("strpos(search_fold({haystack}), search_fold("))
        .bind::<Text, _>(term.to_owned())
        .sql(")) > 0")
}

/// The SQL expression of [`search_condition`].
pub type SearchCondition =
    SqlLiteral<Bool, UncheckedBind<SqlLiteral<Bool>, AsExprOf<String, Text>>>;

/// The SQL of every language of a localized jsonb column, separated by spaces.
pub fn localized_sql(column: &str) -> String {
    ["en", "es", "fr", "pt"]
        .iter()
        .map(|l| format!("coalesce({column}->>'{l}', '')"))
        .collect::<Vec<_>>()
        .join(" || ' ' || ")
}

/// Reads the `q` parameter: 1 to 200 characters after trimming, or a 400.
pub fn param_search(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    raw.map(|v| {
        let v = v.trim();
        if v.is_empty() || v.chars().count() > 200 || v.chars().any(char::is_control) {
            Err(ApiError::invalid_parameter(
                "q",
                text!(
                    "must be 1 to 200 characters of text",
                    "debe tener de 1 a 200 caracteres de texto"
                ),
            ))
        } else {
            Ok(v.to_owned())
        }
    })
    .transpose()
}
