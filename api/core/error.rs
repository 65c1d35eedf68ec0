//! Errors as RFC 9457 problem details.
//!
//! Every error the service answers with is an [`ApiError`]: a stable problem type (its
//! `type` URI never changes once published), a localized detail, and for validation
//! errors the list of fields at fault. Handlers return `Result<_, ApiError>`; the
//! [`crate::core::http::problem_middleware`] renders the problem in the caller's language with
//! the request id, and turns any other error response (actix's own) into a problem too.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::core::i18n::text;
use crate::core::i18n::{Lang, Text};

/// Base of every problem `type` URI (a relative reference, resolved against the API).
pub const PROBLEM_BASE: &str = "/problems/";

/// The stable problem types of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemType {
    /// 400: the request line, a query parameter or a path parameter is invalid.
    InvalidParameter,
    /// 400: the body is not well-formed JSON (or not JSON at all).
    MalformedBody,
    /// 401: no valid credentials.
    Unauthorized,
    /// 403: the caller may see the resource but not do this to it.
    Forbidden,
    /// 404: no such resource, or none the caller may see.
    NotFound,
    /// 405: the resource exists but not this method.
    MethodNotAllowed,
    /// 406: the `Accept` header names no media type the operation produces.
    NotAcceptable,
    /// 409: a field must be unique and another resource already has that value.
    Duplicate,
    /// 409: the resource is referenced by others and cannot be removed.
    StillReferenced,
    /// 409: the resource's state does not allow the operation.
    InvalidState,
    /// 409: the entry would take the ledger's available balance below zero.
    InsufficientFunds,
    /// 409: the entry's date falls in a closed period, or the ledger is closed.
    PeriodClosed,
    /// 409: the entry was reversed already.
    AlreadyReversed,
    /// 409: a request with this Idempotency-Key is still being processed.
    IdempotencyKeyInUse,
    /// 422: this Idempotency-Key was used with another request body.
    IdempotencyKeyReused,
    /// 412: `If-Match` names a representation that is no longer current.
    PreconditionFailed,
    /// 410: the cursor points before what the change feed still keeps (its retention).
    CursorExpired,
    /// 413: the body is over the size limit.
    PayloadTooLarge,
    /// 414: the request line is over its limit (answered below the router).
    UriTooLong,
    /// 431: the header section is over its limit (answered below the router).
    HeaderFieldsTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422: the body is well-formed but some fields are invalid.
    ValidationFailed,
    /// 428: a conditional header is required for this operation.
    PreconditionRequired,
    /// 429: too many requests.
    RateLimited,
    /// 500: a fault of the service; the request id identifies it in the logs.
    Internal,
    /// 503: a dependency (the database) is unavailable; retry later.
    ServiceUnavailable,
    /// 504: the request took too long and was cancelled.
    Timeout,
}

