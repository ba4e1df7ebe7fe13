//! The `demo` command's lifecycle, checked with `openssl`: its `crl.pem`
//! verifies with `ca.pem`; `openssl verify -crl_check` fails with "certificate
//! revoked" for the revoked certificate, the renewed (superseded) one and the
//! suspended one (listed as Certificate Hold), and passes for the resumed one
//! and the renewal.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::lifecycle::{
    assert_crl_verifies, assert_not_revoked, assert_revoked, crl_entries, crl_number, crl_reason,
    no_openssl, norm_serial,
};

/// The certificate file of `serial` from the summary's `issued` entries.
fn cert_path(summary: &Value, serial: &str) -> PathBuf {
    let issued = summary["issued"].as_array().expect("issued");
    let entry = issued
        .iter()
        .find(|i| i["serial"].as_str().map(norm_serial) == Some(norm_serial(serial)))
        .unwrap_or_else(|| panic!("serial {serial} not among issued: {summary}"));
    let path = PathBuf::from(entry["path"].as_str().expect("path"));
    assert!(path.is_file(), "{} missing", path.display());
    path
}

fn status_of(summary: &Value, serial: &str) -> String {
    summary["issued"]
        .as_array()
        .expect("issued")
        .iter()
        .find(|i| i["serial"] == serial)
        .and_then(|i| i["certificate_status"].as_str())
        .unwrap_or_else(|| panic!("status of {serial}"))
        .to_owned()
}

#[test]
fn the_demo_lifecycle_satisfies_openssl() {
    if no_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["demo", "--data-dir"])
        .arg(&dir)
        .arg("--json")
        .env("UTRUST_LOG", "warn")
        .output()
        .expect("run demo");
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("demo --json prints JSON");

    let ca = PathBuf::from(summary["ca_certificate"].as_str().expect("ca"));
    let crl = PathBuf::from(summary["crl"].as_str().expect("crl path"));
    assert_eq!(crl, dir.join("crl.pem"));
    assert!(crl.is_file(), "{} missing", crl.display());
    assert!(
        std::fs::read_to_string(&crl)
            .expect("read crl")
            .starts_with("-----BEGIN X509 CRL-----"),
        "crl.pem is not a PEM CRL"
    );
    assert_crl_verifies(&crl, &ca);
    assert_eq!(
        Some(crl_number(&crl)),
        summary["crl_number"].as_u64(),
        "crl_number in the summary"
    );

    let l = &summary["lifecycle"];
    let serial = |k: &str| {
        l[k].as_str()
            .unwrap_or_else(|| panic!("lifecycle.{k}: {l}"))
    };
    let (renewed, renewal, resumed, revoked, suspended) = (
        serial("renewed"),
        serial("renewal"),
        serial("resumed"),
        serial("revoked"),
        serial("suspended"),
    );
    let mut distinct = vec![renewed, renewal, resumed, revoked, suspended];
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "five different certificates: {l}");

    for (s, status) in [
        (renewed, "revoked"),
        (renewal, "valid"),
        (resumed, "valid"),
        (revoked, "revoked"),
        (suspended, "suspended"),
    ] {
        assert_eq!(status_of(&summary, s), status, "{s}");
    }

    for s in [revoked, renewed, suspended] {
        assert_revoked(&ca, &crl, &cert_path(&summary, s));
    }
    for s in [resumed, renewal] {
        assert_not_revoked(&ca, &crl, &cert_path(&summary, s));
    }

    let entries = crl_entries(&crl);
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert_eq!(
        crl_reason(&entries, revoked),
        Some(Some("Key Compromise".into()))
    );
    assert_eq!(
        crl_reason(&entries, renewed),
        Some(Some("Superseded".into()))
    );
    assert_eq!(
        crl_reason(&entries, suspended),
        Some(Some("Certificate Hold".into()))
    );
    assert_eq!(crl_reason(&entries, resumed), None);
    assert_eq!(crl_reason(&entries, renewal), None);

    // Every certificate the demo wrote chains to the CA.
    for c in summary["certificates"].as_array().expect("certificates") {
        let p = Path::new(c.as_str().expect("path"));
        let (ok, text) = crate::lifecycle::openssl(&[
            "verify",
            "-CAfile",
            ca.to_str().expect("utf-8"),
            p.to_str().expect("utf-8"),
        ]);
        assert!(ok, "openssl verify {}: {text}", p.display());
    }
}
