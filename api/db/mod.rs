//! The database: connection pool, embedded migrations, and the mapping of database
//! errors (constraint violations, lost connections) onto problems.

pub mod audit;
pub mod connect;
pub mod dry_run;
pub mod keys;
pub mod leader;
pub mod limits;
pub mod pg_cluster;
pub mod replica;
pub mod schema;

use std::time::Duration;

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::core::error::{ApiError, FieldError, ProblemType};
use crate::core::i18n::Text;
use crate::core::i18n::text;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type PoolError = diesel_async::pooled_connection::deadpool::PoolError;

/// The pool of connections. Everything but [`DbPool::get`] is the pool's own (deref).
#[derive(Clone)]
pub struct DbPool(Pool<AsyncPgConnection>);

impl std::ops::Deref for DbPool {
    type Target = Pool<AsyncPgConnection>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DbPool {
    /// A connection; in a dry-run ([`dry_run`]) one inside the dry-run's transaction,
    /// which is rolled back when the request has been answered.
    pub async fn get(&self) -> Result<DbConn, PoolError> {
        let Some(session) = dry_run::current() else {
            return Ok(DbConn {
                conn: Some(self.0.get().await?),
                dry_run: None,
            });
        };
        let conn = match dry_run::reuse(&session) {
            Some(conn) => conn,
            None => {
                let mut conn = self.0.get().await?;
                dry_run::begin(&mut conn).await.map_err(|e| {
                    PoolError::Backend(diesel_async::pooled_connection::PoolError::QueryError(e))
                })?;
                conn
            }
        };
        Ok(DbConn {
            conn: Some(conn),
            dry_run: Some(session),
        })
    }
}

/// A connection from the pool (a dry-run's goes back to the dry-run, not the pool).
pub struct DbConn {
    conn: Option<Object<AsyncPgConnection>>,
    dry_run: Option<std::sync::Arc<dry_run::Session>>,
}

impl std::ops::Deref for DbConn {
    type Target = AsyncPgConnection;
    fn deref(&self) -> &AsyncPgConnection {
        self.conn.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for DbConn {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        self.conn.as_mut().expect("held until dropped")
    }
}

impl DbConn {
    /// Whether the pool opened this connection for this checkout (it was never used).
    pub fn is_fresh(&self) -> bool {
        self.conn
            .as_ref()
            .is_some_and(|c| Object::metrics(c).recycled.is_none())
    }

