//! The core flow of DESIGN §7 over the router: catalog → agents → service →
//! application (each applicant kind) → request template → CSR (PEM, DER, JSON)
//! → issue → certificate, with the point's counters.

use serde_json::{Value, json};
use utrust_pki::to_pem;

use crate::common::{
    Api, KEP_COMMON, KINDS, Opts, application, catalog, csr_der, id, point, submit, template,
};

/// The subject attribute `oid` of a JSON template: (value, type).
fn attr<'a>(t: &'a Value, oid: &str) -> Option<(&'a str, &'a str)> {
    t["subject"]
        .as_array()?
        .iter()
        .find(|a| a["oid"] == oid)
        .map(|a| {
            (
                a["value"].as_str().unwrap_or_default(),
                a["type"].as_str().unwrap_or_default(),
            )
        })
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string"))
        .collect()
}

#[tokio::test]
async fn template_over_the_wire_matches_the_engine_and_names_the_russian_attributes() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    for kind in KINDS {
        let app = submit(&api, &c, kind).await;
        assert_eq!(app["applicant_kind"], kind);
        assert_eq!(app["status"], "awaiting_csr", "{kind}: {app}");
        let (wire, t) = template(&api, &id(&app)).await;
        let app_id = id(&app).parse().expect("application id");
        assert_eq!(
            t,
            api.engine
                .request_template(app_id)
                .await
                .expect("engine template"),
            "{kind}: JSON template does not round-trip to the engine's"
        );
        assert_eq!(wire["key_algorithm"], "ecdsa-p256");
        assert_eq!(attr(&wire, "2.5.4.6"), Some(("RU", "printable")));
        assert_eq!(
            attr(&wire, "1.2.840.113549.1.9.1").map(|a| a.1),
            Some("ia5"),
            "{kind}: e-mail is IA5String"
        );
        let expect_numeric: &[(&str, &str)] = match kind {
            "individual" => &[
                ("1.2.643.3.131.1.1", "500100732259"),
                ("1.2.643.100.3", "11223344595"),
            ],
            "sole_proprietor" => &[
                ("1.2.643.3.131.1.1", "561100409545"),
                ("1.2.643.100.3", "64270954807"),
                ("1.2.643.100.5", "304770200100005"),
            ],
            _ => &[
                ("1.2.643.3.131.1.1", "773612345650"),
                ("1.2.643.100.3", "12345678964"),
                ("1.2.643.100.1", "1027700132195"),
                ("1.2.643.100.4", "7707083893"),
            ],
        };
        for (oid, value) in expect_numeric {
            assert_eq!(
                attr(&wire, oid),
                Some((*value, "numeric")),
                "{kind}: {oid} in {wire}"
            );
        }
        if kind != "sole_proprietor" {
            assert!(
                attr(&wire, "1.2.643.100.5").is_none(),
                "{kind}: OGRNIP only for sole proprietors"
            );
        }
        if kind == "legal_entity" {
            assert_eq!(attr(&wire, "2.5.4.10"), Some(("ООО «Ромашка»", "utf8")));
            assert_eq!(
                attr(&wire, "2.5.4.12"),
                Some(("Генеральный директор", "utf8"))
            );
        } else {
            assert!(
                attr(&wire, "1.2.643.100.1").is_none() && attr(&wire, "1.2.643.100.4").is_none()
            );
        }
        let ext = &wire["extensions"];
        let ku = strings(&ext["key_usage"]);
        for u in ["digitalSignature", "nonRepudiation", "keyAgreement"] {
            assert!(ku.contains(&u), "{kind}: key usage {ku:?} lacks {u}");
        }
        let eku = strings(&ext["extended_key_usage"]);
        let own = match kind {
            "individual" => ["1.2.643.100.2.1", "1.2.643.6.3.1.2.2"],
            "sole_proprietor" => ["1.2.643.100.2.1", "1.2.643.6.3.1.2.3"],
            _ => ["1.2.643.100.2.2", "1.2.643.6.3.1.2.1"],
        };
        let mut want: Vec<&str> = KEP_COMMON.to_vec();
        want.extend(["1.2.643.6.3"]);
        want.extend(own);
        let mut got = eku.clone();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{kind}: EKU = products' common + {kind} OIDs");
        let policies = strings(&ext["certificate_policies"]);
        assert!(
            !policies.is_empty() && policies.iter().all(|p| p.starts_with("1.2.643.100.113.")),
            "{kind}: policies {policies:?}"
        );
    }
}

/// How the CSR is posted.
#[derive(Clone, Copy, Debug)]
enum CsrBody {
    Pem,
    Der,
    Json,
}

