//! Quotas and availability: point limit, product stock, blocked organizations,
//! services with an approval step.

use serde_json::json;

use crate::common::{
    Api, Opts, application, application_body, catalog, id, point, snapshot, submit, submit_with_csr,
};

#[tokio::test]
async fn point_limit_two_third_issue_is_quota_exhausted() {
    let api = Api::new().await;
    let c = catalog(
        &api,
        Opts {
            limit: 2,
            ..Opts::default()
        },
    )
    .await;
    let mut apps = Vec::new();
    for kind in ["individual", "sole_proprietor", "legal_entity"] {
        apps.push(id(&submit_with_csr(&api, &c, kind).await));
    }
    for a in &apps[..2] {
        api.post_empty(&format!("/api/v1/applications/{a}/issue"))
            .await
            .expect(201);
    }
    let third = &apps[2];
    let before = snapshot(&application(&api, third).await);
    let v = api
        .post_empty(&format!("/api/v1/applications/{third}/issue"))
        .await
        .assert_error(409, "quota_exhausted");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(
        before,
        snapshot(&application(&api, third).await),
        "refused issue changed the application"
    );
    let p = point(&api, &c.point).await;
    assert_eq!(p["limit"], 2);
    assert_eq!(p["issued"], 2, "{p}");
    assert_eq!(p["remaining"], 0, "{p}");
    assert_eq!(p["reserved"], 0, "a refused issue left a reservation: {p}");
    api.get(&format!("/api/v1/applications/{third}/certificate"))
        .await
        .assert_error(404, "not_found");
    // Raising the limit lets the waiting application through.
    let p = api
        .patch(&format!("/api/v1/points/{}", c.point), &json!({"limit": 3}))
        .await
        .expect(200);
    assert_eq!(p["remaining"], 1);
    api.post_empty(&format!("/api/v1/applications/{third}/issue"))
        .await
        .expect(201);
    let p = point(&api, &c.point).await;
    assert_eq!(
        (p["issued"].as_u64(), p["remaining"].as_u64()),
        (Some(3), Some(0))
    );
    // The limit cannot go below what was issued.
    api.patch(&format!("/api/v1/points/{}", c.point), &json!({"limit": 1}))
        .await
        .assert_error(409, "quota_below_usage");
}

#[tokio::test]
async fn product_stock_runs_out_at_issuance() {
    let api = Api::new().await;
    let c = catalog(
        &api,
        Opts {
            etp_quantity: 1,
            ..Opts::default()
        },
    )
    .await;
    let a = id(&submit_with_csr(&api, &c, "individual").await);
    let b = id(&submit_with_csr(&api, &c, "individual").await);
    api.post_empty(&format!("/api/v1/applications/{a}/issue"))
        .await
        .expect(201);
    let before = snapshot(&application(&api, &b).await);
    api.post_empty(&format!("/api/v1/applications/{b}/issue"))
        .await
        .assert_error(409, "quota_exhausted");
    assert_eq!(before, snapshot(&application(&api, &b).await));
    let p = point(&api, &c.point).await;
    assert_eq!(
        p["issued"], 1,
        "the point limit must not be debited by a refused issue: {p}"
    );
    let etp = p["quantities"]
        .as_array()
        .expect("quantities")
        .iter()
        .find(|q| q["product_id"] == c.etp.as_str())
        .cloned()
        .expect("etp");
    assert_eq!(
        (etp["issued"].as_u64(), etp["remaining"].as_u64()),
        (Some(1), Some(0)),
        "{etp}"
    );
}

#[tokio::test]
async fn product_quantity_zero_refuses_the_application() {
    let api = Api::new().await;
    let c = catalog(
        &api,
        Opts {
            etp_quantity: 0,
            ..Opts::default()
        },
    )
    .await;
    let v = api
        .post("/api/v1/applications", &application_body(&c, "individual"))
        .await
        .assert_error(422, "invalid_field");
    assert_eq!(v["field"], "products", "{v}");
    // Without the out-of-stock product the application is accepted.
    let mut body = application_body(&c, "individual");
    body["products"] = json!([c.kep]);
    api.create("/api/v1/applications", &body).await;
}

