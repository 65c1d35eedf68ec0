//! Parsing of query parameters (each failure a 400 naming the parameter) and checks of
//! body fields (each failure a [`FieldError`] naming the field).

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use regex::Regex;
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

// The grammar of free text, ONE definition shared by the document and the checks below:
// the document's `pattern` of every such field is one of these constants (put there by
// `app::openapi` in place of the `<line>` / `<text>` placeholders of the fields'
// `#[schema(pattern)]`), and the checks match the value against the same constant
// compiled. The escapes (`\uXXXX`) read the same in ECMA-262, Python's `re` and Rust's
// `regex`. A text is not empty, starts and ends with a character that is neither a control
// character nor white space (Unicode's White_Space, what `char::is_whitespace` says), and
// holds no control character; a multi-line text may hold tabs, line feeds and carriage
// returns inside.
// Lengths are counted in characters of the value as sent (nothing is trimmed).

/// Control characters (`char::is_control`: Unicode's Cc), for a character class.
macro_rules! cc {
    () => {
        r"\u0000-\u001F\u007F-\u009F"
    };
}

/// White space other than control characters (Unicode's White_Space: with `cc!`, what
/// `char::is_whitespace` says), for a character class.
macro_rules! ws {
    () => {
        r" \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
    };
}

/// Control characters and white space, for a character class of a pattern built at run
/// time (`[^{BLANK_OR_CONTROL}]`: a character that is neither).
pub const BLANK_OR_CONTROL: &str = concat!(cc!(), ws!());

/// A single-line text (see above).
pub const LINE_PATTERN: &str = concat!(
    "^[^",
    cc!(),
    ws!(),
    "]",
    "([^",
    cc!(),
    "]*",
    "[^",
    cc!(),
    ws!(),
    "])?$"
);

/// A multi-line text: as a line, with tabs, line feeds and carriage returns inside (see
/// above).
pub const TEXT_PATTERN: &str = concat!(
    "^[^",
    cc!(),
    ws!(),
    "]",
    r"([^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*",
    "[^",
    cc!(),
    ws!(),
    "])?$"
);

/// An e-mail address of a plausible shape: one `@`, something before it, a domain with a
/// dot that neither starts nor ends it, no white space or control character; at most
/// 254 characters ([`email`]).
pub const EMAIL_PATTERN: &str = concat!(
    "^[^@",
    cc!(),
    ws!(),
    "]+@",
    "[^@.",
    cc!(),
    ws!(),
    "][^@",
    cc!(),
    ws!(),
    r"]*\.",
    "[^@",
    cc!(),
    ws!(),
    "]*[^@.",
    cc!(),
    ws!(),
    "]$"
);

/// A phone number: 4 to 20 digits among `+`, spaces, hyphens, dots and parentheses; at
/// most 40 characters ([`phone`]).
pub const PHONE_PATTERN: &str = r"^[-+ .()]*([0-9][-+ .()]*){4,20}$";

/// An absolute http(s) URL with a host that has a dot, no white space or control
/// character; at most 500 characters ([`url`]).
pub const URL_PATTERN: &str = concat!(
    "^https?://[^/?#",
    cc!(),
    ws!(),
    r"]*\.[^/?#",
    cc!(),
    ws!(),
    "]*",
    "([/?#][^",
    cc!(),
    ws!(),
    "]*)?$"
);

static LINE: LazyLock<Regex> = LazyLock::new(|| Regex::new(LINE_PATTERN).expect("LINE_PATTERN"));
static TEXT: LazyLock<Regex> = LazyLock::new(|| Regex::new(TEXT_PATTERN).expect("TEXT_PATTERN"));
static EMAIL: LazyLock<Regex> = LazyLock::new(|| Regex::new(EMAIL_PATTERN).expect("EMAIL_PATTERN"));
static PHONE: LazyLock<Regex> = LazyLock::new(|| Regex::new(PHONE_PATTERN).expect("PHONE_PATTERN"));
static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(URL_PATTERN).expect("URL_PATTERN"));

/// Whether `value` is a single-line text of at most `max` characters ([`LINE_PATTERN`]).
pub fn is_line(value: &str, max: usize) -> bool {
    value.chars().count() <= max && LINE.is_match(value)
}

/// Whether `value` is a multi-line text of at most `max` characters ([`TEXT_PATTERN`]).
pub fn is_text(value: &str, max: usize) -> bool {
    value.chars().count() <= max && TEXT.is_match(value)
}

/// A single-line text: what [`LINE_PATTERN`] allows, at most `max` characters.
pub fn line(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    free_text(field, value, max, false, errors);
}

/// A multi-line text: what [`TEXT_PATTERN`] allows, at most `max` characters.
pub fn text(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    free_text(field, value, max, true, errors);
}

