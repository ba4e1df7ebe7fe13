//! Notifications over real SMTP: a real `utrust-server serve` process sends
//! through `lettre` to a real SMTP sink on loopback (Python's `aiosmtpd`). The
//! sink receives exactly what the configuration promises — the client data when
//! the service says `email`, a status notice per transition to the owner and to
//! the employees with notifications on who see the point — and no message carries
//! a secret. The device-PIN hook mails the PIN only when the policy says so.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use utrust_core::domain::devices::PinDelivery;
use utrust_core::domain::identifiers::Email;
use utrust_core::domain::secret::Secret;
use utrust_server::notify::SmtpNotifier;

use crate::common::{KEP_COMMON, csr_pem, skip_or_fail, template_from_json, tool_available};
use crate::external::{Server, free_port, healthz};

const TOKEN: &str = "notifications-test-token-0123456789";
const PASSWORD: &str = "correct-horse-battery-staple";

/// The sink: one JSON line per message (envelope recipients, subject, body).
const SINK: &str = r#"
import email, json, socket, sys
from email import policy
from aiosmtpd.controller import Controller

out = sys.argv[1]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(msg["Subject"]),
            "body": body.get_content() if body is not None else "",
        }
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return "250 OK"

s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
controller = Controller(Handler(), hostname="127.0.0.1", port=port)
controller.start()
print(port, flush=True)
try:
    sys.stdin.read()
finally:
    controller.stop()
"#;

struct Sink {
    child: Child,
    port: u16,
    mailbox: PathBuf,
}

impl Sink {
    fn start(dir: &Path) -> Option<Self> {
        if !tool_available("python3", &["-c", "import aiosmtpd"]) {
            skip_or_fail("python3 with aiosmtpd is not installed (pip install aiosmtpd)");
            return None;
        }
        let mailbox = dir.join("mailbox.jsonl");
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SINK)
            .arg(&mailbox)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the sink's port");
        let port = line.trim().parse().expect("sink port");
        Some(Self {
            child,
            port,
            mailbox,
        })
    }

    /// `(recipient, subject, body)` of every message so far.
    fn messages(&self) -> Vec<(String, String, String)> {
        let text = std::fs::read_to_string(&self.mailbox).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("sink record");
                let rcpt = v["rcpt_tos"].as_array().expect("rcpt");
                assert_eq!(rcpt.len(), 1, "one recipient per message: {v}");
                (
                    rcpt[0].as_str().expect("rcpt").to_owned(),
                    v["subject"].as_str().expect("subject").to_owned(),
                    v["body"].as_str().expect("body").to_owned(),
                )
            })
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to the real server; `(status, JSON body)`.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>, auth: &str) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: Bearer {auth}\r\nContent-Length: {}\r\n",
        payload.len()
    );
    if body.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str("\r\n");
    req.push_str(&payload);
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let json = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, json)
}

fn ok(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
    let (status, v) = http(port, method, path, body, TOKEN);
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {v}"
    );
    v
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

