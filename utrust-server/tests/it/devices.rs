//! Self-service device issuance over HTTP with real server processes and a
//! SoftHSM2 token per test (its own `SOFTHSM2_CONF` in a temp dir); OpenSC's
//! `pkcs11-tool`, `softhsm2-util` and `openssl` check from outside what the
//! server wrote onto the token.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::skip_or_fail;
use crate::external::{Server, free_port, healthz};

const ADMIN: &str = "devices-test-admin-token-0123456789";
const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PASSWORD: &str = "correct-horse-battery-staple";
/// Factory PINs of the blank tokens (the SoftHSM2 device type's defaults).
const FACTORY_SO: &str = "87654321";
const FACTORY_USER: &str = "12345678";

fn module() -> String {
    std::env::var("UTRUST_TEST_PKCS11_MODULE").unwrap_or_else(|_| MODULE.to_owned())
}

fn missing_tools() -> Option<String> {
    if !Path::new(&module()).exists() {
        return Some(format!("the SoftHSM2 module {} is not installed", module()));
    }
    for (cmd, arg) in [
        ("softhsm2-util", "--version"),
        ("pkcs11-tool", "--help"),
        ("openssl", "version"),
    ] {
        // pkcs11-tool exits 2 after its help text: only "it runs" counts.
        if !runs(cmd, arg) {
            return Some(format!("{cmd} is not installed"));
        }
    }
    None
}

