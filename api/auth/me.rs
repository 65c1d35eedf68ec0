//! `GET /v1/me`: the caller's identity and what its role allows, as the policy states it.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::auth::policy::{Permission, permissions};
use crate::auth::role::Role;

/// The caller's identity and what it may do.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub sub: String,
    pub role: Role,
    pub office_id: Option<Uuid>,
    pub department_id: Option<Uuid>,
    /// The token's id (`jti`).
    pub token_id: String,
    pub token_expires_at: DateTime<Utc>,
    /// What the role allows, as `resource:action` pairs, with their scope.
    pub permissions: Vec<Permission>,
}

/// Who am I?
#[utoipa::path(
    context_path = "/me",
    tag = "Authentication",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, response = crate::core::error::responses::Unauthorized),
    )
)]
#[get("")]
pub async fn me(caller: Caller) -> web::Json<Me> {
    web::Json(Me {
        permissions: permissions(caller.role),
        token_expires_at: DateTime::from_timestamp(caller.expires_at, 0).unwrap_or_default(),
        sub: caller.sub,
        role: caller.role,
        office_id: caller.office_id,
        department_id: caller.department_id,
        token_id: caller.jti,
    })
}
