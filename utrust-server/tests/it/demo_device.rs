//! The `demo` command's device: a SoftHSM2 token of its own, checked from
//! outside with OpenSC's `pkcs11-tool` (certificate and private key under one
//! ID) and OpenSSL (the certificate read from the token verifies against the
//! demo's CA); and the demo without SoftHSM2.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::skip_or_fail;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

fn run(cmd: &str, args: &[&str], env: &[(&str, &str)], dir: &Path) -> (bool, String) {
    let out = Command::new(cmd)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
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

fn demo(dir: &Path, extra: &[&str]) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["demo", "--json", "--data-dir"])
        .arg(dir)
        .args(extra)
        .env("UTRUST_LOG", "warn")
        .env_remove("SOFTHSM2_CONF")
        .env_remove("UTRUST_PKCS11_MODULE")
        .output()
        .expect("run demo");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.success(), summary, stderr)
}

#[test]
fn the_demo_device_is_on_its_own_softhsm_token() {
    if !Path::new(MODULE).exists() && skip_or_fail("SoftHSM2 is not installed") {
        return;
    }
    for (cmd, arg) in [("pkcs11-tool", "--help"), ("openssl", "version")] {
        if !crate::devices::runs(cmd, arg) && skip_or_fail(&format!("{cmd} is not installed")) {
            return;
        }
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let (ok, summary, stderr) = demo(&dir, &[]);
    assert!(ok, "demo failed: {stderr}");
    let d = &summary["device"];
    let conf = d["softhsm2_conf"].as_str().expect("softhsm2_conf");
    assert_eq!(Path::new(conf), dir.join("softhsm2.conf"));
    assert_eq!(d["module"], MODULE);
    let label = d["token_label"].as_str().expect("token_label");
    let pin = d["user_pin"].as_str().expect("user_pin");
    let serial = d["serial"].as_str().expect("serial");
    let key_id = d["key_id"].as_str().expect("key_id");
    assert!(pin.len() >= 6, "{d}");
    // A device record of the engine's self-service issuance.
    assert_eq!(d["status"], "issued", "{d}");
    assert!(
        d["device_id"].as_str().is_some_and(|s| s.len() == 36),
        "{d}"
    );
    let env = [("SOFTHSM2_CONF", conf)];

    // The token is listed with its serial; its objects need the PIN.
    let (ok, slots) = run("pkcs11-tool", &["--module", MODULE, "-L"], &env, tmp.path());
    assert!(ok, "{slots}");
    assert!(
        slots.contains(&format!("token label        : {label}")),
        "{slots}"
    );
    assert!(
        slots.contains(&format!("serial num         : {serial}")),
        "{slots}"
    );
    let args = [
        "--module",
        MODULE,
        "--token-label",
        label,
        "--login",
        "--pin",
        pin,
        "-O",
    ];
    let (ok, objects) = run("pkcs11-tool", &args, &env, tmp.path());
    assert!(ok, "{objects}");
    assert!(
        objects.contains("Certificate Object; type = X.509 cert"),
        "{objects}"
    );
    assert!(objects.contains("Private Key Object; EC"), "{objects}");
    let ids = objects
        .lines()
        .filter(|l| l.trim() == format!("ID:         {key_id}"))
        .count();
    assert_eq!(ids, 3, "certificate and keys under one ID:\n{objects}");
    assert!(
        objects.contains("Access:     sensitive, always sensitive, never extractable, local"),
        "{objects}"
    );

    // The certificate read from the token verifies against the demo's CA and
    // is the one the summary names.
    let (ok, text) = run(
        "pkcs11-tool",
        &[
            "--module",
            MODULE,
            "--token-label",
            label,
            "--read-object",
            "--type",
            "cert",
            "--id",
            key_id,
            "--output-file",
            "token-cert.der",
        ],
        &env,
        tmp.path(),
    );
    assert!(ok, "{text}");
    let (ok, text) = run(
        "openssl",
        &[
            "x509",
            "-inform",
            "DER",
            "-in",
            "token-cert.der",
            "-out",
            "token-cert.pem",
        ],
        &[],
        tmp.path(),
    );
    assert!(ok, "{text}");
    let ca = summary["ca_certificate"].as_str().expect("ca");
    let (ok, text) = run(
        "openssl",
        &["verify", "-CAfile", ca, "token-cert.pem"],
        &[],
        tmp.path(),
    );
    assert!(ok && text.contains("token-cert.pem: OK"), "{text}");
    let (_, from_token) = run(
        "openssl",
        &["x509", "-in", "token-cert.pem", "-noout", "-serial"],
        &[],
        tmp.path(),
    );
    let cert_serial = d["certificate_serial"]
        .as_str()
        .expect("certificate_serial");
    assert_eq!(
        from_token
            .trim()
            .trim_start_matches("serial=")
            .to_lowercase(),
        cert_serial.to_lowercase()
    );

    // A second run in the same directory starts afresh (one token again).
    let (ok, again, stderr) = demo(&dir, &[]);
    assert!(ok, "second demo failed: {stderr}");
    assert_ne!(again["device"]["serial"], d["serial"]);
}

#[test]
fn the_demo_without_softhsm() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("no-such-module.so");
    let missing = missing.to_str().expect("utf-8 path");
    // An explicit module that is missing is an error…
    let (ok, _, stderr) = demo(&tmp.path().join("a"), &["--pkcs11-module", missing]);
    assert!(!ok, "a missing --pkcs11-module must fail");
    assert!(stderr.contains("no-such-module.so"), "{stderr}");
    // …and the rest of the demo does not depend on SoftHSM2: when the default
    // module is missing the device is skipped with a reason (checked here where
    // SoftHSM2 is absent; where it is installed the device test above runs).
    if !Path::new(MODULE).exists() {
        let (ok, summary, stderr) = demo(&tmp.path().join("b"), &[]);
        assert!(ok, "{stderr}");
        assert!(summary["device"]["skipped"].is_string(), "{summary}");
        assert!(stderr.contains("no device"), "{stderr}");
        assert_eq!(summary["certificates"].as_array().map(Vec::len), Some(5));
    }
}
