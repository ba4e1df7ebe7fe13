//! Health check and bearer-token authentication.

use axum::http::{Method, header};

use crate::common::{Api, TOKEN, bearer};

#[tokio::test]
async fn healthz_needs_no_token() {
    let api = Api::new().await;
    let r = api
        .send(Method::GET, "/healthz", None, Vec::new(), None)
        .await;
    assert_eq!(r.expect(200)["status"], "ok");
}

#[tokio::test]
async fn api_without_token_is_401_json() {
    let api = Api::new().await;
    for path in [
        "/api/v1/products",
        "/api/v1/me",
        "/api/v1/points/00000000-0000-0000-0000-000000000000",
    ] {
        let r = api.send(Method::GET, path, None, Vec::new(), None).await;
        r.assert_error(401, "unauthorized");
        assert_eq!(
            r.headers
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "401 must name the scheme"
        );
    }
}

#[tokio::test]
async fn api_with_wrong_token_is_401_json() {
    let api = Api::new().await;
    let wrong = [
        "Bearer wrong-token-wrong-token".to_owned(),
        format!("Bearer {TOKEN}x"),
        format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]),
        format!("Basic {TOKEN}"),
        format!("bearer{TOKEN}"),
        TOKEN.to_owned(),
        "Bearer ".to_owned(),
    ];
    for auth in &wrong {
        let r = api
            .send(Method::GET, "/api/v1/me", None, Vec::new(), Some(auth))
            .await;
        r.assert_error(401, "unauthorized");
    }
    // A write without a token changes nothing: the product is not created.
    let r = api
        .send(
            Method::POST,
            "/api/v1/products",
            Some("application/json"),
            br#"{"code":"X","name":"X"}"#.to_vec(),
            Some("Bearer nope-nope-nope-nope"),
        )
        .await;
    r.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn right_token_reaches_the_api_and_ca_certificate_is_pem() {
    let api = Api::new().await;
    let r = api
        .send(
            Method::GET,
            "/api/v1/ca/certificate",
            None,
            Vec::new(),
            Some(&bearer()),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200);
    let pem = r.text();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let der =
        utrust_pki::parse_pem_or_der(pem.as_bytes(), &["CERTIFICATE"]).expect("CA PEM decodes");
    assert_eq!(der, api.engine.ca_certificate_der());
}

#[tokio::test]
async fn unknown_route_is_404_json() {
    let api = Api::new().await;
    api.get("/api/v1/no-such-thing")
        .await
        .assert_error(404, "not_found");
}

/// What relying parties need is public: the CA certificate and the CRL.
#[tokio::test]
async fn ca_certificate_and_crl_are_public() {
    let api = Api::new().await;
    for path in ["/api/v1/ca/certificate", "/api/v1/ca/crl"] {
        let r = api.send(Method::GET, path, None, Vec::new(), None).await;
        assert_eq!(r.status, 200, "{path}");
    }
}
