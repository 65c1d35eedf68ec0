//! The audit trail's writer: every successful write appends an event in its own
//! transaction. Read back by `resources::audit`.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::core::error::ApiError;
use crate::db::schema::audit_events;

/// Who made a change.
#[derive(Clone, Debug)]
pub struct Actor {
    pub sub: String,
    pub role: String,
    pub request_id: Option<String>,
}

impl Actor {
    /// An administrator at the command line of the binary.
    pub fn cli() -> Actor {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
        Actor {
            sub: format!("cli:{user}"),
            role: "admin_cli".to_owned(),
            request_id: None,
        }
    }
}

/// Appends an audit event. Call it inside the write's transaction.
///
/// It takes the connection shared, so that a write path can send it in one pipeline
/// with its other statements (see `ledgers::append`).
pub async fn record<T: Serialize>(
    mut conn: &AsyncPgConnection,
    actor: &Actor,
    action: &str,
    resource_type: &str,
    resource_id: impl ToString,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<(), ApiError> {
    let to_json =
        |v: Option<&T>| v.map(|v| serde_json::to_value(v).expect("audited state serializes"));
    // `Prepared`: optional values make diesel prepare an insert at every run.
    crate::db::Prepared(diesel::insert_into(audit_events::table).values((
        audit_events::id.eq(Uuid::now_v7()),
        audit_events::actor_sub.eq(&actor.sub),
        audit_events::actor_role.eq(&actor.role),
        audit_events::action.eq(action),
        audit_events::resource_type.eq(resource_type),
        audit_events::resource_id.eq(resource_id.to_string()),
        audit_events::request_id.eq(&actor.request_id),
        audit_events::before.eq(to_json(before)),
        audit_events::after.eq(to_json(after)),
    )))
    .execute(&mut conn)
    .await?;
    Ok(())
}
