//! Parsing of query parameters (each failure a 400 naming the parameter) and checks of
//! body fields (each failure a [`FieldError`] naming the field).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::core::error::{ApiError, FieldError};
use crate::core::i18n::text;

/// Reads an optional query parameter as an integer. Parameters are taken as the document
/// gives them: no surrounding spaces, which would not match its formats.
pub fn param_i64(name: &str, raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    raw.map(|v| {
        v.parse::<i64>().map_err(|_| {
            ApiError::invalid_parameter(
                name,
                text!("must be an integer", "debe ser un número entero"),
            )
        })
    })
    .transpose()
}

/// Reads an optional 32-bit integer parameter (documented as `int32`): a value out of
/// that range is a 400, not silently clamped.
pub fn param_i32(name: &str, raw: Option<&str>) -> Result<Option<i32>, ApiError> {
    param_i64(name, raw)?
        .map(|v| {
            i32::try_from(v).map_err(|_| {
                ApiError::invalid_parameter(
                    name,
                    text!(
                        "must be an integer from -2147483648 to 2147483647",
                        "debe ser un número entero de -2147483648 a 2147483647"
                    ),
                )
            })
        })
        .transpose()
}

/// Reads an optional RFC 3339 timestamp parameter.
pub fn param_datetime(name: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    raw.map(|v| {
        DateTime::parse_from_rfc3339(v)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| {
                ApiError::invalid_parameter(
                    name,
                    text!(
                        "must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z",
                        "debe ser una marca de tiempo RFC 3339 como 2026-01-31T12:00:00Z"
                    ),
                )
            })
    })
    .transpose()
}

/// Reads an optional `YYYY-MM-DD` parameter.
pub fn param_date(name: &str, raw: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    raw.map(|v| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
            ApiError::invalid_parameter(
                name,
                text!("must be a date YYYY-MM-DD", "debe ser una fecha AAAA-MM-DD"),
            )
        })
    })
    .transpose()
}

/// Reads an optional comma-separated list of UUIDs, each in the hyphenated form the
/// document's pattern gives (no spaces, no empty items). Like every list filter, an
/// empty value is the empty set: it matches nothing.
pub fn param_uuids(name: &str, raw: Option<&str>) -> Result<Option<Vec<Uuid>>, ApiError> {
    raw.map(|v| {
        // Not `split_list`: the pattern has no room for spaces.
        v.split(',')
            .filter(|_| !v.is_empty())
            .map(|s| {
                // `Uuid::try_parse` also takes the simple, braced and URN forms.
                Uuid::try_parse(s)
                    .ok()
                    .filter(|_| s.len() == 36)
                    .ok_or_else(|| {
                        ApiError::invalid_parameter(
                            name,
                            text!(
                                "must be UUIDs separated by commas",
                                "deben ser UUID separados por comas"
                            ),
                        )
                    })
            })
            .collect()
    })
    .transpose()
}

/// Reads an optional comma-separated list of codes, upper-cased, each matching `ok`.
pub fn param_codes(
    name: &str,
    raw: Option<&str>,
    ok: impl Fn(&str) -> bool,
) -> Result<Option<Vec<String>>, ApiError> {
    raw.map(|v| {
        let codes: Vec<String> = crate::core::pagination::split_list(v)
            .into_iter()
            .map(|s| s.to_ascii_uppercase())
            .collect();
        if codes.is_empty() || codes.len() > 100 || !codes.iter().all(|c| ok(c)) {
            Err(ApiError::invalid_parameter(
                name,
                text!(
                    "must be between 1 and 100 valid codes separated by commas",
                    "debe tener entre 1 y 100 códigos válidos separados por comas"
                ),
            ))
        } else {
            Ok(codes)
        }
    })
    .transpose()
}

/// `AR`: an ISO 3166-1 alpha-2 shape.
pub fn is_alpha2(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// A resource code: upper-case letters, digits and hyphens, starting with a letter or
/// digit, `min`..=`max` characters.
pub fn code(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    let ok = value.len() >= 2
        && value.len() <= max
        && value
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        errors.push(FieldError::new(
            field,
            "invalid_format",
            text!(
                "must be 2 to {max} upper-case letters, digits or hyphens",
                "debe tener de 2 a {max} letras mayúsculas, dígitos o guiones"
            ),
        ));
    }
}

/// A single-line text: not empty, at most `max` characters, no control characters.
pub fn line(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(
            field,
            "empty",
            text!("must not be empty", "no debe estar vacío"),
        ));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            text!(
                "must be at most {max} characters",
                "debe tener como máximo {max} caracteres"
            ),
        ));
    } else {
        no_control_characters(field, value, errors);
    }
}

