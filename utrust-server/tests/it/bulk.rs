//! Bulk creation of applications from CSV (`POST /applications/bulk`): a per-row
//! report, rejected rows create nothing, the whole file is refused for services
//! without `bulk_csv`, for too many rows, for bad headers and without the
//! `bulk_create` permission.

use axum::http::Method;
use serde_json::{Value, json};

use crate::common::{Api, Catalog, Opts, Resp, bearer, catalog, id};

const HEADER: &str = "applicant_kind,surname,given_name,patronymic,snils,inn,email,birth_date,\
passport_series,passport_number,passport_issued_on,passport_issuer_code,position,\
organization_name,organization_inn,kpp,ogrn,ogrnip,products";

/// A service like the fixture's, with `bulk_csv` as given; its id.
async fn service(api: &Api, c: &Catalog, bulk_csv: bool) -> String {
    id(&api
        .create(
            "/api/v1/services",
            &json!({
                "name": "Массовый выпуск КЭП",
                "products": [c.kep, c.etp],
                "applicant_kinds": ["individual", "sole_proprietor", "legal_entity"],
                "points": [c.point],
                "smev_checks": [],
                "bulk_csv": bulk_csv,
            }),
        )
        .await)
}

async fn post_csv(api: &Api, auth: &str, service: &str, point: &str, body: &[u8]) -> Resp {
    api.send(
        Method::POST,
        &format!("/api/v1/applications/bulk?service_id={service}&point_id={point}"),
        Some("text/csv"),
        body.to_vec(),
        Some(auth),
    )
    .await
}

/// How many applications the point has.
async fn count(api: &Api, point: &str) -> usize {
    api.get(&format!("/api/v1/applications?point_id={point}&limit=500"))
        .await
        .expect(200)["items"]
        .as_array()
        .expect("items")
        .len()
}

/// `(row, status, error, field)` of one row of a report.
type RowSummary = (u64, String, Option<String>, Option<String>);