#[tokio::test]
async fn core_flow_for_every_kind_and_every_csr_encoding() {
    let api = Api::new().await;
    let c = catalog(
        &api,
        Opts {
            limit: 20,
            etp_quantity: 1500,
            ..Opts::default()
        },
    )
    .await;
    let mut issued_count = 0;
    let mut serials = Vec::new();
    for kind in KINDS {
        for how in [CsrBody::Pem, CsrBody::Der, CsrBody::Json] {
            let app = submit(&api, &c, kind).await;
            let app_id = id(&app);
            assert_eq!(app["history"].as_array().map(Vec::len), Some(1), "{app}");
            let (_, t) = template(&api, &app_id).await;
            let der = csr_der(&t);
            let pem = to_pem("CERTIFICATE REQUEST", &der);
            let path = format!("/api/v1/applications/{app_id}/csr");
            let r = match how {
                CsrBody::Pem => {
                    api.post_raw(&path, "application/x-pem-file", pem.into_bytes())
                        .await
                }
                CsrBody::Der => api.post_raw(&path, "application/pkcs10", der).await,
                CsrBody::Json => api.post(&path, &json!({ "csr": pem })).await,
            };
            let after_csr = r.expect(200);
            assert_eq!(
                after_csr["status"], "ready_to_issue",
                "{kind} {how:?}: {after_csr}"
            );
            assert_eq!(after_csr["csr_attached"], true);
            assert_eq!(after_csr["history"].as_array().map(Vec::len), Some(2));

            let issued = api
                .post_empty(&format!("/api/v1/applications/{app_id}/issue"))
                .await
                .expect(201);
            issued_count += 1;
            let serial = issued["serial"].as_str().expect("serial").to_owned();
            assert!(
                !serial.is_empty() && serial.chars().all(|ch| ch.is_ascii_hexdigit()),
                "serial {serial}"
            );
            assert!(!serials.contains(&serial), "serial {serial} issued twice");
            serials.push(serial.clone());
            assert_eq!(issued["application_id"], app_id);
            let cert_pem = issued["certificate"]
                .as_str()
                .expect("certificate")
                .to_owned();
            assert!(
                cert_pem.starts_with("-----BEGIN CERTIFICATE-----"),
                "{cert_pem}"
            );
            let surname = application(&api, &app_id).await["owner"]["surname"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(
                issued["subject"]
                    .as_str()
                    .is_some_and(|s| s.contains(&surname)),
                "subject {} lacks {surname}",
                issued["subject"]
            );

            // The application shows the certificate; its PEM is the one issued.
            let app_now = application(&api, &app_id).await;
            assert_eq!(app_now["status"], issued["status"]);
            assert!(
                ["issued", "completed"].contains(&app_now["status"].as_str().unwrap_or_default()),
                "{app_now}"
            );
            assert_eq!(app_now["certificate_serial"], serial.as_str());
            let r = api
                .get(&format!("/api/v1/applications/{app_id}/certificate"))
                .await;
            assert_eq!(r.status.as_u16(), 200, "{}", r.text());
            assert_eq!(r.text(), cert_pem);
            let by_serial = api
                .get(&format!("/api/v1/certificates/{serial}"))
                .await
                .expect(200);
            assert_eq!(by_serial["status"], "valid");
            assert_eq!(by_serial["application_id"], app_id);
            assert_eq!(by_serial["point_id"], c.point.as_str());
            assert_eq!(by_serial["certificate"], cert_pem.as_str());

            // The point's counters follow every issuance.
            let p = point(&api, &c.point).await;
            assert_eq!(p["limit"], 20);
            assert_eq!(p["issued"], issued_count, "{p}");
            assert_eq!(p["remaining"], 20 - issued_count, "{p}");
            let etp = p["quantities"]
                .as_array()
                .expect("quantities")
                .iter()
                .find(|q| q["product_id"] == c.etp.as_str())
                .expect("ETP quantity")
                .clone();
            // ETP is under quantity accounting: its stock is debited too.
            assert_eq!(etp["quantity"], 1500);
            assert_eq!(etp["issued"], issued_count, "{etp}");
            assert_eq!(etp["remaining"], 1500 - issued_count, "{etp}");
        }
    }
    assert_eq!(issued_count, 9);
    assert_eq!(serials.len(), 9);
}

#[tokio::test]
async fn unlimited_point_shows_null_remaining() {
    let api = Api::new().await;
    let c = catalog(
        &api,
        Opts {
            limit: -1,
            ..Opts::default()
        },
    )
    .await;
    let app = crate::common::submit_with_csr(&api, &c, "individual").await;
    api.post_empty(&format!("/api/v1/applications/{}/issue", id(&app)))
        .await
        .expect(201);
    let p = point(&api, &c.point).await;
    assert_eq!(p["limit"], -1);
    assert_eq!(p["issued"], 1);
    assert!(p["remaining"].is_null(), "{p}");
}
