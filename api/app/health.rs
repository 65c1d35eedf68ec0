//! Health probes: `/livez` answers while the process serves requests, whatever the
//! database does; `/readyz` answers 200 only while the database answers too.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use diesel_async::SimpleAsyncConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::core::error::ApiError;
use crate::state::AppState;

/// A probe's answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` (liveness) or `ready` (readiness).
    #[schema(example = "ready")]
    pub status: &'static str,
    /// For readiness: `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
}

/// Liveness: the process answers. Never touches the database.
#[utoipa::path(
    tag = "Operations",
    responses((status = 200, description = "The process is alive", body = Health))
)]
#[get("/livez")]
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Health {
            status: "ok",
            database: None,
        })
}

/// How long readiness waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Readiness: the database answers a query within two seconds.
#[utoipa::path(
    tag = "Operations",
    responses(
        (status = 200, description = "Ready to serve", body = Health),
        (status = 503, response = crate::core::error::responses::Unavailable),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    let check = async move {
        let mut conn = pool.get().await.ok()?;
        conn.batch_execute("SELECT 1").await.ok()
    };
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Some(())) => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(Health {
                status: "ready",
                database: Some("ok"),
            })),
        _ => Err(ApiError::unavailable()),
    }
}

/// Prometheus metrics: request counts and latency histograms by route template and
/// status, connection pool usage, database errors.
#[utoipa::path(
    tag = "Operations",
    responses((status = 200, description = "Metrics in the Prometheus text format", body = String, content_type = "text/plain; version=0.0.4"))
)]
#[get("/metrics")]
pub async fn metrics_endpoint(state: web::Data<AppState>) -> HttpResponse {
    let m = crate::ops::metrics();
    let (mut size, mut available, mut waiting) = (0, 0, 0);
    for pool in state
        .pools
        .lock()
        .expect("no thread panics holding the pool list")
        .iter()
    {
        let s = pool.status();
        size += s.size;
        available += s.available;
        waiting += s.waiting;
    }
    let buf = m.render(size as i64, available as i64, waiting as i64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .insert_header(("Cache-Control", "no-store"))
        .body(buf)
}
