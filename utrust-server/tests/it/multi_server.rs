//! Exact quotas over HTTP with real server processes, driven from outside by
//! `tests/e2e/quota_load.py` (200 concurrent issuances, limit 25 and product
//! quantity 25): one server on the embedded SQLite, and two servers sharing one
//! PostgreSQL database and one CA whose key is stored sealed in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{skip_or_fail, tool_available};
use crate::external::{Server, free_port, healthz};

const TOKEN: &str = "multi-server-test-token-0123456789";

fn missing_tools() -> Option<String> {
    if !tool_available("python3", &["-c", "import cryptography.x509"]) {
        return Some("python3 with the `cryptography` module is not installed".into());
    }
    None
}

fn start(args: &[&str], data: &Path) -> (Server, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .env("UTRUST_ADMIN_TOKEN", TOKEN)
        .env("UTRUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start utrust-server");
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while healthz(port).is_none() {
        if let Some(status) = server.0.try_wait().expect("poll server") {
            panic!("utrust-server exited before becoming ready: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "utrust-server not ready on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, port)
}

fn load(ports: &[u16], extra: &[&str]) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/quota_load.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script).args(["--token", TOKEN]);
    for p in ports {
        cmd.args(["--base-url", &format!("http://127.0.0.1:{p}")]);
    }
    let out = cmd.args(extra).output().expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "quota_load.py failed ({}):\n{}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).expect("quota_load.py prints JSON")
}

fn assert_exact(summary: &serde_json::Value) {
    for scenario in ["limit", "quantity"] {
        let s = &summary[scenario];
        assert_eq!(s["issued"], 25, "{scenario}: {s}");
        assert_eq!(s["quota_exhausted"], 175, "{scenario}: {s}");
        assert_eq!(
            s["recount"], 25,
            "{scenario}: recount from the certificates table: {s}"
        );
        assert_eq!(s["point"]["issued"], 25, "{scenario}: {s}");
        assert_eq!(s["point"]["reserved"], 0, "{scenario}: {s}");
    }
    assert_eq!(summary["limit"]["point"]["remaining"], 0);
}

#[test]
fn exact_quotas_over_http_on_sqlite() {
    if let Some(reason) = missing_tools()
        && skip_or_fail(&reason)
    {
        return;
    }
    let data = tempfile::tempdir().expect("tempdir");
    let (_server, port) = start(&[], data.path());
    let db = data.path().join("utrust.db");
    let summary = load(&[port], &["--sqlite-db", db.to_str().expect("utf-8 path")]);
    assert_eq!(summary["servers"], 1);
    assert_exact(&summary);
}

/// A throwaway schema in the test database, dropped at the end.
struct Schema {
    base: String,
    name: String,
}

impl Schema {
    fn create(base: &str) -> Self {
        let name = format!("srv_{}", utrust_pki::OsRandom::new().hex_token(8));
        psql(base, &format!("CREATE SCHEMA {name}"));
        Self {
            base: base.to_owned(),
            name,
        }
    }

    /// The URL (sqlx's syntax) whose connections see only this schema.
    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options[search_path]={}", self.base, self.name)
    }

    /// The same for libpq (`psql`).
    fn psql_url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.base, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.base,
                "-X",
                "-q",
                "-c",
                &format!("DROP SCHEMA {} CASCADE", self.name),
            ])
            .output();
    }
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            url,
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn two_servers_share_one_postgresql() {
    if let Some(reason) = missing_tools()
        && skip_or_fail(&reason)
    {
        return;
    }
    let Ok(base) = std::env::var("UTRUST_TEST_DATABASE_URL") else {
        skip_or_fail("UTRUST_TEST_DATABASE_URL is not set (scripts/test sets it)");
        return;
    };
    if !tool_available("psql", &["--version"]) && skip_or_fail("psql is not installed") {
        return;
    }
    let schema = Schema::create(&base);
    let url = schema.url();
    let kek = "7f".repeat(32);
    let args = ["--database-url", &url, "--ca-key-encryption-key", &kek];
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let (_a, port_a) = start(&args, dir_a.path());
    let (_b, port_b) = start(&args, dir_b.path());

    // Both issue under one CA (the script checks the served CA certificates are
    // equal), and its key is stored sealed, never in clear.
    let summary = load(&[port_a, port_b], &["--psql-url", &schema.psql_url()]);
    assert_eq!(summary["servers"], 2);
    assert_exact(&summary);
    let stored = psql(
        &schema.psql_url(),
        "SELECT key_encryption || ' ' || encode(encrypted_key, 'hex') FROM ca_material WHERE name = 'default'",
    );
    let (scheme, sealed) = stored.split_once(' ').expect("one CA row");
    assert_eq!(scheme, "aes-256-gcm-v1");
    // A PKCS#8 private key in clear would start with SEQUENCE, INTEGER 0.
    assert!(
        !sealed.starts_with("30"),
        "CA key looks unencrypted: {sealed}"
    );
    assert!(!dir_a.path().join("ca").exists() && !dir_b.path().join("ca").exists());

    // A server with another key-encryption key cannot open the CA: it refuses to
    // start rather than issue under a different CA.
    let wrong = "00".repeat(32);
    let out = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["serve", "--data-dir"])
        .arg(dir_a.path())
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--database-url", &url, "--ca-key-encryption-key", &wrong])
        .env("UTRUST_ADMIN_TOKEN", TOKEN)
        .output()
        .expect("run utrust-server");
    assert!(
        !out.status.success(),
        "a wrong key-encryption key must be refused"
    );

    // PostgreSQL without a key-encryption key is refused too.
    let out = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["serve", "--data-dir"])
        .arg(dir_a.path())
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--database-url", &url])
        .env("UTRUST_ADMIN_TOKEN", TOKEN)
        .env_remove("UTRUST_CA_KEY_ENCRYPTION_KEY")
        .output()
        .expect("run utrust-server");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("UTRUST_CA_KEY_ENCRYPTION_KEY"));
}
