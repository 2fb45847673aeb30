//! Prometheus metrics: what an operator watches from outside.
//!
//! The `metrics` facade records; `metrics-exporter-prometheus` keeps the
//! figures and renders the text format; [`endpoint`] serves them on a listener
//! of its own (`metrics.listen`), never on the public port. While metrics are
//! off no recorder is installed and every call here is a no-op.
//!
//! Labels are bounded by construction: route templates (never raw paths or
//! ids), a fixed set of methods, status codes, stream and transport names,
//! rate-limit kinds. Counters and histograms are recorded where things
//! happen; figures that are cheaper to read than to track (the pool, the
//! event lag) are sampled when Prometheus scrapes.

pub mod endpoint;
pub mod http;

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Gauge, counter, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use strum::VariantArray;
use tokio_util::sync::CancellationToken;

use crate::bus::{StreamName, Streams};
use crate::error::ApiError;

/// Latency buckets (seconds): 1 ms to 10 s, for requests and pool acquires.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// How often histograms are folded into their buckets between scrapes, so
/// raw samples never pile up when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls reuse it) and
/// records the build info; `limit_kinds` are the rate-limit kinds whose
/// rejection counters start at 0 (passed in: the limiter reports to this
/// module, not the other way round). The handle renders the scrape.
pub fn install(limit_kinds: &[&'static str]) -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .expect("the bucket list is not empty")
                .install_recorder()
                .expect("pamps installs the only metrics recorder");
            describe();
            start_at_zero(limit_kinds);
            gauge!(
                "pamps_build_info",
                "version" => env!("CARGO_PKG_VERSION"),
                "profile" => if cfg!(debug_assertions) { "debug" } else { "release" },
            )
            .set(1.0);
            handle
        })
        .clone()
}

/// The help text of every metric (Prometheus shows it; promtool wants it).
fn describe() {
    use metrics::Unit::{Count, Seconds};
    for (name, unit, help) in [
        (
            "pamps_build_info",
            Count,
            "Always 1; the labels say which build runs.",
        ),
        (
            "pamps_http_requests_total",
            Count,
            "HTTP requests by method, route template and status.",
        ),
        (
            "pamps_http_request_duration_seconds",
            Seconds,
            "Time to the response head, by method and route template.",
        ),
        (
            "pamps_db_pool_max_connections",
            Count,
            "The pools' maximum size: the HTTP workers' (db.max_connections between them) and the background tasks' (db.max_connections).",
        ),
        (
            "pamps_db_pool_connections",
            Count,
            "Open pool connections, idle or in use.",
        ),
        (
            "pamps_db_pool_acquire_seconds",
            Seconds,
            "Time to get a pooled connection, probed at each scrape.",
        ),
        (
            "pamps_stream_connections",
            Count,
            "Open live streams by transport.",
        ),
        (
            "pamps_stream_subscriptions",
            Count,
            "Open live streams subscribed to each stream.",
        ),
        (
            "pamps_stream_slow_reader_disconnects_total",
            Count,
            "Streams dropped because their queue was full.",
        ),
        (
            "pamps_events_unnumbered",
            Count,
            "Committed events not yet numbered.",
        ),
        (
            "pamps_events_unnumbered_age_seconds",
            Seconds,
            "Age of the oldest committed, unnumbered event (commit -> numbered lag).",
        ),
        (
            "pamps_events_numbered_position",
            Count,
            "The greatest numbered event position.",
        ),
        (
            "pamps_events_delivered_position",
            Count,
            "The greatest position this instance handed to its streams.",
        ),
        (
            "pamps_events_undelivered",
            Count,
            "Numbered events this instance has not delivered yet.",
        ),
        (
            "pamps_events_undelivered_age_seconds",
            Seconds,
            "Age of the oldest numbered, undelivered event (numbered -> delivered lag).",
        ),
        (
            "pamps_rate_limit_rejections_total",
            Count,
            "Requests refused with 429, by limit.",
        ),
        (
            "pamps_hash_slots",
            Count,
            "Password hashes allowed at once.",
        ),
        ("pamps_hash_slots_busy", Count, "Password hashes running."),
        (
            "pamps_hash_waiting",
            Count,
            "Password hashes waiting for a slot.",
        ),
    ] {
        if name.ends_with("_total") {
            metrics::describe_counter!(name, unit, help);
        } else if name.ends_with("_duration_seconds") {
            metrics::describe_histogram!(name, unit, help);
        } else {
            metrics::describe_gauge!(name, unit, help);
        }
    }
}

/// Series that exist before their first event, so rates and alerts see a 0
/// rather than nothing.
fn start_at_zero(limit_kinds: &[&'static str]) {
    for &kind in limit_kinds {
        counter!("pamps_rate_limit_rejections_total", "kind" => kind).increment(0);
    }
    counter!("pamps_stream_slow_reader_disconnects_total").increment(0);
    for transport in TRANSPORTS {
        gauge!("pamps_stream_connections", "transport" => transport).increment(0.0);
    }
    for &stream in StreamName::VARIANTS {
        gauge!("pamps_stream_subscriptions", "stream" => <&str>::from(stream)).increment(0.0);
    }
    gauge!("pamps_hash_slots_busy").increment(0.0);
    gauge!("pamps_hash_waiting").increment(0.0);
}

/// Folds histogram samples every [`UPKEEP_EVERY`] until `shutdown`.
pub async fn upkeep(handle: PrometheusHandle, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(UPKEEP_EVERY) => handle.run_upkeep(),
        }
    }
}

/// A gauge raised while this value lives: in-flight things (open streams,
/// hashes running or queued) can never drift, whatever path ends them.
#[must_use = "the gauge drops back when this is dropped"]
pub struct Held(Gauge);

impl Held {
    fn new(gauge: Gauge) -> Self {
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The live stream's transports.
pub const TRANSPORTS: [&str; 2] = ["websocket", "sse"];

/// One open live stream on `transport` (one of [`TRANSPORTS`]).
pub fn stream_open(transport: &'static str) -> Held {
    Held::new(gauge!("pamps_stream_connections", "transport" => transport))
}

/// A subscription's streams changed from `before` to `after` (an empty set
/// before: it started; after: it ended).
pub fn streams_changed(before: Streams, after: Streams) {
    for &stream in StreamName::VARIANTS {
        let delta =
            f64::from(u8::from(after.has(stream))) - f64::from(u8::from(before.has(stream)));
        if delta != 0.0 {
            gauge!("pamps_stream_subscriptions", "stream" => <&str>::from(stream)).increment(delta);
        }
    }
}

/// The hub dropped a subscriber whose queue was full.
pub fn slow_reader_dropped() {
    counter!("pamps_stream_slow_reader_disconnects_total").increment(1);
}

/// Counts `err` when it is a refusal by the rate limit `kind` (a store
/// that failed is not a rejection).
pub fn rate_limited(kind: &'static str, err: &ApiError) {
    if matches!(err, ApiError::TooManyRequests(_)) {
        counter!("pamps_rate_limit_rejections_total", "kind" => kind).increment(1);
    }
}

/// A password hash waiting for a slot.
pub fn hash_waiting() -> Held {
    Held::new(gauge!("pamps_hash_waiting"))
}

/// A password hash holding a slot.
pub fn hash_busy() -> Held {
    Held::new(gauge!("pamps_hash_slots_busy"))
}
