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

    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }
}

/// The one JSON line logged per request. Never carries a token or a secret: only the
/// route, the path (ids, no query string) and the caller's `sub`.
pub fn access_log(
    request_id: &str,
    method: &str,
    route: &str,
    path: &str,
    status: u16,
    elapsed: Duration,
    sub: Option<&str>,
) {
    if !log::log_enabled!(target: "ogsms::access", log::Level::Info) {
        return;
    }
    let line = serde_json::json!({
        "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": "INFO",
        "event": "request",
        "request_id": request_id,
        "method": method,
        "route": route,
        "path": path,
        "status": status,
        "latency_ms": (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        "sub": sub,
    });
    log::info!(target: "ogsms::access", "{line}");
}

/// Formats every log record as one JSON line (access lines are JSON already).
pub fn init_logging() {
    use std::io::Write;
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,actix_server=warn"),
    )
    .format(|buf, record| {
        if record.target() == "ogsms::access" {
            return writeln!(buf, "{}", record.args());
        }
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

/// Per-caller request budget: a sustained rate per minute with a burst allowance.
pub struct Limits {
    limiter: KeyedLimiter,
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

impl Limits {
    pub fn new(per_minute: u32, burst: u32) -> Limits {
        let per_minute_nz = NonZeroU32::new(per_minute.max(1)).expect("positive");
        let burst_nz = NonZeroU32::new(burst.max(1)).expect("positive");
        Limits {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute_nz).allow_burst(burst_nz))
                .with_middleware::<StateInformationMiddleware>(),
            per_minute,
            burst,
        }
    }

    /// From `OGSMS_RATE_LIMIT_PER_MINUTE` (default 6000) and `OGSMS_RATE_LIMIT_BURST`
    /// (default 600).
    pub fn from_env() -> Limits {
        let get = |k: &str, d: u32| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        Limits::new(
            get("OGSMS_RATE_LIMIT_PER_MINUTE", 6000),
            get("OGSMS_RATE_LIMIT_BURST", 600),
        )
    }

    /// Spends one request of `key`'s budget: what is left, or a 429 saying when to retry.
    pub fn check(&self, key: &str) -> Result<Remaining, ApiError> {
        match self.limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                // One request comes back every 60/per_minute seconds.
                let spent = u64::from(self.burst.saturating_sub(remaining));
                Ok(Remaining {
                    limit: self.burst,
                    remaining,
                    reset: (spent * 60).div_ceil(u64::from(self.per_minute.max(1))),
                })
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
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
                e = e
                    .with_header(
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
                    );
                Err(e)
            }
        }
    }
}

/// Elapsed time since `start`, for latency figures.
pub fn since(start: Instant) -> Duration {
    start.elapsed()
}
