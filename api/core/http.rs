//! HTTP conventions shared by every resource: the request id, the JSON body extractor,
//! extractor error handlers, ETags and conditional requests. The envelope middleware
//! that applies them to every request is `app::envelope`.

use actix_web::dev::Payload;
use actix_web::error::{PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::core::error::{ApiError, FieldError, ProblemType};
use crate::core::i18n::text;

/// Most bytes a JSON request body may have.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request: the caller's `X-Request-Id` when it is sane, a new
/// UUID otherwise. Echoed in the response and in problems.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn of(req: &HttpRequest) -> Option<String> {
        req.extensions().get::<RequestId>().map(|r| r.0.clone())
    }
}

/// Query parameter errors (an unknown parameter, a value of the wrong type) as a 400
/// problem naming the parameter.
pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let message = match &err {
        QueryPayloadError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    let name = backticked(&message).unwrap_or("query").to_owned();
    let detail = if message.starts_with("unknown field") {
        let known = expected_list(&message);
        text!(
            "is not a parameter of this operation (it takes {known})",
            "no es un parámetro de esta operación (acepta {known})"
        )
    } else if message.starts_with("missing field") {
        text!("is required", "es obligatorio")
    } else {
        describe_data_error(&message)
    };
    ApiError::invalid_parameter(&name, detail).into()
}

/// The backquoted names after "expected one of" in a serde message, comma-separated.
fn expected_list(message: &str) -> String {
    let tail = message
        .split_once("expected ")
        .map_or("", |(_, t)| t)
        .trim_start_matches("one of ");
    let names: Vec<&str> = tail
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, n)| n)
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A kind of JSON value a serde message names (`string "x"`, `integer `5``, `u32`,
/// `struct NewOffice`, …), in our words.
fn kind_of(what: &str) -> Option<(&'static str, &'static str)> {
    let w = what
        .trim()
        .trim_start_matches("a ")
        .trim_start_matches("an ");
    let first = w.split([' ', '`']).next().unwrap_or("");
    Some(match first {
        "string" | "borrowed" | "str" | "char" => ("a string", "una cadena"),
        "integer" | "u8" | "u16" | "u32" | "u64" | "u128" | "i8" | "i16" | "i32" | "i64"
        | "i128" | "usize" | "isize" => ("an integer", "un número entero"),
        "floating" | "f32" | "f64" | "number" => ("a number", "un número"),
        "boolean" | "bool" => ("a boolean", "un booleano"),
        "null" | "unit" => ("null", "null"),
        "map" | "struct" | "object" => ("an object", "un objeto"),
        "sequence" | "seq" | "array" | "tuple" => ("an array", "un arreglo"),
        "UUID" | "uuid" => ("a UUID", "un UUID"),
        _ => return None,
    })
}

/// Our own message for a serde data error (the framework's English text never reaches
/// a caller who asked for another language).
fn describe_data_error(message: &str) -> crate::core::i18n::Text {
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (got, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        return match (kind_of(expected), kind_of(got)) {
            (Some((e_en, e_es)), Some((g_en, g_es))) => {
                text!("must be {e_en}, not {g_en}", "debe ser {e_es}, no {g_es}")
            }
            (Some((e_en, e_es)), None) => text!("must be {e_en}", "debe ser {e_es}"),
            _ => text!("has the wrong type", "tiene un tipo incorrecto"),
        };
    }
    if message.starts_with("unknown variant") {
        let allowed = expected_list(message);
        return text!("must be one of {allowed}", "debe ser uno de {allowed}");
    }
    if message.starts_with("invalid length") {
        return text!(
            "has the wrong number of elements",
            "tiene un número incorrecto de elementos"
        );
    }
    if message.starts_with("UUID parsing failed") || message.contains("expected UUID") {
        return text!("must be a UUID", "debe ser un UUID");
    }
    if message.starts_with("invalid digit")
        || message.starts_with("cannot parse integer")
        || message.starts_with("number too large")
        || message.starts_with("number too small")
    {
        return text!(
            "must be an integer in range",
            "debe ser un número entero dentro del rango"
        );
    }
    if message.starts_with("provided string was not `true` or `false`") {
        return text!("must be true or false", "debe ser true o false");
    }
    if matches!(
        message,
        "input contains invalid characters"
            | "premature end of input"
            | "input is out of range"
            | "input is not enough for unique date and time"
            | "trailing input"
            | "no possible date and time matching input"
            | "bad or unsupported format string"
    ) {
        return text!(
            "is not a valid date or time (dates YYYY-MM-DD, times RFC 3339)",
            "no es una fecha u hora válida (fechas AAAA-MM-DD, horas RFC 3339)"
        );
    }
    if message.starts_with("invalid value") {
        return text!("has an invalid value", "tiene un valor no válido");
    }
    // The service's own validation messages (custom deserializers) are English only.
    text!("{message}", "valor no válido: {message}")
}

/// Path parameter errors (an id that is not a UUID) as a 400 problem.
pub fn path_error(err: actix_web::error::PathError, req: &HttpRequest) -> actix_web::Error {
    let message = err.to_string();
    // Name the parameter: the first one that is not a UUID (ids are), else the first.
    let name = req
        .match_info()
        .iter()
        .find(|(_, v)| uuid::Uuid::parse_str(v).is_err())
        .or_else(|| req.match_info().iter().next())
        .map(|(k, _)| k.to_owned())
        .unwrap_or_else(|| "path".to_owned());
    let detail = if message.contains("UUID") {
        text!(
            "must be a UUID such as 0190c6b2-7a3e-7cc1-9d43-4f2a8e6b1c20",
            "debe ser un UUID como 0190c6b2-7a3e-7cc1-9d43-4f2a8e6b1c20"
        )
    } else {
        let inner = message
            .split_once(": ")
            .map_or(message.as_str(), |(_, m)| m);
        describe_data_error(inner)
    };
    ApiError::invalid_parameter(&name, detail).into()
}

/// The preference a write names to be run without effect (RFC 7240 `Prefer`), echoed in
/// `Preference-Applied` when honoured.
pub const DRY_RUN_PREFERENCE: &str = "dry-run";

/// Whether the request's `Prefer` headers name the `dry-run` preference (RFC 7240:
/// comma-separated preferences, each a case-insensitive token with an optional value and
/// parameters, in one header or several).
pub fn prefers_dry_run(req: &actix_web::dev::RequestHead) -> bool {
    req.headers
        .get_all(HeaderName::from_static("prefer"))
        .any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',').any(|pref| {
                    let token = pref.split([';', '=']).next().unwrap_or("").trim();
                    token.eq_ignore_ascii_case(DRY_RUN_PREFERENCE)
                })
            })
        })
}