    /// Closes the connection instead of returning it to the pool (it failed).
    pub fn discard(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = Object::take(conn);
        }
    }
}

impl Drop for DbConn {
    fn drop(&mut self) {
        if let (Some(session), Some(conn)) = (self.dry_run.take(), self.conn.take()) {
            session.give_back(conn);
        }
    }
}

/// Pool settings.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    pub max_size: usize,
    /// How long a request waits for a free connection before a 503.
    pub wait_timeout: Duration,
    /// How long opening a connection may take before a 503.
    pub connect_timeout: Duration,
    /// `statement_timeout` of every connection (0 disables it).
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_size: 16,
            wait_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// A pool of connections to `url`. Connections are checked out without a test query
/// (a closed or mid-transaction connection is still discarded), since a round trip at
/// every checkout costs a third of read throughput; a connection that breaks is dropped
/// and the request answers 503.
pub fn pool(url: &str, settings: &PoolSettings) -> anyhow::Result<DbPool> {
    let statement_timeout_ms = settings.statement_timeout.as_millis();
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        Box::pin(async move {
            use diesel_async::{AsyncConnection, SimpleAsyncConnection};
            let mut conn = AsyncPgConnection::establish(&url).await?;
            conn.batch_execute(&format!(
                "SET statement_timeout = {statement_timeout_ms}; SET application_name = 'ogsms'; SET TIME ZONE 'UTC'"
            ))
            .await
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
            Ok(conn)
        })
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
    let pool = Pool::builder(manager)
        .max_size(settings.max_size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(settings.wait_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .recycle_timeout(Some(settings.connect_timeout))
        .build()?;
    Ok(DbPool(pool))
}

/// Runs the pending migrations on `url`. Blocking: call it before the actix system
/// starts or from `spawn_blocking`.
pub fn run_migrations(url: &str) -> anyhow::Result<()> {
    use diesel::Connection;
    let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(url)?;
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("migrations failed: {e}"))?;
    for m in applied {
        log::info!("applied migration {m}");
    }
    Ok(())
}

/// What a violated constraint means to the caller.
pub enum Meaning {
    /// A unique constraint: 409 duplicate naming the field.
    Unique,
    /// A foreign key from this table: 422, the field names something that does not exist.
    Reference,
    /// A foreign key into the table being changed: 409, the row is still referenced by
    /// the named kind of resource.
    ReferencedBy(&'static str),
    /// A check constraint: 422 with this message.
    Check(fn() -> Text),
    /// An exclusion constraint (e.g. overlapping dates): 409 `invalid-state` naming the
    /// field, with this message.
    Conflict(fn() -> Text),
}

/// A named database constraint and the field it guards.
pub struct Constraint {
    pub name: &'static str,
    pub field: &'static str,
    pub meaning: Meaning,
}

/// A resource's constraints, handed to this layer by the resource itself with
/// `inventory::submit! { Constraints(CONSTRAINTS) }`, so that the database layer names
/// no resource.
pub struct Constraints(pub &'static [Constraint]);

inventory::collect!(Constraints);

/// Every resource module's constraints.
fn constraints() -> impl Iterator<Item = &'static Constraint> {
    inventory::iter::<Constraints>
        .into_iter()
        .flat_map(|c| c.0.iter())
}

fn constraint_error(name: &str, is_delete: bool) -> Option<ApiError> {
    let c = constraints().find(|c| c.name == name)?;
    let field = c.field;
    Some(match &c.meaning {
        Meaning::Unique => ApiError::duplicate(field),
        Meaning::Reference if !is_delete => ApiError::invalid_field(
            field,
            "unknown",
            text!(
                "refers to a resource that does not exist",
                "hace referencia a un recurso que no existe"
            ),
        ),
        Meaning::Reference | Meaning::ReferencedBy(_) => {
            let what = match &c.meaning {
                Meaning::ReferencedBy(what) => *what,
                _ => field,
            };
            ApiError::new(
                ProblemType::StillReferenced,
                text!(
                    "The resource is still referenced by {what}; close or archive it instead.",
                    "El recurso todavía está referenciado por {what}; ciérrelo o archívelo en su lugar."
                ),
            )
            .with_errors(vec![FieldError::new(
                what,
                "referenced",
                text!("still refers to this resource", "todavía hace referencia a este recurso"),
            )])
        }
        Meaning::Check(message) => ApiError::invalid_field(field, "invalid", message()),
        Meaning::Conflict(message) => {
            ApiError::invalid_state(message()).with_errors(vec![FieldError::new(
                field,
                "conflict",
                text!(
                    "conflicts with another resource",
                    "entra en conflicto con otro recurso"
                ),
            )])
        }
    })
}

/// Maps a database error onto a problem: known constraints name their field; lost
/// connections and timeouts are 503/504; anything else is a 500 logged with its cause.
///
/// Diesel has no kind for exclusion violations (SQLSTATE 23P01): they arrive as
/// `DatabaseErrorKind::Unknown` with the constraint's name, so the constraint table maps
/// them like any other; one not in the table is still a 409, told by its message.
pub fn map_db_error(err: DieselError) -> ApiError {
    match &err {
        DieselError::NotFound => ApiError::not_found(),
        DieselError::DatabaseError(kind, info) => {
            if let Some(name) = info.constraint_name() {
                let is_delete = info.message().starts_with("update or delete");
                if let Some(problem) = constraint_error(name, is_delete) {
                    return problem;
                }
            }
            match kind {
                DatabaseErrorKind::UniqueViolation => ApiError::invalid_state(text!(
                    "A unique value is already taken.",
                    "Un valor único ya está en uso."
                )),
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    crate::ops::metrics()
                        .db_errors
                        .with_label_values(&["unavailable"])
                        .inc();
                    log::warn!("database connection lost: {}", info.message());
                    ApiError::unavailable()
                }
                DatabaseErrorKind::SerializationFailure => {
                    let mut e = ApiError::invalid_state(text!(
                        "A concurrent change conflicted with this one; retry.",
                        "Un cambio concurrente entró en conflicto con este; reintente."
                    ));
                    e.retry_after = Some(0);
                    e
                }
                _ => {
                    let msg = info.message();
                    if msg.contains("violates exclusion constraint") {
                        ApiError::invalid_state(text!(
                            "The change conflicts with another resource.",
                            "El cambio entra en conflicto con otro recurso."
                        ))
                    } else if msg.starts_with("invalid byte sequence for encoding") {
                        // A text value with U+0000, which PostgreSQL cannot store, that
                        // no check caught: the client's input, not a fault.
                        ApiError::new(
                            crate::core::error::ProblemType::ValidationFailed,
                            text!(
                                "A text value contains the NUL character (U+0000), which cannot be stored.",
                                "Un valor de texto contiene el carácter NUL (U+0000), que no se puede guardar."
                            ),
                        )
                    } else if msg.contains("statement timeout") {
                        crate::ops::metrics()
                            .db_errors
                            .with_label_values(&["timeout"])
                            .inc();
                        ApiError::timeout()
                    } else if msg.contains("terminating connection")
                        || msg.contains("the database system is")
                        || msg.contains("connection")
                    {
                        crate::ops::metrics()
                            .db_errors
                            .with_label_values(&["unavailable"])
                            .inc();
                        log::warn!("database unavailable: {msg}");
                        ApiError::unavailable()
                    } else {
                        crate::ops::metrics()
                            .db_errors
                            .with_label_values(&["internal"])
                            .inc();
                        log::error!("database error: {kind:?}: {msg}");
                        ApiError::internal()
                    }
                }
            }
        }
        _ => {
            log::error!("database error: {err}");
            ApiError::internal()
        }
    }
}

/// Errors of the database layer, mapped onto problems (here, not in `core::error`, which
/// knows no database).
impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        map_db_error(err)
    }
}

