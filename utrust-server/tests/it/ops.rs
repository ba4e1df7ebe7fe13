//! Operations: `GET /metrics` (Prometheus text, counts what the test did),
//! request ids, request timeouts, and the configuration file of the real binary
//! (file < environment < flags).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use utrust_server::{AppState, router};

use crate::common::{
    Api, Opts, TOKEN, bearer, catalog, id, skip_or_fail, submit_with_csr, tool_available,
};
use crate::external::{Server, free_port, healthz};

/// One sample: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// A strict reader of the text exposition format 0.0.4: `# HELP` and `# TYPE`
/// lines come before the samples of their family, every other line is
/// `name{label="value",…} value` with a float value.
fn parse_prometheus(text: &str) -> Vec<Sample> {
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = std::collections::BTreeSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').expect("HELP name text");
            assert!(helped.insert(name.to_owned()), "second HELP for {name}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(helped.contains(name), "TYPE before HELP: {line}");
            assert!(
                typed.insert(name.to_owned(), kind.to_owned()).is_none(),
                "{line}"
            );
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment: {line}");
        let (series, value) = line.rsplit_once(' ').expect("name value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|e| panic!("bad value in {line:?}: {e}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                (name, parse_labels(body, line))
            }
        };
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(typed.contains_key(family), "sample before its TYPE: {line}");
        samples.push((name.to_owned(), labels, value));
    }
    samples
}

fn parse_labels(body: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("label=\"");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next().unwrap_or_else(|| panic!("open label: {line}"));
            match c {
                '\\' => match chars.next().map(|(_, c)| c) {
                    Some('n') => value.push('\n'),
                    Some(c @ ('\\' | '"')) => value.push(c),
                    other => panic!("bad escape {other:?} in {line}"),
                },
                '"' => break i,
                c => value.push(c),
            }
        };
        assert!(
            labels.insert(key.to_owned(), value).is_none(),
            "duplicate label in {line}"
        );
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    labels
}

/// The value of the sample with this name and exactly these labels (0 if absent).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .iter()
        .find(|(n, l, _)| n == name && *l == want)
        .map_or(0.0, |(_, _, v)| *v)
}

/// Runs Python's `prometheus_client` parser over the text; returns the family
/// names, or `None` when the module is not installed (and not required).
fn python_parse(text: &str) -> Option<Vec<String>> {
    if !tool_available("python3", &["-c", "import prometheus_client"]) {
        skip_or_fail("python3 with prometheus_client (scripts/test installs it)");
        return None;
    }
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import sys\n\
             from prometheus_client.parser import text_string_to_metric_families\n\
             for f in text_string_to_metric_families(sys.stdin.read()):\n\
             \x20   print(f.name, f.type, len(f.samples))\n",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to python3");
    let out = child.wait_with_output().expect("python3 output");
    assert!(
        out.status.success(),
        "prometheus_client refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split(' ').next().unwrap_or("").to_owned())
            .collect(),
    )
}

async fn scrape(api: &Api) -> (String, Vec<Sample>) {
    let r = api
        .send(Method::GET, "/metrics", None, Vec::new(), None)
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    let ct = r.headers[header::CONTENT_TYPE].to_str().expect("ascii");
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = r.text();
    let samples = parse_prometheus(&text);
    (text, samples)
}

const REQS: &str = "utrust_http_requests_total";

