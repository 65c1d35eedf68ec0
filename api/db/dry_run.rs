//! Dry-runs (`Prefer: dry-run` on a write): the request runs in full (validation,
//! authorization, business rules, the response it would give) inside a transaction that
//! is rolled back, so nothing it writes (rows, audit events, idempotency keys, change
//! events) is ever committed.
//!
//! One mechanism for every write: the envelope runs the request's handler inside
//! [`run`], which marks the task as a dry-run; every connection the handler takes from
//! the pool ([`super::DbPool::get`]) then comes with an outer transaction already open
//! (diesel's transaction manager turns the handler's own transactions into savepoints),
//! is kept by the dry-run when the handler lets it go, and is rolled back once the
//! handler has answered. A connection whose request is abandoned midway is returned to
//! the pool still in its transaction, which the pool refuses (it discards connections
//! inside a transaction), so the server rolls it back when it closes.
//!
//! What a write does outside the database must ask [`active`] first (e.g. the in-memory
//! list of revoked tokens). Sequences are not transactional: a dry-run may use up a
//! number of a database sequence, which leaves a gap and nothing else.

use std::future::Future;
use std::sync::{Arc, Mutex};

use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection, TransactionManager};

use crate::core::error::ApiError;

type Manager = <AsyncPgConnection as diesel_async::AsyncConnection>::TransactionManager;

tokio::task_local! {
    static DRY_RUN: Arc<Session>;
}

/// The connections a dry-run has opened, each inside its outer transaction, while no
/// handler holds them.
#[derive(Default)]
pub(super) struct Session {
    idle: Mutex<Vec<Object<AsyncPgConnection>>>,
}

impl Session {
    pub(super) fn give_back(&self, conn: Object<AsyncPgConnection>) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        // A poisoned lock drops the connection, still in its transaction: the pool
        // discards it and the server rolls it back.
    }

    fn take(&self) -> Option<Object<AsyncPgConnection>> {
        self.idle.lock().ok()?.pop()
    }
}

/// Whether the current request is a dry-run.
pub fn active() -> bool {
    DRY_RUN.try_with(|_| ()).is_ok()
}

/// The current dry-run, if any.
pub(super) fn current() -> Option<Arc<Session>> {
    DRY_RUN.try_with(Arc::clone).ok()
}

/// Opens the outer transaction of a connection a dry-run takes from the pool.
pub(super) async fn begin(conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
    Manager::begin_transaction(conn).await
}

/// Takes a connection the dry-run already holds.
pub(super) fn reuse(session: &Session) -> Option<Object<AsyncPgConnection>> {
    session.take()
}

/// Runs `request` as a dry-run: every connection it takes is rolled back afterwards.
/// Returns its output and, when a deferred check fails at the end (what a commit would
/// have refused) or the rollback itself fails, the problem to answer instead.
pub async fn run<F: Future>(request: F) -> (F::Output, Result<(), ApiError>) {
    let session = Arc::new(Session::default());
    let output = DRY_RUN.scope(session.clone(), request).await;
    let mut outcome = Ok(());
    while let Some(mut conn) = session.take() {
        // What a COMMIT would check last (deferred constraints), checked now.
        if let Err(e) = conn.batch_execute("SET CONSTRAINTS ALL IMMEDIATE").await
            && outcome.is_ok()
        {
            outcome = Err(ApiError::from(e));
        }
        if let Err(e) = Manager::rollback_transaction(&mut *conn).await {
            log::warn!("rolling back a dry-run: {e}");
            // Dropped inside its transaction: the pool discards it.
            if outcome.is_ok() {
                outcome = Err(ApiError::unavailable());
            }
        }
    }
    (output, outcome)
}