impl ProblemType {
    pub const ALL: [ProblemType; 27] = [
        ProblemType::InsufficientFunds,
        ProblemType::PeriodClosed,
        ProblemType::AlreadyReversed,
        ProblemType::IdempotencyKeyInUse,
        ProblemType::IdempotencyKeyReused,
        ProblemType::InvalidParameter,
        ProblemType::MalformedBody,
        ProblemType::Unauthorized,
        ProblemType::Forbidden,
        ProblemType::NotFound,
        ProblemType::MethodNotAllowed,
        ProblemType::NotAcceptable,
        ProblemType::Duplicate,
        ProblemType::StillReferenced,
        ProblemType::InvalidState,
        ProblemType::PreconditionFailed,
        ProblemType::CursorExpired,
        ProblemType::PayloadTooLarge,
        ProblemType::UriTooLong,
        ProblemType::HeaderFieldsTooLarge,
        ProblemType::UnsupportedMediaType,
        ProblemType::ValidationFailed,
        ProblemType::PreconditionRequired,
        ProblemType::RateLimited,
        ProblemType::Internal,
        ProblemType::ServiceUnavailable,
        ProblemType::Timeout,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            ProblemType::InvalidParameter => "invalid-parameter",
            ProblemType::MalformedBody => "malformed-body",
            ProblemType::Unauthorized => "unauthorized",
            ProblemType::Forbidden => "forbidden",
            ProblemType::NotFound => "not-found",
            ProblemType::MethodNotAllowed => "method-not-allowed",
            ProblemType::NotAcceptable => "not-acceptable",
            ProblemType::Duplicate => "duplicate",
            ProblemType::StillReferenced => "still-referenced",
            ProblemType::InvalidState => "invalid-state",
            ProblemType::InsufficientFunds => "insufficient-funds",
            ProblemType::PeriodClosed => "period-closed",
            ProblemType::AlreadyReversed => "already-reversed",
            ProblemType::IdempotencyKeyInUse => "idempotency-key-in-use",
            ProblemType::IdempotencyKeyReused => "idempotency-key-reused",
            ProblemType::PreconditionFailed => "precondition-failed",
            ProblemType::CursorExpired => "cursor-expired",
            ProblemType::PayloadTooLarge => "payload-too-large",
            ProblemType::UriTooLong => "uri-too-long",
            ProblemType::HeaderFieldsTooLarge => "header-fields-too-large",
            ProblemType::UnsupportedMediaType => "unsupported-media-type",
            ProblemType::ValidationFailed => "validation-failed",
            ProblemType::PreconditionRequired => "precondition-required",
            ProblemType::RateLimited => "rate-limited",
            ProblemType::Internal => "internal",
            ProblemType::ServiceUnavailable => "service-unavailable",
            ProblemType::Timeout => "timeout",
        }
    }

    pub fn uri(self) -> String {
        format!("{PROBLEM_BASE}{}", self.slug())
    }

    pub fn status(self) -> StatusCode {
        match self {
            ProblemType::InvalidParameter | ProblemType::MalformedBody => StatusCode::BAD_REQUEST,
            ProblemType::Unauthorized => StatusCode::UNAUTHORIZED,
            ProblemType::Forbidden => StatusCode::FORBIDDEN,
            ProblemType::NotFound => StatusCode::NOT_FOUND,
            ProblemType::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemType::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ProblemType::Duplicate
            | ProblemType::StillReferenced
            | ProblemType::InvalidState
            | ProblemType::InsufficientFunds
            | ProblemType::PeriodClosed
            | ProblemType::AlreadyReversed
            | ProblemType::IdempotencyKeyInUse => StatusCode::CONFLICT,
            ProblemType::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ProblemType::CursorExpired => StatusCode::GONE,
            ProblemType::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemType::UriTooLong => StatusCode::URI_TOO_LONG,
            ProblemType::HeaderFieldsTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProblemType::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemType::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ProblemType::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ProblemType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ProblemType::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ProblemType::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    pub fn title(self) -> Text {
        match self {
            ProblemType::InvalidParameter => text!("Invalid parameter", "Parámetro no válido"),
            ProblemType::MalformedBody => {
                text!(
                    "Malformed request body",
                    "Cuerpo de la solicitud mal formado"
                )
            }
            ProblemType::Unauthorized => {
                text!("Authentication required", "Se requiere autenticación")
            }
            ProblemType::Forbidden => text!("Forbidden", "Prohibido"),
            ProblemType::NotFound => text!("Not found", "No encontrado"),
            ProblemType::MethodNotAllowed => text!("Method not allowed", "Método no permitido"),
            ProblemType::NotAcceptable => text!("Not acceptable", "No aceptable"),
            ProblemType::Duplicate => text!("Duplicate value", "Valor duplicado"),
            ProblemType::StillReferenced => {
                text!("Resource still referenced", "Recurso todavía referenciado")
            }
            ProblemType::InvalidState => {
                text!(
                    "Operation not allowed in the current state",
                    "Operación no permitida en el estado actual"
                )
            }
            ProblemType::PreconditionFailed => text!("Precondition failed", "Precondición fallida"),
            ProblemType::CursorExpired => text!("Cursor expired", "Cursor caducado"),
            ProblemType::InsufficientFunds => text!("Insufficient funds", "Fondos insuficientes"),
            ProblemType::PeriodClosed => text!("Period closed", "Período cerrado"),
            ProblemType::AlreadyReversed => text!("Entry already reversed", "Asiento ya revertido"),
            ProblemType::IdempotencyKeyInUse => {
                text!("Idempotency key in use", "Clave de idempotencia en uso")
            }
            ProblemType::IdempotencyKeyReused => {
                text!(
                    "Idempotency key reused with another request",
                    "Clave de idempotencia reutilizada con otra solicitud"
                )
            }
            ProblemType::PayloadTooLarge => text!(
                "Request body too large",
                "Cuerpo de la solicitud demasiado grande"
            ),
            ProblemType::UriTooLong => text!(
                "Request line too long",
                "Línea de solicitud demasiado larga"
            ),
            ProblemType::HeaderFieldsTooLarge => text!(
                "Request header fields too large",
                "Campos de cabecera de la solicitud demasiado grandes"
            ),
            ProblemType::UnsupportedMediaType => {
                text!("Unsupported media type", "Tipo de contenido no admitido")
            }
            ProblemType::ValidationFailed => text!("Validation failed", "Error de validación"),
            ProblemType::PreconditionRequired => {
                text!("Precondition required", "Se requiere una precondición")
            }
            ProblemType::RateLimited => text!("Too many requests", "Demasiadas solicitudes"),
            ProblemType::Internal => text!("Internal error", "Error interno"),
            ProblemType::ServiceUnavailable => {
                text!(
                    "Service temporarily unavailable",
                    "Servicio no disponible temporalmente"
                )
            }
            ProblemType::Timeout => text!("Request timed out", "La solicitud tardó demasiado"),
        }
    }

    fn from_status(status: StatusCode) -> ProblemType {
        match status.as_u16() {
            401 => ProblemType::Unauthorized,
            403 => ProblemType::Forbidden,
            404 => ProblemType::NotFound,
            405 => ProblemType::MethodNotAllowed,
            406 => ProblemType::NotAcceptable,
            409 => ProblemType::InvalidState,
            412 => ProblemType::PreconditionFailed,
            413 => ProblemType::PayloadTooLarge,
            414 => ProblemType::UriTooLong,
            415 => ProblemType::UnsupportedMediaType,
            422 => ProblemType::ValidationFailed,
            428 => ProblemType::PreconditionRequired,
            429 => ProblemType::RateLimited,
            431 => ProblemType::HeaderFieldsTooLarge,
            503 => ProblemType::ServiceUnavailable,
            504 => ProblemType::Timeout,
            400..=499 => ProblemType::InvalidParameter,
            _ => ProblemType::Internal,
        }
    }
}

/// One field at fault in a request.
#[derive(Clone, Debug)]
pub struct FieldError {
    /// The field's path in the body (`name.en`, `contacts.email`) or the parameter's name.
    pub field: String,
    /// A stable machine-readable code (`required`, `too_long`, `unknown`, …).
    pub code: &'static str,
    pub message: Text,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: Text) -> Self {
        FieldError {
            field: field.into(),
            code,
            message,
        }
    }
}

