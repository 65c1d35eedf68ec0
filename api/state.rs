//! What every handler shares: the pools, the token configuration and revocations, the
//! per-caller budgets and the export slots. Its own floor, above what it holds and below
//! every handler, so that a handler takes the state without importing the router.

use crate::{auth, db, ops};

/// Exports that may run at once (see `reports::exports::MAX_CONCURRENT`, which documents
/// why); the state holds their slots.
pub const MAX_CONCURRENT_EXPORTS: usize = 4;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: db::DbPool,
    pub auth: std::sync::Arc<auth::AuthConfig>,
    pub revocations: auth::Revocations,
    /// Per-caller request budgets.
    pub limits: std::sync::Arc<ops::Limits>,
    /// Export slots (see [`MAX_CONCURRENT_EXPORTS`]).
    pub exports: std::sync::Arc<tokio::sync::Semaphore>,
    /// The exports' connections, checked out (and so opened) on the export runtime; one
    /// pool for the process, set by [`AppState::with_export_pool`].
    pub export_pool: db::DbPool,
    /// Every pool of the process (one per worker), for `/metrics`.
    pub pools: std::sync::Arc<std::sync::Mutex<Vec<db::DbPool>>>,
    /// The read replicas (`DATABASE_REPLICA_URLS`), shared by the workers; `None`
    /// without any.
    pub replicas: Option<std::sync::Arc<db::replica::Replicas>>,
    /// This worker's pool per replica, in the order of `replicas.list`.
    pub replica_pools: Vec<db::DbPool>,
    /// The exports' pool per replica, in the order of `replicas.list`: like
    /// `export_pool`, one for the process, its connections checked out (and opened) on
    /// the export runtime. Set by [`AppState::with_export_replica_pools`].
    pub export_replica_pools: Vec<db::DbPool>,
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
            exports: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_EXPORTS)),
            replicas: None,
            replica_pools: Vec::new(),
            export_replica_pools: Vec::new(),
        }
    }

    /// The same state reading from `replicas` (see `db::replica`); the pools are built
    /// per worker by [`AppState::with_replica_pools`].
    pub fn with_replicas(mut self, replicas: std::sync::Arc<db::replica::Replicas>) -> AppState {
        self.replicas = Some(replicas);
        self
    }

    /// The same state with the exports' pool per replica (build each with
    /// `reports::exports::pool`).
    pub fn with_export_replica_pools(mut self, pools: Vec<db::DbPool>) -> AppState {
        self.export_replica_pools = pools;
        self
    }

    /// Where an export's task takes its connection: [`AppState::read_pool`]'s rules over
    /// the exports' pools (the primary's and one per replica). The task runs on the
    /// export runtime, outside the request: it takes the request's read context along
    /// (`db::replica::current`) and runs the `get` in it (`db::replica::scope`).
    pub fn export_read_pools(&self) -> db::replica::OwnedReadPool {
        db::replica::OwnedReadPool {
            primary: self.export_pool.clone(),
            replicas: self.export_replica_pools.clone(),
            set: self.replicas.clone(),
            context: db::replica::current(),
        }
    }

    /// The same state with this worker's pool per replica.
    pub fn with_replica_pools(mut self, pools: Vec<db::DbPool>) -> AppState {
        self.replica_pools = pools;
        self
    }

    /// Where a read-only handler (a list, a report, an export, statistics) takes its
    /// connection: a replica when one is configured, healthy and has replayed the
    /// caller's last write, the primary otherwise (see `db::replica`). Without replicas,
    /// exactly `self.pool`.
    pub fn read_pool(&self) -> db::replica::ReadPool<'_> {
        db::replica::ReadPool {
            primary: &self.pool,
            replicas: &self.replica_pools,
            set: self.replicas.as_ref(),
        }
    }

    /// The same state with a pool of its own for exports (until then they share the
    /// first pool): exports hold a connection for as long as a download lasts, and a
    /// connection opened by a request worker has its socket driven by that worker, so an
    /// export's every batch would wake it. Build it with `reports::exports::pool`.
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
    /// What the [`Caller`](crate::auth::Caller) extractor checks a token against.
    pub fn gate(&self) -> auth::Gate {
        auth::Gate {
            auth: self.auth.clone(),
            revocations: self.revocations.clone(),
            limits: self.limits.clone(),
            pool: self.pool.clone(),
        }
    }

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
