//! The simulator's HTTP endpoints, spoken to directly in JSON.

use reqwest::StatusCode;
use serde_json::{Value, json};
use utrust_smev::{SimConfig, SimServer};

use crate::support::TestResult;

fn http() -> Result<reqwest::Client, reqwest::Error> {
    utrust_smev::install_crypto_provider();
    reqwest::Client::builder().build()
}

#[tokio::test]
async fn raw_wire_round_trip() -> TestResult {
    let server = SimServer::start(SimConfig::default()).await?;
    let http = http()?;
    let body = json!({
        "idempotency_key": "raw-1",
        "kind": "passport",
        "subject": {
            "surname": "Иванов", "given_name": "Иван", "patronymic": null,
            "birth_date": "1980-05-17",
            "passport": {"series": "0000", "number": "123456",
                         "issued_on": "2010-01-02", "issuer_code": "770-001"}
        }
    });
    let resp = http
        .post(format!("{}/checks", server.url()))
        .json(&body)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let id = resp.json::<Value>().await?["request_id"]
        .as_str()
        .map(str::to_owned);
    let Some(id) = id else {
        return Err("no request_id".into());
    };

    let again = http
        .post(format!("{}/checks", server.url()))
        .json(&body)
        .send()
        .await?;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(again.json::<Value>().await?, json!({"request_id": id}));

    let resp = http
        .get(format!("{}/checks/{id}", server.url()))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<Value>().await?,
        json!({"status": "invalid", "reason": "passport expired"})
    );

    let resp = http
        .get(format!("{}/checks/nope", server.url()))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.json::<Value>().await?["error"].is_string());
    Ok(())
}

#[tokio::test]
async fn malformed_requests_are_400() -> TestResult {
    let server = SimServer::start(SimConfig::default()).await?;
    let http = http()?;
    let url = format!("{}/checks", server.url());
    for body in [
        json!({"idempotency_key": "x", "kind": "dna", "subject": {"surname": "a", "given_name": "b"}}),
        json!({"idempotency_key": "x", "kind": "snils",
               "subject": {"surname": "a", "given_name": "b", "snils": "15278361414", "birth_date": "1980-01-01"}}),
        json!({"idempotency_key": "y", "kind": "inn", "subject": {"surname": "", "given_name": "b"}}),
        json!({"idempotency_key": "z", "kind": "snils", "subject": {"surname": "a", "given_name": "b", "birth_date": "17.05.1980"}}),
    ] {
        let resp = http.post(&url).json(&body).send().await?;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    let resp = http.post(&url).body("{not json").send().await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(server.sim().stats().checks_created, 0);
    Ok(())
}

#[tokio::test]
async fn config_can_be_changed_over_http() -> TestResult {
    let server = SimServer::start(SimConfig::default()).await?;
    let http = http()?;
    let url = format!("{}/_sim/config", server.url());
    let resp = http
        .put(&url)
        .json(&json!({"fail_submits": 1, "pending_for_ms": 5}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let config: Value = http.get(&url).send().await?.json().await?;
    assert_eq!(config["fail_submits"], 1);
    assert_eq!(config["pending_for_ms"], 5);
    assert_eq!(config["never_answer"], false);
    let body = json!({"idempotency_key": "k", "kind": "inn",
        "subject": {"surname": "a", "given_name": "b"}});
    let resp = http
        .post(format!("{}/checks", server.url()))
        .json(&body)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    Ok(())
}
