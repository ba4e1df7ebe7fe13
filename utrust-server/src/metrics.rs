//! Operational metrics in the Prometheus text exposition format 0.0.4, served at
//! `GET /metrics`.
//!
//! A small registry of its own (atomics and mutex-guarded maps): request counts
//! and latencies by method, route template and status, issuances, quota
//! rejections, SMEV check-worker outcomes and build information. Label values
//! are bounded: routes are the matched route *templates* (e.g.
//! `/api/v1/applications/{id}`), or `unmatched`; methods outside the standard
//! set are `other`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http;
use utrust_core::CheckRunStats;

/// The content type of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The route label of requests that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// The route template whose `201` answers are issuances.
pub const ISSUE_ROUTE: &str = "/api/v1/applications/{id}/issue";

/// Upper bounds of the latency histogram buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A response extension naming the API error code of an error response
/// (`{"error": code}`), so that the metrics middleware can count errors by code
/// without reading bodies. `ApiError::into_response` inserts it:
/// `resp.extensions_mut().insert(ErrorCode(code.clone()))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCode(pub String);

/// Counts of one latency series.
#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Cumulative counts are computed on rendering; these are per bucket.
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// Label values of one request series: method, route.
type RouteKey = (&'static str, String);

#[derive(Debug, Default)]
struct HttpSeries {
    requests: BTreeMap<(&'static str, String, u16), u64>,
    latency: BTreeMap<RouteKey, Histogram>,
}

/// The metrics registry of a server; shared by the HTTP middleware, the check
/// worker and the `/metrics` handler.
#[derive(Debug, Default)]
pub struct Metrics {
    http: Mutex<HttpSeries>,
    issuances: AtomicU64,
    quota_rejections: AtomicU64,
    smev_submitted: AtomicU64,
    smev_completed: AtomicU64,
    smev_concluded: AtomicU64,
    smev_worker_errors: AtomicU64,
}

/// The method label: one of the standard methods, else `other`.
fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A float as Prometheus writes it.
fn float(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn http(&self) -> std::sync::MutexGuard<'_, HttpSeries> {
        // A panic while holding the lock leaves plain counters behind: keep going.
        self.http
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records one answered request. `route` is the matched route template or
    /// `None` (counted as [`UNMATCHED`]); `error` is the response's
    /// [`ErrorCode`] if it carried one.
    pub fn record_request(
        &self,
        method: &http::Method,
        route: Option<&str>,
        status: http::StatusCode,
        elapsed: Duration,
        error: Option<&ErrorCode>,
    ) {
        let method = method_label(method);
        let route_label = route.unwrap_or(UNMATCHED);
        {
            let mut http = self.http();
            *http
                .requests
                .entry((method, route_label.to_owned(), status.as_u16()))
                .or_default() += 1;
            http.latency
                .entry((method, route_label.to_owned()))
                .or_default()
                .observe(elapsed.as_secs_f64());
        }
        let on_issue = method == "POST" && route == Some(ISSUE_ROUTE);
        if on_issue && status == http::StatusCode::CREATED {
            self.issuances.fetch_add(1, Ordering::Relaxed);
        }
        let quota = match error {
            Some(ErrorCode(code)) => code == "quota_exhausted",
            // Without the extension: a conflict on the issue route is a quota
            // refusal (the other conflicts there are rare state races).
            None => on_issue && status == http::StatusCode::CONFLICT,
        };
        if quota {
            self.quota_rejections.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records one run of the identity-check worker.
    pub fn record_check_run(&self, stats: &CheckRunStats) {
        let add = |c: &AtomicU64, n: usize| {
            c.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
        };
        add(&self.smev_submitted, stats.submitted);
        add(&self.smev_completed, stats.completed);
        add(&self.smev_concluded, stats.concluded);
    }

    /// Records a failed run of the identity-check worker.
    pub fn record_check_error(&self) {
        self.smev_worker_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The registry in the Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        {
            let http = self.http();
            header(
                &mut out,
                "utrust_http_requests_total",
                "counter",
                "HTTP requests answered, by method, route template and status.",
            );
            for ((method, route, status), n) in &http.requests {
                let _ = writeln!(
                    out,
                    "utrust_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
            header(
                &mut out,
                "utrust_http_request_duration_seconds",
                "histogram",
                "Time from receiving a request to its response, by method and route template.",
            );
            for ((method, route), h) in &http.latency {
                let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
                let mut cumulative = 0u64;
                for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                    cumulative += n;
                    let _ = writeln!(
                        out,
                        "utrust_http_request_duration_seconds_bucket{{{labels},le=\"{}\"}} {cumulative}",
                        float(*bound)
                    );
                }
                let _ = writeln!(
                    out,
                    "utrust_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "utrust_http_request_duration_seconds_sum{{{labels}}} {}",
                    float(h.sum)
                );
                let _ = writeln!(
                    out,
                    "utrust_http_request_duration_seconds_count{{{labels}}} {}",
                    h.count
                );
            }
        }
        header(
            &mut out,
            "utrust_issuances_total",
            "counter",
            "Certificates issued through the API.",
        );
        let _ = writeln!(
            out,
            "utrust_issuances_total {}",
            self.issuances.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "utrust_quota_rejections_total",
            "counter",
            "Requests refused because a point's quota was exhausted.",
        );
        let _ = writeln!(
            out,
            "utrust_quota_rejections_total {}",
            self.quota_rejections.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "utrust_smev_jobs_total",
            "counter",
            "SMEV identity-check work of the check worker, by outcome.",
        );
        for (outcome, c) in [
            ("submitted", &self.smev_submitted),
            ("completed", &self.smev_completed),
            ("concluded", &self.smev_concluded),
            ("worker_error", &self.smev_worker_errors),
        ] {
            let _ = writeln!(
                out,
                "utrust_smev_jobs_total{{outcome=\"{outcome}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        header(
            &mut out,
            "utrust_build_info",
            "gauge",
            "Build information of this server; the value is always 1.",
        );
        let _ = writeln!(
            out,
            "utrust_build_info{{version=\"{}\"}} 1",
            escape(env!("CARGO_PKG_VERSION"))
        );
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_renders() {
        let m = Metrics::new();
        let ms = Duration::from_millis(3);
        m.record_request(
            &http::Method::POST,
            Some(ISSUE_ROUTE),
            http::StatusCode::CREATED,
            ms,
            None,
        );
        m.record_request(
            &http::Method::POST,
            Some(ISSUE_ROUTE),
            http::StatusCode::CONFLICT,
            ms,
            None,
        );
        m.record_request(
            &http::Method::POST,
            Some("/api/v1/applications"),
            http::StatusCode::CONFLICT,
            ms,
            Some(&ErrorCode("quota_exhausted".into())),
        );
        m.record_request(
            &http::Method::POST,
            Some(ISSUE_ROUTE),
            http::StatusCode::CONFLICT,
            ms,
            Some(&ErrorCode("invalid_transition".into())),
        );
        m.record_request(
            &http::Method::from_bytes(b"BREW").unwrap(),
            None,
            http::StatusCode::NOT_FOUND,
            Duration::from_secs(100),
            None,
        );
        m.record_check_run(&CheckRunStats {
            submitted: 2,
            completed: 1,
            concluded: 1,
        });
        let text = m.render();
        assert!(text.contains("utrust_issuances_total 1\n"), "{text}");
        assert!(text.contains("utrust_quota_rejections_total 2\n"), "{text}");
        assert!(text.contains(
            "utrust_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 1\n"
        ));
        assert!(text.contains(
            "utrust_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/applications/{id}/issue\",le=\"0.005\"} 3\n"
        ));
        assert!(text.contains(
            "utrust_http_request_duration_seconds_bucket{method=\"other\",route=\"unmatched\",le=\"30\"} 0\n"
        ));
        assert!(text.contains(
            "utrust_http_request_duration_seconds_bucket{method=\"other\",route=\"unmatched\",le=\"+Inf\"} 1\n"
        ));
        assert!(text.contains("utrust_smev_jobs_total{outcome=\"submitted\"} 2\n"));
        assert!(text.contains("utrust_build_info{version=\""));
    }

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