/// The summaries of a report's rows, and the ids of the accepted rows.
fn summary(report: &Value) -> (Vec<RowSummary>, Vec<String>) {
    let rows = report["rows"].as_array().expect("rows");
    let mut ids = Vec::new();
    let s = rows
        .iter()
        .map(|r| {
            let status = r["status"].as_str().expect("status").to_owned();
            if status == "accepted" {
                ids.push(
                    r["application_id"]
                        .as_str()
                        .expect("application_id")
                        .to_owned(),
                );
                assert!(r.get("error").is_none(), "{r}");
            } else {
                assert!(r.get("application_id").is_none(), "{r}");
                assert!(
                    r["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "no message: {r}"
                );
            }
            (
                r["row"].as_u64().expect("row"),
                status,
                r["error"].as_str().map(str::to_owned),
                r["field"].as_str().map(str::to_owned),
            )
        })
        .collect();
    (s, ids)
}

fn row(n: u64, status: &str, error: Option<&str>, field: Option<&str>) -> RowSummary {
    (
        n,
        status.to_owned(),
        error.map(str::to_owned),
        field.map(str::to_owned),
    )
}

const INDIVIDUAL: &str = "individual,Иванов,Иван,Иванович,112-233-445 95,500100732259,ivanov@example.ru,1985-04-12,4510,123456,2015-06-01,770-001,,,,,,,";
const SOLE_PROPRIETOR: &str = "sole_proprietor,Петров,Пётр,Петрович,64270954807,561100409545,petrov@example.ru,,4510,123456,2015-06-01,770-001,,,,,,304770200100005,";
const LEGAL_ENTITY: &str = "legal_entity,Сидорова,Анна,Сергеевна,123-456-789 64,773612345650,sidorova@romashka.example.ru,,,,,,Генеральный директор,ООО Ромашка,7707083893,770701001,1027700132195,,";

#[tokio::test]
async fn bulk_reports_every_row_and_creates_only_the_accepted() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let svc = service(&api, &c, true).await;
    let other = id(&api
        .create(
            "/api/v1/products",
            &json!({"code": "OTHER", "name": "Не входит в услугу"}),
        )
        .await);
    let individual_kep = INDIVIDUAL.replacen(",,,,,,,", &format!(",,,,,,,{}", c.kep), 1);
    let bad_inn = INDIVIDUAL.replace("500100732259", "500100732258");
    let bad_snils = INDIVIDUAL.replace("112-233-445 95", "112-233-445 96");
    let no_ogrn = LEGAL_ENTITY.replace("1027700132195", "");
    let unknown_product = format!("{}{}|{other}", &SOLE_PROPRIETOR, c.kep);
    let malformed_product = format!("{INDIVIDUAL}not-an-id");
    let csv = [
        HEADER,
        INDIVIDUAL,
        SOLE_PROPRIETOR,
        LEGAL_ENTITY,
        &bad_inn,
        &bad_snils,
        &no_ogrn,
        &unknown_product,
        &individual_kep,
        &malformed_product,
        "individual,Короткий,Ряд",
        "",
    ]
    .join("\n");
    let r = post_csv(&api, &bearer(), &svc, &c.point, csv.as_bytes()).await;
    let report = r.expect(200);
    assert_eq!(report["accepted"], 4, "{report}");
    assert_eq!(report["rejected"], 6, "{report}");
    let (rows, ids) = summary(&report);
    assert_eq!(
        rows,
        vec![
            row(2, "accepted", None, None),
            row(3, "accepted", None, None),
            row(4, "accepted", None, None),
            row(5, "rejected", Some("invalid_field"), Some("inn")),
            row(6, "rejected", Some("invalid_field"), Some("snils")),
            row(7, "rejected", Some("invalid_field"), Some("ogrn")),
            row(8, "rejected", Some("invalid_field"), Some("products")),
            row(9, "accepted", None, None),
            row(10, "rejected", Some("invalid_field"), Some("products")),
            row(11, "rejected", Some("invalid_row"), None),
        ],
        "{report}"
    );
    assert_eq!(count(&api, &c.point).await, 4);
    let all = {
        let mut v = vec![c.kep.clone(), c.etp.clone()];
        v.sort();
        v
    };
    let expected = [
        ("individual", "Иванов", all.clone()),
        ("sole_proprietor", "Петров", all.clone()),
        ("legal_entity", "Сидорова", all.clone()),
        ("individual", "Иванов", vec![c.kep.clone()]),
    ];
    for (app_id, (kind, surname, products)) in ids.iter().zip(expected) {
        let app = api
            .get(&format!("/api/v1/applications/{app_id}"))
            .await
            .expect(200);
        assert_eq!(app["applicant_kind"], kind, "{app}");
        assert_eq!(app["owner"]["surname"], surname, "{app}");
        assert_eq!(app["service_id"], svc.as_str());
        assert_eq!(app["point_id"], c.point.as_str());
        let mut got: Vec<String> = app["products"]
            .as_array()
            .expect("products")
            .iter()
            .map(|p| p.as_str().expect("product").to_owned())
            .collect();
        got.sort();
        assert_eq!(got, products, "{app}");
    }
    let le = api
        .get(&format!("/api/v1/applications/{}", ids[2]))
        .await
        .expect(200);
    assert_eq!(le["organization"]["ogrn"], "1027700132195");
    assert_eq!(le["owner"]["position"], "Генеральный директор");
}

#[tokio::test]
async fn services_without_bulk_csv_refuse_the_file() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let csv = [HEADER, INDIVIDUAL].join("\n");
    // The fixture's service leaves bulk_csv off.
    let r = post_csv(&api, &bearer(), &c.service, &c.point, csv.as_bytes()).await;
    r.assert_error(409, "bulk_not_allowed");
    assert_eq!(count(&api, &c.point).await, 0);
    // Unknown services and points are named.
    let svc = service(&api, &c, true).await;
    let r = post_csv(&api, &bearer(), &svc, &c.organization, csv.as_bytes()).await;
    assert_eq!(r.assert_error(422, "invalid_field")["field"], "point_id");
    let r = post_csv(&api, &bearer(), &c.point, &c.point, csv.as_bytes()).await;
    assert_eq!(r.assert_error(422, "invalid_field")["field"], "service_id");
    assert_eq!(count(&api, &c.point).await, 0);
}