#[tokio::test]
async fn blocked_organization_makes_its_points_unavailable() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let o = api
        .patch(
            &format!("/api/v1/organizations/{}", c.organization),
            &json!({"blocked": true}),
        )
        .await
        .expect(200);
    assert_eq!(o["blocked"], true);
    assert_eq!(
        api.get(&format!("/api/v1/organizations/{}", c.organization))
            .await
            .expect(200)["blocked"],
        true
    );
    for kind in ["individual", "sole_proprietor", "legal_entity"] {
        api.post("/api/v1/applications", &application_body(&c, kind))
            .await
            .assert_error(409, "point_unavailable");
    }
    // Unblocking makes the point available again.
    api.patch(
        &format!("/api/v1/organizations/{}", c.organization),
        &json!({"blocked": false}),
    )
    .await
    .expect(200);
    submit(&api, &c, "individual").await;
    // Blocking the point itself has the same effect.
    let p = api
        .patch(
            &format!("/api/v1/points/{}", c.point),
            &json!({"blocked": true}),
        )
        .await
        .expect(200);
    assert_eq!(p["blocked"], true);
    api.post("/api/v1/applications", &application_body(&c, "individual"))
        .await
        .assert_error(409, "point_unavailable");
    // Blocking the branch too.
    api.patch(
        &format!("/api/v1/points/{}", c.point),
        &json!({"blocked": false}),
    )
    .await
    .expect(200);
    api.patch(
        &format!("/api/v1/branches/{}", c.branch),
        &json!({"blocked": true}),
    )
    .await
    .expect(200);
    api.post("/api/v1/applications", &application_body(&c, "individual"))
        .await
        .assert_error(409, "point_unavailable");
}

#[tokio::test]
async fn approval_required_service_waits_for_approve() {
    let api = Api::new().await;
    let c = catalog(
        &api,
        Opts {
            approval_required: true,
            ..Opts::default()
        },
    )
    .await;
    let svc = api
        .get(&format!("/api/v1/services/{}", c.service))
        .await
        .expect(200);
    assert_eq!(svc["approval_required"], true, "{svc}");
    let app = submit_with_csr(&api, &c, "legal_entity").await;
    let app_id = id(&app);
    assert_eq!(app["status"], "awaiting_approval");
    let before = snapshot(&application(&api, &app_id).await);
    api.post_empty(&format!("/api/v1/applications/{app_id}/issue"))
        .await
        .assert_error(409, "invalid_transition");
    assert_eq!(before, snapshot(&application(&api, &app_id).await));
    assert_eq!(point(&api, &c.point).await["issued"], 0);
    let approved = api
        .post_empty(&format!("/api/v1/applications/{app_id}/approve"))
        .await
        .expect(200);
    assert_eq!(approved["status"], "ready_to_issue");
    let h = approved["history"].as_array().expect("history");
    assert_eq!(h.len(), 3, "{approved}");
    assert_eq!(h[2]["event"], "approve");
    assert_eq!(
        (h[2]["from"].as_str(), h[2]["to"].as_str()),
        (Some("awaiting_approval"), Some("ready_to_issue"))
    );
    api.post_empty(&format!("/api/v1/applications/{app_id}/issue"))
        .await
        .expect(201);
    assert_eq!(point(&api, &c.point).await["issued"], 1);
    // A second approval is refused.
    api.post_empty(&format!("/api/v1/applications/{app_id}/approve"))
        .await
        .assert_error(409, "invalid_transition");
    // Rejecting an application that waits for approval ends it.
    let other = id(&submit_with_csr(&api, &c, "individual").await);
    let r = api
        .post(
            &format!("/api/v1/applications/{other}/reject"),
            &json!({"reason": "документы не совпадают"}),
        )
        .await
        .expect(200);
    assert_eq!(r["status"], "rejected");
    assert_eq!(r["reason"], "документы не совпадают");
    api.post_empty(&format!("/api/v1/applications/{other}/approve"))
        .await
        .assert_error(409, "invalid_transition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_issues_never_exceed_the_limit() {
    let api = std::sync::Arc::new(Api::new().await);
    let c = catalog(
        &api,
        Opts {
            limit: 3,
            ..Opts::default()
        },
    )
    .await;
    let mut apps = Vec::new();
    for i in 0..8 {
        apps.push(id(
            &submit_with_csr(&api, &c, crate::common::KINDS[i % 3]).await
        ));
    }
    let mut tasks = Vec::new();
    for a in apps {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            api.post_empty(&format!("/api/v1/applications/{a}/issue"))
                .await
        }));
    }
    let (mut ok, mut exhausted) = (0, 0);
    for t in tasks {
        let r = t.await.expect("task");
        match r.status.as_u16() {
            201 => ok += 1,
            _ => {
                let code = r.json()["error"].as_str().unwrap_or_default().to_owned();
                // Exactly quota_exhausted; a concurrent_modification would be a
                // spurious failure the client would have to retry.
                assert_eq!(code, "quota_exhausted", "{} {}", r.status, r.text());
                exhausted += 1;
            }
        }
    }
    assert_eq!((ok, exhausted), (3, 5));
    let p = point(&api, &c.point).await;
    assert_eq!(
        (
            p["issued"].as_u64(),
            p["remaining"].as_u64(),
            p["reserved"].as_u64()
        ),
        (Some(3), Some(0), Some(0)),
        "{p}"
    );
}
