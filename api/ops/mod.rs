//! Operating the service: Prometheus metrics, the JSON access log, per-caller rate
//! limits.

use std::num::NonZeroU32;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::core::error::{ApiError, ProblemType};
use crate::core::i18n::text;

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub db_errors: IntCounterVec,
    pool_size: IntGauge,
    pool_available: IntGauge,
    pool_waiting: IntGauge,
    /// 1 while a read replica is in use, 0 while it is out.
    pub replica_up: IntGaugeVec,
    /// How far a replica's replay is behind the primary's WAL, in bytes.
    pub replica_lag_bytes: IntGaugeVec,
    /// Reads served by a replica.
    pub replica_reads: IntCounterVec,
    /// Replica-eligible reads served by the primary, by why.
    pub read_fallbacks: IntCounterVec,
    /// Reads that waited for a replica to replay the caller's last write, by outcome.
    pub read_fence_waits: IntCounterVec,
}

pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "ogsms_http_requests_total",
                "HTTP requests by method, route template and status",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "ogsms_http_request_duration_seconds",
                "HTTP request latency by method and route template",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["method", "route"],
        )
        .expect("valid metric");
        let db_errors = IntCounterVec::new(
            Opts::new(
                "ogsms_db_errors_total",
                "Database errors by kind (unavailable, timeout, internal)",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let pool_size = IntGauge::new("ogsms_db_pool_connections", "Connections open in the pool")
            .expect("valid metric");
        let pool_available =
            IntGauge::new("ogsms_db_pool_available", "Idle connections in the pool")
                .expect("valid metric");
        let pool_waiting =
            IntGauge::new("ogsms_db_pool_waiting", "Requests waiting for a connection")
                .expect("valid metric");
        let replica_up = IntGaugeVec::new(
            Opts::new(
                "ogsms_db_replica_up",
                "1 while a read replica is in use, 0 while it is taken out",
            ),
            &["replica"],
        )
        .expect("valid metric");
        let replica_lag_bytes = IntGaugeVec::new(
            Opts::new(
                "ogsms_db_replica_lag_bytes",
                "How far a read replica's replay is behind the primary's WAL, in bytes",
            ),
            &["replica"],
        )
        .expect("valid metric");
        let replica_reads = IntCounterVec::new(
            Opts::new(
                "ogsms_db_replica_reads_total",
                "Reads (lists, reports, exports, statistics) served by a replica",
            ),
            &["replica"],
        )
        .expect("valid metric");
        let read_fallbacks = IntCounterVec::new(
            Opts::new(
                "ogsms_db_read_fallbacks_total",
                "Replica-eligible reads served by the primary, by reason \
                 (primary_only, lag, no_replica)",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let read_fence_waits = IntCounterVec::new(
            Opts::new(
                "ogsms_db_read_fence_waits_total",
                "Reads that waited for a replica to replay the caller's last write, by \
                 outcome (caught_up, timeout)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(db_errors.clone()),
            Box::new(pool_size.clone()),
            Box::new(pool_available.clone()),
            Box::new(pool_waiting.clone()),
            Box::new(replica_up.clone()),
            Box::new(replica_lag_bytes.clone()),
            Box::new(replica_reads.clone()),
            Box::new(read_fallbacks.clone()),
            Box::new(read_fence_waits.clone()),
        ] {
            registry.register(c).expect("metrics register once");
        }
        Metrics {
            registry,
            requests,
            latency,
            db_errors,
            pool_size,
            pool_available,
            pool_waiting,
            replica_up,
            replica_lag_bytes,
            replica_reads,
            read_fallbacks,
            read_fence_waits,
        }
    })
}

impl Metrics {
    /// The metrics in the Prometheus text format, with the pools' usage as given (the
    /// pools belong to the state, which this floor does not see).
    pub fn render(&self, pool_size: i64, pool_available: i64, pool_waiting: i64) -> Vec<u8> {
        self.pool_size.set(pool_size);
        self.pool_available.set(pool_available);
        self.pool_waiting.set(pool_waiting);
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("metrics encode");
        buf
    }

    /// Counts a request and its latency. The series' handles are kept per thread by
    /// route, method and status (a few hundred at most): looking them up in the
    /// registry hashes the labels and takes its lock at every request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        type Series = (prometheus::IntCounter, prometheus::Histogram);
        /// A route's series, by method and status.
        type ByRoute = std::collections::HashMap<String, Vec<(String, u16, Series)>>;
        thread_local! {
            static SERIES: std::cell::RefCell<ByRoute> =
                std::cell::RefCell::new(std::collections::HashMap::new());
        }
        SERIES.with_borrow_mut(|series| {
            if !series.contains_key(route) {
                series.insert(route.to_owned(), Vec::new());
            }
            let of_route = series.get_mut(route).expect("inserted above");
            let at = match of_route
                .iter()
                .position(|(m, s, _)| m == method && *s == status)
            {
                Some(i) => i,
                None => {
                    of_route.push((
                        method.to_owned(),
                        status,
                        (
                            self.requests
                                .with_label_values(&[method, route, &status.to_string()]),
                            self.latency.with_label_values(&[method, route]),
                        ),
                    ));
                    of_route.len() - 1
                }
            };
            let (requests, latency) = &of_route[at].2;
            requests.inc();
            latency.observe(elapsed.as_secs_f64());
        });
    }
}

/// The one JSON line logged per request. Never carries a token or a secret: only the
/// route, the path (ids, no query string) and the caller's `sub`.
///
/// Written straight to stderr (where the other records go), serialized from a typed
/// record in one `write` per line: through `log` and env_logger it was a
/// `serde_json::Value` built, formatted to a string, then scanned for terminal styles
/// (anstream) at every request. It obeys the same filter (`RUST_LOG`, target
/// `ogsms::access`), read once.
pub fn access_log(
    request_id: &str,
    method: &str,
    route: &str,
    path: &str,
    status: u16,
    elapsed: Duration,
    sub: Option<&str>,
) {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    if !*ENABLED.get_or_init(|| log::log_enabled!(target: "ogsms::access", log::Level::Info)) {
        return;
    }
    #[derive(serde::Serialize)]
    struct Line<'a> {
        ts: String,
        level: &'static str,
        event: &'static str,
        request_id: &'a str,
        method: &'a str,
        route: &'a str,
        path: &'a str,
        status: u16,
        latency_ms: f64,
        sub: Option<&'a str>,
    }
    let line = Line {
        ts: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        level: "INFO",
        event: "request",
        request_id,
        method,
        route,
        path,
        status,
        latency_ms: (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        sub,
    };
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with_borrow_mut(|buf| {
        use std::io::Write;
        buf.clear();
        if serde_json::to_writer(&mut *buf, &line).is_ok() {
            buf.push(b'\n');
            // A log line that cannot be written is dropped, as env_logger drops it.
            let _ = std::io::stderr().lock().write_all(buf);
        }
        if buf.capacity() > 64 * 1024 {
            *buf = Vec::new();
        }
    });
}

/// Formats every log record as one JSON line (access lines are JSON already).
pub fn init_logging() {
    use std::io::Write;
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,actix_server=warn"),
    )
    // Plain JSON lines: no terminal styles to detect or strip.
    .write_style(env_logger::WriteStyle::Never)
    .format(|buf, record| {
        let line = serde_json::json!({
            "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": record.level().as_str(),
            "target": record.target(),
            "message": record.args().to_string(),
        });
        writeln!(buf, "{line}")
    })
    .init();
}

type KeyedLimiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// Where the budgets are counted.
pub enum Store {
    /// In this process only: N instances on one database allow N times the limit.
    InProcess(KeyedLimiter),
    /// In PostgreSQL (`rate_buckets`), shared by every instance on the database: one
    /// statement per lease of tokens ([`SPEND_SQL`]), run by `db::limits::spend`.
    Shared(Leases),
}

/// Per-caller request budget: a sustained rate per minute with a burst allowance, a
/// token bucket per caller.
pub struct Limits {
    pub store: Store,
    pub per_minute: u32,
    pub burst: u32,
}

/// What a caller has left, for the `RateLimit` headers.
#[derive(Clone, Copy, Debug)]
pub struct Remaining {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the whole burst is available again.
    pub reset: u64,
}

/// One spend from a shared bucket, in one statement: the bucket of `$1` is refilled by
/// the time since its last spend at `$3` tokens a second, capped at the burst `$2`, and
/// a lease taken if a whole token is there: an eighth of what the bucket holds, at least
/// one token and at most `$4` (so a caller near its limit gets single tokens, exactly as
/// one bucket would count). The row lock of the upsert serializes the spends of a caller
/// across every instance, and time only moves forward (`greatest` with the stored time:
/// a statement that waited for the lock behind a later one refills nothing), so in any
/// interval [s, e] the tokens taken by every instance together are at most
/// burst + rate × (e − s): the bound of one token bucket. An instance spends a lease in
/// memory for at most [`LEASE_TTL`] and forgets what is left of it, so the requests it
/// accepts in [s, e] are at most what it took in [s − TTL, e]: from a full bucket, never
/// more than one bucket allows; a busy caller costs one statement per lease.
pub const SPEND_SQL: [&str; 5] = [
    "WITH p(key, burst, per_second, cap, at) AS (SELECT ",
    "::text, ",
    "::float8, ",
    "::float8, ",
    "::float8, statement_timestamp()) \
     INSERT INTO rate_buckets AS b (key, tokens, updated_at, accepted, taken) \
     SELECT p.key, p.burst - n.n, p.at, n.n > 0, n.n \
       FROM p, LATERAL (SELECT rate_bucket_lease(p.burst, p.cap) AS n) n \
     ON CONFLICT (key) DO UPDATE SET (tokens, taken, accepted, updated_at) = \
       (SELECT l.level - n.n, n.n, n.n > 0, greatest(b.updated_at, p.at) \
          FROM p, \
          LATERAL (SELECT rate_bucket_level(b.tokens, b.updated_at, p.at, p.burst, p.per_second) \
            AS level) l, \
          LATERAL (SELECT rate_bucket_lease(l.level, p.cap) AS n) n) \
     RETURNING tokens, taken",
];