/// Whether the program can be started at all.
pub(crate) fn runs(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A SoftHSM2 configuration and token directory of the test's own.
struct Hsm {
    dir: tempfile::TempDir,
    conf: PathBuf,
}

impl Hsm {
    fn new() -> Option<Self> {
        if let Some(reason) = missing_tools()
            && skip_or_fail(&reason)
        {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir_all(&tokens).expect("token dir");
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .expect("write conf");
        Some(Self { dir, conf })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn tool(&self, cmd: &str, args: &[&str]) -> (bool, String) {
        let out = Command::new(cmd)
            .args(args)
            .current_dir(self.path())
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .unwrap_or_else(|e| panic!("run {cmd}: {e}"));
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    #[track_caller]
    fn tool_ok(&self, cmd: &str, args: &[&str]) -> String {
        let (ok, text) = self.tool(cmd, args);
        assert!(ok, "{cmd} {args:?}:\n{text}");
        text
    }

    /// A blank token as the support desk hands it out: formatted by
    /// `softhsm2-util` with the factory PINs.
    fn factory_token(&self, label: &str) {
        self.tool_ok(
            "softhsm2-util",
            &[
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                FACTORY_SO,
                "--pin",
                FACTORY_USER,
            ],
        );
    }

    /// `pkcs11-tool -O` of the token, logged in with `pin`.
    fn objects(&self, label: &str, pin: &str) -> String {
        let m = module();
        self.tool_ok(
            "pkcs11-tool",
            &[
                "--module",
                &m,
                "--token-label",
                label,
                "--login",
                "--pin",
                pin,
                "-O",
            ],
        )
    }

    /// Reads the certificate with `id` from the token and checks it against
    /// the server's CA with OpenSSL.
    fn verify_certificate(&self, label: &str, id: &str, ca_pem: &[u8]) {
        let m = module();
        self.tool_ok(
            "pkcs11-tool",
            &[
                "--module",
                &m,
                "--token-label",
                label,
                "--read-object",
                "--type",
                "cert",
                "--id",
                id,
                "--output-file",
                "cert.der",
            ],
        );
        std::fs::write(self.path().join("ca.pem"), ca_pem).expect("write ca");
        self.tool_ok(
            "openssl",
            &[
                "x509", "-inform", "DER", "-in", "cert.der", "-out", "cert.pem",
            ],
        );
        let text = self.tool_ok("openssl", &["verify", "-CAfile", "ca.pem", "cert.pem"]);
        assert!(text.contains("cert.pem: OK"), "{text}");
    }
}

/// A server process on `data`, its stdout and stderr appended to `log`.
struct Srv {
    _server: Server,
    port: u16,
}

fn start(hsm: &Hsm, data: &Path, log: &Path, rust_log: &str) -> Srv {
    let port = free_port();
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let err = out.try_clone().expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--pkcs11-module", &module()])
        .env("UTRUST_ADMIN_TOKEN", ADMIN)
        .env("UTRUST_LOG", rust_log)
        .env("SOFTHSM2_CONF", &hsm.conf)
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("start utrust-server");
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while healthz(port).is_none() {
        if let Some(status) = server.0.try_wait().expect("poll server") {
            panic!(
                "utrust-server exited before becoming ready: {status}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "server not ready on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Srv {
        _server: server,
        port,
    }
}

/// One HTTP/1.1 request; returns the status and the body (JSON, or a string).
fn http(port: u16, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n"
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).expect("send");
    s.write_all(body.as_bytes()).expect("send body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let payload = if chunked {
        let mut out = String::new();
        let mut rest = rest;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        rest.to_owned()
    };
    let v = serde_json::from_str(&payload).unwrap_or(Value::String(payload));
    (status, v)
}

#[track_caller]
fn expect(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
    status: u16,
) -> Value {
    let (s, v) = http(port, method, path, token, body);
    assert_eq!(s, status, "{method} {path}: {v}");
    v
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// The world of a test: catalog, a user with a directory profile, a device
/// type with factory PINs, and a self-service policy assigned to the user.
struct World {
    user_token: String,
    user_id: String,
    point: String,
}

fn login(port: u16, username: &str) -> (String, String) {
    let (s, v) = {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let body = json!({"username": username, "password": PASSWORD}).to_string();
        let req = format!(
            "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).expect("send");
        let mut raw = String::new();
        s.read_to_string(&mut raw).expect("read");
        let (head, rest) = raw.split_once("\r\n\r\n").expect("response");
        (
            head.to_owned(),
            serde_json::from_str::<Value>(rest).unwrap_or(Value::Null),
        )
    };
    assert!(s.starts_with("HTTP/1.1 201"), "login: {s} {v}");
    (
        v["token"].as_str().expect("token").to_owned(),
        v["user_id"].as_str().expect("user_id").to_owned(),
    )
}

fn world(port: u16) -> World {
    let a = ADMIN;
    let kep = expect(
        port,
        "POST",
        "/api/v1/products",
        a,
        Some(&json!({
        "code": "KEP", "name": "Квалифицированная электронная подпись", "quantity_accounting": false,
        "oids": {"common": ["1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4"], "legal_entity": [],
                 "individual": ["1.2.643.100.2.1"], "sole_proprietor": []}})),
        201,
    );
    let org = expect(
        port,
        "POST",
        "/api/v1/organizations",
        a,
        Some(&json!({"name": "ООО «Агент УЦ»", "inn": "7802668116"})),
        201,
    );
    let point = expect(
        port,
        "POST",
        "/api/v1/points",
        a,
        Some(&json!({
        "parent_id": id(&org), "name": "Самообслуживание", "email": "self@agent.example.ru",
        "region": "77", "limit": -1, "quantities": []})),
        201,
    );
    let service = |name: &str, approval: bool| {
        expect(
            port,
            "POST",
            "/api/v1/services",
            a,
            Some(&json!({
            "name": name, "products": [id(&kep)], "applicant_kinds": ["individual"],
            "points": [id(&point)], "approval_required": approval, "smev_checks": []})),
            201,
        )
    };
    let direct = service("Токен сразу", false);
    let approved = service("Токен с одобрением", true);
    let user = expect(
        port,
        "POST",
        "/api/v1/users",
        a,
        Some(&json!({"username": "ivan", "password": PASSWORD, "groups": ["staff"]})),
        201,
    );
    expect(
        port,
        "PUT",
        &format!("/api/v1/users/{}/profile", id(&user)),
        a,
        Some(&json!({
        "surname": "Иванов", "given_name": "Иван", "patronymic": "Иванович",
        "snils": "112-233-445 95", "inn": "500100732259", "email": "ivanov@example.ru"})),
        200,
    );
    expect(
        port,
        "POST",
        "/api/v1/device-types",
        a,
        Some(&json!({
        "name": "softhsm2-factory", "model": "SoftHSM v2",
        "areas": [{"name": "pki", "default_admin_pin": FACTORY_SO,
                   "default_user_pin": FACTORY_USER, "min_user_pin_length": 6}]})),
        201,
    );
    expect(
        port,
        "POST",
        "/api/v1/device-policies",
        a,
        Some(&json!({
        "name": "self-service", "self_issue_allowed": true, "max_devices_per_user": 3,
        "secret_questions": 1, "secret_questions_required": true, "initialize_on_issue": true,
        "random_user_pin": {"length": 8, "alphabet": "digits", "delivery": "show_and_mail_user"},
        "templates": [{"name": "kep", "service_id": id(&direct)},
                      {"name": "kep-approval", "service_id": id(&approved)}],
        "point_id": id(&point), "crypto_accounting": true})),
        201,
    );
    expect(
        port,
        "POST",
        "/api/v1/device-policy-assignments",
        a,
        Some(&json!({"group": "staff", "policy": "self-service"})),
        200,
    );
    let (user_token, user_id) = login(port, "ivan");
    World {
        user_token,
        user_id,
        point: id(&point),
    }
}

fn issue_body(token: &str, template: &str) -> Value {
    json!({"token": token, "device_type": "softhsm2-factory", "template": template,
           "name": "Рабочий токен", "document": {"number": "СКЗИ-12/3", "date": "2026-11-25"}})
}

fn my_devices(port: u16, w: &World) -> Vec<Value> {
    let v = expect(port, "GET", "/api/v1/me/devices", &w.user_token, None, 200);
    v["items"].as_array().expect("items").clone()
}

/// Asserts that the token holds a certificate, a private and a public key
/// under `key_id`, the key sensitive and never extractable, and that the
/// certificate read from the token verifies against the CA.
fn assert_on_token(hsm: &Hsm, port: u16, label: &str, pin: &str, key_id: &str) {
    let listing = hsm.objects(label, pin);
    let ids = listing
        .lines()
        .filter(|l| l.trim() == format!("ID:         {key_id}"))
        .count();
    assert_eq!(
        ids, 3,
        "certificate, private and public key under one ID:\n{listing}"
    );
    assert!(
        listing.contains("Certificate Object; type = X.509 cert"),
        "{listing}"
    );
    assert!(
        listing.contains("Access:     sensitive, always sensitive, never extractable, local"),
        "{listing}"
    );
    let (s, ca) = http(port, "GET", "/api/v1/ca/certificate", ADMIN, None);
    assert_eq!(s, 200);
    hsm.verify_certificate(label, key_id, ca.as_str().expect("PEM").as_bytes());
}

/// Asserts that no secret appears in the captured server output.
fn assert_not_logged(log: &Path, secrets: &[&str]) {
    let text = std::fs::read_to_string(log).expect("read log");
    assert!(
        text.contains("DEBUG") || text.contains("debug"),
        "the log was not verbose:\n{text}"
    );
    for s in secrets {
        let hit = text.lines().find(|l| contains_word(l, s));
        assert!(hit.is_none(), "secret {s:?} in the server output: {hit:?}");
    }
}

/// Whether `needle` occurs in `line` not glued to other letters or digits (a
/// PIN of digits may otherwise turn up inside a float such as a latency).
fn contains_word(line: &str, needle: &str) -> bool {
    line.match_indices(needle).any(|(i, m)| {
        let before = line[..i].chars().next_back();
        let after = line[i + m.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[test]
fn self_service_issuance_over_http() {
    let Some(hsm) = Hsm::new() else { return };
    let data = tempfile::tempdir().expect("tempdir");
    let log = hsm.path().join("server.log");
    // SoftHSM2 reads its token directory when the module is initialised: the
    // blank token is there before the server starts (a hardware token would be
    // plugged in at any time).
    hsm.factory_token("blank-1");
    let srv = start(&hsm, data.path(), &log, "debug");
    let port = srv.port;
    let w = world(port);
    let answer = "Шарик-из-Простоквашино";
    assert!(my_devices(port, &w).is_empty());

    // The policy wants a secret question answered first.
    let (s, e) = http(
        port,
        "POST",
        "/api/v1/me/devices",
        &w.user_token,
        Some(&issue_body("blank-1", "kep")),
    );
    assert_eq!(
        (s, e["error"].as_str()),
        (422, Some("policy_violation")),
        "{e}"
    );
    assert_eq!(e["field"], "secret_questions", "{e}");
    let q = expect(
        port,
        "PUT",
        "/api/v1/me/secret-questions",
        &w.user_token,
        Some(
            &json!({"questions": [{"question": "Кличка первой собаки?", "answer": "Бобик-первый"}]}),
        ),
        200,
    );
    assert_eq!(q["questions"], json!(["Кличка первой собаки?"]), "{q}");
    // Changed: the new question replaces the old; answers are never shown.
    let q = expect(
        port,
        "PUT",
        "/api/v1/me/secret-questions",
        &w.user_token,
        Some(&json!({"questions": [{"question": "Любимый пёс?", "answer": answer}]})),
        200,
    );
    assert_eq!(q["questions"], json!(["Любимый пёс?"]), "{q}");
    let q = expect(
        port,
        "GET",
        "/api/v1/me/secret-questions",
        &w.user_token,
        None,
        200,
    );
    assert_eq!(q["questions"], json!(["Любимый пёс?"]), "{q}");
    assert!(
        !q.to_string().contains("Шарик") && !q.to_string().contains("Бобик"),
        "{q}"
    );

    // Crypto-means accounting: the document is required.
    let mut body = issue_body("blank-1", "kep");
    body.as_object_mut().expect("object").remove("document");
    let (s, e) = http(
        port,
        "POST",
        "/api/v1/me/devices",
        &w.user_token,
        Some(&body),
    );
    assert_eq!(
        (s, e["error"].as_str()),
        (422, Some("policy_violation")),
        "{e}"
    );
    assert_eq!(e["field"], "document", "{e}");

    // Wrong admin PIN, missing token: each its own error, nothing recorded.
    let mut body = issue_body("blank-1", "kep");
    body["admin_pin"] = json!("70615243");
    let (s, e) = http(
        port,
        "POST",
        "/api/v1/me/devices",
        &w.user_token,
        Some(&body),
    );
    assert_eq!(
        (s, e["error"].as_str()),
        (422, Some("pin_incorrect")),
        "{e}"
    );
    assert!(!e.to_string().contains("70615243"), "{e}");
    assert_eq!(e["field"], "admin_pin", "{e}");
    let (s, e) = http(
        port,
        "POST",
        "/api/v1/me/devices",
        &w.user_token,
        Some(&issue_body("no-such-token", "kep")),
    );
    assert_eq!(
        (s, e["error"].as_str()),
        (409, Some("token_not_present")),
        "{e}"
    );
    assert!(my_devices(port, &w).is_empty());
    // The token is untouched by the failures: still the factory label and PINs.
    hsm.objects("blank-1", FACTORY_USER);

    // PINs per area: an area the device type does not have is named.
    let mut body = issue_body("blank-1", "kep");
    body["pins"] = json!([{"area": "gost", "admin_pin": "1234567890"}]);
    let (s, e) = http(
        port,
        "POST",
        "/api/v1/me/devices",
        &w.user_token,
        Some(&body),
    );
    assert_eq!(
        (s, e["error"].as_str()),
        (422, Some("invalid_field")),
        "{e}"
    );
    assert_eq!(e["field"], "pins[0].area", "{e}");

    // The support desk receives the token into accounting (journal "received").
    let blank_serial = hsm_serial(&hsm, "blank-1");
    let reg = expect(
        port,
        "POST",
        "/api/v1/devices",
        ADMIN,
        Some(
            &json!({"device_type": "softhsm2-factory", "serial": blank_serial,
                     "name": "Токен со склада", "model": "SoftHSM v2",
                     "document": {"number": "ПН-5", "date": "2026-11-20"}}),
        ),
        201,
    );
    assert_eq!(reg["status"], "registered", "{reg}");
    let (s, e) = http(
        port,
        "POST",
        "/api/v1/devices",
        ADMIN,
        Some(&json!({
        "device_type": "softhsm2-factory", "serial": blank_serial,
        "document": {"number": "ПН-6", "date": "2026-11-20"}})),
    );
    assert_eq!((s, e["error"].as_str()), (409, Some("duplicate")), "{e}");

    // Issued: initialised, random user PIN shown once, key on the token.
    let d = expect(
        port,
        "POST",
        "/api/v1/me/devices",
        &w.user_token,
        Some(&issue_body("blank-1", "kep")),
        201,
    );
    assert_eq!(d["status"], "issued", "{d}");
    let pin = d["user_pin"]
        .as_str()
        .expect("generated PIN shown once")
        .to_owned();
    // Also mailed to the user (logged only: no SMTP here; never its body).
    assert_eq!(d["pin_sent_to"], "ivanov@example.ru", "{d}");
    assert_eq!(pin.len(), 8);
    assert!(pin.chars().all(|c| c.is_ascii_digit()));
    let key_id = d["key_id"].as_str().expect("key id").to_owned();
    assert_eq!(d["certificates"].as_array().map(Vec::len), Some(1), "{d}");
    let list = my_devices(port, &w);
    assert_eq!(list.len(), 1);
    let mine = &list[0];
    assert_eq!(mine["device_type"], "softhsm2-factory");
    assert_eq!(mine["serial"], d["serial"]);
    assert_eq!(mine["name"], "Рабочий токен");
    assert_eq!(mine["status"], "issued");
    assert!(
        mine.get("user_pin").is_none(),
        "the PIN is shown once only: {mine}"
    );
    // The old factory user PIN no longer opens it.
    let m = module();
    let (ok, _) = hsm.tool(
        "pkcs11-tool",
        &[
            "--module",
            &m,
            "--token-label",
            "blank-1",
            "--login",
            "--pin",
            FACTORY_USER,
            "-O",
        ],
    );
    assert!(!ok, "the token was initialised: the factory PIN is gone");
    let label = hsm_label(&hsm, d["serial"].as_str().expect("serial"));
    assert_on_token(&hsm, port, &label, &pin, &key_id);

    // The administrator sees the journal.
    let device_id = id(&d);
    let detail = expect(
        port,
        "GET",
        &format!("/api/v1/devices/{device_id}"),
        ADMIN,
        None,
        200,
    );
    let kinds: Vec<&str> = detail["journal"]
        .as_array()
        .expect("journal")
        .iter()
        .filter_map(|j| j["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"issued"), "{detail}");
    // The administrator marks it lost, suspending (not revoking) its certificate.
    let lost = expect(
        port,
        "POST",
        &format!("/api/v1/devices/{device_id}/lost"),
        ADMIN,
        Some(&json!({"suspend": true})),
        200,
    );
    assert_eq!(lost["status"], "lost", "{lost}");
    let serial = d["certificates"][0].as_str().expect("certificate serial");
    let cert = expect(
        port,
        "GET",
        &format!("/api/v1/certificates/{serial}"),
        ADMIN,
        None,
        200,
    );
    assert_eq!(cert["status"], "suspended", "{cert}");
    // End of life in the crypto-means journal, each act with its document.
    let act = json!({"document": {"number": "АКТ-7", "date": "2026-11-26"}});
    let w1 = expect(
        port,
        "POST",
        &format!("/api/v1/devices/{device_id}/withdraw"),
        ADMIN,
        Some(&act),
        200,
    );
    assert_eq!(w1["status"], "withdrawn", "{w1}");
    let d1 = expect(
        port,
        "POST",
        &format!("/api/v1/devices/{device_id}/destroy"),
        ADMIN,
        Some(&act),
        200,
    );
    assert_eq!(d1["status"], "destroyed", "{d1}");
    let (s, e) = http(
        port,
        "POST",
        &format!("/api/v1/devices/{device_id}/withdraw"),
        ADMIN,
        Some(&act),
    );
    assert_eq!(
        (s, e["error"].as_str()),
        (409, Some("invalid_transition")),
        "{e}"
    );
    let detail = expect(
        port,
        "GET",
        &format!("/api/v1/devices/{device_id}"),
        ADMIN,
        None,
        200,
    );
    let kinds: Vec<&str> = detail["journal"]
        .as_array()
        .expect("journal")
        .iter()
        .filter_map(|j| j["kind"].as_str())
        .collect();
    // The registered record was the one issued: received → issued → … → destroyed.
    assert_eq!(device_id, id(&reg), "{detail}");
    assert_eq!(
        kinds,
        ["received", "issued", "withdrawn", "destroyed"],
        "{detail}"
    );
    let all = expect(port, "GET", "/api/v1/devices?limit=10", ADMIN, None, 200);
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(all["next"], Value::Null);

    let _ = &w.point;
    let _ = &w.user_id;
    // The PIN mail went through the log notifier: recipient and subject only.
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("notification (log only)"),
        "no PIN mail logged"
    );
    assert_not_logged(&log, &[&pin, answer, "Бобик-первый", "70615243"]);
}

/// The serial number of the token labelled `label`, read with pkcs11-tool.
fn hsm_serial(hsm: &Hsm, label: &str) -> String {
    let m = module();
    let list = hsm.tool_ok("pkcs11-tool", &["--module", &m, "-L"]);
    list.split("Slot ")
        .find(|b| b.contains(&format!("token label        : {label}")))
        .and_then(|b| {
            b.lines()
                .find_map(|l| l.trim().strip_prefix("serial num         : "))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no token labelled {label}:\n{list}"))
}

/// The label a token has after issuance, read with pkcs11-tool.
fn hsm_label(hsm: &Hsm, serial: &str) -> String {
    let m = module();
    let list = hsm.tool_ok("pkcs11-tool", &["--module", &m, "-L"]);
    let mut label = None;
    for block in list.split("Slot ") {
        if block.contains(&format!("serial num         : {serial}")) {
            label = block
                .lines()
                .find_map(|l| l.trim().strip_prefix("token label        : "))
                .map(|l| l.trim().to_owned());
        }
    }
    label.unwrap_or_else(|| panic!("no token with serial {serial}:\n{list}"))
}

#[test]
fn two_stage_issuance_survives_a_restart() {
    let Some(hsm) = Hsm::new() else { return };
    let data = tempfile::tempdir().expect("tempdir");
    let log = hsm.path().join("server.log");
    hsm.factory_token("blank-2");
    let srv = start(&hsm, data.path(), &log, "debug");
    let w = world(srv.port);
    expect(
        srv.port,
        "PUT",
        "/api/v1/me/secret-questions",
        &w.user_token,
        Some(&json!({"questions": [{"question": "Город рождения?", "answer": "Тверь-на-Волге"}]})),
        200,
    );
    let (s, d) = http(
        srv.port,
        "POST",
        "/api/v1/me/devices",
        &w.user_token,
        Some(&issue_body("blank-2", "kep-approval")),
    );
    assert_eq!(s, 202, "{d}");
    assert_eq!(d["status"], "pending", "{d}");
    assert_eq!(d["message"], "awaiting decision", "{d}");
    let pin = d["user_pin"]
        .as_str()
        .expect("PIN set at the first stage")
        .to_owned();
    let device_id = id(&d);
    let application = d["application_id"]
        .as_str()
        .expect("application")
        .to_owned();
    assert_eq!(my_devices(srv.port, &w)[0]["status"], "pending");
    // Continuing before the decision is refused.
    let (s, e) = http(
        srv.port,
        "POST",
        &format!("/api/v1/me/devices/{device_id}/continue"),
        &w.user_token,
        Some(&json!({"user_pin": pin})),
    );
    assert_eq!(
        (s, e["error"].as_str()),
        (409, Some("awaiting_decision")),
        "{e}"
    );

    // The server goes away between the stages; a new process takes over.
    drop(srv);
    let srv = start(&hsm, data.path(), &log, "debug");
    let (user_token, _) = login(srv.port, "ivan");
    let w = World { user_token, ..w };
    assert_eq!(my_devices(srv.port, &w)[0]["status"], "pending");
    expect(
        srv.port,
        "POST",
        &format!("/api/v1/applications/{application}/approve"),
        ADMIN,
        None,
        200,
    );
    // A wrong PIN is its own error and changes nothing.
    let (s, e) = http(
        srv.port,
        "POST",
        &format!("/api/v1/me/devices/{device_id}/continue"),
        &w.user_token,
        Some(&json!({"user_pin": "86420975"})),
    );
    assert_eq!(
        (s, e["error"].as_str()),
        (422, Some("pin_incorrect")),
        "{e}"
    );
    assert_eq!(e["field"], "user_pin", "{e}");
    assert_eq!(my_devices(srv.port, &w)[0]["status"], "pending");
    let done = expect(
        srv.port,
        "POST",
        &format!("/api/v1/me/devices/{device_id}/continue"),
        &w.user_token,
        Some(&json!({"user_pin": pin})),
        200,
    );
    assert_eq!(done["status"], "issued", "{done}");
    assert!(done.get("user_pin").is_none(), "{done}");
    let key_id = done["key_id"].as_str().expect("key id").to_owned();
    let label = hsm_label(&hsm, done["serial"].as_str().expect("serial"));
    assert_on_token(&hsm, srv.port, &label, &pin, &key_id);
    // The user reports it lost: the certificate is revoked.
    let lost = expect(
        srv.port,
        "POST",
        &format!("/api/v1/me/devices/{device_id}/lost"),
        &w.user_token,
        None,
        200,
    );
    assert_eq!(lost["status"], "lost", "{lost}");
    let serial = lost["certificates"][0]
        .as_str()
        .expect("certificate serial");
    let cert = expect(
        srv.port,
        "GET",
        &format!("/api/v1/certificates/{serial}"),
        ADMIN,
        None,
        200,
    );
    assert_eq!(cert["status"], "revoked", "{cert}");
    assert_not_logged(&log, &[&pin, "Тверь-на-Волге", "86420975"]);
}

/// `pkcs11_module` in the configuration file (like `--pkcs11-module` and
/// `UTRUST_PKCS11_MODULE`): a module that is not there stops the server with
/// an error naming it.
#[test]
fn a_missing_pkcs11_module_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("utrust.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nlisten = \"127.0.0.1:{}\"\npkcs11_module = \"/nonexistent/libpkcs11-x.so\"\n",
            tmp.path().join("data").display(),
            free_port()
        ),
    )
    .expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("UTRUST_ADMIN_TOKEN", ADMIN)
        .env("UTRUST_LOG", "warn")
        .env_remove("UTRUST_PKCS11_MODULE")
        .output()
        .expect("run utrust-server");
    assert!(!out.status.success(), "serve must refuse a missing module");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/libpkcs11-x.so"), "{stderr}");
    // The environment variable names it the same way (and wins over the file).
    let out = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("UTRUST_ADMIN_TOKEN", ADMIN)
        .env("UTRUST_LOG", "warn")
        .env("UTRUST_PKCS11_MODULE", "/nonexistent/from-env.so")
        .output()
        .expect("run utrust-server");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/from-env.so"), "{stderr}");
}