impl From<PoolError> for ApiError {
    fn from(err: PoolError) -> Self {
        log::warn!("database pool: {err}");
        crate::ops::metrics()
            .db_errors
            .with_label_values(&["unavailable"])
            .inc();
        ApiError::unavailable()
    }
}

/// A statement the connection may keep prepared, keyed by its SQL text and bind types.
///
/// Diesel prepares anew, at every run, any statement that holds a SQL literal, an
/// `UPDATE`, an upsert, a `sql_query` or an insert of optional values, since such SQL
/// could differ between runs of one Rust type; a fresh prepare is a round trip of its own
/// plus parsing and planning, and it holds the connection's statement cache while it
/// waits, so pipelined statements queue behind it. Wrapped, the statement carries no
/// type-based id, so the cache keys it by its text: right whatever the text, and the hot
/// statements here are built from constants (a few variants each), so the cache stays
/// small. Statements whose text varies without bound (e.g. an `IN` list per value) are
/// not for this.
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q>(pub Q);

impl<Q> diesel::query_builder::QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>>
    diesel::query_builder::QueryFragment<diesel::pg::Pg> for Prepared<Q>
{
    fn walk_ast<'b>(
        &'b self,
        pass: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &diesel::pg::Pg) -> diesel::QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_the_database_refuses_is_the_clients_422_not_a_500() {
        let err = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            // diesel's own error information for a bare message.
            Box::new(String::from(
                "invalid byte sequence for encoding \"UTF8\": 0x00",
            )),
        );
        assert_eq!(
            actix_web::ResponseError::status_code(&map_db_error(err)),
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