/// The first `name` in a serde message such as "unknown field `name`, expected …".
fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// What a JSON body waits for before it is read: the app registers the authorization
/// layer's role check (`auth::may_send_body`), so a caller who may not write here gets
/// its 403 rather than a 400/422 about a body it may not send anyway.
#[derive(Clone, Copy)]
pub struct BodyGate(
    pub fn(HttpRequest) -> futures_util::future::LocalBoxFuture<'static, Result<(), ApiError>>,
);

/// A JSON request body of type `T`.
///
/// Unlike `web::Json`, it tells a malformed body (400) from a well-formed one with
/// invalid fields (422 naming the field by its path), requires a JSON content type
/// (415), and bounds the size (413).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            if let Some(gate) = req.app_data::<BodyGate>() {
                (gate.0)(req.clone()).await?;
            }
            let is_json = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<mime::Mime>().ok())
                .is_some_and(|m| {
                    m.type_() == mime::APPLICATION
                        && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
                });
            if !is_json {
                return Err(ApiError::new(
                    ProblemType::UnsupportedMediaType,
                    text!(
                        "The body must be JSON, sent with Content-Type: application/json.",
                        "El cuerpo debe ser JSON, enviado con Content-Type: application/json."
                    ),
                ));
            }
            let too_large = || {
                let max = MAX_BODY_BYTES;
                ApiError::new(
                    ProblemType::PayloadTooLarge,
                    text!(
                        "The body is larger than {max} bytes.",
                        "El cuerpo supera los {max} bytes."
                    ),
                )
            };
            if let Some(len) = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok())
                && len > MAX_BODY_BYTES
            {
                return Err(too_large());
            }
            let mut body = web::BytesMut::new();
            use futures_util::StreamExt;
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| match e {
                    PayloadError::Overflow => too_large(),
                    other => ApiError::new(
                        ProblemType::MalformedBody,
                        text!(
                            "The body could not be read: {other}.",
                            "No se pudo leer el cuerpo: {other}."
                        ),
                    ),
                })?;
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(JsonBody)
        })
    }
}