#[tokio::test]
async fn semicolons_bom_and_crlf() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let svc = service(&api, &c, true).await;
    let body = format!(
        "\u{feff}{}\r\n{}\r\n{}\r\n",
        HEADER.replace(',', ";"),
        INDIVIDUAL.replace(',', ";"),
        LEGAL_ENTITY.replace(',', ";"),
    );
    let report = post_csv(&api, &bearer(), &svc, &c.point, body.as_bytes())
        .await
        .expect(200);
    let (rows, ids) = summary(&report);
    assert_eq!(
        rows,
        vec![
            row(2, "accepted", None, None),
            row(3, "accepted", None, None)
        ],
        "{report}"
    );
    assert_eq!(count(&api, &c.point).await, 2);
    let app = api
        .get(&format!("/api/v1/applications/{}", ids[0]))
        .await
        .expect(200);
    assert_eq!(app["owner"]["given_name"], "Иван");
}

#[tokio::test]
async fn quoted_fields_with_commas_quotes_and_cyrillic() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let svc = service(&api, &c, true).await;
    // Columns in another order, some left out; quotes, commas, doubled quotes
    // and a line break inside a field.
    let csv = format!(
        "surname,given_name,applicant_kind,snils,inn,email,position,organization_name,\
         organization_inn,ogrn,products\n\
         \"Сидорова-Петрова\",\"Анна, Мария\",legal_entity,123-456-789 64,773612345650,\
         a@romashka.example.ru,\"Директор, главный\",\"ООО \"\"Ромашка, Лютик и Ко\"\"\",\
         7707083893,1027700132195,\"{kep}|{etp}\"\n\
         \"Многострочная\",\"Ольга\",individual,112-233-445 95,500100732259,o@example.ru,,\"\",,,\n\
         \"Вторая\nстрока\",Ирина,individual,64270954807,561100409545,i@example.ru,,,,,\n",
        kep = c.kep,
        etp = c.etp,
    );
    let report = post_csv(&api, &bearer(), &svc, &c.point, csv.as_bytes())
        .await
        .expect(200);
    let (rows, ids) = summary(&report);
    // Rows are numbered by the line they start on.
    assert_eq!(
        rows,
        vec![
            row(2, "accepted", None, None),
            row(3, "accepted", None, None),
            row(4, "accepted", None, None),
        ],
        "{report}"
    );
    let app = api
        .get(&format!("/api/v1/applications/{}", ids[0]))
        .await
        .expect(200);
    assert_eq!(app["owner"]["surname"], "Сидорова-Петрова");
    assert_eq!(app["owner"]["given_name"], "Анна, Мария");
    assert_eq!(app["owner"]["position"], "Директор, главный");
    assert_eq!(app["organization"]["name"], "ООО \"Ромашка, Лютик и Ко\"");
    let app = api
        .get(&format!("/api/v1/applications/{}", ids[2]))
        .await
        .expect(200);
    assert_eq!(app["owner"]["surname"], "Вторая\nстрока");
    assert_eq!(count(&api, &c.point).await, 3);
}

#[tokio::test]
async fn too_many_rows_refuse_the_file() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let svc = service(&api, &c, true).await;
    let mut csv = String::from("applicant_kind,surname,given_name,snils,inn,email\n");
    for _ in 0..1001 {
        csv.push_str("individual,Иванов,Иван,11223344595,500100732259,i@example.ru\n");
    }
    assert!(csv.len() < 256 * 1024);
    let r = post_csv(&api, &bearer(), &svc, &c.point, csv.as_bytes()).await;
    r.assert_error(413, "too_many_rows");
    assert_eq!(count(&api, &c.point).await, 0);
    // A body over the router's limit is refused as such.
    let big = format!("{HEADER}\n{}", "x".repeat(300 * 1024));
    let r = post_csv(&api, &bearer(), &svc, &c.point, big.as_bytes()).await;
    assert_eq!(r.status.as_u16(), 413, "{}", r.text());
    assert_eq!(count(&api, &c.point).await, 0);
}

