//! Expiry reminders through the real SMTP notifier to a real SMTP sink on
//! loopback (Python's `aiosmtpd`), on the embedded engine (SQLite + local CA)
//! with a clock moved forward: exactly one message per certificate per window,
//! to the owner, naming the serial; none for a service with reminders off, an
//! owner who asked for no notices, or revoked and suspended certificates.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use serde_json::Value;
use time::{Duration, OffsetDateTime};
use utrust_core::domain::agents::{IssuingPoint, PointParent};
use utrust_core::domain::application::{Account, Actor, Address, CertificateOwner};
use utrust_core::domain::catalog::{Product, Service};
use utrust_core::domain::certificate::CertificateRecord;
use utrust_core::domain::identifiers::{Email, Inn, Snils};
use utrust_core::domain::ids::{PointId, ProductId};
use utrust_core::domain::quota::Allotment;
use utrust_core::domain::revocation::RevocationReason;
use utrust_core::ports::ManualClock;
use utrust_core::{Engine, NewApplication};
use utrust_pki::{SoftwareKey, build_request};
use utrust_server::notify::SmtpNotifier;

use crate::common::{skip_or_fail, tool_available};

/// The sink: every message received is appended to a file as one JSON line
/// (envelope recipients, decoded subject and body). It prints its port once it
/// listens and runs until its stdin closes.
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
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "to": str(msg["To"]),
            "from": str(msg["From"]),
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

/// A running sink; stopped (stdin closed, then killed) on drop.
struct SmtpSink {
    child: Child,
    port: u16,
    mailbox: PathBuf,
}

impl SmtpSink {
    /// Starts the sink, or `None` (SKIPPED; a failure under CI) when python3 or
    /// aiosmtpd is missing.
    fn start(dir: &Path) -> Option<Self> {
        if !tool_available("python3", &["--version"]) {
            skip_or_fail("python3 is not installed");
            return None;
        }
        if !tool_available("python3", &["-c", "import aiosmtpd"]) {
            skip_or_fail("the Python package aiosmtpd is not installed (pip install aiosmtpd)");
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
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("SMTP sink did not start ({e}): {line:?}"));
        Some(Self {
            child,
            port,
            mailbox,
        })
    }

