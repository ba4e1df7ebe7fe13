//! Schemathesis (from PyPI) against the real binary: it reads the served OpenAPI
//! document (`GET /api/v1/openapi.json`), generates requests for every
//! operation (valid and invalid data, then stateful sequences) and checks that
//! no response is a 5xx and that every response matches the document (status,
//! content type, body schema).
//!
//! Needs the Python module `schemathesis` (`scripts/test` installs it); without
//! it the test is SKIPPED, or fails under `CI=true`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{skip_or_fail, tool_available};
use crate::external::{Server, free_port, healthz};

const TOKEN: &str = "schemathesis-admin-token-0123456789";

/// Test cases per operation and phase: bounded so that the run stays well
/// under two minutes on the CI machine.
const MAX_EXAMPLES: &str = "25";

/// A fixed seed: the same run every time.
const SEED: &str = "20240607";

/// The schemathesis CLI, as a module of the `python3` the scripts install into.
fn schemathesis() -> Command {
    let mut c = Command::new("python3");
    c.args(["-m", "schemathesis.cli"]);
    c
}

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    if !tool_available("python3", &["-c", "import schemathesis"])
        && skip_or_fail("the Python module `schemathesis` is not installed")
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
    while healthz(port).is_none() {
        if let Some(status) = server.0.try_wait().expect("poll server") {
            panic!("utrust-server exited before becoming ready: {status}");
        }
        assert!(Instant::now() < deadline, "utrust-server not ready");
        std::thread::sleep(Duration::from_millis(100));
    }

    let work = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let out = schemathesis()
        .current_dir(work.path())
        .args([
            "run",
            &format!("http://127.0.0.1:{port}/api/v1/openapi.json"),
            "--header",
            &format!("Authorization: Bearer {TOKEN}"),
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            SEED,
            "--workers",
            "2",
            "--request-timeout",
            "30",
        ])
        .env("NO_COLOR", "1")
        .env("HYPOTHESIS_STORAGE_DIRECTORY", work.path().join(".hypothesis"))
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("schemathesis ran in {:.0?}:\n{stdout}", started.elapsed());
    assert!(
        out.status.success(),
        "schemathesis found failures ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // Every operation of the document was tested (and the document has them all).
    let tested = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no `Tested:` line in the output:\n{stdout}"));
    assert!(tested >= 45, "only {tested} operations tested:\n{stdout}");
    assert!(
        !stdout.contains("FAILURES"),
        "schemathesis reported failures:\n{stdout}"
    );
    assert!(
        server.0.try_wait().expect("poll").is_none(),
        "server died during the run"
    );
    drop(server);
}