/// Checks a free text against its pattern and length; the fault named is the first that
/// applies (the pattern alone decides whether there is one).
fn free_text(field: &str, value: &str, max: usize, multi_line: bool, errors: &mut Vec<FieldError>) {
    let fits = if multi_line {
        is_text(value, max)
    } else {
        is_line(value, max)
    };
    if fits {
        return;
    }
    errors.push(if value.chars().all(char::is_whitespace) {
        FieldError::new(
            field,
            "empty",
            text!("must not be empty", "no debe estar vacío"),
        )
    } else if value.chars().count() > max {
        FieldError::new(
            field,
            "too_long",
            text!(
                "must be at most {max} characters",
                "debe tener como máximo {max} caracteres"
            ),
        )
    } else if value
        .chars()
        .any(|c| c.is_control() && !(multi_line && matches!(c, '\t' | '\n' | '\r')))
    {
        FieldError::new(
            field,
            "control_characters",
            text!(
                "must not contain control characters",
                "no debe contener caracteres de control"
            ),
        )
    } else {
        FieldError::new(
            field,
            "surrounding_whitespace",
            text!(
                "must not start or end with white space",
                "no debe empezar ni terminar con espacios en blanco"
            ),
        )
    });
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

/// An e-mail address of a plausible shape ([`EMAIL_PATTERN`]), at most 254 characters.
pub fn email(field: &str, value: &str, errors: &mut Vec<FieldError>) {
    if !(value.chars().count() <= 254 && EMAIL.is_match(value)) {
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

/// A phone number ([`PHONE_PATTERN`]), at most 40 characters.
pub fn phone(field: &str, value: &str, errors: &mut Vec<FieldError>) {
    if !(value.len() <= 40 && PHONE.is_match(value)) {
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

/// An absolute http(s) URL ([`URL_PATTERN`]), at most 500 characters.
pub fn url(field: &str, value: &str, errors: &mut Vec<FieldError>) {
    if !(value.chars().count() <= 500 && URL.is_match(value)) {
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

/// Serde's derives read a struct from a JSON array too (its fields by position), which
/// no schema of the document allows (`"contacts": [null, null]` was taken as contacts).
/// For a type whose derives carry `#[serde(remote = "Self")]`, this gives the
/// `Deserialize` that takes a JSON object only (and, with `serialize`, the derived
/// `Serialize` back): anything else is a 422 naming the field.
macro_rules! object_only {
    ($ty:ty) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
                struct Only;
                impl<'de> serde::de::Visitor<'de> for Only {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        map: A,
                    ) -> Result<$ty, A::Error> {
                        <$ty>::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                de.deserialize_map(Only)
            }
        }
    };
    ($ty:ty, serialize) => {
        $crate::core::validate::object_only!($ty);
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$ty>::serialize(self, s)
            }
        }
    };
}
pub(crate) use object_only;

/// The error list as a result: 422 when any field is at fault.
pub fn finish(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// An integer as JSON Schema counts them: any number without a fraction (`34.0` is one,
/// as the document's `integer` allows), read as an `i64`; a fraction or a number beyond
/// `i64` is refused. Use with `#[serde(deserialize_with = "integer")]`.
pub fn integer<'de, D: Deserializer<'de>>(de: D) -> Result<i64, D::Error> {
    whole(serde_json::Number::deserialize(de)?)
}

/// [`integer`] for an optional field (`null` is `None`); with `#[serde(default)]`.
pub fn optional_integer<'de, D: Deserializer<'de>>(de: D) -> Result<Option<i64>, D::Error> {
    Option::<serde_json::Number>::deserialize(de)?
        .map(whole)
        .transpose()
}

fn whole<E: serde::de::Error>(n: serde_json::Number) -> Result<i64, E> {
    // 2^63 as f64: the first value beyond i64::MAX.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    n.as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= -LIMIT && *f < LIMIT)
                .map(|f| f as i64)
        })
        .ok_or_else(|| {
            E::invalid_type(
                serde::de::Unexpected::Other(&format!("number {n}")),
                &"an integer",
            )
        })
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
    fn free_text_is_what_its_pattern_says() {
        let ok = |v: &str| {
            let mut e = Vec::new();
            line("f", v, 10, &mut e);
            e.is_empty()
        };
        for good in [
            "a",
            "Lima",
            "a b",
            "São Paulo",
            "x\u{200B}y",
            "😀",
            "0123456789",
        ] {
            assert!(ok(good) && is_line(good, 10), "{good:?} was refused");
        }
        for bad in [
            "",
            " ",
            " a",
            "a ",
            "a\n",
            "\ta",
            "a\u{a0}",
            "\u{3000}a",
            "a\u{0}b",
            "a\u{85}b",
            "a\u{9f}",
            "01234567890",
        ] {
            assert!(!ok(bad) && !is_line(bad, 10), "{bad:?} was taken");
        }
        assert!(is_text("a\n\tb\r\nc", 10));
        for bad in ["a\n", "\na", "a\u{b}b", "a\u{c}b", "a\u{0}b"] {
            assert!(!is_text(bad, 10), "{bad:?} was taken");
        }
        // The white space of the pattern is char::is_whitespace's, no more, no less.
        for c in (0..=0x3000u32).filter_map(char::from_u32) {
            let s = format!("{c}a");
            assert_eq!(
                is_line(&s, 10),
                !c.is_whitespace() && !c.is_control(),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn contacts_are_what_their_patterns_say() {
        let check = |f: fn(&str, &str, &mut Vec<FieldError>), v: &str| {
            let mut e = Vec::new();
            f("f", v, &mut e);
            e.is_empty()
        };
        assert!(check(email, "a@b.org") && check(email, "a.b+c@x.y.z"));
        for bad in [
            "a@b",
            "@b.org",
            "a@.b",
            "a@b.",
            "a b@c.org",
            "a@b@c.org",
            "a@b.org\n",
        ] {
            assert!(!check(email, bad), "{bad:?}");
        }
        assert!(check(phone, "+51 1 611 2000") && check(phone, "(01) 234-5678"));
        for bad in [
            "123",
            "+51 1 611 2000 ext",
            "1234\n",
            "123456789012345678901",
        ] {
            assert!(!check(phone, bad), "{bad:?}");
        }
        assert!(check(url, "https://www.oas.org/en?x=1#y") && check(url, "http://a.b"));
        for bad in [
            "ftp://a.b",
            "https://ab",
            "https://a .b",
            "https://a.b/\n",
            "https://",
        ] {
            assert!(!check(url, bad), "{bad:?}");
        }
    }

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