/// Parses a request body, telling syntax errors (400) from data errors (422 with the
/// field's path). Every body of the API is a JSON object: valid JSON of another type is
/// a 422 naming `body` (serde would otherwise fill a struct's fields by position from an
/// array, and take `[]` for an empty merge patch).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first (the whole document, trailing characters included), then the data.
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| json_error(".".to_owned(), e))?;
    if !value.is_object() {
        let (kind, clase) = match &value {
            serde_json::Value::Null => ("null", "null"),
            serde_json::Value::Bool(_) => ("a boolean", "un booleano"),
            serde_json::Value::Number(_) => ("a number", "un número"),
            serde_json::Value::String(_) => ("a string", "una cadena"),
            serde_json::Value::Array(_) => ("an array", "un arreglo"),
            serde_json::Value::Object(_) => unreachable!("checked above"),
        };
        return Err(ApiError::validation(vec![FieldError::new(
            "body",
            "invalid",
            text!(
                "The body must be a JSON object, not {kind}.",
                "El cuerpo debe ser un objeto JSON, no {clase}."
            ),
        )]));
    }
    from_value(value)
}

/// Reads a `T` from an already parsed JSON value, with the errors of [`parse_json`].
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(path_error_of)
}

fn path_error_of(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    json_error(path, err.into_inner())
}

fn json_error(path: String, inner: serde_json::Error) -> ApiError {
    let message = inner.to_string();
    match inner.classify() {
        serde_json::error::Category::Data => {
            let (field, code) = match (message.strip_prefix("unknown field "), backticked(&message))
            {
                // The path already ends with the unknown field's name.
                (Some(_), Some(name)) if path.ends_with(name) => (path.clone(), "unknown_field"),
                (Some(_), Some(name)) => (join_path(&path, name), "unknown_field"),
                _ if message.starts_with("missing field") => (
                    join_path(&path, backticked(&message).unwrap_or_default()),
                    "required",
                ),
                _ => (
                    if path == "." { "body".to_owned() } else { path },
                    "invalid",
                ),
            };
            let message = strip_position(&message);
            let detail = match code {
                "required" => text!("is required", "es obligatorio"),
                "unknown_field" => text!(
                    "is not a field of this body",
                    "no es un campo de este cuerpo"
                ),
                _ => describe_data_error(&message),
            };
            ApiError::validation(vec![FieldError::new(field, code, detail)])
        }
        _ => {
            let (line, column) = (inner.line(), inner.column());
            let what_es = match inner.classify() {
                serde_json::error::Category::Eof => "termina antes de tiempo",
                _ => "tiene un error de sintaxis",
            };
            let message = strip_position(&message);
            ApiError::new(
                ProblemType::MalformedBody,
                text!(
                    "The body is not valid JSON: {message} (line {line}, column {column}).",
                    "El cuerpo no es JSON válido: {what_es} (línea {line}, columna {column})."
                ),
            )
        }
    }
}