#[tokio::test]
async fn bad_headers_are_named() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let svc = service(&api, &c, true).await;
    let csv = format!("{HEADER},nickname,Фамилия\n{INDIVIDUAL},x,y\n");
    let r = post_csv(&api, &bearer(), &svc, &c.point, csv.as_bytes()).await;
    let v = r.assert_error(400, "invalid_csv");
    let m = v["message"].as_str().expect("message");
    assert!(m.contains("`nickname`") && m.contains("`фамилия`"), "{m}");
    let csv = "applicant_kind,surname,given_name,inn\nindividual,Иванов,Иван,500100732259\n";
    let r = post_csv(&api, &bearer(), &svc, &c.point, csv.as_bytes()).await;
    let v = r.assert_error(400, "invalid_csv");
    let m = v["message"].as_str().expect("message");
    assert!(m.contains("`snils`") && m.contains("`email`"), "{m}");
    assert!(!m.contains("`inn`"), "{m}");
    let r = post_csv(&api, &bearer(), &svc, &c.point, b"").await;
    r.assert_error(400, "invalid_csv");
    let r = post_csv(&api, &bearer(), &svc, &c.point, b"\xff\xfe,a\n").await;
    r.assert_error(400, "invalid_csv");
    assert_eq!(count(&api, &c.point).await, 0);
}

#[tokio::test]
async fn employees_need_bulk_create_and_a_visible_point() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let svc = service(&api, &c, true).await;
    let other_point = id(&api
        .create(
            "/api/v1/points",
            &json!({"parent_id": c.organization, "name": "Чужая точка",
                    "email": "other@agent.example.ru", "region": "77"}),
        )
        .await);
    let login = async |username: &str, permissions: &[&str], visibility: &str| {
        let user = api
            .create(
                "/api/v1/users",
                &json!({"username": username, "password": "correct horse battery", "staff": true}),
            )
            .await;
        api.create(
            "/api/v1/employees",
            &json!({"user_id": id(&user), "surname": "Сотрудников", "given_name": "Иван",
                    "email": "employee@agent.example.ru", "referral_id": c.point,
                    "visibility": [visibility], "permissions": permissions}),
        )
        .await;
        let s = api
            .send(
                Method::POST,
                "/api/v1/sessions",
                Some("application/json"),
                json!({"username": username, "password": "correct horse battery"})
                    .to_string()
                    .into_bytes(),
                None,
            )
            .await
            .expect(201);
        format!("Bearer {}", s["token"].as_str().expect("token"))
    };
    let csv = [HEADER, INDIVIDUAL].join("\n");
    let plain = login("plain", &["create_applications"], &c.point).await;
    let r = post_csv(&api, &plain, &svc, &c.point, csv.as_bytes()).await;
    r.assert_error(403, "forbidden");
    assert_eq!(count(&api, &c.point).await, 0);
    let bulk = login("bulk", &["bulk_create"], &c.point).await;
    // A point outside the employee's visibility is as if it did not exist.
    let r = post_csv(&api, &bulk, &svc, &other_point, csv.as_bytes()).await;
    assert_eq!(r.assert_error(422, "invalid_field")["field"], "point_id");
    let report = post_csv(&api, &bulk, &svc, &c.point, csv.as_bytes())
        .await
        .expect(200);
    assert_eq!(report["accepted"], 1, "{report}");
    assert_eq!(count(&api, &c.point).await, 1);
    // Applicants (self-service users) never hold bulk_create.
    api.create(
        "/api/v1/users",
        &json!({"username": "applicant", "password": "correct horse battery"}),
    )
    .await;
    let s = api
        .send(
            Method::POST,
            "/api/v1/sessions",
            Some("application/json"),
            json!({"username": "applicant", "password": "correct horse battery"})
                .to_string()
                .into_bytes(),
            None,
        )
        .await
        .expect(201);
    let applicant = format!("Bearer {}", s["token"].as_str().expect("token"));
    let r = post_csv(&api, &applicant, &svc, &c.point, csv.as_bytes()).await;
    r.assert_error(403, "forbidden");
    assert_eq!(count(&api, &c.point).await, 1);
}
