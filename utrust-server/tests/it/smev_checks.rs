//! SMEV identity checks end to end over real HTTP: the server's durable check
//! worker against the SMEV simulator (`utrust-server smev-sim`), both as separate
//! processes. Covers the acceptance: valid data passes, each invalid kind
//! stops the application with its reason, 503s are retried, a silent adapter ends
//! in `timeout`, a killed server completes pending checks after a restart without
//! submitting any check twice, and services without checks never call the adapter.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::external::{Server, free_port, healthz};

const TOKEN: &str = "smev-checks-test-token-0123456789";

/// One HTTP/1.1 request with a JSON body; returns the status and the JSON answer.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let payload = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn post(port: u16, path: &str, body: &Value) -> Value {
    let (status, v) = http(port, "POST", path, Some(body));
    assert!((200..300).contains(&status), "POST {path}: {status} {v}");
    v
}

fn get(port: u16, path: &str) -> Value {
    let (status, v) = http(port, "GET", path, None);
    assert_eq!(status, 200, "GET {path}: {v}");
    v
}

fn wait_ready(server: &mut Server, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while healthz(port).is_none() {
        if let Some(status) = server.0.try_wait().expect("poll") {
            panic!("process exited before becoming ready: {status}");
        }
        assert!(Instant::now() < deadline, "not ready on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The simulator as its own process.
fn simulator(args: &[&str]) -> (Server, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["smev-sim", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .env("UTRUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start smev-sim");
    let mut sim = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(sim.0.try_wait().expect("poll").is_none(), "smev-sim exited");
        assert!(Instant::now() < deadline, "smev-sim not listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    (sim, port)
}

fn server(data: &Path, sim_port: u16, extra: &[&str]) -> (Server, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--smev-url", &format!("http://127.0.0.1:{sim_port}")])
        .args([
            "--check-interval-ms",
            "100",
            "--check-poll-secs",
            "0",
            "--check-lease-secs",
            "2",
        ])
        .args(extra)
        .env("UTRUST_ADMIN_TOKEN", TOKEN)
        .env("UTRUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start utrust-server");
    let mut s = Server(child);
    wait_ready(&mut s, port);
    (s, port)
}

struct Catalog {
    service: String,
    point: String,
    product: String,
}

fn catalog(port: u16, checks: &[&str]) -> Catalog {
    let product = post(
        port,
        "/api/v1/products",
        &json!({"code": format!("KEP-{}", free_port()), "name": "КЭП",
                "oids": {"common": ["1.3.6.1.5.5.7.3.2"]}}),
    );
    let org = post(port, "/api/v1/organizations", &json!({"name": "Агент"}));
    let point = post(
        port,
        "/api/v1/points",
        &json!({"parent_id": org["id"], "name": "Точка", "email": "p@agent.example.ru"}),
    );
    let service = post(
        port,
        "/api/v1/services",
        &json!({"name": "КЭП с проверками", "products": [product["id"]],
                "points": [point["id"]], "smev_checks": checks}),
    );
    Catalog {
        service: service["id"].as_str().expect("id").into(),
        point: point["id"].as_str().expect("id").into(),
        product: product["id"].as_str().expect("id").into(),
    }
}

fn owner(surname: &str, series: &str, birth: &str, inn: &str) -> Value {
    json!({"surname": surname, "given_name": "Иван", "patronymic": "Иванович",
           "snils": "11223344595", "inn": inn, "email": "ivanov@example.ru",
           "birth_date": birth,
           "passport": {"series": series, "number": "123456", "issued_on": "2015-06-01",
                        "issuer_code": "770-001"}})
}

fn apply(port: u16, c: &Catalog, owner: Value) -> String {
    let app = post(
        port,
        "/api/v1/applications",
        &json!({"service_id": c.service, "point_id": c.point, "applicant_kind": "individual",
                "products": [c.product], "owner": owner}),
    );
    app["id"].as_str().expect("id").into()
}

/// Polls the application until its status is one of `want`.
fn wait_status(port: u16, id: &str, want: &[&str], within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let app = get(port, &format!("/api/v1/applications/{id}"));
        if want.iter().any(|w| app["status"] == *w) {
            return app;
        }
        assert!(
            Instant::now() < deadline,
            "application {id} still {} (checks {})",
            app["status"],
            app["checks"]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn check_of<'a>(app: &'a Value, kind: &str) -> &'a Value {
    app["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["kind"] == kind))
        .unwrap_or_else(|| panic!("no {kind} check in {}", app["checks"]))
}

#[test]
fn checks_pass_fail_retry_and_rerun() {
    // The adapter answers 503 to the first two submits: the client retries them.
    let (_sim, sim_port) = simulator(&["--fail-submits", "2"]);
    let data = tempfile::tempdir().expect("tmp");
    let (_srv, port) = server(data.path(), sim_port, &[]);
    let c = catalog(port, &["passport", "snils", "inn"]);

    let valid = apply(
        port,
        &c,
        owner("Иванов", "4510", "1985-04-12", "500100732259"),
    );
    let expired = apply(
        port,
        &c,
        owner("Петров", "0000", "1985-04-12", "500100732259"),
    );
    let birth = apply(
        port,
        &c,
        owner("Сидоров", "4510", "1900-01-01", "500100732259"),
    );
    let inn = apply(
        port,
        &c,
        owner("Козлов", "4510", "1985-04-12", "000000000000"),
    );
    let unknown = apply(
        port,
        &c,
        owner("Ненайденов", "4510", "1985-04-12", "500100732259"),
    );

    let long = Duration::from_secs(30);
    let app = wait_status(port, &valid, &["awaiting_csr"], long);
    for kind in ["passport", "snils", "inn"] {
        let ch = check_of(&app, kind);
        assert_eq!(ch["result"], "valid", "{ch}");
        assert!(
            ch["submitted_at"].is_string() && ch["completed_at"].is_string(),
            "{ch}"
        );
    }
    let history = app["history"].as_array().expect("history");
    assert!(history.iter().any(|h| h["event"] == "checks_passed"));

    for (id, kind, reason) in [
        (&expired, "passport", "passport expired"),
        (&birth, "snils", "birth date does not match SNILS"),
        (&inn, "inn", "INN does not match the passport data"),
    ] {
        let app = wait_status(port, id, &["checks_failed"], long);
        let ch = check_of(&app, kind);
        assert_eq!(ch["result"], "invalid", "{ch}");
        assert_eq!(ch["reason"], reason);
        let last = app["history"]
            .as_array()
            .and_then(|h| h.last())
            .expect("history");
        assert_eq!(last["event"], "checks_failed");
        assert!(
            last["reason"].as_str().is_some_and(|r| r.contains(reason)),
            "the agent sees why: {last}"
        );
    }
    let app = wait_status(port, &unknown, &["checks_failed"], long);
    assert_eq!(check_of(&app, "snils")["result"], "not_found");

    let stats = get(sim_port, "/_sim/stats");
    assert_eq!(stats["injected_failures"], 2, "{stats}");

    // The agent corrects the passport and re-runs the checks: a new round passes.
    let fixed = post(
        port,
        &format!("/api/v1/applications/{expired}/rerun-checks"),
        &json!({"owner": owner("Петров", "4511", "1985-04-12", "500100732259")}),
    );
    assert_eq!(fixed["status"], "checks_pending");
    let app = wait_status(port, &expired, &["awaiting_csr"], long);
    assert_eq!(check_of(&app, "passport")["round"], 1);
    assert_eq!(check_of(&app, "passport")["result"], "valid");

    // Re-running is refused unless the checks failed.
    let (status, err) = http(
        port,
        "POST",
        &format!("/api/v1/applications/{valid}/rerun-checks"),
        None,
    );
    assert_eq!(
        (status, err["error"].as_str()),
        (409, Some("invalid_transition"))
    );
}

#[test]
fn a_silent_adapter_ends_in_timeout() {
    let (_sim, sim_port) = simulator(&["--never-answer"]);
    let data = tempfile::tempdir().expect("tmp");
    let (_srv, port) = server(data.path(), sim_port, &["--check-deadline-secs", "2"]);
    let c = catalog(port, &["passport"]);
    let id = apply(
        port,
        &c,
        owner("Иванов", "4510", "1985-04-12", "500100732259"),
    );
    let app = wait_status(port, &id, &["checks_failed"], Duration::from_secs(30));
    assert_eq!(check_of(&app, "passport")["result"], "timeout");
}

#[test]
fn a_restart_completes_pending_checks_without_duplicate_submissions() {
    // Each check stays pending for its first 20 polls (~2 s at 100 ms).
    let (_sim, sim_port) = simulator(&["--pending-polls", "20"]);
    let data = tempfile::tempdir().expect("tmp");
    let (mut srv, port) = server(data.path(), sim_port, &[]);
    let c = catalog(port, &["passport", "snils", "inn"]);
    let ids: Vec<String> = (0..3)
        .map(|_| {
            apply(
                port,
                &c,
                owner("Иванов", "4510", "1985-04-12", "500100732259"),
            )
        })
        .collect();

    // Wait until every check was submitted, then kill the server mid-flight.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = get(sim_port, "/_sim/stats");
        if stats["checks_created"] == 9 {
            break;
        }
        assert!(Instant::now() < deadline, "checks not submitted: {stats}");
        std::thread::sleep(Duration::from_millis(50));
    }
    for id in &ids {
        assert_eq!(
            get(port, &format!("/api/v1/applications/{id}"))["status"],
            "checks_pending"
        );
    }
    srv.0.kill().expect("kill -9 the server");
    let _ = srv.0.wait();

    let (_srv, port) = server(data.path(), sim_port, &[]);
    for id in &ids {
        let app = wait_status(port, id, &["awaiting_csr"], Duration::from_secs(60));
        for kind in ["passport", "snils", "inn"] {
            assert_eq!(check_of(&app, kind)["result"], "valid");
        }
    }
    let stats = get(sim_port, "/_sim/stats");
    let keys = stats["keys"].as_object().expect("keys");
    assert_eq!(keys.len(), 9, "{stats}");
    for (key, k) in keys {
        assert_eq!(
            k["submits"], 1,
            "{key} was submitted more than once: {stats}"
        );
    }
}

#[test]
fn services_without_checks_never_call_the_verifier() {
    let (_sim, sim_port) = simulator(&[]);
    let data = tempfile::tempdir().expect("tmp");
    let (_srv, port) = server(data.path(), sim_port, &[]);
    let c = catalog(port, &[]);
    let id = apply(
        port,
        &c,
        owner("Иванов", "4510", "1985-04-12", "500100732259"),
    );
    let app = get(port, &format!("/api/v1/applications/{id}"));
    assert_eq!(app["status"], "awaiting_csr");
    assert_eq!(app["checks"], json!([]));
    // Several worker runs later the adapter has still seen nothing.
    std::thread::sleep(Duration::from_millis(800));
    let stats = get(sim_port, "/_sim/stats");
    assert_eq!(
        (
            stats["submit_requests"].as_u64(),
            stats["poll_requests"].as_u64()
        ),
        (Some(0), Some(0)),
        "{stats}"
    );
}
