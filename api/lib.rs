//! OGSMS API: the system of record of the Offices of the General Secretariat of the OAS
//! in the Member States.
//!
//! One module per resource (routes, types and queries together); shared concerns in
//! modules of their own.

pub mod audit;
pub mod auth;
pub mod db;
pub mod enums;
pub mod error;
pub mod health;
pub mod http;
pub mod i18n;
pub mod localized;
pub mod money;
pub mod openapi;
pub mod pagination;
pub mod pg_cluster;
pub mod policy;
pub mod schema;
pub mod seed;
pub mod validate;

pub mod agencies;
pub mod appointments;
pub mod departments;
pub mod mandates;
pub mod member_states;
pub mod monitoring_reports;
pub mod offices;
pub mod projects;
pub mod service_accounts;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Logger, from_fn};
use actix_web::{App, web};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

/// What every handler shares.
pub struct AppState {
    pub pool: db::DbPool,
    pub auth: std::sync::Arc<auth::AuthConfig>,
    pub revocations: auth::Revocations,
}

impl AppState {
    pub fn new(pool: db::DbPool, auth: auth::AuthConfig) -> AppState {
        AppState {
            pool,
            auth: std::sync::Arc::new(auth),
            revocations: auth::Revocations::default(),
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
        .wrap(from_fn(http::envelope))
        .wrap(Logger::new("%a \"%r\" %s %b %Dms %{x-request-id}o"))
}