#[tokio::test]
async fn metrics_parse_and_count_the_requests_made() {
    let api = Api::new().await;
    let (_, before) = scrape(&api).await;

    const N_HEALTH: usize = 7;
    const N_APP: usize = 3;
    const N_UNMATCHED: usize = 2;
    for _ in 0..N_HEALTH {
        assert_eq!(api.get("/healthz").await.status.as_u16(), 200);
    }
    for i in 0..N_APP {
        let path = format!("/api/v1/applications/00000000-0000-4000-8000-00000000000{i}");
        api.get(&path).await.assert_error(404, "not_found");
    }
    for i in 0..N_UNMATCHED {
        let r = api.get(&format!("/no/such/route/{i}")).await;
        assert_eq!(r.status.as_u16(), 404);
    }
    // Unauthenticated requests are counted too.
    let r = api
        .send(Method::GET, "/api/v1/applications", None, Vec::new(), None)
        .await;
    r.assert_error(401, "unauthorized");

    let (text, after) = scrape(&api).await;
    let delta =
        |labels: &[(&str, &str)]| value(&after, REQS, labels) - value(&before, REQS, labels);
    let health = [("method", "GET"), ("route", "/healthz"), ("status", "200")];
    assert_eq!(delta(&health), N_HEALTH as f64, "{text}");
    let app = [
        ("method", "GET"),
        ("route", "/api/v1/applications/{id}"),
        ("status", "404"),
    ];
    assert_eq!(delta(&app), N_APP as f64, "{text}");
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert_eq!(delta(&unmatched), N_UNMATCHED as f64, "{text}");
    let unauthenticated = [
        ("method", "GET"),
        ("route", "/api/v1/applications"),
        ("status", "401"),
    ];
    assert_eq!(delta(&unauthenticated), 1.0, "{text}");
    // The first scrape is counted by the second.
    let m = [("method", "GET"), ("route", "/metrics"), ("status", "200")];
    assert_eq!(value(&after, REQS, &m), 1.0, "{text}");
    // Routes are templates: no raw path (ids, unknown paths) becomes a label.
    for (name, labels, _) in &after {
        if let Some(route) = labels.get("route") {
            assert!(
                !route.contains("/no/such") && route.matches('-').count() < 4,
                "raw path as a label in {name}: {route}"
            );
        }
    }

    // The histogram agrees with the counter; buckets are cumulative.
    let hist = |suffix: &str, extra: &[(&str, &str)]| {
        let mut labels = vec![("method", "GET"), ("route", "/healthz")];
        labels.extend_from_slice(extra);
        value(
            &after,
            &format!("utrust_http_request_duration_seconds{suffix}"),
            &labels,
        )
    };
    assert_eq!(hist("_count", &[]), N_HEALTH as f64);
    assert_eq!(hist("_bucket", &[("le", "+Inf")]), N_HEALTH as f64);
    let buckets: Vec<f64> = after
        .iter()
        .filter(|(n, l, _)| {
            n == "utrust_http_request_duration_seconds_bucket"
                && l.get("route").is_some_and(|r| r == "/healthz")
        })
        .map(|(_, _, v)| *v)
        .collect();
    assert!(buckets.len() > 5 && buckets.windows(2).all(|w| w[0] <= w[1]));
    assert!(hist("_sum", &[]) >= 0.0);

    assert_eq!(
        value(
            &after,
            "utrust_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    for outcome in ["submitted", "completed", "concluded", "worker_error"] {
        assert!(
            text.contains(&format!("utrust_smev_jobs_total{{outcome=\"{outcome}\"}} ")),
            "{text}"
        );
    }

    if let Some(families) = python_parse(&text) {
        for f in [
            "utrust_http_requests",
            "utrust_http_request_duration_seconds",
            "utrust_issuances",
            "utrust_quota_rejections",
            "utrust_smev_jobs",
            "utrust_build_info",
        ] {
            assert!(families.iter().any(|n| n == f), "{f} not in {families:?}");
        }
    }
}

#[tokio::test]
async fn issuances_and_quota_rejections_are_counted() {
    let api = Api::new().await;
    let c = catalog(
        &api,
        Opts {
            limit: 2,
            ..Opts::default()
        },
    )
    .await;
    let mut apps = Vec::new();
    for kind in ["individual", "sole_proprietor", "legal_entity"] {
        apps.push(id(&submit_with_csr(&api, &c, kind).await));
    }
    let (_, before) = scrape(&api).await;
    for a in &apps[..2] {
        api.post_empty(&format!("/api/v1/applications/{a}/issue"))
            .await
            .expect(201);
    }
    api.post_empty(&format!("/api/v1/applications/{}/issue", apps[2]))
        .await
        .assert_error(409, "quota_exhausted");
    let (text, after) = scrape(&api).await;
    let delta = |name: &str| value(&after, name, &[]) - value(&before, name, &[]);
    assert_eq!(delta("utrust_issuances_total"), 2.0, "{text}");
    assert_eq!(delta("utrust_quota_rejections_total"), 1.0, "{text}");
    let issue = [
        ("method", "POST"),
        ("route", "/api/v1/applications/{id}/issue"),
        ("status", "201"),
    ];
    assert_eq!(value(&after, REQS, &issue), 2.0, "{text}");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let api = Api::new().await;
    let send = |rid: Option<String>| {
        let router = api.router.clone();
        async move {
            let mut req = Request::builder().uri("/healthz");
            if let Some(r) = rid {
                req = req.header("x-request-id", r);
            }
            let resp = router
                .oneshot(req.body(Body::empty()).expect("request"))
                .await
                .expect("infallible");
            assert_eq!(resp.status().as_u16(), 200);
            resp.headers()
                .get("x-request-id")
                .expect("x-request-id in the response")
                .to_str()
                .expect("ascii")
                .to_owned()
        }
    };
    let given = "req-2024/ABC_def.42:x";
    assert_eq!(send(Some(given.to_owned())).await, given);
    let generated = send(None).await;
    assert_eq!(generated.len(), 32, "{generated}");
    assert!(generated.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(send(None).await, generated, "ids are random");
    // Insane ids (too long, spaces) are replaced by a generated one.
    for bad in ["a".repeat(129), "has a space".to_owned()] {
        let got = send(Some(bad.clone())).await;
        assert_ne!(got, bad);
        assert_eq!(got.len(), 32);
    }
    let max = "b".repeat(128);
    assert_eq!(send(Some(max.clone())).await, max);
    // Errors carry the id too.
    let r = api
        .send(Method::GET, "/api/v1/applications", None, Vec::new(), None)
        .await;
    assert_eq!(r.status.as_u16(), 401);
    assert!(r.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn a_request_over_the_timeout_answers_503_json() {
    let api = Api::new().await;
    let state = AppState {
        request_timeout: Duration::from_millis(100),
        ..AppState::new(api.engine.clone(), TOKEN.to_owned())
    };
    let metrics = state.metrics.clone();
    let router = router(state);
    // A client that never finishes sending its body (a slow-loris upload) to a
    // real route: the JSON extractor waits for the body until the deadline.
    let body = Body::from_stream(futures_util::stream::pending::<Result<Bytes, std::io::Error>>());
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/applications")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, bearer())
        .header("x-request-id", "slow-upload-1")
        .body(body)
        .expect("request");
    let started = Instant::now();
    let resp = tokio::time::timeout(Duration::from_secs(10), router.clone().oneshot(req))
        .await
        .expect("the server answers before the client gives up")
        .expect("infallible");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["x-request-id"], "slow-upload-1");
    let ct = resp.headers()[header::CONTENT_TYPE]
        .to_str()
        .expect("ascii");
    assert!(ct.starts_with("application/json"), "{ct}");
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
    assert_eq!(v["error"], "timeout", "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    // Fast requests are unaffected, and the timeout is counted.
    let ok = router
        .oneshot(
            Request::builder()
                .uri("/healthz")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(ok.status().as_u16(), 200);
    let samples = parse_prometheus(&metrics.render());
    let timed_out = [
        ("method", "POST"),
        ("route", "/api/v1/applications"),
        ("status", "503"),
    ];
    assert_eq!(value(&samples, REQS, &timed_out), 1.0);
}

/// A raw HTTP/1.1 GET; the whole response.
fn http_get(port: u16, path: &str, token: Option<&str>) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

/// The real binary: the file sets the listen address, the admin token and more;
/// the environment's `UTRUST_LISTEN` wins over the file; `--request-timeout-secs`
/// wins over both. `/metrics` over the socket parses.
#[test]
fn serve_reads_the_configuration_file_under_env_and_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file_port, env_port) = (free_port(), free_port());
    let file_token = "file-admin-token-0123456789";
    let config = dir.path().join("utrust.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:{file_port}\"\nadmin_token = \"{file_token}\"\n\
             reminder_days = [14, 3]\nmaintenance_interval = 3600\nrequest_timeout_secs = 1\n\
             log_json = true\n",
            dir.path().join("data").display().to_string()
        ),
    )
    .expect("write config");
    let child = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["serve", "--request-timeout-secs", "45"])
        .env("UTRUST_CONFIG", &config)
        .env("UTRUST_LISTEN", format!("127.0.0.1:{env_port}"))
        .env_remove("UTRUST_ADMIN_TOKEN")
        .env_remove("UTRUST_DATA_DIR")
        .env("UTRUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start utrust-server");
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while healthz(env_port).is_none() {
        if let Some(status) = server.0.try_wait().expect("poll") {
            let mut err = String::new();
            if let Some(mut e) = server.0.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("utrust-server exited ({status}): {err}");
        }
        assert!(
            Instant::now() < deadline,
            "not listening on the environment's port"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        healthz(file_port).is_none(),
        "the file's listen address must lose to UTRUST_LISTEN"
    );
    assert!(dir.path().join("data").join("utrust.db").exists());
    // The admin token of the file authenticates.
    let r = http_get(env_port, "/api/v1/applications", Some(file_token));
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.to_ascii_lowercase().contains("x-request-id: "), "{r}");
    let r = http_get(
        env_port,
        "/api/v1/applications",
        Some("wrong-token-0123456789"),
    );
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let r = http_get(env_port, "/metrics", None);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let (_, body) = r.split_once("\r\n\r\n").expect("headers end");
    // A chunked body would need decoding; the registry is sent whole.
    let samples = parse_prometheus(body);
    let listed = [
        ("method", "GET"),
        ("route", "/api/v1/applications"),
        ("status", "200"),
    ];
    assert_eq!(value(&samples, REQS, &listed), 1.0, "{body}");
    python_parse(body);
    drop(server);

    // An unknown key stops the server before it starts, naming the key.
    std::fs::write(&config, "listen = \"127.0.0.1:1\"\nlisen = \"x\"\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("UTRUST_LOG", "warn")
        .output()
        .expect("run utrust-server");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown key `lisen`"), "{err}");
}
