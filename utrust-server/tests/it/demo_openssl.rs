//! OpenSSL accepts what utrust builds and issues: the `demo` command's requests
//! and certificates, and requests/certificates made through the HTTP API, with the
//! Russian identifiers encoded as NUMERICSTRING.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use utrust_pki::to_pem;

use crate::common::{
    Api, KINDS, Opts, catalog, csr_der, id, skip_or_fail, submit, template, tool_available,
};

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn no_openssl() -> bool {
    !tool_available("openssl", &["version"]) && skip_or_fail("openssl is not installed")
}

/// OpenSSL prints some of these OIDs by name; both spellings are accepted.
fn names(oid: &str) -> &'static [&'static str] {
    match oid {
        "1.2.643.3.131.1.1" => &["1.2.643.3.131.1.1", "INN"],
        "1.2.643.100.3" => &["1.2.643.100.3", "SNILS"],
        "1.2.643.100.5" => &["1.2.643.100.5", "OGRNIP"],
        "1.2.643.100.1" => &["1.2.643.100.1", "OGRN"],
        "1.2.643.100.4" => &["1.2.643.100.4", "INNLE"],
        _ => &[],
    }
}

/// The OIDs of `asn1parse` output each followed by their value's ASN.1 type.
fn attribute_types(asn1: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = asn1.lines().collect();
    let mut out = Vec::new();
    for w in lines.windows(2) {
        if let Some((_, obj)) = w[0].split_once("OBJECT") {
            let oid = obj.trim().trim_start_matches(':').trim().to_owned();
            let ty = w[1]
                .split_once("prim:")
                .map(|(_, rest)| {
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                })
                .unwrap_or_default();
            out.push((oid, ty));
        }
    }
    out
}

/// Asserts the Russian identifier attributes of `kind` are NUMERICSTRINGs in the
/// PEM file at `path` (a certificate or a request), and the others are absent.
fn assert_identifiers(path: &Path, kind: &str) {
    let p = path.to_str().expect("utf-8 path");
    let (ok, asn1) = openssl(&["asn1parse", "-in", p]);
    assert!(ok, "asn1parse {p}: {asn1}");
    let types = attribute_types(&asn1);
    let present: &[&str] = match kind {
        "individual" => &["1.2.643.3.131.1.1", "1.2.643.100.3"],
        "sole_proprietor" => &["1.2.643.3.131.1.1", "1.2.643.100.3", "1.2.643.100.5"],
        "legal_entity" => &[
            "1.2.643.3.131.1.1",
            "1.2.643.100.3",
            "1.2.643.100.1",
            "1.2.643.100.4",
        ],
        other => panic!("kind {other}"),
    };
    for oid in [
        "1.2.643.3.131.1.1",
        "1.2.643.100.3",
        "1.2.643.100.5",
        "1.2.643.100.1",
        "1.2.643.100.4",
    ] {
        let found: Vec<&String> = types
            .iter()
            .filter(|(o, _)| names(oid).contains(&o.as_str()))
            .map(|(_, t)| t)
            .collect();
        if present.contains(&oid) {
            assert_eq!(
                found,
                vec!["NUMERICSTRING"],
                "{kind}: {oid} in {p}:\n{asn1}"
            );
        } else {
            assert!(found.is_empty(), "{kind}: unexpected {oid} in {p}");
        }
    }
}

fn assert_subject_has_oids(cert: &str, kind: &str) {
    let (ok, subject) = openssl(&["x509", "-noout", "-subject", "-nameopt", "oid", "-in", cert]);
    assert!(ok, "{subject}");
    let mut want = vec!["1.2.643.3.131.1.1=", "1.2.643.100.3="];
    match kind {
        "sole_proprietor" => want.push("1.2.643.100.5="),
        "legal_entity" => want.extend(["1.2.643.100.1=", "1.2.643.100.4="]),
        _ => {}
    }
    for w in want {
        assert!(
            subject.contains(w),
            "{kind}: subject of {cert} lacks {w}: {subject}"
        );
    }
}