/// How long an instance may spend a lease of tokens taken from a shared bucket.
pub const LEASE_TTL: Duration = Duration::from_secs(1);

/// The most tokens one spend takes from a shared bucket.
pub const LEASE_MAX: u32 = 64;

/// What this process holds of a caller's shared bucket: tokens taken and not yet spent,
/// or the instant before which the bucket cannot have a whole token again.
#[derive(Default)]
pub struct Lease {
    held: u32,
    /// What the bucket held after the lease was taken.
    bucket_left: f64,
    taken_at: Option<Instant>,
    refused_until: Option<Instant>,
}

impl Lease {
    /// Whether it still holds a token this process may spend at `now`.
    fn live(&self, now: Instant) -> bool {
        self.held > 0 && self.taken_at.is_some_and(|t| now - t < LEASE_TTL)
    }
}

/// A caller's lease, locked while its holder spends from it or asks the bucket for more:
/// one spend per caller at a time in a process, so that a caller's concurrent requests
/// wait for one lease instead of each taking its own.
pub type LeaseSlot = std::sync::Arc<tokio::sync::Mutex<Lease>>;

/// The leases of this process, by caller key.
#[derive(Default)]
pub struct Leases(std::sync::Mutex<std::collections::HashMap<String, LeaseSlot>>);

impl Leases {
    /// The slot of `key` (made when it has none; slots nobody holds and whose lease is
    /// spent or expired are forgotten now and then).
    pub fn slot(&self, key: &str) -> LeaseSlot {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = map.get(key) {
            return slot.clone();
        }
        if map.len() >= 4096 {
            let now = Instant::now();
            map.retain(|_, slot| {
                std::sync::Arc::strong_count(slot) > 1
                    || slot.try_lock().map_or(true, |l| l.live(now))
            });
        }
        map.entry(key.to_owned()).or_default().clone()
    }
}

impl Limits {
    /// Budgets counted in PostgreSQL, shared by every instance (the default).
    pub fn new(per_minute: u32, burst: u32) -> Limits {
        Limits {
            store: Store::Shared(Leases::default()),
            per_minute: per_minute.max(1),
            burst: burst.max(1),
        }
    }

    /// Budgets counted in this process only (`OGSMS_RATE_LIMIT_STORE=memory`): one
    /// instance, or a comparison of the costs.
    pub fn in_process(per_minute: u32, burst: u32) -> Limits {
        let per_minute_nz = NonZeroU32::new(per_minute.max(1)).expect("positive");
        let burst_nz = NonZeroU32::new(burst.max(1)).expect("positive");
        Limits {
            store: Store::InProcess(
                RateLimiter::keyed(Quota::per_minute(per_minute_nz).allow_burst(burst_nz))
                    .with_middleware::<StateInformationMiddleware>(),
            ),
            per_minute: per_minute.max(1),
            burst: burst.max(1),
        }
    }

