//! The certificate lifecycle over HTTP on the embedded engine (SQLite + local
//! CA): status, revoke/suspend/resume/renew, refused transitions as 409s that
//! change nothing, and the CRL served at `GET /api/v1/ca/crl` checked with
//! `openssl` (signature, revoked, held and resumed certificates, CRL numbers).

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::http::header;
use serde_json::{Value, json};

use crate::common::{
    Api, Catalog, Opts, application, application_body, catalog, csr_pem, id, skip_or_fail,
    template, tool_available,
};

// ---------------------------------------------------------------------------
// openssl helpers (shared with `demo_lifecycle`).

/// Runs `openssl`; returns success and stdout + stderr.
pub fn openssl(args: &[&str]) -> (bool, String) {
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

/// `true` when the caller should return: openssl is missing outside CI.
pub fn no_openssl() -> bool {
    !tool_available("openssl", &["version"]) && skip_or_fail("openssl is not installed")
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A serial as hex digits without separators, leading zeros or case.
pub fn norm_serial(s: &str) -> String {
    let hex: String = s
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed.into()
    }
}

/// `openssl crl -verify` with the CA certificate: the signature is good.
#[track_caller]
pub fn assert_crl_verifies(crl: &Path, ca: &Path) {
    let (ok, text) = openssl(&[
        "crl",
        "-in",
        path_str(crl),
        "-CAfile",
        path_str(ca),
        "-verify",
        "-noout",
    ]);
    assert!(
        ok && text.contains("verify OK"),
        "openssl crl -verify {}: {text}",
        crl.display()
    );
}

/// The entries of a PEM CRL as `openssl crl -text` prints them: normalised
/// serial → reason text (`None` without a reason code).
pub fn crl_entries(crl: &Path) -> Vec<(String, Option<String>)> {
    let (ok, text) = openssl(&["crl", "-in", path_str(crl), "-noout", "-text"]);
    assert!(ok, "openssl crl -text: {text}");
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(serial) = line.strip_prefix("Serial Number:") {
            out.push((norm_serial(serial), None));
        } else if line.starts_with("X509v3 CRL Reason Code")
            && let (Some(last), Some(reason)) = (out.last_mut(), lines.get(i + 1))
        {
            last.1 = Some((*reason).to_owned());
        }
    }
    out
}

/// The reason text of `serial` on the CRL, `Some(None)` if listed without one,
/// `None` if not listed.
pub fn crl_reason(entries: &[(String, Option<String>)], serial: &str) -> Option<Option<String>> {
    let s = norm_serial(serial);
    entries
        .iter()
        .find(|(e, _)| *e == s)
        .map(|(_, r)| r.clone())
}

/// `openssl crl -noout -crlnumber` (printed in hex).
pub fn crl_number(crl: &Path) -> u64 {
    let (ok, text) = openssl(&["crl", "-in", path_str(crl), "-noout", "-crlnumber"]);
    assert!(ok, "openssl crl -crlnumber: {text}");
    let v = text
        .trim()
        .split_once('=')
        .map(|(_, v)| v.trim())
        .unwrap_or_else(|| panic!("crlNumber in {text:?}"));
    let v = v.trim_start_matches("0x").replace(':', "");
    u64::from_str_radix(&v, 16).unwrap_or_else(|e| panic!("crlNumber {v:?}: {e}"))
}

/// `openssl verify -crl_check`: success and output.
pub fn verify_with_crl(ca: &Path, crl: &Path, cert: &Path) -> (bool, String) {
    openssl(&[
        "verify",
        "-crl_check",
        "-CAfile",
        path_str(ca),
        "-CRLfile",
        path_str(crl),
        path_str(cert),
    ])
}

#[track_caller]
pub fn assert_revoked(ca: &Path, crl: &Path, cert: &Path) {
    let (ok, text) = verify_with_crl(ca, crl, cert);
    assert!(
        !ok && text.contains("certificate revoked"),
        "openssl verify -crl_check {} should fail as revoked: {text}",
        cert.display()
    );
}

