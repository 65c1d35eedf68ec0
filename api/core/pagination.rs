//! Cursor (keyset) pagination.
//!
//! A list is ordered by a sort key and the id (a total order), and a page is "the next
//! `limit` rows after the last one seen", so rows inserted or removed while a client
//! pages never make it miss or repeat one that existed throughout. The cursor is opaque
//! to clients (base64url of the sort key and the last row's key); the body carries it as
//! `next_cursor` and the `Link: <…>; rel="next"` header carries the next page's URL.

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::core::error::ApiError;
use crate::core::i18n::text;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// The page size asked for: default 50, larger than 500 clamped, below 1 a 400.
pub fn limit(raw: Option<i64>) -> Result<i64, ApiError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if n < 1 => Err(ApiError::invalid_parameter(
            "limit",
            text!("must be at least 1", "debe ser al menos 1"),
        )),
        Some(n) => Ok(n.min(MAX_LIMIT)),
    }
}

/// A field a list can be sorted by.
pub trait SortField: Copy + PartialEq + 'static {
    /// Names accepted in `sort` (prefixed with `-` for descending order).
    const NAMES: &'static [(&'static str, Self)];
    const DEFAULT: Self;
}

/// A parsed `sort` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort<F> {
    pub field: F,
    pub desc: bool,
}

impl<F: SortField> Sort<F> {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let Some(raw) = raw else {
            return Ok(Sort {
                field: F::DEFAULT,
                desc: false,
            });
        };
        let (desc, name) = match raw.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, raw.strip_prefix('+').unwrap_or(raw)),
        };
        match F::NAMES.iter().find(|(n, _)| *n == name) {
            Some((_, field)) => Ok(Sort {
                field: *field,
                desc,
            }),
            None => {
                let allowed = F::NAMES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(ApiError::invalid_parameter(
                    "sort",
                    text!(
                        "must be one of {allowed}, optionally prefixed with - for descending order",
                        "debe ser uno de {allowed}, con - delante para orden descendente"
                    ),
                ))
            }
        }
    }

    pub fn name(&self) -> String {
        let name = F::NAMES
            .iter()
            .find(|(_, f)| *f == self.field)
            .map(|(n, _)| *n)
            .unwrap_or("id");
        if self.desc {
            format!("-{name}")
        } else {
            name.to_owned()
        }
    }
}

/// Every cursor [`Cursor::encode`] makes: base64url without padding. The pattern of the
/// `cursor` parameters in the document.
pub const CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]+$";

/// The position after the last row of a page.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort the cursor was made for.
    #[serde(rename = "s")]
    pub sort: String,
    /// The sort key of the last row (null when the key is null).
    #[serde(rename = "v")]
    pub value: serde_json::Value,
    /// The id of the last row.
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("cursor serializes"))
    }

    /// Decodes a cursor made for `sort`; anything else is a 400.
    pub fn decode(raw: &str, sort: &str) -> Result<Cursor, ApiError> {
        let bad = || {
            ApiError::invalid_parameter(
                "cursor",
                text!(
                    "is not a cursor this list returned with the same sort",
                    "no es un cursor devuelto por esta lista con el mismo orden"
                ),
            )
        };
        if raw.len() > 1024 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if cursor.sort != sort {
            return Err(bad());
        }
        Ok(cursor)
    }

    /// The sort key as a `T`, or a 400 when the cursor was tampered with.
    pub fn value_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_value(self.value.clone()).map_err(|_| {
            ApiError::invalid_parameter(
                "cursor",
                text!("is not a valid cursor", "no es un cursor válido"),
            )
        })
    }
}

/// The URL of the next page: this request's URL with `cursor` replaced.
pub fn next_url(req: &HttpRequest, cursor: &str, stripped: &[String]) -> String {
    let info = req.connection_info();
    let mut query: Vec<(String, String)> = url_pairs(req.query_string())
        .filter(|(k, _)| k != "cursor")
        .collect();
    query.push(("cursor".to_owned(), cursor.to_owned()));
    let mut encoded = query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>();
    // `format` and `bom`, taken out of the query before routing, stay in the next link.
    encoded.extend(stripped.iter().cloned());
    let encoded = encoded.join("&");
    format!(
        "{}://{}{}?{}",
        info.scheme(),
        info.host(),
        req.path(),
        encoded
    )
}

fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k), decode(v))
    })
}

pub(crate) fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A page of `T`: the rows fetched (at most `limit + 1`, the extra one telling that a
/// next page exists) become the items and the next cursor.
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// `rows` were fetched with `LIMIT limit + 1`; `key` gives a row's cursor.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> Cursor) -> Page<T> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| key(r).encode())
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }

    /// Adds `Link: <next>; rel="next"` when there is a next page.
    /// `stripped`: the query pairs taken out before routing that the next link keeps.
    pub fn link_header(
        &self,
        req: &HttpRequest,
        stripped: &[String],
    ) -> Option<(header::HeaderName, String)> {
        self.next_cursor.as_ref().map(|c| {
            (
                header::LINK,
                format!("<{}>; rel=\"next\"", next_url(req, c, stripped)),
            )
        })
    }
}

/// Splits a comma-separated filter value (`status=open,closed`) into its values, spaces
/// around them ignored. An empty item (`open,` or only spaces) is kept, for the caller
/// to reject as not a value; an empty filter value is the empty list.
pub fn split_list(raw: &str) -> Vec<String> {
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(',').map(|s| s.trim().to_owned()).collect()
}

/// Adds the keyset condition and order for a sort column to a boxed diesel query:
/// rows after `(value, id)` in the sort's direction, ordered by the column then the id.
#[macro_export]
macro_rules! keyset {
    ($query:expr, $col:expr, $id:expr, $desc:expr, $after:expr) => {{
        use diesel::prelude::*;
        let mut q = $query;
        if let Some((v, id)) = $after {
            // `col >= v AND (col > v OR id > id)`: the same rows as `col > v OR (col = v
            // AND id > id)`, but its first half bounds an index scan, so a page deep in
            // the list costs what the first page costs.
            q = if $desc {
                q.filter($col.le(v.clone()).and($col.lt(v).or($id.lt(id))))
            } else {
                q.filter($col.ge(v.clone()).and($col.gt(v).or($id.gt(id))))
            };
        }
        if $desc {
            q.order(($col.desc(), $id.desc()))
        } else {
            q.order(($col.asc(), $id.asc()))
        }
    }};
}

/// Filters a boxed query to rows whose `column` is one of `values`: `column = value` for
/// one value, `column = ANY(values)` for more. The planner reads an index on
/// `(column, sort key)` in order only for the first, so a one-value filter (the common
/// case: one office's projects) reads a page and stops instead of sorting every match.
#[macro_export]
macro_rules! filter_in {
    ($query:expr, $col:expr, $values:expr) => {{
        use diesel::prelude::*;
        let mut values = $values;
        if values.len() == 1 {
            $query.filter($col.eq(values.remove(0)))
        } else {
            $query.filter($col.eq_any(values))
        }
    }};
}

pub use crate::{filter_in, keyset};

#[cfg(test)]
mod cursor_pattern_tests {
    use super::*;

    #[test]
    fn every_cursor_matches_the_documented_pattern() {
        let pattern = regex::Regex::new(CURSOR_PATTERN).unwrap();
        for value in [
            serde_json::json!(null),
            serde_json::json!(-12),
            serde_json::json!("2026-01-31T12:00:00.123456Z"),
            serde_json::json!("é ü / + = ?"),
        ] {
            let c = Cursor {
                sort: "-updated_at".into(),
                value,
                id: Uuid::now_v7(),
            };
            let encoded = c.encode();
            assert!(pattern.is_match(&encoded), "{encoded}");
        }
        assert!(!pattern.is_match("a\u{0}b"));
        assert!(!pattern.is_match("abc="));
    }
}