    /// Messages received so far.
    fn messages(&self) -> Vec<Value> {
        match std::fs::read_to_string(&self.mailbox) {
            Ok(text) => text
                .lines()
                .map(|l| serde_json::from_str(l).expect("sink record"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("mailbox: {e}"),
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn owner(email: &str) -> CertificateOwner {
    CertificateOwner {
        surname: "Иванов".into(),
        given_name: "Иван".into(),
        patronymic: Some("Иванович".into()),
        snils: Snils::parse("112-233-445 95").expect("snils"),
        inn: Inn::parse("500100732259").expect("inn"),
        email: Email::parse(email).expect("email"),
        birth_date: None,
        passport: None,
        position: None,
    }
}

struct World {
    engine: Engine,
    clock: Arc<ManualClock>,
    point: PointId,
    product: ProductId,
    reminders: Service,
    quiet: Service,
}

impl World {
    /// Submits, builds and attaches a real CSR, issues.
    async fn issue(&self, service: &Service, email: &str, notice: bool) -> CertificateRecord {
        let admin = Actor::Admin("test".into());
        let app = self
            .engine
            .submit(
                NewApplication {
                    service_id: service.id,
                    point_id: self.point,
                    products: vec![self.product],
                    account: Account::Individual,
                    owner: owner(email),
                    address: Address::default(),
                    renewal_notice: notice,
                },
                admin.clone(),
            )
            .await
            .expect("submit");
        let template = self
            .engine
            .request_template(app.id)
            .await
            .expect("template");
        let key = SoftwareKey::generate(template.key_algorithm).expect("key");
        let csr = build_request(&template, &key).expect("csr");
        self.engine
            .attach_csr(app.id, &csr, admin.clone())
            .await
            .expect("csr");
        self.engine.issue(app.id, admin).await.expect("issue")
    }
}

async fn world(dir: &Path, smtp_port: u16) -> World {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let notifier = SmtpNotifier::new(
        &format!("smtp://127.0.0.1:{smtp_port}"),
        "utrust <noreply@example.ru>",
    )
    .expect("smtp notifier");
    let (engine, _) = utrust_server::bootstrap::embedded_engine(dir)
        .await
        .expect("embedded engine");
    let engine = engine
        .with_notifier(Arc::new(notifier))
        .with_clock(clock.clone());
    let product = engine
        .create_product(Product::new("KEP", "Квалифицированная электронная подпись"))
        .await
        .expect("product");
    let mut org = utrust_core::domain::agents::Organization::new("ООО «Агент УЦ»");
    org.inn = None;
    let org = engine.create_organization(org).await.expect("org");
    let point = engine
        .create_point(IssuingPoint::new(
            PointParent::Organization(org.id),
            "Точка",
            Email::parse("point@example.ru").expect("email"),
            Allotment::Unlimited,
        ))
        .await
        .expect("point");
    let mut reminders = Service::new("Выпуск с напоминаниями");
    reminders.products = vec![product.id];
    reminders.points = vec![point.id];
    reminders.validity_days = 30;
    reminders.renewal_reminders = true;
    let reminders = engine.create_service(reminders).await.expect("service");
    let mut quiet = Service::new("Выпуск без напоминаний");
    quiet.products = vec![product.id];
    quiet.points = vec![point.id];
    quiet.validity_days = 30;
    quiet.renewal_reminders = false;
    let quiet = engine.create_service(quiet).await.expect("service");
    World {
        engine,
        clock,
        point: point.id,
        product: product.id,
        reminders,
        quiet,
    }
}

/// (recipient, serial) of each message, sorted; checks envelope, headers and
/// body on the way.
fn received(messages: &[Value], certs: &[(&str, &CertificateRecord)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = messages
        .iter()
        .map(|m| {
            let rcpt: Vec<&str> = m["rcpt_tos"]
                .as_array()
                .expect("rcpt_tos")
                .iter()
                .map(|r| r.as_str().expect("rcpt"))
                .collect();
            assert_eq!(rcpt.len(), 1, "{m}");
            assert_eq!(m["to"], rcpt[0], "{m}");
            assert_eq!(m["mail_from"], "noreply@example.ru", "{m}");
            let subject = m["subject"].as_str().expect("subject");
            let (_, cert) = certs
                .iter()
                .find(|(_, c)| subject.contains(&c.serial.to_string()))
                .unwrap_or_else(|| panic!("subject names no expected serial: {m}"));
            assert!(subject.contains("Срок действия"), "{m}");
            let body = m["body"].as_str().expect("body");
            assert!(body.contains(&cert.serial.to_string()), "{m}");
            assert!(body.contains("Иванов Иван Иванович"), "{m}");
            (rcpt[0].to_owned(), cert.serial.to_string())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn one_reminder_per_certificate_per_window_over_smtp() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(sink) = SmtpSink::start(tmp.path()) else {
        return;
    };
    let w = world(&tmp.path().join("data"), sink.port).await;
    let a = w.issue(&w.reminders, "anna@example.ru", true).await;
    let b = w.issue(&w.reminders, "boris@example.ru", true).await;
    let c = w.issue(&w.reminders, "clara@example.ru", true).await;
    let _no_notice = w.issue(&w.reminders, "dmitry@example.ru", false).await;
    let _quiet = w.issue(&w.quiet, "elena@example.ru", true).await;
    let revoked = w.issue(&w.reminders, "fedor@example.ru", true).await;
    let held = w.issue(&w.reminders, "galina@example.ru", true).await;
    let admin = Actor::Admin("test".into());
    w.engine
        .revoke(
            &revoked.serial,
            RevocationReason::KeyCompromise,
            admin.clone(),
        )
        .await
        .expect("revoke");
    w.engine
        .suspend(&held.serial, admin)
        .await
        .expect("suspend");
    let eligible = [
        ("anna@example.ru", &a),
        ("boris@example.ru", &b),
        ("clara@example.ru", &c),
    ];
    let mut want: Vec<(String, String)> = eligible
        .iter()
        .map(|(m, c)| ((*m).to_owned(), c.serial.to_string()))
        .collect();
    want.sort();

    // Thirty days left: nothing within a week.
    let week = Duration::days(7);
    assert_eq!(w.engine.send_expiry_reminders(week).await.expect("send"), 0);
    assert!(sink.messages().is_empty());

    w.clock.advance(Duration::days(25));
    assert_eq!(w.engine.send_expiry_reminders(week).await.expect("send"), 3);
    let first = sink.messages();
    assert_eq!(received(&first, &eligible), want);
    // The same window again: nothing more.
    assert_eq!(w.engine.send_expiry_reminders(week).await.expect("send"), 0);
    assert_eq!(sink.messages().len(), 3);

    // Another window: its own reminder, once.
    let month = Duration::days(30);
    assert_eq!(
        w.engine.send_expiry_reminders(month).await.expect("send"),
        3
    );
    assert_eq!(
        w.engine.send_expiry_reminders(month).await.expect("send"),
        0
    );
    let all = sink.messages();
    assert_eq!(all.len(), 6);
    assert_eq!(received(&all[3..], &eligible), want);

    // Later runs of both windows send nothing; after expiry neither.
    w.clock.advance(Duration::days(3));
    assert_eq!(w.engine.send_expiry_reminders(week).await.expect("send"), 0);
    assert_eq!(
        w.engine.send_expiry_reminders(month).await.expect("send"),
        0
    );
    w.clock.advance(Duration::days(3));
    assert_eq!(w.engine.expire_certificates().await.expect("expire"), 6);
    assert_eq!(
        w.engine
            .send_expiry_reminders(Duration::days(90))
            .await
            .expect("send"),
        0
    );
    assert_eq!(sink.messages().len(), 6);
}

/// A relay that is down: the claim is released and the next run delivers.
#[tokio::test]
async fn an_unreachable_relay_is_retried_on_the_next_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(sink) = SmtpSink::start(tmp.path()) else {
        return;
    };
    // A port where nothing listens: bind and release one.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_port = dead.local_addr().expect("addr").port();
    drop(dead);
    let w = world(&tmp.path().join("data"), dead_port).await;
    let a = w.issue(&w.reminders, "anna@example.ru", true).await;
    w.clock.advance(Duration::days(25));
    assert_eq!(
        w.engine
            .send_expiry_reminders(Duration::days(7))
            .await
            .expect("send"),
        0
    );

    // The same store, now with a working relay.
    let engine = w.engine.clone().with_notifier(Arc::new(
        SmtpNotifier::new(
            &format!("smtp://127.0.0.1:{}", sink.port),
            "utrust <noreply@example.ru>",
        )
        .expect("smtp notifier"),
    ));
    assert_eq!(
        engine
            .send_expiry_reminders(Duration::days(7))
            .await
            .expect("send"),
        1
    );
    assert_eq!(
        engine
            .send_expiry_reminders(Duration::days(7))
            .await
            .expect("send"),
        0
    );
    assert_eq!(
        received(&sink.messages(), &[("anna@example.ru", &a)]),
        [("anna@example.ru".to_owned(), a.serial.to_string())]
    );
}