#[track_caller]
pub fn assert_not_revoked(ca: &Path, crl: &Path, cert: &Path) {
    let (ok, text) = verify_with_crl(ca, crl, cert);
    assert!(
        ok && text.trim_end().ends_with(": OK"),
        "openssl verify -crl_check {} should pass: {text}",
        cert.display()
    );
}

// ---------------------------------------------------------------------------
// HTTP helpers.

fn opts() -> Opts {
    Opts {
        limit: 50,
        etp_quantity: 50,
        ..Opts::default()
    }
}

/// An issued certificate: application id, serial, PEM.
struct Issued {
    app: String,
    serial: String,
    pem: String,
}

/// Submits to `service`, attaches a CSR built from the template, issues.
async fn issue_in(api: &Api, c: &Catalog, service: &str, kind: &str) -> Issued {
    let mut body = application_body(c, kind);
    body["service_id"] = json!(service);
    let app = api.create("/api/v1/applications", &body).await;
    complete(api, &id(&app)).await
}

/// Attaches a CSR to an application awaiting one and issues it.
async fn complete(api: &Api, app_id: &str) -> Issued {
    let (_, t) = template(api, app_id).await;
    api.post_raw(
        &format!("/api/v1/applications/{app_id}/csr"),
        "application/x-pem-file",
        csr_pem(&t).into_bytes(),
    )
    .await
    .expect(200);
    let v = api
        .post_empty(&format!("/api/v1/applications/{app_id}/issue"))
        .await
        .expect(201);
    Issued {
        app: app_id.to_owned(),
        serial: v["serial"].as_str().expect("serial").to_owned(),
        pem: v["certificate"].as_str().expect("certificate").to_owned(),
    }
}

async fn issue(api: &Api, c: &Catalog, kind: &str) -> Issued {
    issue_in(api, c, &c.service, kind).await
}

async fn cert(api: &Api, serial: &str) -> Value {
    api.get(&format!("/api/v1/certificates/{serial}"))
        .await
        .expect(200)
}

async fn act(api: &Api, serial: &str, action: &str) -> crate::common::Resp {
    api.post_empty(&format!("/api/v1/certificates/{serial}/{action}"))
        .await
}

async fn revoke(api: &Api, serial: &str, reason: &str) -> crate::common::Resp {
    api.post(
        &format!("/api/v1/certificates/{serial}/revoke"),
        &json!({ "reason": reason }),
    )
    .await
}

/// The current CRL over HTTP, written as DER and as PEM (via openssl) to `dir`.
async fn fetch_crl(api: &Api, dir: &Path, name: &str) -> PathBuf {
    let r = api.get("/api/v1/ca/crl").await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    assert_eq!(
        r.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/pkix-crl")
    );
    assert_eq!(r.body.first(), Some(&0x30), "DER SEQUENCE");
    let der = dir.join(format!("{name}.der"));
    std::fs::write(&der, &r.body).expect("write crl");
    let pem = dir.join(format!("{name}.pem"));
    let (ok, text) = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        path_str(&der),
        "-out",
        path_str(&pem),
    ]);
    assert!(ok, "openssl crl -inform DER: {text}");
    pem
}

// ---------------------------------------------------------------------------
// Tests.

