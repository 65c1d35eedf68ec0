//! The top floor: the router (every resource's routes are mounted here, in [`openapi`],
//! and nowhere else), the OpenAPI document assembly, the middleware every request passes
//! and the probes of the process.

pub mod envelope;
pub mod health;
pub mod openapi;
pub mod server;

pub use crate::state::AppState;

use crate::core::http;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config, SwaggerUi};

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
    let gate = web::Data::new(state.gate());
    let mut routes = crate::auth::routes::RouteResources::default();
    let v1 = utoipa_actix_web::scope("/v1").configure(|cfg| openapi::v1(cfg, &mut routes));
    let (app, _) = App::new()
        .into_utoipa_app()
        .app_data(state)
        .app_data(gate)
        .app_data(http::BodyGate(crate::auth::may_send_body))
        .configure(openapi::operations)
        .service(v1)
        .app_data(routes)
        .split_for_parts();
    app.configure(http::extractor_configs)
        .route("/openapi.json", web::get().to(openapi::serve_document))
        .service(SwaggerUi::new("/docs/{_:.*}").config(Config::new(["/openapi.json"])))
        .service(web::redirect("/docs", "/docs/"))
        .default_service(web::to(envelope::no_route))
        .wrap(cors())
        .wrap(from_fn(envelope::envelope))
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
            actix_web::http::header::HeaderName::from_static("prefer"),
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
            "ogsms-as-of",
            "ogsms-closed-through",
            "ogsms-exchange-rates",
            "preference-applied",
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
