//! The real binary over a real socket, driven by the external Python client
//! (`tests/e2e/client.py`: `urllib` + `cryptography` + the `openssl` CLI).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{skip_or_fail, tool_available};

const TOKEN: &str = "external-test-token-0123456789";

/// Kills the server when the test ends, also on panic.
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET /healthz` with a raw HTTP/1.1 request; `Some(body)` on a 200.
pub(crate) fn healthz(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.starts_with("HTTP/1.1 200").then_some(out)
}

fn missing_tools() -> Option<String> {
    if !tool_available("python3", &["--version"]) {
        return Some("python3 is not installed".into());
    }
    if !tool_available("python3", &["-c", "import cryptography.x509"]) {
        return Some("the Python module `cryptography` is not installed".into());
    }
    if !tool_available("openssl", &["version"]) {
        return Some("openssl is not installed".into());
    }
    None
}

#[test]
fn python_client_drives_the_real_server() {
    if let Some(reason) = missing_tools()
        && skip_or_fail(&reason)
    {
        return;
    }
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["serve", "--data-dir"])
        .arg(data.path())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("UTRUST_ADMIN_TOKEN", TOKEN)
        .env("UTRUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start utrust-server");
    let mut server = Server(child);

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(resp) = healthz(port) {
            assert!(resp.contains("\"ok\""), "healthz: {resp}");
            break;
        }
        if let Some(status) = server.0.try_wait().expect("poll server") {
            panic!("utrust-server exited before becoming ready: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "utrust-server not ready on port {port} after 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/client.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([
            "--base-url",
            &format!("http://127.0.0.1:{port}"),
            "--token",
            TOKEN,
        ])
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "client.py failed ({}):\n{stderr}\n{stdout}",
        out.status
    );

    // The summary says what was checked: every kind, both CSR makers, both verifiers.
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("client.py prints JSON");
    let issued = summary["issued"].as_array().expect("issued list");
    for kind in ["individual", "sole_proprietor", "legal_entity"] {
        for by in ["cryptography", "openssl"] {
            let e = issued
                .iter()
                .find(|e| e["kind"] == kind && e["csr_by"] == by)
                .unwrap_or_else(|| panic!("no {kind}/{by} issuance in {summary}"));
            assert_eq!(e["cryptography_verify"], "OK");
            assert_eq!(e["openssl_verify"], "OK");
        }
    }
    assert_eq!(summary["point"]["issued"], 6);
    assert_eq!(summary["refusals"][0]["error"], "csr_subject_mismatch");

    // The server state persisted in the data directory.
    assert!(data.path().join("utrust.db").exists());
    assert!(data.path().join("ca").join("ca.pem").exists());
    assert!(
        server.0.try_wait().expect("poll").is_none(),
        "server died during the run"
    );
    drop(server);
}

#[test]
fn serve_refuses_a_short_token() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["serve", "--data-dir"])
        .arg(data.path())
        .args(["--listen", "127.0.0.1:0"])
        .env("UTRUST_ADMIN_TOKEN", "short")
        .output()
        .expect("run utrust-server");
    assert!(
        !out.status.success(),
        "a 5-character admin token was accepted"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("UTRUST_ADMIN_TOKEN"), "{stderr}");
}