/// Three certificates: one revoked (keyCompromise), one suspended, one suspended
/// and resumed. The served CRL verifies with the CA certificate; `openssl verify
/// -crl_check` fails for the revoked and the held one ("certificate revoked",
/// the CRL lists the latter as Certificate Hold) and passes for the resumed one;
/// the CRL number grows with every publication.
#[tokio::test]
async fn the_served_crl_satisfies_openssl() {
    if no_openssl() {
        return;
    }
    let api = Api::new().await;
    let c = catalog(&api, opts()).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &api.get("/api/v1/ca/certificate").await.body).expect("write ca");

    let revoked = issue(&api, &c, "individual").await;
    let held = issue(&api, &c, "sole_proprietor").await;
    let resumed = issue(&api, &c, "legal_entity").await;
    let mut paths = Vec::new();
    for (name, i) in [
        ("revoked", &revoked),
        ("held", &held),
        ("resumed", &resumed),
    ] {
        let p = dir.join(format!("{name}.pem"));
        std::fs::write(&p, &i.pem).expect("write cert");
        paths.push(p);
    }

    // Before any change: an empty CRL that already verifies.
    let crl0 = fetch_crl(&api, dir, "crl0").await;
    assert_crl_verifies(&crl0, &ca);
    assert!(crl_entries(&crl0).is_empty());
    for p in &paths {
        assert_not_revoked(&ca, &crl0, p);
    }
    let n0 = crl_number(&crl0);

    let v = revoke(&api, &revoked.serial, "keyCompromise")
        .await
        .expect(200);
    assert_eq!(v["status"], "revoked");
    assert_eq!(v["revocation_reason"], "keyCompromise");
    let crl1 = fetch_crl(&api, dir, "crl1").await;
    let n1 = crl_number(&crl1);
    assert!(n1 > n0, "CRL number {n1} after {n0}");

    let v = act(&api, &held.serial, "suspend").await.expect(200);
    assert_eq!(v["status"], "suspended");
    assert!(v["suspended_at"].is_string(), "{v}");
    let v = act(&api, &resumed.serial, "suspend").await.expect(200);
    assert_eq!(v["status"], "suspended");
    let crl2 = fetch_crl(&api, dir, "crl2").await;
    let n2 = crl_number(&crl2);
    assert!(n2 > n1, "CRL number {n2} after {n1}");
    assert_crl_verifies(&crl2, &ca);
    assert_revoked(&ca, &crl2, &paths[2]);

    let v = act(&api, &resumed.serial, "resume").await.expect(200);
    assert_eq!(v["status"], "valid");
    let crl = fetch_crl(&api, dir, "crl").await;
    let n3 = crl_number(&crl);
    assert!(n3 > n2, "CRL number {n3} after {n2}");
    // The same CRL until something changes.
    let again = fetch_crl(&api, dir, "crl-again").await;
    assert_eq!(crl_number(&again), n3);

    for crl in [&crl1, &crl2, &crl] {
        assert_crl_verifies(crl, &ca);
    }
    let (ok, text) = openssl(&["crl", "-in", path_str(&crl), "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("Last Update") && text.contains("Next Update"),
        "{text}"
    );

    assert_revoked(&ca, &crl, &paths[0]);
    assert_revoked(&ca, &crl, &paths[1]);
    assert_not_revoked(&ca, &crl, &paths[2]);
    let entries = crl_entries(&crl);
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(
        crl_reason(&entries, &revoked.serial),
        Some(Some("Key Compromise".into())),
        "{entries:?}"
    );
    assert_eq!(
        crl_reason(&entries, &held.serial),
        Some(Some("Certificate Hold".into())),
        "{entries:?}"
    );
    assert_eq!(crl_reason(&entries, &resumed.serial), None, "{entries:?}");

    // Revoking the held certificate turns its hold into a final reason.
    revoke(&api, &held.serial, "cessationOfOperation")
        .await
        .expect(200);
    let crl4 = fetch_crl(&api, dir, "crl4").await;
    assert!(crl_number(&crl4) > n3);
    assert_crl_verifies(&crl4, &ca);
    assert_eq!(
        crl_reason(&crl_entries(&crl4), &held.serial),
        Some(Some("Cessation Of Operation".into()))
    );
    assert_revoked(&ca, &crl4, &paths[1]);
}