fn join_path(path: &str, name: &str) -> String {
    if path == "." || path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A strong ETag over a representation's bytes.
pub fn etag_of(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// A resource representation serialized once, with its ETag.
pub struct Tagged {
    pub bytes: Vec<u8>,
    pub etag: String,
}

impl Tagged {
    pub fn new<T: Serialize>(value: &T) -> Self {
        let bytes = serde_json::to_vec(value).expect("representation serializes");
        let etag = etag_of(&bytes);
        Tagged { bytes, etag }
    }

    fn response(self, status: StatusCode) -> HttpResponse {
        HttpResponse::build(status)
            .content_type("application/json")
            .insert_header((header::ETAG, self.etag))
            .insert_header((header::CACHE_CONTROL, "private, no-cache"))
            .body(self.bytes)
    }

    /// 200 with the ETag, or 304 when `If-None-Match` names it.
    pub fn ok(self, req: &HttpRequest) -> HttpResponse {
        if let Some(list) = header_list(req, header::IF_NONE_MATCH)
            && list.iter().any(|t| t == "*" || weak_eq(t, &self.etag))
        {
            return HttpResponse::NotModified()
                .insert_header((header::ETAG, self.etag))
                .insert_header((header::CACHE_CONTROL, "private, no-cache"))
                .finish();
        }
        self.response(StatusCode::OK)
    }

    /// 201 with the ETag and `Location`.
    pub fn created(self, location: &str) -> HttpResponse {
        let mut res = self.response(StatusCode::CREATED);
        res.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_str(location).expect("location is a valid header value"),
        );
        res
    }
}

/// The elements of a list header (`None` when the request lacks it). A header that is
/// present but names nothing (`If-Match: ,`) is an empty list, which matches nothing:
/// it must not read as an absent one.
fn header_list(req: &HttpRequest, name: HeaderName) -> Option<Vec<String>> {
    let mut present = false;
    let values: Vec<String> = req
        .headers()
        .get_all(name)
        .inspect(|_| present = true)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    present.then_some(values)
}

fn weak_eq(a: &str, b: &str) -> bool {
    a.trim_start_matches("W/") == b.trim_start_matches("W/")
}

/// The `If-Match` header of a request, read before a transaction starts (an
/// `HttpRequest` cannot cross into it).
#[derive(Clone, Debug, Default)]
pub struct IfMatch(Option<Vec<String>>);

impl IfMatch {
    pub fn of(req: &HttpRequest) -> IfMatch {
        IfMatch(header_list(req, header::IF_MATCH))
    }

    pub fn is_present(&self) -> bool {
        self.0.is_some()
    }

    /// Checks the header against the current representation's ETag: 428 when absent,
    /// 412 when stale. Call it after the visibility check, so a 412 never reveals a
    /// resource the caller may not see.
    pub fn require(&self, current_etag: &str) -> Result<(), ApiError> {
        let Some(list) = &self.0 else {
            return Err(ApiError::precondition_required());
        };
        self.check_list(list, current_etag)
    }

    /// Like [`IfMatch::require`], but an absent header passes.
    pub fn check_if_present(&self, current_etag: &str) -> Result<(), ApiError> {
        match &self.0 {
            Some(list) => self.check_list(list, current_etag),
            None => Ok(()),
        }
    }

    fn check_list(&self, list: &[String], current_etag: &str) -> Result<(), ApiError> {
        // Strong comparison (RFC 9110 §13.1.1): a weak tag never matches.
        if list.iter().any(|t| t == "*" || t == current_etag) {
            Ok(())
        } else {
            Err(ApiError::precondition_failed())
        }
    }
}

/// The extractor configurations that make actix's own failures problems.
pub fn extractor_configs(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .app_data(web::JsonConfig::default().limit(MAX_BODY_BYTES));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ProblemType;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Patch {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        code: Option<String>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct New {
        name: String,
        count: u32,
    }

    fn fields(e: &ApiError) -> Vec<(&str, &str)> {
        e.errors
            .iter()
            .map(|f| (f.field.as_str(), f.code))
            .collect()
    }

    /// Every request body is a JSON object: valid JSON of another type (an array, a
    /// number, a string, null) is a 422 naming `body`, whatever the target type (an
    /// array must not fill a struct's fields by position, nor an empty one pass as an
    /// empty patch).
    #[test]
    fn a_body_that_is_not_an_object_is_a_422_naming_body() {
        for raw in [&b"[]"[..], b"[\"a\", 1]", b"1", b"\"x\"", b"null", b"true"] {
            for err in [
                parse_json::<Patch>(raw).expect_err("patch"),
                parse_json::<New>(raw).expect_err("new"),
                parse_json::<serde_json::Value>(raw).expect_err("value"),
            ] {
                let shown = String::from_utf8_lossy(raw);
                assert_eq!(err.kind, ProblemType::ValidationFailed, "{shown}: {err}");
                assert_eq!(fields(&err), [("body", "invalid")], "{shown}");
            }
        }
    }

    #[test]
    fn syntax_errors_are_400_and_data_errors_name_the_field() {
        let err = parse_json::<New>(b"{\"name\": ").expect_err("syntax");
        assert_eq!(err.kind, ProblemType::MalformedBody);
        let err = parse_json::<New>(b"{} x").expect_err("trailing");
        assert_eq!(err.kind, ProblemType::MalformedBody);
        let err = parse_json::<New>(b"{\"name\": \"a\"}").expect_err("missing");
        assert_eq!(fields(&err), [("count", "required")]);
        let err = parse_json::<New>(b"{\"name\": \"a\", \"count\": -1}").expect_err("type");
        assert_eq!(fields(&err), [("count", "invalid")]);
        let ok = parse_json::<New>(b"{\"name\": \"a\", \"count\": 2}").expect("valid");
        assert_eq!((ok.name.as_str(), ok.count), ("a", 2));
    }
}