fn start_server(data: &Path, smtp_port: u16) -> (Server, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--smtp-url", &format!("smtp://127.0.0.1:{smtp_port}")])
        .args(["--smtp-from", "utrust <noreply@uc.example.ru>"])
        .env("UTRUST_ADMIN_TOKEN", TOKEN)
        .env("UTRUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start utrust-server");
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while healthz(port).is_none() {
        if let Some(status) = server.0.try_wait().expect("poll") {
            panic!("utrust-server exited: {status}");
        }
        assert!(Instant::now() < deadline, "utrust-server not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, port)
}

fn employee(port: u16, name: &str, email: &str, notify: bool, referral: &str) {
    let user = ok(
        port,
        "POST",
        "/api/v1/users",
        Some(&json!({"username": name, "password": PASSWORD, "staff": true})),
    );
    ok(
        port,
        "POST",
        "/api/v1/employees",
        Some(
            &json!({"user_id": id(&user), "surname": name, "given_name": "Тест",
                     "email": email, "notify": notify, "referral_id": referral,
                     "permissions": ["process_applications"]}),
        ),
    );
}

fn application(service: &str, point: &str, kep: &str, email: &str) -> Value {
    json!({"service_id": service, "point_id": point, "applicant_kind": "individual",
           "products": [kep],
           "owner": {"surname": "Иванов", "given_name": "Иван", "patronymic": "Иванович",
                     "snils": "112-233-445 95", "inn": "500100732259", "email": email}})
}

#[test]
fn the_sink_receives_exactly_the_promised_messages_and_no_secret() {
    if !tool_available("python3", &["--version"]) && skip_or_fail("python3 is not installed") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(sink) = Sink::start(tmp.path()) else {
        return;
    };
    let (_server, port) = start_server(&tmp.path().join("data"), sink.port);

    let kep = ok(
        port,
        "POST",
        "/api/v1/products",
        Some(&json!({"code": "KEP", "name": "КЭП", "oids": {"common": KEP_COMMON}})),
    );
    let org = ok(
        port,
        "POST",
        "/api/v1/organizations",
        Some(&json!({"name": "ООО «Агент»"})),
    );
    let other_org = ok(
        port,
        "POST",
        "/api/v1/organizations",
        Some(&json!({"name": "ООО «Другой»"})),
    );
    let point = ok(
        port,
        "POST",
        "/api/v1/points",
        Some(
            &json!({"parent_id": id(&org), "name": "Точка", "email": "point@agent.example.ru",
                     "region": "77"}),
        ),
    );
    let by_mail = ok(
        port,
        "POST",
        "/api/v1/services",
        Some(
            &json!({"name": "Данные клиенту по почте", "products": [id(&kep)],
                     "points": [id(&point)], "credentials_delivery": "email"}),
        ),
    );
    let by_sms = ok(
        port,
        "POST",
        "/api/v1/services",
        Some(
            &json!({"name": "Данные клиенту по SMS", "products": [id(&kep)],
                     "points": [id(&point)], "credentials_delivery": "sms"}),
        ),
    );
    // Employees: notified at the point, not notified at the point, notified elsewhere.
    employee(port, "olga", "olga@agent.example.ru", true, &id(&org));
    employee(port, "pavel", "pavel@agent.example.ru", false, &id(&point));
    employee(port, "rita", "rita@other.example.ru", true, &id(&other_org));
    assert!(sink.messages().is_empty(), "{:?}", sink.messages());

    // Service with client data by e-mail: submitted, CSR accepted, issued.
    let owner = "ivanov@client.example.ru";
    let app = ok(
        port,
        "POST",
        "/api/v1/applications",
        Some(&application(&id(&by_mail), &id(&point), &id(&kep), owner)),
    );
    let template = ok(
        port,
        "GET",
        &format!("/api/v1/applications/{}/request-template", id(&app)),
        None,
    );
    let csr = csr_pem(&template_from_json(&template));
    ok(
        port,
        "POST",
        &format!("/api/v1/applications/{}/csr", id(&app)),
        Some(&json!({"csr": csr})),
    );
    ok(
        port,
        "POST",
        &format!("/api/v1/applications/{}/issue", id(&app)),
        None,
    );

    // Service with client data by SMS (no e-mail of it), cancelled.
    let second = ok(
        port,
        "POST",
        "/api/v1/applications",
        Some(&application(&id(&by_sms), &id(&point), &id(&kep), owner)),
    );
    ok(
        port,
        "POST",
        &format!("/api/v1/applications/{}/cancel", id(&second)),
        Some(&json!({"reason": "передумал"})),
    );

    let got = sink.messages();
    let mut per_recipient: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (to, subject, _) in &got {
        per_recipient
            .entry(to.as_str())
            .or_default()
            .push(subject.as_str());
    }
    // Owner: client data (1) + submitted, CSR accepted, issued (3) + submitted,
    // cancelled (2). Olga (notify, sees the point): the 5 status notices.
    // Pavel (notify off) and Rita (another organization): nothing.
    assert_eq!(
        per_recipient.keys().copied().collect::<Vec<_>>(),
        vec!["ivanov@client.example.ru", "olga@agent.example.ru"],
        "{got:#?}"
    );
    assert_eq!(
        per_recipient["ivanov@client.example.ru"].len(),
        6,
        "{got:#?}"
    );
    assert_eq!(per_recipient["olga@agent.example.ru"].len(), 5, "{got:#?}");
    assert_eq!(got.len(), 11);
    let client_data: Vec<_> = got
        .iter()
        .filter(|(_, s, _)| s.contains("принята"))
        .collect();
    assert_eq!(client_data.len(), 1, "{got:#?}");
    assert_eq!(client_data[0].0, owner);
    assert!(client_data[0].2.contains(&id(&app)));
    assert!(client_data[0].2.contains("Данные клиенту по почте"));
    // The client data carries the applicant's login and a password that works.
    let body = &client_data[0].2;
    assert!(body.contains(&format!("Логин: {owner}")), "{body}");
    let password = body
        .lines()
        .find_map(|l| l.strip_prefix("Пароль: "))
        .expect("a password line")
        .trim()
        .to_owned();
    assert_eq!(password.len(), 12);
    let (status, session) = http(
        port,
        "POST",
        "/api/v1/sessions",
        Some(&json!({"username": owner, "password": password})),
        "",
    );
    assert!((200..300).contains(&status), "login: {status} {session}");
    let token = session["token"].as_str().expect("session token").to_owned();
    let (status, mine) = http(
        port,
        "GET",
        &format!("/api/v1/applications/{}", id(&app)),
        None,
        &token,
    );
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["status"], "issued");
    // The password is in that one message only.
    assert_eq!(
        got.iter().filter(|(_, _, b)| b.contains(&password)).count(),
        1
    );
    let issued: Vec<_> = got
        .iter()
        .filter(|(_, s, _)| s.ends_with(": issued"))
        .collect();
    assert_eq!(issued.len(), 2, "owner and Olga: {got:#?}");
    assert!(got.iter().all(|(_, s, _)| !s.ends_with(": issuing")));
    let cancelled: Vec<_> = got
        .iter()
        .filter(|(_, s, _)| s.ends_with(": cancelled"))
        .collect();
    assert_eq!(cancelled.len(), 2, "{got:#?}");
    assert!(cancelled.iter().all(|(_, _, b)| b.contains("передумал")));
    // No secret in any message: no password, no token, no PIN.
    for (_, subject, body) in &got {
        for secret in [PASSWORD, TOKEN] {
            assert!(
                !subject.contains(secret) && !body.contains(secret),
                "{body}"
            );
        }
        assert!(!body.contains("PIN"), "{body}");
    }
}

#[tokio::test]
async fn the_device_pin_is_mailed_only_when_the_policy_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(sink) = Sink::start(tmp.path()) else {
        return;
    };
    let notifier = SmtpNotifier::new(
        &format!("smtp://127.0.0.1:{}", sink.port),
        "utrust <noreply@uc.example.ru>",
    )
    .expect("notifier");
    let (engine, _) = utrust_server::bootstrap::embedded_engine(&tmp.path().join("data"))
        .await
        .expect("engine");
    let engine = engine.with_notifier(Arc::new(notifier));
    let user = Email::parse("user@client.example.ru").expect("email");
    let manager = Email::parse("manager@client.example.ru").expect("email");
    let pin = Secret::new("73914608");

    let sent = engine
        .mail_device_pin(
            PinDelivery::ShowOnce,
            &user,
            Some(&manager),
            "Рутокен 0001",
            &pin,
        )
        .await
        .expect("show once");
    assert!(!sent);
    assert!(sink.messages().is_empty());

    assert!(
        engine
            .mail_device_pin(
                PinDelivery::ShowAndMailUser,
                &user,
                Some(&manager),
                "Рутокен 0001",
                &pin
            )
            .await
            .expect("mail user")
    );
    assert!(
        engine
            .mail_device_pin(
                PinDelivery::ShowAndMailManager,
                &user,
                Some(&manager),
                "Рутокен 0002",
                &pin
            )
            .await
            .expect("mail manager")
    );
    let err = engine
        .mail_device_pin(
            PinDelivery::ShowAndMailManager,
            &user,
            None,
            "Рутокен 0003",
            &pin,
        )
        .await
        .expect_err("no manager");
    assert_eq!(err.field().as_deref(), Some("manager_email"));

    let got = sink.messages();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].0, "user@client.example.ru");
    assert!(got[0].2.contains("73914608") && got[0].2.contains("Рутокен 0001"));
    assert_eq!(got[1].0, "manager@client.example.ru");
    assert!(got[1].2.contains("73914608") && got[1].2.contains("Рутокен 0002"));

    // An unreachable SMTP server: the PIN could not be delivered, and says so.
    let dead = SmtpNotifier::new(
        &format!("smtp://127.0.0.1:{}", free_port()),
        "utrust <noreply@uc.example.ru>",
    )
    .expect("notifier");
    let engine = engine.with_notifier(Arc::new(dead));
    let err = engine
        .mail_device_pin(
            PinDelivery::ShowAndMailUser,
            &user,
            None,
            "Рутокен 0004",
            &pin,
        )
        .await
        .expect_err("undeliverable");
    assert_eq!(err.code(), "notification_failed");
}