    /// From `OGSMS_RATE_LIMIT_PER_MINUTE` (default 6000), `OGSMS_RATE_LIMIT_BURST`
    /// (default 600) and `OGSMS_RATE_LIMIT_STORE` (`postgres`, the default, or `memory`).
    pub fn from_env() -> Limits {
        let get = |k: &str, d: u32| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        let (per_minute, burst) = (
            get("OGSMS_RATE_LIMIT_PER_MINUTE", 6000),
            get("OGSMS_RATE_LIMIT_BURST", 600),
        );
        match std::env::var("OGSMS_RATE_LIMIT_STORE").as_deref() {
            Ok("memory") => Limits::in_process(per_minute, burst),
            _ => Limits::new(per_minute, burst),
        }
    }

    /// Tokens a second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    /// Spends one request of `key`'s in-process budget; `None` when the budgets are
    /// shared (spend them with `db::limits::spend`).
    pub fn check_in_process(&self, key: &str) -> Option<Result<Remaining, ApiError>> {
        let Store::InProcess(limiter) = &self.store else {
            return None;
        };
        Some(match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => Ok(self.remaining(f64::from(snapshot.remaining_burst_capacity()))),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(self.refusal(wait))
            }
        })
    }

    /// The leases of a shared store (`None` when budgets are counted in the process).
    pub fn leases(&self) -> Option<&Leases> {
        match &self.store {
            Store::Shared(leases) => Some(leases),
            Store::InProcess(_) => None,
        }
    }

    /// Spends one token of `lease` if it holds a valid one, or refuses while the bucket
    /// cannot have a token (no statement either way); `None` when the bucket must be
    /// asked.
    pub fn spend_leased(&self, lease: &mut Lease) -> Option<Result<Remaining, ApiError>> {
        let now = Instant::now();
        if let Some(until) = lease.refused_until {
            if now < until {
                return Some(Err(self.refusal(until - now)));
            }
            lease.refused_until = None;
        }
        if !lease.live(now) {
            return None;
        }
        lease.held -= 1;
        Some(Ok(self.remaining(lease.bucket_left + f64::from(lease.held))))
    }

    /// The answer to a spend from a shared bucket that left `tokens` and took `taken`
    /// (0: refused): what is taken beyond this request becomes `lease`; a refusal is
    /// remembered until the bucket can hold a whole token again (other instances only
    /// take from it, so it cannot have one sooner).
    pub fn settle(
        &self,
        lease: &mut Lease,
        tokens: f64,
        taken: i32,
    ) -> Result<Remaining, ApiError> {
        if taken <= 0 {
            // The next token is whole after (1 − tokens) / rate seconds.
            let wait = Duration::from_secs_f64((1.0 - tokens).max(0.0) / self.per_second());
            lease.held = 0;
            lease.refused_until = Some(Instant::now() + wait);
            return Err(self.refusal(wait));
        }
        let extra = u32::try_from(taken - 1).unwrap_or(0);
        *lease = Lease {
            held: extra,
            bucket_left: tokens,
            taken_at: Some(Instant::now()),
            refused_until: None,
        };
        Ok(self.remaining(tokens + f64::from(extra)))
    }

    /// The headers' figures with `tokens` left in the bucket.
    fn remaining(&self, tokens: f64) -> Remaining {
        let tokens = tokens.clamp(0.0, f64::from(self.burst));
        let remaining = tokens.floor() as u32;
        // One request comes back every 60/per_minute seconds.
        let spent = f64::from(self.burst) - tokens;
        Remaining {
            limit: self.burst,
            remaining,
            reset: ((spent / self.per_second()) - 1e-9).ceil().max(0.0) as u64,
        }
    }

    /// The 429 problem, with its `Retry-After` and `RateLimit-*` headers: retry after
    /// `wait`, in whole seconds rounded up.
    fn refusal(&self, wait: Duration) -> ApiError {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut e = ApiError::new(
            ProblemType::RateLimited,
            text!(
                "Too many requests from this caller; retry after {secs} s.",
                "Demasiadas solicitudes de este cliente; reintente en {secs} s."
            ),
        );
        e.retry_after = Some(secs.max(1));
        let limit = self.burst.to_string();
        e.with_header(
            actix_web::http::header::HeaderName::from_static("ratelimit-limit"),
            actix_web::http::header::HeaderValue::from_str(&limit).expect("digits"),
        )
        .with_header(
            actix_web::http::header::HeaderName::from_static("ratelimit-remaining"),
            actix_web::http::header::HeaderValue::from_static("0"),
        )
        .with_header(
            actix_web::http::header::HeaderName::from_static("ratelimit-reset"),
            actix_web::http::header::HeaderValue::from(secs.max(1)),
        )
    }
}

/// Elapsed time since `start`, for latency figures.
pub fn since(start: Instant) -> Duration {
    start.elapsed()
}
