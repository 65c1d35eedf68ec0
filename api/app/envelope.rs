//! The outermost middleware (request id, problems in the caller's language, access log
//! and metrics, CSV and NDJSON rendering) and the answer to a request no route matches.
//! At the top, since it reads the caller, the formats and the route table.

use crate::core::error::{ApiError, ProblemType};
use crate::core::http::{RequestId, X_REQUEST_ID};
use crate::core::i18n::Lang;
use crate::core::i18n::text;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};

fn sane_request_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| s.to_owned())
}

/// The OAuth token endpoint, which writes nothing a dry-run could stand for.
const TOKEN_PATH: &str = "/v1/auth/token";

fn is_problem(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"))
}

/// The outermost middleware: assigns the request id, and makes every error response a
/// problem in the caller's language, whoever produced it (a handler, an extractor,
/// actix itself).
pub async fn envelope(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(sane_request_id)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let started = std::time::Instant::now();
    let method = req.method().to_string();
    let lang = Lang::negotiate(req.request());
    let path = req.path().to_owned();

    // `format`/`bom` out of the query, and the sync watermark, before any handler runs.
    let prepared = crate::formats::prepare(&mut req).await;
    // A write with `Prefer: dry-run` runs in full inside a transaction that is rolled
    // back (`db::dry_run`).
    let dry_run = !matches!(
        *req.method(),
        actix_web::http::Method::GET
            | actix_web::http::Method::HEAD
            | actix_web::http::Method::OPTIONS
    ) && crate::core::http::prefers_dry_run(req.head());
    // With read replicas: what the handler's reads may use (`db::replica`), and the
    // primary on which a write leaves its caller's fence.
    let replicas = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .filter(|s| s.replicas.is_some())
        .map(|s| s.pool.clone());
    let read_context = replicas.as_ref().map(|_| {
        let h = req.headers();
        let safe = matches!(
            *req.method(),
            actix_web::http::Method::GET | actix_web::http::Method::HEAD
        );
        crate::db::replica::Context::new(
            !safe
                || h.contains_key(header::IF_MATCH)
                || h.contains_key(header::IF_NONE_MATCH)
                || h.contains_key(header::IF_MODIFIED_SINCE)
                || h.contains_key(header::IF_UNMODIFIED_SINCE)
                || h.contains_key("idempotency-key")
                // Incremental sync's watermark is the primary's (`core::sync`).
                || req.query_string().contains("updated_since"),
        )
    });
    let res = match prepared {
        Err(e) => Ok(req.error_response(e)),
        Ok(()) if dry_run && path == TOKEN_PATH => {
            Ok(req.error_response(ApiError::invalid_parameter(
                "Prefer",
                text!(
                    "dry-run is not available here: issuing a token is not a write.",
                    "dry-run no está disponible aquí: emitir un token no es una escritura."
                ),
            )))
        }
        Ok(()) if dry_run => match crate::db::dry_run::run(next.call(req)).await {
            (Ok(res), Ok(())) => Ok(res.map_into_boxed_body()),
            // What a commit would have refused.
            (Ok(res), Err(e)) => {
                let (req, _) = res.into_parts();
                Ok(ServiceResponse::from_err(e, req).map_into_boxed_body())
            }
            (Err(e), _) => Err(e),
        }
        .map(|mut res| {
            // Nothing was created: no address to point at (ids in the body are
            // generated as the real call would, and never assigned).
            let headers = res.headers_mut();
            headers.remove(header::LOCATION);
            headers.insert(
                HeaderName::from_static("preference-applied"),
                HeaderValue::from_static(crate::core::http::DRY_RUN_PREFERENCE),
            );
            res
        }),
        Ok(()) => match read_context {
            Some(context) => crate::db::replica::scope(context, next.call(req)).await,
            None => next.call(req).await,
        }
        .map(|res| res.map_into_boxed_body()),
    };
    let res = match res {
        Ok(res) => crate::formats::finish(res).await,
        Err(err) => {
            // Only middleware fails this way (handlers' errors arrive as responses); no
            // request is left to build a response on, so hand actix a finished one.
            let problem = err_to_api(&err);
            let mut rendered = problem.render(lang, Some(path.clone()), Some(request_id.clone()));
            rendered.headers_mut().insert(
                X_REQUEST_ID,
                HeaderValue::from_str(&request_id).expect("request id is a valid header value"),
            );
            return Err(actix_web::error::InternalError::from_response(
                problem.to_string(),
                rendered,
            )
            .into());
        }
    };

    let status = res.status();
    let mut res = if status.is_client_error() || status.is_server_error() {
        let api_error = res
            .response()
            .error()
            .map(err_to_api)
            .or_else(|| (!is_problem(res.headers())).then(|| ApiError::from_status(status)));
        match api_error {
            Some(api_error) => {
                let (req, old) = res.into_parts();
                let mut new = api_error.render(lang, Some(path.clone()), Some(request_id.clone()));
                for (name, value) in old.headers() {
                    if !new.headers().contains_key(name)
                        && name != header::CONTENT_LENGTH
                        && name != header::CONTENT_TYPE
                    {
                        new.headers_mut().append(name.clone(), value.clone());
                    }
                }
                ServiceResponse::new(req, new)
            }
            None => res,
        }
    } else {
        res
    };
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let sub = res
        .request()
        .extensions()
        .get::<crate::auth::CallerSub>()
        .map(|s| s.0.clone());
    // Read-your-writes: the caller's next reads, on any instance, wait for a replica
    // to replay this write or read the primary (`db::replica`).
    if let (Some(primary), Some(sub)) = (&replicas, &sub)
        && !dry_run
        && status.is_success()
        && !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS")
    {
        crate::db::replica::record_fence(primary, sub).await;
    }
    let remaining = res
        .request()
        .extensions()
        .get::<crate::ops::Remaining>()
        .copied();
    let headers = res.headers_mut();
    if let Some(r) = remaining {
        headers.insert(
            HeaderName::from_static("ratelimit-limit"),
            HeaderValue::from_str(&r.limit.to_string()).expect("digits"),
        );
        headers.insert(
            HeaderName::from_static("ratelimit-remaining"),
            HeaderValue::from_str(&r.remaining.to_string()).expect("digits"),
        );
        headers.insert(
            HeaderName::from_static("ratelimit-reset"),
            HeaderValue::from(r.reset),
        );
    }
    let elapsed = started.elapsed();
    crate::ops::metrics().observe(&method, &route, status_code_of(&res), elapsed);
    crate::ops::access_log(
        &request_id,
        &method,
        &route,
        &path,
        status_code_of(&res),
        elapsed,
        sub.as_deref(),
    );
    let headers = res.headers_mut();
    headers.insert(
        X_REQUEST_ID,
        HeaderValue::from_str(&request_id).expect("request id is a valid header value"),
    );
    if !headers.contains_key(header::CONTENT_LANGUAGE) {
        headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(lang.tag()),
        );
    }
    Ok(res)
}

fn status_code_of(res: &ServiceResponse<BoxBody>) -> u16 {
    res.status().as_u16()
}

fn err_to_api(err: &actix_web::Error) -> ApiError {
    if let Some(api) = err.as_error::<ApiError>() {
        return api.clone();
    }
    let status = err.as_response_error().status_code();
    if status.is_server_error() {
        log::error!("unhandled error: {err}");
    }
    ApiError::from_status(if status.is_success() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        status
    })
}

/// Answers requests that match no route: 405 with `Allow` when the path exists with
/// other methods, 404 otherwise.
pub async fn no_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = super::openapi::allowed_methods(req.path());
    if allowed.is_empty() {
        return Err(ApiError::not_found());
    }
    let list = allowed.join(", ");
    let method = req.method().to_string();
    Err(ApiError::new(
        ProblemType::MethodNotAllowed,
        text!(
            "{method} is not allowed here; allowed: {list}.",
            "{method} no está permitido aquí; permitidos: {list}."
        ),
    )
    .with_header(
        header::ALLOW,
        HeaderValue::from_str(&list).expect("method list is ASCII"),
    ))
}
