//! The top floor: the state every handler shares, the router (every resource's routes
//! are mounted here, in [`openapi`], and nowhere else), the OpenAPI document assembly.

pub mod openapi;

use crate::core::http;
use crate::db;
use crate::reports::exports;
use crate::{auth, ops};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: db::DbPool,
    pub auth: std::sync::Arc<auth::AuthConfig>,
    pub revocations: auth::Revocations,
    /// Per-caller request budgets.
    pub limits: std::sync::Arc<ops::Limits>,
    /// Export slots (see [`exports::MAX_CONCURRENT`]).
    pub exports: std::sync::Arc<tokio::sync::Semaphore>,
    /// The exports' connections, checked out (and so opened) on the export runtime; one
    /// pool for the process, set by [`AppState::with_export_pool`].
    pub export_pool: db::DbPool,
    /// Every pool of the process (one per worker), for `/metrics`.
    pub pools: std::sync::Arc<std::sync::Mutex<Vec<db::DbPool>>>,
}

impl AppState {
    pub fn new(pool: db::DbPool, auth: auth::AuthConfig) -> AppState {
        AppState {
            pools: std::sync::Arc::new(std::sync::Mutex::new(vec![pool.clone()])),
            export_pool: pool.clone(),
            pool,
            auth: std::sync::Arc::new(auth),
            revocations: auth::Revocations::default(),
            limits: std::sync::Arc::new(ops::Limits::from_env()),
            exports: std::sync::Arc::new(tokio::sync::Semaphore::new(exports::MAX_CONCURRENT)),
        }
    }

    /// The same state with a pool of its own for exports (until then they share the
    /// first pool): exports hold a connection for as long as a download lasts, and a
    /// connection opened by a request worker has its socket driven by that worker, so an
    /// export's every batch would wake it. Build it with [`exports::pool`].
    pub fn with_export_pool(mut self, pool: db::DbPool) -> AppState {
        self.pools
            .lock()
            .expect("no thread panics holding the pool list")
            .push(pool.clone());
        self.export_pool = pool;
        self
    }

    /// The same state (revocations, budgets and export slots shared) over another pool:
    /// each worker thread gets a pool of its own, so that a connection's socket is
    /// driven on the thread whose requests use it instead of waking another thread at
    /// every query.
    pub fn with_pool(&self, pool: db::DbPool) -> AppState {
        self.pools
            .lock()
            .expect("no thread panics holding the pool list")
            .push(pool.clone());
        AppState {
            pool,
            ..self.clone()
        }
    }
}

/// The service: every route, the OpenAPI document at `/openapi.json`, interactive docs at
/// `/docs/` (served from the binary, no internet needed), and the middleware that makes
/// every error a problem.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, _) = App::new()
        .into_utoipa_app()
        .app_data(state)
        .configure(openapi::operations)
        .service(utoipa_actix_web::scope("/v1").configure(openapi::v1))
        .split_for_parts();
    app.configure(http::extractor_configs)
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi::document().clone()))
        .service(web::redirect("/docs", "/docs/"))
        .default_service(web::to(http::no_route))
        .wrap(cors())
        .wrap(from_fn(http::envelope))
}

/// CORS for dashboards in browsers: the origins listed in `OGSMS_CORS_ORIGINS`
/// (comma-separated, e.g. `https://dashboards.oas.org`), or `*` for any; none by default.
fn cors() -> actix_cors::Cors {
    let origins = std::env::var("OGSMS_CORS_ORIGINS").unwrap_or_default();
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "DELETE", "OPTIONS"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::CONTENT_TYPE,
            actix_web::http::header::ACCEPT,
            actix_web::http::header::ACCEPT_LANGUAGE,
            actix_web::http::header::IF_MATCH,
            actix_web::http::header::IF_NONE_MATCH,
            actix_web::http::header::HeaderName::from_static("idempotency-key"),
            actix_web::http::header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            "etag",
            "link",
            "location",
            "x-request-id",
            "retry-after",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
            "content-language",
            "content-disposition",
            "x-sync-watermark",
        ])
        .max_age(3600);
    for origin in origins.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}