#[test]
fn openssl_accepts_the_demo_requests_and_certificates() {
    if no_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_utrust-server"))
        .args(["demo", "--json", "--data-dir"])
        .arg(&dir)
        .env("UTRUST_LOG", "warn")
        .output()
        .expect("run demo");
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("demo --json prints JSON");
    let ca = summary["ca_certificate"].as_str().expect("ca path");
    let requests = summary["requests"].as_array().expect("requests");
    let certificates = summary["certificates"].as_array().expect("certificates");
    // The three kinds, the renewal of the individual's and a second individual's
    // certificate (the demo's lifecycle).
    assert_eq!(requests.len(), 5);
    assert_eq!(certificates.len(), 5);
    for r in requests {
        let r = r.as_str().expect("path");
        let (ok, text) = openssl(&["req", "-verify", "-noout", "-in", r]);
        assert!(
            ok && text.contains("verify OK"),
            "openssl req -verify {r}: {text}"
        );
    }
    for c in certificates {
        let c = c.as_str().expect("path");
        let (ok, text) = openssl(&["verify", "-CAfile", ca, c]);
        assert!(
            ok && text.trim_end().ends_with(": OK"),
            "openssl verify {c}: {text}"
        );
    }
    let issued = summary["issued"].as_array().expect("issued");
    let kinds: Vec<&str> = issued
        .iter()
        .filter_map(|i| i["applicant_kind"].as_str())
        .collect();
    assert_eq!(kinds[..3], KINDS);
    assert_eq!(kinds[3..], ["individual", "individual"]);
    for i in issued {
        let kind = i["applicant_kind"].as_str().expect("kind");
        let cert = i["path"].as_str().expect("path");
        assert_subject_has_oids(cert, kind);
        assert_identifiers(Path::new(cert), kind);
        assert_identifiers(Path::new(i["request"].as_str().expect("request")), kind);
    }
    assert_eq!(summary["point"]["issued"], 5);
    assert_eq!(
        summary["point"]["remaining"],
        summary["point"]["limit"].as_i64().expect("limit") - 5
    );
}

#[tokio::test]
async fn openssl_accepts_requests_and_certificates_made_over_http() {
    if no_openssl() {
        return;
    }
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca_path = tmp.path().join("ca.pem");
    let ca = api.get("/api/v1/ca/certificate").await;
    assert_eq!(ca.status.as_u16(), 200);
    std::fs::write(&ca_path, &ca.body).expect("write ca");
    for kind in KINDS {
        let app_id = id(&submit(&api, &c, kind).await);
        let (_, t) = template(&api, &app_id).await;
        let der = csr_der(&t);
        let csr_path = tmp.path().join(format!("{kind}.csr.pem"));
        std::fs::write(&csr_path, to_pem("CERTIFICATE REQUEST", &der)).expect("write csr");
        let (ok, text) = openssl(&[
            "req",
            "-verify",
            "-noout",
            "-in",
            csr_path.to_str().expect("path"),
        ]);
        assert!(
            ok && text.contains("verify OK"),
            "{kind}: openssl req -verify: {text}"
        );
        assert_identifiers(&csr_path, kind);

        api.post_raw(
            &format!("/api/v1/applications/{app_id}/csr"),
            "application/pkcs10",
            der,
        )
        .await
        .expect(200);
        api.post_empty(&format!("/api/v1/applications/{app_id}/issue"))
            .await
            .expect(201);
        let cert = api
            .get(&format!("/api/v1/applications/{app_id}/certificate"))
            .await;
        assert_eq!(cert.status.as_u16(), 200);
        let cert_path = tmp.path().join(format!("{kind}.pem"));
        std::fs::write(&cert_path, &cert.body).expect("write cert");
        let cert_str = cert_path.to_str().expect("path");
        let (ok, text) = openssl(&[
            "verify",
            "-CAfile",
            ca_path.to_str().expect("path"),
            cert_str,
        ]);
        assert!(
            ok && text.trim_end().ends_with(": OK"),
            "{kind}: openssl verify: {text}"
        );
        assert_subject_has_oids(cert_str, kind);
        assert_identifiers(&cert_path, kind);
    }
}