/// An error answered as an RFC 9457 problem.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub kind: ProblemType,
    pub status: StatusCode,
    /// Boxed to keep `Result<_, ApiError>` small.
    pub detail: Box<Text>,
    pub errors: Vec<FieldError>,
    /// Seconds after which a retry may succeed (`Retry-After`).
    pub retry_after: Option<u64>,
    /// Extra headers (e.g. `Allow`, `WWW-Authenticate`).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
    /// On the token endpoint: the RFC 6749 §5.2 error code.
    pub oauth_error: Option<&'static str>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.kind.slug(),
            self.status,
            self.detail.en
        )
    }
}

impl ApiError {
    pub fn new(kind: ProblemType, detail: Text) -> Self {
        ApiError {
            kind,
            status: kind.status(),
            detail: Box::new(detail),
            errors: Vec::new(),
            retry_after: None,
            headers: Vec::new(),
            oauth_error: None,
        }
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn not_found() -> Self {
        ApiError::new(
            ProblemType::NotFound,
            text!(
                "No resource exists at this address, or you may not see it.",
                "No existe ningún recurso en esta dirección, o no tiene acceso a él."
            ),
        )
    }

    /// 422 with the fields at fault.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let fields = errors
            .iter()
            .map(|e| e.field.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        ApiError::new(
            ProblemType::ValidationFailed,
            text!(
                "The request has invalid fields: {fields}.",
                "La solicitud tiene campos no válidos: {fields}."
            ),
        )
        .with_errors(errors)
    }

    /// 422 for one field.
    pub fn invalid_field(field: &str, code: &'static str, message: Text) -> Self {
        ApiError::validation(vec![FieldError::new(field, code, message)])
    }

    /// 400 for a query or path parameter.
    pub fn invalid_parameter(name: &str, message: Text) -> Self {
        ApiError::new(
            ProblemType::InvalidParameter,
            text!(
                "Invalid parameter `{name}`.",
                "Parámetro `{name}` no válido."
            ),
        )
        .with_errors(vec![FieldError::new(name, "invalid", message)])
    }

    /// 409: `field` must be unique.
    pub fn duplicate(field: &str) -> Self {
        ApiError::new(
            ProblemType::Duplicate,
            text!(
                "Another resource already has this `{field}`.",
                "Otro recurso ya tiene este valor de `{field}`."
            ),
        )
        .with_errors(vec![FieldError::new(
            field,
            "duplicate",
            text!("already taken", "ya está en uso"),
        )])
    }

    pub fn invalid_state(detail: Text) -> Self {
        ApiError::new(ProblemType::InvalidState, detail)
    }

    pub fn precondition_failed() -> Self {
        ApiError::new(
            ProblemType::PreconditionFailed,
            text!(
                "The resource has changed since the ETag given in If-Match; fetch it again and retry.",
                "El recurso cambió desde el ETag indicado en If-Match; vuelva a obtenerlo y reintente."
            ),
        )
    }

    pub fn precondition_required() -> Self {
        ApiError::new(
            ProblemType::PreconditionRequired,
            text!(
                "This operation requires an If-Match header with the resource's current ETag.",
                "Esta operación requiere un encabezado If-Match con el ETag actual del recurso."
            ),
        )
    }

    pub fn unavailable() -> Self {
        let mut e = ApiError::new(
            ProblemType::ServiceUnavailable,
            text!(
                "The database is unavailable; retry shortly.",
                "La base de datos no está disponible; reintente en breve."
            ),
        );
        e.retry_after = Some(1);
        e
    }

    /// Every export slot is taken (see `reports::exports::MAX_CONCURRENT`).
    pub fn exports_busy(running: usize) -> Self {
        let mut e = ApiError::new(
            ProblemType::ServiceUnavailable,
            text!(
                "{running} exports are running, the most at once; retry in a few seconds.",
                "Hay {running} exportaciones en curso, el máximo a la vez; reintente en unos segundos."
            ),
        );
        e.retry_after = Some(5);
        e
    }

    pub fn timeout() -> Self {
        ApiError::new(
            ProblemType::Timeout,
            text!(
                "The request took too long and was cancelled.",
                "La solicitud tardó demasiado y fue cancelada."
            ),
        )
    }

    pub fn internal() -> Self {
        ApiError::new(
            ProblemType::Internal,
            text!(
                "An unexpected error occurred; report the request id.",
                "Ocurrió un error inesperado; informe el identificador de la solicitud."
            ),
        )
    }

    /// A problem for an error response that did not come from an [`ApiError`].
    pub fn from_status(status: StatusCode) -> Self {
        let kind = ProblemType::from_status(status);
        let mut e = ApiError::new(kind, kind.title());
        e.status = status;
        e
    }

    /// The problem document in `lang`.
    pub fn problem(
        &self,
        lang: Lang,
        instance: Option<String>,
        request_id: Option<String>,
    ) -> Problem {
        Problem {
            r#type: self.kind.uri(),
            title: self.kind.title().get(lang).to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.get(lang).to_owned(),
            instance,
            request_id,
            errors: self
                .errors
                .iter()
                .map(|e| ProblemField {
                    field: e.field.clone(),
                    code: e.code.to_owned(),
                    message: e.message.get(lang).to_owned(),
                })
                .collect(),
            error: self.oauth_error.map(str::to_owned),
        }
    }

    /// The complete response in `lang`.
    pub fn render(
        &self,
        lang: Lang,
        instance: Option<String>,
        request_id: Option<String>,
    ) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        res.insert_header((header::CONTENT_LANGUAGE, lang.tag()));
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        for (name, value) in &self.headers {
            res.insert_header((name.clone(), value.clone()));
        }
        let body = serde_json::to_vec(&self.problem(lang, instance, request_id))
            .expect("problem serializes");
        res.body(body)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    /// English, without request context; the problem middleware renders it again with
    /// the caller's language and request id.
    fn error_response(&self) -> HttpResponse {
        self.render(Lang::En, None, None)
    }
}

/// An RFC 9457 problem document.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({
    "type": "/problems/validation-failed",
    "title": "Validation failed",
    "status": 422,
    "detail": "The request has invalid fields: closed_on.",
    "instance": "/v1/offices",
    "request_id": "3f2a6c1e-8d2b-4c39-9a55-6c1d2b7e0f11",
    "errors": [{"field": "closed_on", "code": "before_opened_on", "message": "must not be before opened_on"}]
}))]
pub struct Problem {
    /// Stable identifier of the problem type, a URI reference such as
    /// `/problems/not-found`.
    pub r#type: String,
    /// Short summary of the problem type, in the language negotiated by
    /// `Accept-Language`.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// Explanation of this occurrence, in the negotiated language.
    pub detail: String,
    /// The request path that produced the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The request id (also in the `X-Request-Id` response header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For validation and parameter problems: the fields at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// On the token endpoint only: the OAuth 2.0 error code (RFC 6749 §5.2), e.g.
    /// `invalid_client`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A field at fault.
#[derive(Serialize, ToSchema, Debug)]
pub struct ProblemField {
    /// Path of the field in the body (e.g. `name.en`), or the parameter name.
    pub field: String,
    /// Stable machine-readable reason, e.g. `required`, `too_long`, `unknown`, `duplicate`.
    pub code: String,
    /// Human-readable reason, in the negotiated language.
    pub message: String,
}

/// Reusable problem responses of the OpenAPI document (`components/responses`).
pub mod responses {
    use super::Problem;
    use utoipa::ToResponse;

