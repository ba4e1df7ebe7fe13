//! The case file end to end over real HTTP (issue #8): a `serve` process with
//! the SMEV simulator as its own process. For a service with every case-file
//! flag on, an application walks from submission to `completed` only when each
//! requirement is met, and every refusal on the way is a 409
//! `requirements_missing` naming what is missing; detached signatures made by
//! `openssl cms -sign` with the employee's certificate issued by our CA are
//! accepted, ones made with an unrelated key or over other content are refused;
//! the certificate is withheld from the applicant until completion; the ЕСИА
//! registration runs through the check worker (success and a failure with its
//! reason); with the flags off none of the steps appears.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_pki::{SoftwareKey, build_request, to_pem};

use crate::common::{skip_or_fail, template_from_json, tool_available};
use crate::external::{Server, free_port, healthz};

const TOKEN: &str = "case-file-test-token-0123456789";
const PASSWORD: &str = "correct-horse-battery-staple";

/// An HTTP answer.
struct Answer {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    #[track_caller]
    fn ok(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "unexpected answer: {}",
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    /// Asserts a 409 `requirements_missing` naming exactly `missing`.
    #[track_caller]
    fn missing(&self, missing: &[&str]) {
        let v = self.json();
        assert_eq!(self.status, 409, "expected 409: {v}");
        assert_eq!(v["error"], "requirements_missing", "{v}");
        let got: Vec<&str> = v["missing"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(got, missing, "{v}");
        for m in missing {
            assert!(
                v["message"].as_str().is_some_and(|t| t.contains(m)),
                "the message names {m}: {v}"
            );
        }
    }

    #[track_caller]
    fn error(&self, status: u16, code: &str) -> Value {
        let v = self.json();
        assert_eq!(
            (self.status, v["error"].as_str()),
            (status, Some(code)),
            "{v}"
        );
        v
    }
}

/// One HTTP/1.1 request.
fn http(
    port: u16,
    token: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let ct = content_type.map_or(String::new(), |c| format!("Content-Type: {c}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n{ct}\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("send");
    s.write_all(body).expect("send body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let headers = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status line");
    Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// The API as one principal.
#[derive(Clone)]
struct As {
    port: u16,
    token: String,
}

impl As {
    fn get(&self, path: &str) -> Answer {
        http(self.port, &self.token, "GET", path, None, &[])
    }
    fn post(&self, path: &str, body: &Value) -> Answer {
        http(
            self.port,
            &self.token,
            "POST",
            path,
            Some("application/json"),
            body.to_string().as_bytes(),
        )
    }
    fn post_empty(&self, path: &str) -> Answer {
        http(self.port, &self.token, "POST", path, None, &[])
    }
    fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Answer {
        http(
            self.port,
            &self.token,
            "POST",
            path,
            Some(content_type),
            body,
        )
    }
    fn create(&self, path: &str, body: &Value) -> Value {
        self.post(path, body).ok(201)
    }
    fn app(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/applications/{id}")).ok(200)
    }
    fn act(&self, id: &str, action: &str) -> Answer {
        self.post_empty(&format!("/api/v1/applications/{id}/{action}"))
    }
    fn upload(&self, id: &str, kind: &str, name: &str, content: &[u8]) -> Answer {
        self.post_raw(
            &format!("/api/v1/applications/{id}/files?kind={kind}&name={name}"),
            "application/pdf",
            content,
        )
    }
    fn sign(&self, id: &str, file: &str, signature: &[u8]) -> Answer {
        self.post_raw(
            &format!("/api/v1/applications/{id}/files/{file}/signature"),
            "application/pkcs7-signature",
            signature,
        )
    }
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

fn simulator() -> (Server, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["smev-sim", "--listen", &format!("127.0.0.1:{port}")])
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

fn server(data: &Path, sim_port: u16) -> (Server, u16) {
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

/// Polls the application until `pred` holds.
fn wait_for(api: &As, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let app = api.app(id);
        if pred(&app) {
            return app;
        }
        assert!(Instant::now() < deadline, "{what}: application is {app}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn owner(email: &str, patronymic: &str) -> Value {
    json!({"surname": "Иванов", "given_name": "Иван", "patronymic": patronymic,
           "snils": "11223344595", "inn": "500100732259", "email": email,
           "birth_date": "1985-04-12",
           "passport": {"series": "4510", "number": "123456", "issued_on": "2015-06-01",
                        "issuer_code": "770-001"}})
}

fn apply(api: &As, service: &str, point: &str, product: &str, owner: Value) -> String {
    api.create(
        "/api/v1/applications",
        &json!({"service_id": service, "point_id": point, "applicant_kind": "individual",
                "products": [product], "owner": owner}),
    )["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// Builds a CSR from the application's template with a fresh key; returns the
/// key (to sign with later) after attaching the CSR.
fn attach_csr(api: &As, id: &str) -> (SoftwareKey, Answer) {
    let t = api
        .get(&format!("/api/v1/applications/{id}/request-template"))
        .ok(200);
    let template = template_from_json(&t);
    let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let csr = to_pem(
        "CERTIFICATE REQUEST",
        &build_request(&template, &key).expect("csr"),
    );
    let r = api.post_raw(
        &format!("/api/v1/applications/{id}/csr"),
        "application/x-pem-file",
        csr.as_bytes(),
    );
    (key, r)
}

fn history_events(app: &Value) -> Vec<String> {
    app["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["event"].as_str().expect("event").to_owned())
        .collect()
}

/// `openssl cms -sign -binary -outform DER` of `content` with the PEM files.
fn cms_sign(dir: &Path, content: &[u8], cert: &Path, key: &Path) -> Vec<u8> {
    let input = dir.join("input.bin");
    let out = dir.join("sig.der");
    std::fs::write(&input, content).expect("write input");
    let st = Command::new("openssl")
        .args(["cms", "-sign", "-binary", "-outform", "DER", "-in"])
        .arg(&input)
        .arg("-signer")
        .arg(cert)
        .arg("-inkey")
        .arg(key)
        .arg("-out")
        .arg(&out)
        .status()
        .expect("openssl");
    assert!(st.success(), "openssl cms -sign failed");
    std::fs::read(&out).expect("signature")
}

fn sha256_hex(content: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, content)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

#[test]
#[allow(clippy::too_many_lines)]
fn every_flag_on_walks_to_completed_only_when_each_requirement_is_met() {
    if !tool_available("openssl", &["version"]) && skip_or_fail("openssl is not installed") {
        return;
    }
    let (_sim, sim_port) = simulator();
    let data = tempfile::tempdir().expect("tmp");
    let (_srv, port) = server(data.path(), sim_port);
    let admin = As {
        port,
        token: TOKEN.into(),
    };
    let work = tempfile::tempdir().expect("tmp");

    // Catalog: a priced product, a point, the full service and a plain one.
    let product = id_of(&admin.create(
        "/api/v1/products",
        &json!({"code": "KEP", "name": "КЭП", "oids": {"common": ["1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4"]}}),
    ));
    let org = id_of(&admin.create("/api/v1/organizations", &json!({"name": "ООО «Агент»"})));
    let point = id_of(&admin.create(
        "/api/v1/points",
        &json!({"parent_id": org, "name": "Точка", "email": "p@agent.example.ru"}),
    ));
    let full = id_of(&admin.create(
        "/api/v1/services",
        &json!({"name": "КЭП: всё включено", "products": [product], "points": [point],
                "smev_checks": ["passport", "snils"], "approval_required": true,
                "require_documents": true,
                "required_scans": ["passport", "snils", "signed_blank"],
                "require_document_signature": true, "passport_scan_on_verification": true,
                "certificate_after_completion": true, "issuance_confirmation": true,
                "card_payment": ["individual"], "price_from_kopecks": 150000,
                "esia_registration": true}),
    ));
    let plain = id_of(&admin.create(
        "/api/v1/services",
        &json!({"name": "КЭП", "products": [product], "points": [point]}),
    ));

    // The responsible employee, with a certificate our CA issues through the
    // plain service (owner e-mail = the employee's).
    let clerk_user = id_of(&admin.create(
        "/api/v1/users",
        &json!({"username": "clerk", "password": PASSWORD, "staff": true}),
    ));
    admin.create(
        "/api/v1/employees",
        &json!({"user_id": clerk_user, "surname": "Клерков", "given_name": "Пётр",
                "email": "clerk@agent.example.ru", "referral_id": point, "visibility": [point],
                "permissions": ["create_applications", "process_applications",
                                "approve_applications", "issue_certificates"]}),
    );
    let clerk = As {
        port,
        token: http(
            port,
            "",
            "POST",
            "/api/v1/sessions",
            Some("application/json"),
            json!({"username": "clerk", "password": PASSWORD})
                .to_string()
                .as_bytes(),
        )
        .ok(201)["token"]
            .as_str()
            .expect("token")
            .to_owned(),
    };
    let clerk_app = apply(
        &admin,
        &plain,
        &point,
        &product,
        owner("clerk@agent.example.ru", "Петрович"),
    );
    let (clerk_key, r) = attach_csr(&admin, &clerk_app);
    r.ok(200);
    let issued = admin.act(&clerk_app, "issue").ok(201);
    let clerk_cert = work.path().join("clerk.pem");
    let clerk_key_pem = work.path().join("clerk-key.pem");
    std::fs::write(&clerk_cert, issued["certificate"].as_str().expect("pem")).expect("cert");
    std::fs::write(&clerk_key_pem, clerk_key.to_pkcs8_pem()).expect("key");
    // An unrelated key: a self-signed certificate of openssl's own.
    let rogue_key = work.path().join("rogue-key.pem");
    let rogue_cert = work.path().join("rogue.pem");
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=Клерков П./O=utrust",
            "-days",
            "30",
            "-keyout",
        ])
        .arg(&rogue_key)
        .arg("-out")
        .arg(&rogue_cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl req");
    assert!(st.success());

    // The applicant applies for themselves.
    admin.create(
        "/api/v1/users",
        &json!({"username": "ivanov", "password": PASSWORD}),
    );
    let applicant = As {
        port,
        token: http(
            port,
            "",
            "POST",
            "/api/v1/sessions",
            Some("application/json"),
            json!({"username": "ivanov", "password": PASSWORD})
                .to_string()
                .as_bytes(),
        )
        .ok(201)["token"]
            .as_str()
            .expect("token")
            .to_owned(),
    };
    let app = apply(
        &applicant,
        &full,
        &point,
        &product,
        owner("ivanov@example.ru", "Иванович"),
    );
    let v = clerk.app(&app);
    assert_eq!(v["status"], "awaiting_documents");
    assert_eq!(v["payment"]["state"], "awaiting_method");
    assert_eq!(v["payment"]["methods"], json!(["card", "invoice"]));
    assert_eq!(v["esia_registration"]["status"], "pending");

    // Everything ahead is named: issuing, completing.
    let ahead = [
        "document:passport",
        "signature:passport",
        "document:snils",
        "signature:snils",
        "checks",
        "payment",
        "csr",
        "approval",
        "confirmation",
    ];
    clerk.act(&app, "issue").missing(&ahead);
    let mut closing: Vec<&str> = ahead.to_vec();
    closing.extend([
        "issuance",
        "document:signed_blank",
        "signature:signed_blank",
        "esia_registration",
    ]);
    clerk.act(&app, "complete").missing(&closing);
    // The CSR is not taken before its step either.
    let (_, r) = attach_csr(&clerk, &app);
    r.missing(&ahead[..6]);

    // Upload limits: media type, size, name.
    clerk
        .post_raw(
            &format!("/api/v1/applications/{app}/files?kind=passport&name=a.exe"),
            "application/x-msdownload",
            b"MZ",
        )
        .error(415, "unsupported_media_type");
    let big = vec![b'x'; 10 * 1024 * 1024 + 1];
    assert_eq!(clerk.upload(&app, "passport", "big.pdf", &big).status, 413);
    clerk
        .upload(&app, "passport", "..", b"%PDF")
        .error(422, "invalid_field");
    clerk
        .upload(&app, "selfie", "a.pdf", b"%PDF")
        .error(422, "invalid_field");

    // The passport scan: uploaded, listed with its hash, downloadable.
    let passport = b"%PDF-1.4 passport scan of Ivanov".to_vec();
    let file = clerk
        .upload(&app, "passport", "passport.pdf", &passport)
        .ok(201);
    let passport_id = id_of(&file);
    assert_eq!(file["sha256"], sha256_hex(&passport));
    assert_eq!(file["signature"], "unsigned");
    let listed = applicant
        .get(&format!("/api/v1/applications/{app}/files"))
        .ok(200);
    assert_eq!(listed["items"][0]["kind"], "passport");
    assert_eq!(listed["items"][0]["name"], "passport.pdf");
    assert_eq!(listed["items"][0]["size"], passport.len());
    assert_eq!(listed["items"][0]["media_type"], "application/pdf");
    assert_eq!(listed["items"][0]["sha256"], sha256_hex(&passport));
    let got = applicant.get(&format!("/api/v1/applications/{app}/files/{passport_id}"));
    assert_eq!(got.status, 200);
    assert_eq!(got.body, passport);
    assert!(
        got.headers
            .to_lowercase()
            .contains("content-type: application/pdf")
    );
    clerk.act(&app, "issue").missing(&ahead[1..]);

    // Signatures: an unrelated key and other content are refused; an applicant
    // may not sign; the employee's own signature is accepted.
    let rogue = cms_sign(work.path(), &passport, &rogue_cert, &rogue_key);
    clerk
        .sign(&app, &passport_id, &rogue)
        .error(422, "untrusted_signer");
    let other = cms_sign(work.path(), b"other content", &clerk_cert, &clerk_key_pem);
    let e = clerk.sign(&app, &passport_id, &other);
    assert_eq!(e.status, 422, "{}", String::from_utf8_lossy(&e.body));
    assert!(
        matches!(
            e.json()["error"].as_str(),
            Some("content_mismatch" | "bad_signature")
        ),
        "{}",
        e.json()
    );
    let good = cms_sign(work.path(), &passport, &clerk_cert, &clerk_key_pem);
    applicant
        .sign(&app, &passport_id, &good)
        .error(403, "forbidden");
    // openssl agrees with what we accept.
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, admin.get("/api/v1/ca/certificate").body).expect("ca");
    std::fs::write(work.path().join("good.der"), &good).expect("sig");
    std::fs::write(work.path().join("passport.pdf"), &passport).expect("content");
    let verified = Command::new("openssl")
        .args([
            "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any", "-in",
        ])
        .arg(work.path().join("good.der"))
        .arg("-content")
        .arg(work.path().join("passport.pdf"))
        .arg("-CAfile")
        .arg(&ca)
        .args(["-out", "/dev/null"])
        .stderr(Stdio::null())
        .status()
        .expect("openssl cms -verify");
    assert!(
        verified.success(),
        "openssl cms -verify refuses what we accept"
    );
    let signed = clerk.sign(&app, &passport_id, &good).ok(200);
    assert_eq!(signed["signature"], "signed");
    assert_eq!(signed["signer"]["serial"], issued["serial"]);
    clerk
        .sign(&app, &passport_id, &good)
        .error(409, "duplicate");
    clerk.act(&app, "issue").missing(&ahead[2..]);

    // SNILS: uploaded and signed, the documents step is done; the checks run.
    let snils = b"%PDF-1.4 SNILS".to_vec();
    let snils_id = id_of(&clerk.upload(&app, "snils", "snils.pdf", &snils).ok(201));
    assert_eq!(clerk.app(&app)["status"], "awaiting_documents");
    let sig = cms_sign(work.path(), &snils, &clerk_cert, &clerk_key_pem);
    clerk.sign(&app, &snils_id, &sig).ok(200);
    let v = wait_for(&clerk, &app, "checks pass", |a| {
        a["status"] == "awaiting_payment"
    });
    assert!(v["checks"].as_array().is_some_and(|c| c.len() == 2), "{v}");

    // Payment: a method first (card is allowed for individuals), then paid.
    clerk.act(&app, "paid").missing(&["payment_method"]);
    clerk
        .post(
            &format!("/api/v1/applications/{app}/payment"),
            &json!({"method": "cheque"}),
        )
        .error(422, "invalid_field");
    let v = applicant
        .post(
            &format!("/api/v1/applications/{app}/payment"),
            &json!({"method": "card"}),
        )
        .ok(200);
    assert_eq!(v["payment"]["method"], "card");
    assert_eq!(v["payment"]["state"], "awaiting_payment");
    applicant.act(&app, "paid").error(403, "forbidden");
    let v = clerk.act(&app, "paid").ok(200);
    assert_eq!(v["status"], "awaiting_csr");
    assert_eq!(v["payment"]["state"], "paid");

    // CSR, approval, then the separate confirmation step.
    let (_, r) = attach_csr(&clerk, &app);
    assert_eq!(r.ok(200)["status"], "awaiting_approval");
    // Waiting for the CA's approval is not a case-file step: the usual refusal.
    clerk.act(&app, "issue").error(409, "invalid_transition");
    let v = clerk.act(&app, "approve").ok(200);
    assert_eq!(v["status"], "awaiting_confirmation");
    clerk.act(&app, "issue").missing(&["confirmation"]);
    assert_eq!(
        applicant.act(&app, "confirm").ok(200)["status"],
        "ready_to_issue"
    );
    let cert = clerk.act(&app, "issue").ok(201);
    let serial = cert["serial"].as_str().expect("serial").to_owned();

    // Issued: withheld from the applicant, shown to staff.
    applicant
        .get(&format!("/api/v1/applications/{app}/certificate"))
        .error(409, "certificate_withheld");
    applicant
        .get(&format!("/api/v1/certificates/{serial}"))
        .error(409, "certificate_withheld");
    assert_eq!(
        clerk
            .get(&format!("/api/v1/applications/{app}/certificate"))
            .status,
        200
    );

    // ЕСИА registration through the check worker.
    let v = wait_for(&clerk, &app, "ESIA registration", |a| {
        a["esia_registration"]["status"] == "succeeded"
    });
    assert_eq!(v["status"], "issued");
    clerk
        .act(&app, "complete")
        .missing(&["document:signed_blank", "signature:signed_blank"]);
    let blank = b"%PDF-1.4 signed certificate blank".to_vec();
    let blank_id = id_of(
        &clerk
            .upload(&app, "signed_blank", "blank.pdf", &blank)
            .ok(201),
    );
    clerk
        .act(&app, "complete")
        .missing(&["signature:signed_blank"]);
    let sig = cms_sign(work.path(), &blank, &clerk_cert, &clerk_key_pem);
    clerk.sign(&app, &blank_id, &sig).ok(200);
    applicant.act(&app, "complete").error(403, "forbidden");
    let v = clerk.act(&app, "complete").ok(200);
    assert_eq!(v["status"], "completed");
    assert_eq!(
        history_events(&v),
        [
            "submit",
            "documents_complete",
            "checks_passed",
            "payment_received",
            "csr_accepted",
            "approve",
            "confirm",
            "start_issuing",
            "ca_issued",
            "complete"
        ]
    );
    // Completed: the applicant gets the certificate; the case file is closed.
    let pem = applicant.get(&format!("/api/v1/applications/{app}/certificate"));
    assert_eq!(pem.status, 200);
    assert!(String::from_utf8_lossy(&pem.body).contains("BEGIN CERTIFICATE"));
    applicant
        .get(&format!("/api/v1/certificates/{serial}"))
        .ok(200);
    clerk
        .upload(&app, "additional", "late.pdf", b"%PDF late")
        .error(409, "case_closed");
    let files = clerk
        .get(&format!("/api/v1/applications/{app}/files"))
        .ok(200);
    let states: Vec<&str> = files["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|f| f["signature"].as_str().expect("state"))
        .collect();
    assert_eq!(states, ["signed", "signed", "signed"]);
}

#[test]
fn single_flags_passport_on_verification_and_esia_failure_and_none() {
    let (_sim, sim_port) = simulator();
    let data = tempfile::tempdir().expect("tmp");
    let (_srv, port) = server(data.path(), sim_port);
    let admin = As {
        port,
        token: TOKEN.into(),
    };
    let product = id_of(&admin.create(
        "/api/v1/products",
        &json!({"code": "KEP", "name": "КЭП", "oids": {"common": ["1.3.6.1.5.5.7.3.2"]}}),
    ));
    let org = id_of(&admin.create("/api/v1/organizations", &json!({"name": "Агент"})));
    let point = id_of(&admin.create(
        "/api/v1/points",
        &json!({"parent_id": org, "name": "Точка", "email": "p@agent.example.ru"}),
    ));
    let service = |body: Value| {
        let mut b = json!({"name": "КЭП", "products": [product], "points": [point]});
        if let (Some(o), Some(extra)) = (b.as_object_mut(), body.as_object()) {
            o.extend(extra.clone());
        }
        id_of(&admin.create("/api/v1/services", &b))
    };

    // Passport scan on verification only: the CSR waits for the passport scan.
    let svc = service(json!({"passport_scan_on_verification": true}));
    let app = apply(
        &admin,
        &svc,
        &point,
        &product,
        owner("a@example.ru", "Иванович"),
    );
    assert_eq!(admin.app(&app)["status"], "awaiting_csr");
    let (_, r) = attach_csr(&admin, &app);
    r.missing(&["document:passport"]);
    admin
        .upload(&app, "passport", "p.pdf", b"%PDF passport")
        .ok(201);
    let (_, r) = attach_csr(&admin, &app);
    assert_eq!(r.ok(200)["status"], "ready_to_issue");

    // ЕСИА registration only, for an owner without an ЕСИА account: failed with
    // the reason, completion names it, a retry is a new attempt.
    let svc = service(json!({"esia_registration": true}));
    let app = apply(
        &admin,
        &svc,
        &point,
        &product,
        owner("b@example.ru", "Безесиевич"),
    );
    let (_, r) = attach_csr(&admin, &app);
    r.ok(200);
    admin.act(&app, "issue").ok(201);
    let v = wait_for(&admin, &app, "ESIA failure", |a| {
        a["esia_registration"]["status"] == "failed"
    });
    assert!(
        v["esia_registration"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no confirmed ESIA account")),
        "{v}"
    );
    admin.act(&app, "complete").missing(&["esia_registration"]);
    let v = admin.act(&app, "esia-registration").ok(200);
    assert_eq!(v["esia_registration"]["attempt"], 1);
    // A succeeded or pending registration is not retried.
    wait_for(&admin, &app, "second attempt", |a| {
        a["esia_registration"]["status"] == "failed" && a["esia_registration"]["attempt"] == 1
    });

    // Every flag off: none of the steps appears, completion is immediate.
    let svc = service(json!({}));
    let app = apply(
        &admin,
        &svc,
        &point,
        &product,
        owner("c@example.ru", "Иванович"),
    );
    let v = admin.app(&app);
    assert_eq!(v["status"], "awaiting_csr");
    for key in ["payment", "esia_registration"] {
        assert!(v.get(key).is_none(), "{key} appears: {v}");
    }
    let (_, r) = attach_csr(&admin, &app);
    assert_eq!(r.ok(200)["status"], "ready_to_issue");
    admin.act(&app, "issue").ok(201);
    admin
        .post(
            &format!("/api/v1/applications/{app}/payment"),
            &json!({"method": "invoice"}),
        )
        .error(422, "invalid_field");
    let v = admin.act(&app, "complete").ok(200);
    assert_eq!(v["status"], "completed");
    assert_eq!(
        history_events(&v),
        [
            "submit",
            "csr_accepted",
            "start_issuing",
            "ca_issued",
            "complete"
        ]
    );
    assert!(
        admin
            .get(&format!("/api/v1/applications/{app}/files"))
            .ok(200)["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
}
