//! Head accounts and the power of attorney over HTTP: submission links the
//! account found by INN (and KPP), accounts are listed, read and edited with an
//! optimistic version, and a corporate application of a service with an attorney
//! type carries the organization's attorney data and renders it as escaped HTML.

use axum::http::header;
use serde_json::{Value, json};

use crate::common::{Api, Opts, application_body, catalog, id};

const HOSTILE: &str = "<script>alert('x')</script> & \"Ко\"";

async fn attorney_service(api: &Api, c: &crate::common::Catalog, kind: &str) -> String {
    let s = api
        .create(
            "/api/v1/services",
            &json!({"name": format!("Корпоративный ЛК ({kind})"), "products": [c.kep],
                    "points": [c.point], "attorney_type": kind}),
        )
        .await;
    id(&s)
}

#[tokio::test]
async fn applications_are_linked_to_the_head_account_of_their_inn_and_kpp() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let company = api
        .create(
            "/api/v1/applications",
            &application_body(&c, "legal_entity"),
        )
        .await;
    let again = api
        .create(
            "/api/v1/applications",
            &application_body(&c, "legal_entity"),
        )
        .await;
    let account = company["head_account_id"].as_str().unwrap().to_owned();
    assert_eq!(again["head_account_id"], account.as_str());
    // Another KPP of the same company is another account.
    let mut branch = application_body(&c, "legal_entity");
    branch["organization"]["kpp"] = json!("780201001");
    let branch = api.create("/api/v1/applications", &branch).await;
    assert_ne!(branch["head_account_id"], account.as_str());
    // A person's account is keyed by the owner's INN.
    let person = api
        .create("/api/v1/applications", &application_body(&c, "individual"))
        .await;
    let person_account = person["head_account_id"].as_str().unwrap();
    let shown = api
        .get(&format!("/api/v1/accounts/{person_account}"))
        .await
        .expect(200);
    assert_eq!(shown["inn"], "500100732259");
    assert_eq!(shown["kind"], "individual");
    assert_eq!(shown["full_name"], "Иванов Иван Иванович");
    assert_eq!(shown["kpp"], Value::Null);

    // GET /applications/{id} shows the link too.
    let got = api
        .get(&format!("/api/v1/applications/{}", id(&company)))
        .await
        .expect(200);
    assert_eq!(got["head_account_id"], account.as_str());

    // The listing filters by INN and pages by id.
    let by_inn = api.get("/api/v1/accounts?inn=7707083893").await.expect(200);
    let items = by_inn["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{by_inn}");
    assert!(items.iter().all(|a| a["inn"] == "7707083893"));
    let head = items.iter().find(|a| a["id"] == account.as_str()).unwrap();
    assert_eq!(head["kpp"], "770701001");
    assert_eq!(head["full_name"], "ООО «Ромашка»");
    assert_eq!(head["address"]["kladr"], "7700000000000");
    assert_eq!(head["address"]["region_code"], "77");
    assert_eq!(head["contacts"]["email"], "sidorova@romashka.example.ru");
    let page1 = api.get("/api/v1/accounts?limit=2").await.expect(200);
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    let next = page1["next"].as_str().unwrap();
    let page2 = api
        .get(&format!("/api/v1/accounts?limit=2&after={next}"))
        .await
        .expect(200);
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["next"], Value::Null);
    api.get("/api/v1/accounts?inn=123")
        .await
        .assert_error(422, "invalid_field");

    // Edit with the version read; a stale version is refused and changes nothing.
    let path = format!("/api/v1/accounts/{account}");
    let edited = api
        .patch(
            &path,
            &json!({"version": 1, "full_name": "ООО «Ромашка» (головной офис)",
                    "contacts": {"email": "office@romashka.example.ru", "phone": "+7 495 123-45-67"}}),
        )
        .await
        .expect(200);
    assert_eq!(edited["version"], 2);
    assert_eq!(edited["contacts"]["phone"], "+7 495 123-45-67");
    api.patch(&path, &json!({"version": 1, "full_name": "stale"}))
        .await
        .assert_error(409, "concurrent_modification");
    api.patch(&path, &json!({"address": {"kladr": "12ab"}}))
        .await
        .assert_error(422, "invalid_field");
    api.patch(&path, &json!({"full_name": "  "}))
        .await
        .assert_error(422, "invalid_field");
    let now = api.get(&path).await.expect(200);
    assert_eq!(now["version"], 2);
    assert_eq!(now["full_name"], "ООО «Ромашка» (головной офис)");
    // Later applications keep the link; the account is not overwritten by them.
    let later = api
        .create(
            "/api/v1/applications",
            &application_body(&c, "legal_entity"),
        )
        .await;
    assert_eq!(later["head_account_id"], account.as_str());
    assert_eq!(api.get(&path).await.expect(200)["version"], 2);
    api.get("/api/v1/accounts/0b0e0e0e-0000-4000-8000-00000000dead")
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn corporate_applications_carry_the_power_of_attorney_as_escaped_html() {
    let api = Api::new().await;
    let mut c = catalog(&api, Opts::default()).await;
    // The agent organization's attorney data, with markup in every field.
    let org = api
        .patch(
            &format!("/api/v1/organizations/{}", c.organization),
            &json!({"attorney": {
                "trusted_person": format!("Петров Пётр Петрович {HOSTILE}"),
                "position": "Генеральный директор",
                "legal_basis": format!("Устав {HOSTILE}"),
                "powers": ["подписывать документы", HOSTILE],
                "validity_years": 3
            }}),
        )
        .await
        .expect(200);
    assert_eq!(org["attorney"]["validity_years"], 3);
    api.patch(
        &format!("/api/v1/organizations/{}", c.organization),
        &json!({"attorney": {"trusted_person": "", "position": "x", "legal_basis": "y",
                             "validity_years": 1}}),
    )
    .await
    .assert_error(422, "invalid_field");

    c.service = attorney_service(&api, &c, "paper").await;
    let mut body = application_body(&c, "legal_entity");
    body["products"] = json!([c.kep]);
    let app = api.create("/api/v1/applications", &body).await;
    let poa = &app["power_of_attorney"];
    assert_eq!(poa["attorney_type"], "paper", "{app}");
    assert_eq!(
        poa["trusted_person"],
        format!("Петров Пётр Петрович {HOSTILE}")
    );
    assert_eq!(poa["position"], "Генеральный директор");
    assert_eq!(poa["powers"][1], HOSTILE);
    assert_eq!(poa["principal"]["inn"], "7707083893");
    assert_eq!(poa["principal"]["kpp"], "770701001");
    assert_eq!(poa["holder"], "Сидорова Анна Сергеевна");
    assert_eq!(poa["organization"], "ООО «Агент УЦ»");
    let from = poa["valid_from"].as_str().unwrap();
    let until = poa["valid_until"].as_str().unwrap();
    let year: i32 = from[..4].parse().unwrap();
    assert_eq!(until, format!("{}{}", year + 3, &from[4..]));
    let shown = api
        .get(&format!("/api/v1/applications/{}", id(&app)))
        .await
        .expect(200);
    assert_eq!(shown["power_of_attorney"], *poa);

    let doc = api
        .get(&format!(
            "/api/v1/applications/{}/power-of-attorney",
            id(&app)
        ))
        .await;
    assert_eq!(doc.status, 200, "{}", doc.text());
    let ct = doc.headers[header::CONTENT_TYPE].to_str().unwrap();
    assert!(ct.starts_with("text/html"), "{ct}");
    let html = doc.text();
    assert!(!html.contains("<script>"), "unescaped markup:\n{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Ко&quot;"));
    assert!(html.contains("Сидорова Анна Сергеевна"));
    assert!(html.contains(until));
    assert!(html.contains("подписывать документы"));

    // Later edits of the organization do not change the snapshot.
    api.patch(
        &format!("/api/v1/organizations/{}", c.organization),
        &json!({"attorney": {"trusted_person": "Другой", "position": "Директор",
                             "legal_basis": "Устав", "validity_years": 1}}),
    )
    .await
    .expect(200);
    let again = api
        .get(&format!("/api/v1/applications/{}", id(&app)))
        .await
        .expect(200);
    assert_eq!(again["power_of_attorney"], *poa);

    // A person's application, or a service without an attorney type: none.
    let mut person = application_body(&c, "individual");
    person["products"] = json!([c.kep]);
    let person = api.create("/api/v1/applications", &person).await;
    assert!(person.get("power_of_attorney").is_none(), "{person}");
    api.get(&format!(
        "/api/v1/applications/{}/power-of-attorney",
        id(&person)
    ))
    .await
    .assert_error(404, "not_found");
    c.service = attorney_service(&api, &c, "none").await;
    let mut plain = application_body(&c, "legal_entity");
    plain["products"] = json!([c.kep]);
    let plain = api.create("/api/v1/applications", &plain).await;
    assert!(plain.get("power_of_attorney").is_none(), "{plain}");
    api.post(
        "/api/v1/services",
        &json!({"name": "bad", "products": [c.kep], "attorney_type": "oral"}),
    )
    .await
    .assert_error(422, "invalid_field");
}