    /// A query or path parameter is invalid, or the body is not well-formed JSON.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct BadRequest(#[allow(dead_code)] Problem);

    /// No valid bearer token.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct Unauthorized(#[allow(dead_code)] Problem);

    /// The caller may see this resource but not do this to it.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct Forbidden(#[allow(dead_code)] Problem);

    /// No such resource, or none the caller may see.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct NotFound(#[allow(dead_code)] Problem);

    /// A duplicate value, a resource still referenced, or a state that forbids the operation.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct Conflict(#[allow(dead_code)] Problem);

    /// `If-Match` names a representation that is no longer current.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct PreconditionFailed(#[allow(dead_code)] Problem);

    /// The cursor points before what the change feed still keeps; start again without one.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct Gone(#[allow(dead_code)] Problem);

    /// The body is over the size limit (256 KiB).
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct PayloadTooLarge(#[allow(dead_code)] Problem);

    /// The body is not `application/json`.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct UnsupportedMediaType(#[allow(dead_code)] Problem);

    /// Fields of the body are invalid; `errors` names them.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct Unprocessable(#[allow(dead_code)] Problem);

    /// The operation needs `If-Match`.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct PreconditionRequired(#[allow(dead_code)] Problem);

    /// Too many requests from this caller; retry after `Retry-After` seconds.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct TooManyRequests(#[allow(dead_code)] Problem);

    /// The database is unavailable; retry after `Retry-After` seconds.
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub struct Unavailable(#[allow(dead_code)] Problem);
}
