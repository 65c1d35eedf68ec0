//! Refusing to delete a resource that others still refer to.

use crate::core::error::{ApiError, FieldError, ProblemType};
use crate::core::i18n::text;

/// A 409 `still-referenced` naming each kind of resource that refers to the resource.
pub fn still_referenced(what: &[&str]) -> ApiError {
    let list = what.join(", ");
    ApiError::new(
        ProblemType::StillReferenced,
        text!(
            "The resource is still referenced by {list}; close or archive it instead.",
            "El recurso todavía está referenciado por {list}; ciérrelo o archívelo en su lugar."
        ),
    )
    .with_errors(
        what.iter()
            .map(|w| {
                FieldError::new(
                    *w,
                    "referenced",
                    text!(
                        "still refers to this resource",
                        "todavía hace referencia a este recurso"
                    ),
                )
            })
            .collect(),
    )
}

/// Maps the error of a DELETE: a foreign key from a table this module does not check
/// (e.g. one added later) still means "referenced", naming that table, never a 500.
pub fn delete_error(err: diesel::result::Error) -> ApiError {
    match &err {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            info,
        ) => {
            log::info!("delete refused by a foreign key: {}", info.message());
            still_referenced(&[info.table_name().unwrap_or("other_resources")])
        }
        _ => ApiError::from(err),
    }
}