/// `GET /certificates/{serial}` shows status, reason, time and history.
#[tokio::test]
async fn certificate_status_and_history() {
    let api = Api::new().await;
    let c = catalog(&api, opts()).await;
    let i = issue(&api, &c, "individual").await;
    let v = cert(&api, &i.serial).await;
    assert_eq!(v["serial"], i.serial.as_str());
    assert_eq!(v["status"], "valid");
    assert_eq!(v["application_id"], i.app.as_str());
    assert_eq!(v["point_id"], c.point.as_str());
    assert_eq!(v["applicant_kind"], "individual");
    assert_eq!(v["version"], 1);
    assert_eq!(v["history"], json!([]));
    assert!(v.get("revocation_reason").is_none(), "{v}");
    assert!(
        v["certificate"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    // The serial is accepted in upper case too.
    assert_eq!(
        cert(&api, &i.serial.to_uppercase()).await["serial"],
        i.serial.as_str()
    );

    act(&api, &i.serial, "suspend").await.expect(200);
    let v = cert(&api, &i.serial).await;
    assert_eq!(v["status"], "suspended");
    assert_eq!(v["version"], 2);
    act(&api, &i.serial, "resume").await.expect(200);
    revoke(&api, &i.serial, "affiliationChanged")
        .await
        .expect(200);
    let v = cert(&api, &i.serial).await;
    assert_eq!(v["status"], "revoked");
    assert_eq!(v["revocation_reason"], "affiliationChanged");
    assert!(
        v["revoked_at"].as_str().is_some_and(|t| t.contains('T')),
        "{v}"
    );
    assert_eq!(v["version"], 4);
    let h = v["history"].as_array().expect("history");
    let steps: Vec<(&str, &str, &str)> = h
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap(),
                e["from"].as_str().unwrap(),
                e["to"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("suspend", "valid", "suspended"),
            ("resume", "suspended", "valid"),
            ("revoke", "valid", "revoked"),
        ]
    );
    for e in h {
        assert!(e["at"].is_string() && e["actor"].is_string(), "{e}");
    }
    assert_eq!(h[2]["at"], v["revoked_at"]);
}

/// Refused transitions answer 409 `invalid_transition` and change nothing; bad
/// reasons 422 on `reason`; unknown or malformed serials 404.
#[tokio::test]
async fn refused_transitions_change_nothing() {
    let api = Api::new().await;
    let c = catalog(&api, opts()).await;
    let valid = issue(&api, &c, "individual").await;
    let revoked = issue(&api, &c, "legal_entity").await;
    let held = issue(&api, &c, "sole_proprietor").await;
    revoke(&api, &revoked.serial, "keyCompromise")
        .await
        .expect(200);
    act(&api, &held.serial, "suspend").await.expect(200);
    let apps_before = application(&api, &revoked.app).await;

    let cases: Vec<(&Issued, &str, Option<&str>)> = vec![
        (&revoked, "resume", None),
        (&revoked, "revoke", Some("keyCompromise")),
        (&revoked, "revoke", Some("superseded")),
        (&revoked, "suspend", None),
        (&revoked, "renew", None),
        (&valid, "resume", None),
        (&held, "suspend", None),
        (&held, "renew", None),
    ];
    for (i, action, reason) in cases {
        let before = cert(&api, &i.serial).await;
        let r = match reason {
            Some(reason) => revoke(&api, &i.serial, reason).await,
            None => act(&api, &i.serial, action).await,
        };
        let ctx = format!("{} {action} {reason:?}", before["status"]);
        let e = r.assert_error(409, "invalid_transition");
        assert!(
            e["message"].as_str().unwrap().contains(action),
            "{ctx}: {e}"
        );
        assert_eq!(cert(&api, &i.serial).await, before, "{ctx}: changed");
    }
    // The refused renewal created no application: the point counts the same.
    assert_eq!(application(&api, &revoked.app).await, apps_before);

    for (i, reason) in [
        (&valid, "certificateHold"),
        (&valid, "removeFromCRL"),
        (&valid, "KeyCompromise"),
        (&valid, "compromised"),
        (&held, "certificateHold"),
    ] {
        let before = cert(&api, &i.serial).await;
        let e = revoke(&api, &i.serial, reason)
            .await
            .assert_error(422, "invalid_field");
        assert_eq!(e["field"], "reason", "{reason}: {e}");
        assert_eq!(cert(&api, &i.serial).await, before, "{reason}");
    }
    let before = cert(&api, &valid.serial).await;
    act(&api, &valid.serial, "revoke")
        .await
        .assert_error(400, "invalid_body");
    let r = api
        .post(
            &format!("/api/v1/certificates/{}/revoke", valid.serial),
            &json!({"reason": "keyCompromise", "extra": 1}),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.text());
    assert_eq!(cert(&api, &valid.serial).await, before);

    for serial in ["7f00000000000000000000000000000000000001", "zz", "0001"] {
        api.get(&format!("/api/v1/certificates/{serial}"))
            .await
            .assert_error(404, "not_found");
        for action in ["suspend", "resume", "renew"] {
            act(&api, serial, action)
                .await
                .assert_error(404, "not_found");
        }
        revoke(&api, serial, "keyCompromise")
            .await
            .assert_error(404, "not_found");
    }
}

/// `POST /certificates/{serial}/renew`: a new application awaiting a CSR with the
/// same owner, products, point and service; the old certificate stays valid until
/// the renewal is issued, and then is revoked as superseded iff the service says
/// so.
#[tokio::test]
async fn renewal_over_http() {
    let api = Api::new().await;
    let c = catalog(&api, opts()).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let check_openssl = !no_openssl();
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, &api.get("/api/v1/ca/certificate").await.body).expect("write ca");
    for supersede in [false, true] {
        let service = api
            .create(
                "/api/v1/services",
                &json!({
                    "name": format!("Продление (supersede {supersede})"),
                    "products": [c.kep, c.etp],
                    "points": [c.point],
                    "revoke_superseded_on_renewal": supersede,
                }),
            )
            .await;
        assert_eq!(service["revoke_superseded_on_renewal"], supersede);
        let service = id(&service);
        let old = issue_in(&api, &c, &service, "legal_entity").await;
        let old_app = application(&api, &old.app).await;

        let r = act(&api, &old.serial, "renew").await;
        let renewal = r.expect(201);
        assert_eq!(renewal["status"], "awaiting_csr", "{renewal}");
        assert_ne!(renewal["id"], old_app["id"]);
        for field in [
            "owner",
            "organization",
            "products",
            "point_id",
            "service_id",
            "applicant_kind",
            "address",
            "renewal_notice",
        ] {
            assert_eq!(renewal[field], old_app[field], "{field}");
        }
        assert_eq!(renewal["certificate_serial"], Value::Null);
        let renewal_id = id(&renewal);
        assert_eq!(
            application(&api, &renewal_id).await["status"],
            "awaiting_csr"
        );
        assert_eq!(cert(&api, &old.serial).await["status"], "valid");

        let new = complete(&api, &renewal_id).await;
        assert_ne!(new.serial, old.serial);
        assert_eq!(cert(&api, &new.serial).await["status"], "valid");
        let v = cert(&api, &old.serial).await;
        if supersede {
            assert_eq!(v["status"], "revoked", "{v}");
            assert_eq!(v["revocation_reason"], "superseded");
            let h = v["history"].as_array().unwrap();
            assert_eq!(h.len(), 1);
            assert_eq!(h[0]["event"], "revoke");
            assert!(
                h[0]["comment"]
                    .as_str()
                    .is_some_and(|c| c.contains(&new.serial)),
                "{v}"
            );
        } else {
            assert_eq!(v["status"], "valid", "{v}");
            assert_eq!(v["history"], json!([]));
        }
        // A second renewal of a still-valid certificate is possible; of a
        // superseded one it is refused.
        let r = act(&api, &old.serial, "renew").await;
        if supersede {
            r.assert_error(409, "invalid_transition");
        } else {
            r.expect(201);
        }
        if check_openssl {
            let crl = fetch_crl(&api, tmp.path(), &format!("crl-{supersede}")).await;
            assert_crl_verifies(&crl, &ca);
            let old_path = tmp.path().join(format!("old-{supersede}.pem"));
            let new_path = tmp.path().join(format!("new-{supersede}.pem"));
            std::fs::write(&old_path, &old.pem).unwrap();
            std::fs::write(&new_path, &new.pem).unwrap();
            assert_not_revoked(&ca, &crl, &new_path);
            if supersede {
                assert_revoked(&ca, &crl, &old_path);
                assert_eq!(
                    crl_reason(&crl_entries(&crl), &old.serial),
                    Some(Some("Superseded".into()))
                );
            } else {
                assert_not_revoked(&ca, &crl, &old_path);
            }
        }
    }
}