/// A text without control characters (PostgreSQL cannot store a NUL at all).
pub fn no_control_characters(field: &str, value: &str, errors: &mut Vec<FieldError>) {
    if value.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "control_characters",
            text!(
                "must not contain control characters",
                "no debe contener caracteres de control"
            ),
        ));
    }
}

/// An e-mail address of a plausible shape.
pub fn email(field: &str, value: &str, errors: &mut Vec<FieldError>) {
    let ok = value.len() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
                && !domain.contains('@')
        });
    if !ok {
        errors.push(FieldError::new(
            field,
            "invalid_format",
            text!(
                "must be an e-mail address",
                "debe ser una dirección de correo electrónico"
            ),
        ));
    }
}

/// A phone number: `+`, digits, spaces, hyphens, dots and parentheses.
pub fn phone(field: &str, value: &str, errors: &mut Vec<FieldError>) {
    let digits = value.bytes().filter(u8::is_ascii_digit).count();
    let ok = (4..=20).contains(&digits)
        && value.len() <= 40
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b' ' | b'-' | b'.' | b'(' | b')'));
    if !ok {
        errors.push(FieldError::new(
            field,
            "invalid_format",
            text!(
                "must be a phone number such as +51 1 611 2000",
                "debe ser un número de teléfono como +51 1 611 2000"
            ),
        ));
    }
}

/// An absolute http(s) URL.
pub fn url(field: &str, value: &str, errors: &mut Vec<FieldError>) {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    let ok = value.len() <= 500
        && rest.is_some_and(|r| {
            let host = r.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && host.contains('.')
        })
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        errors.push(FieldError::new(
            field,
            "invalid_format",
            text!(
                "must be an http or https URL",
                "debe ser una URL http o https"
            ),
        ));
    }
}

/// The error list as a result: 422 when any field is at fault.
pub fn finish(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// For PATCH bodies: tells an absent field (`None`) from an explicit `null`
/// (`Some(None)`). Use with `#[serde(default, deserialize_with = "nullable")]`.
pub fn nullable<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Rejects fields that a client may never set (ids, timestamps, statuses changed by
/// their own operations), naming each: a body that tries is a 422, never silently
/// half-applied.
pub fn reject_read_only(body: &serde_json::Value, read_only: &[&str]) -> Result<(), ApiError> {
    let Some(obj) = body.as_object() else {
        return Ok(());
    };
    let errors: Vec<FieldError> = read_only
        .iter()
        .filter(|f| obj.contains_key(**f))
        .map(|f| {
            FieldError::new(
                *f,
                "read_only",
                text!(
                    "cannot be set here: the service sets it, or an operation of its own changes it",
                    "no se puede asignar aquí: lo asigna el servicio o lo cambia una operación propia"
                ),
            )
        })
        .collect();
    finish(errors)
}

/// Rejects an explicit `null` for fields that cannot be cleared (merge patch semantics
/// would otherwise make `null` mean "remove"), naming each.
pub fn reject_null(body: &serde_json::Value, required: &[&str]) -> Result<(), ApiError> {
    let Some(obj) = body.as_object() else {
        return Ok(());
    };
    let errors: Vec<FieldError> = required
        .iter()
        .filter(|f| obj.get(**f).is_some_and(serde_json::Value::is_null))
        .map(|f| {
            FieldError::new(
                *f,
                "null",
                text!(
                    "is required and cannot be cleared",
                    "es obligatorio y no se puede borrar"
                ),
            )
        })
        .collect();
    finish(errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0b5c7a3e-7d0e-4f6b-9a57-2d1f0e8c9b11";
    const B: &str = "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";

    #[test]
    fn a_uuid_list_takes_what_its_pattern_allows() {
        let ids = |raw: &str| param_uuids("office_id", Some(raw)).map_err(drop);
        assert_eq!(param_uuids("office_id", None).unwrap(), None);
        assert_eq!(ids("").unwrap(), Some(vec![]), "empty is the empty set");
        assert_eq!(ids(A).unwrap().unwrap().len(), 1);
        assert_eq!(ids(&format!("{A},{B}")).unwrap().unwrap().len(), 2);
        assert_eq!(ids(&A.to_uppercase()).unwrap().unwrap().len(), 1);
        let simple = A.replace('-', "");
        for bad in [
            "\u{b}",
            " ",
            ",",
            &format!("{A},"),
            &format!("{A}, {B}"),
            &format!(" {A}"),
            &format!("{{{A}}}"),
            &format!("urn:uuid:{A}"),
            &simple,
            "not-a-uuid",
        ] {
            assert!(ids(bad).is_err(), "{bad:?} was taken");
        }
    }
}
