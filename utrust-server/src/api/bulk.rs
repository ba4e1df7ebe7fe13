//! `POST /applications/bulk?service_id=…&point_id=…`: bulk creation of
//! applications from a CSV file (seed 004: «массово создавать заявки»), for
//! services whose `bulk_csv` flag is on.
//!
//! The body is UTF-8 CSV (an optional byte-order mark; `,` or `;` as delimiter,
//! whichever the header line holds more of; RFC 4180 quoting) with a header row
//! naming the columns of [`COLUMNS`]. Each data row is parsed on its own with the
//! same conversions as `POST /applications` and submitted through
//! [`utrust_core::Engine::bulk_submit`]; the answer reports every row as accepted
//! (with the application's id) or rejected (with the error).

use std::collections::{BTreeMap, BTreeSet};

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Serialize;
use utrust_core::domain::access::Principal;
use utrust_core::domain::ids::{PointId, ServiceId};
use utrust_core::engine::bulk::{BulkReport, BulkRow, MAX_BULK_ROWS, RowError};

use super::catalog::body_id;
use super::json::bytes_rejection;
use super::wire::{AccountOrgIn, ApplicationIn, OwnerIn, PassportIn};
use super::{ApiError, AppState};

/// The columns a CSV file may have.
pub const COLUMNS: [&str; 19] = [
    "applicant_kind",
    "surname",
    "given_name",
    "patronymic",
    "snils",
    "inn",
    "email",
    "birth_date",
    "passport_series",
    "passport_number",
    "passport_issued_on",
    "passport_issuer_code",
    "position",
    "organization_name",
    "organization_inn",
    "kpp",
    "ogrn",
    "ogrnip",
    "products",
];

/// The columns every CSV file must have (the others may be left out).
pub const REQUIRED_COLUMNS: [&str; 6] = [
    "applicant_kind",
    "surname",
    "given_name",
    "snils",
    "inn",
    "email",
];

const ORGANIZATION_COLUMNS: [&str; 5] = [
    "organization_name",
    "organization_inn",
    "kpp",
    "ogrn",
    "ogrnip",
];

const PASSPORT_COLUMNS: [&str; 4] = [
    "passport_series",
    "passport_number",
    "passport_issued_on",
    "passport_issuer_code",
];

/// One row of the report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkRowOut {
    /// The line of the file where the row starts (the header is line 1).
    pub row: u64,
    /// `accepted` or `rejected`.
    pub status: &'static str,
    /// The created application (accepted rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// The error code (rejected rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What is wrong (rejected rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The column at fault, when the error is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The response of `POST /applications/bulk`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkOut {
    /// Rows that created an application.
    pub accepted: usize,
    /// Rows refused.
    pub rejected: usize,
    /// Every data row, in file order.
    pub rows: Vec<BulkRowOut>,
}

impl BulkOut {
    fn from_domain(r: &BulkReport) -> Self {
        Self {
            accepted: r.accepted,
            rejected: r.rejected,
            rows: r
                .rows
                .iter()
                .map(|o| match &o.result {
                    Ok(id) => BulkRowOut {
                        row: o.row,
                        status: "accepted",
                        application_id: Some(id.to_string()),
                        error: None,
                        message: None,
                        field: None,
                    },
                    Err(e) => BulkRowOut {
                        row: o.row,
                        status: "rejected",
                        application_id: None,
                        error: Some(e.code.clone()),
                        message: Some(e.message.clone()),
                        field: e.field.as_deref().map(column_of),
                    },
                })
                .collect(),
        }
    }
}

/// The CSV column for a field path of the JSON API (`owner.snils` → `snils`).
fn column_of(field: &str) -> String {
    match field {
        "organization.name" => "organization_name".into(),
        "organization.inn" => "organization_inn".into(),
        other => {
            if let Some(rest) = other.strip_prefix("owner.") {
                rest.replace('.', "_")
            } else if let Some(rest) = other.strip_prefix("organization.") {
                rest.to_owned()
            } else {
                other.to_owned()
            }
        }
    }
}

fn invalid_csv(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_csv", message)
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `,` or `;`: whichever the header line holds more of (`,` on a tie).
fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    let count = |c: char| header.chars().filter(|&x| x == c).count();
    if count(';') > count(',') { b';' } else { b',' }
}

/// The columns of a header row, checked: every name known, none twice, the
/// required ones present. Names are trimmed and compared case-insensitively.
fn columns(header: &csv::StringRecord) -> Result<BTreeMap<&'static str, usize>, ApiError> {
    let mut found = BTreeMap::new();
    let mut unknown = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let name = name.trim().to_lowercase();
        match COLUMNS.iter().find(|c| **c == name) {
            Some(c) => {
                if found.insert(*c, i).is_some() {
                    return Err(invalid_csv(format!("duplicate column `{c}`")));
                }
            }
            None => unknown.push(name),
        }
    }
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(String::as_str).collect();
        return Err(invalid_csv(format!(
            "unknown columns: {}; expected some of: {}",
            list(&names),
            list(&COLUMNS)
        )));
    }
    let missing: Vec<&str> = REQUIRED_COLUMNS
        .iter()
        .copied()
        .filter(|c| !found.contains_key(c))
        .collect();
    if !missing.is_empty() {
        return Err(invalid_csv(format!(
            "missing required columns: {}",
            list(&missing)
        )));
    }
    Ok(found)
}

/// One data row as the JSON body of `POST /applications` would carry it.
fn row_body(
    cols: &BTreeMap<&'static str, usize>,
    record: &csv::StringRecord,
    service_id: ServiceId,
    point_id: PointId,
) -> ApplicationIn {
    let get = |c: &str| -> String {
        cols.get(c)
            .and_then(|&i| record.get(i))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let opt = |c: &str| Some(get(c)).filter(|v| !v.is_empty());
    let any = |cs: &[&str]| cs.iter().any(|c| !get(c).is_empty());
    let passport = any(&PASSPORT_COLUMNS).then(|| PassportIn {
        series: get("passport_series"),
        number: get("passport_number"),
        issued_on: get("passport_issued_on"),
        issuer_code: get("passport_issuer_code"),
    });
    let organization = any(&ORGANIZATION_COLUMNS).then(|| AccountOrgIn {
        name: opt("organization_name"),
        inn: opt("organization_inn"),
        kpp: opt("kpp"),
        ogrn: opt("ogrn"),
        ogrnip: opt("ogrnip"),
    });
    ApplicationIn {
        service_id: service_id.to_string(),
        point_id: point_id.to_string(),
        applicant_kind: get("applicant_kind"),
        products: get("products")
            .split('|')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        owner: OwnerIn {
            surname: get("surname"),
            given_name: get("given_name"),
            patronymic: opt("patronymic"),
            snils: get("snils"),
            inn: get("inn"),
            email: get("email"),
            birth_date: opt("birth_date"),
            passport,
            position: opt("position"),
        },
        organization,
        address: None,
        renewal_notice: false,
    }
}

/// The 1-based line of the record starting at byte `offset` of `text`. The
/// reader may place a record at the line break before it (the `\n` of a CRLF
/// pair); records never start with a line break, so those are skipped.
fn line_of(text: &str, offset: u64) -> u64 {
    let bytes = text.as_bytes();
    let mut end = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    while bytes.get(end).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
        end += 1;
    }
    let newlines = bytes.iter().take(end).filter(|&&b| b == b'\n').count();
    newlines as u64 + 1
}

/// Parses the CSV body into rows (each parsed or refused on its own).
///
/// # Errors
/// 400 `invalid_csv` for a body that is not UTF-8 CSV with a valid header row;
/// 413 `too_many_rows` beyond [`MAX_BULK_ROWS`] data rows.
fn parse_rows(
    body: &[u8],
    service_id: ServiceId,
    point_id: PointId,
) -> Result<Vec<BulkRow>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| invalid_csv(format!("the body is not UTF-8: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(invalid_csv("empty body: a header row is required"));
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detect_delimiter(text))
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| invalid_csv(format!("unreadable header row: {e}")))?
        .clone();
    let cols = columns(&header)?;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| invalid_csv(e.to_string()))?;
        if i >= MAX_BULK_ROWS {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_rows",
                format!("at most {MAX_BULK_ROWS} data rows in one file"),
            ));
        }
        // Records are numbered by the line they start on (counted here: the
        // reader's own line count is off for CRLF files); the record count
        // should the reader not know where the record starts.
        let row = match record.position() {
            Some(p) => line_of(text, p.byte()),
            None => i as u64 + 2,
        };
        let data = if record.len() == header.len() {
            row_body(&cols, &record, service_id, point_id)
                .to_domain()
                .map_err(|e| RowError::new(e.code, e.message, e.field))
        } else {
            Err(RowError::new(
                "invalid_row",
                format!(
                    "expected {} fields as in the header, found {}",
                    header.len(),
                    record.len()
                ),
                None,
            ))
        };
        rows.push(BulkRow { row, data });
    }
    Ok(rows)
}

/// `POST /applications/bulk?service_id=…&point_id=…` with a `text/csv` body:
/// needs `bulk_create`, a point the caller may use, and a service with
/// `bulk_csv` on; answers `200` with the per-row report.
#[utoipa::path(
    post,
    path = "/api/v1/applications/bulk",
    tag = "applications",
    params(
        ("service_id" = uuid::Uuid, Query, description = "The service (with `bulk_csv` on)"),
        ("point_id" = uuid::Uuid, Query, description = "The issuing point"),
    ),
    request_body(description = "UTF-8 CSV with a header row", content((String = "text/csv"))),
    responses(
        (status = 200, description = "The per-row report", body = BulkOut),
        super::openapi::ActionBodyErrors,
    ),
)]
pub async fn create(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BulkOut>, ApiError> {
    let Query(q) =
        query.map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", r.body_text()))?;
    let known: BTreeSet<&str> = ["service_id", "point_id"].into();
    if let Some(other) = q.keys().find(|k| !known.contains(k.as_str())) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("unknown query parameter `{other}`"),
        ));
    }
    let param = |name: &str| {
        q.get(name)
            .ok_or_else(|| ApiError::invalid(name, "required query parameter"))
    };
    let service_id: ServiceId = body_id(param("service_id")?, "service_id")?;
    let point_id: PointId = body_id(param("point_id")?, "point_id")?;
    // Refuse the caller, the point or the service before reading the file.
    st.engine.bulk_allowed(&who, service_id, point_id).await?;
    let body = body.map_err(|r| bytes_rejection(&r))?;
    let rows = parse_rows(&body, service_id, point_id)?;
    let report = st
        .engine
        .bulk_submit(&who, service_id, point_id, rows)
        .await?;
    Ok(Json(BulkOut::from_domain(&report)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_follows_the_header_line() {
        assert_eq!(detect_delimiter("a;b;c\n1,2;3;4"), b';');
        assert_eq!(detect_delimiter("a,b,c\n1;2;3"), b',');
        assert_eq!(detect_delimiter("a"), b',');
    }

    #[test]
    fn lines_are_counted_from_one() {
        let t = "h\r\na\r\n\"b\nc\"\r\nd";
        assert_eq!(line_of(t, 0), 1);
        assert_eq!(line_of(t, 2), 2);
        assert_eq!(line_of(t, 3), 2);
        assert_eq!(line_of(t, 5), 3);
        assert_eq!(line_of(t, 6), 3);
        assert_eq!(line_of(t, 100), 5);
    }

    #[test]
    fn fields_map_to_columns() {
        assert_eq!(column_of("owner.snils"), "snils");
        assert_eq!(column_of("owner.passport.series"), "passport_series");
        assert_eq!(column_of("organization.ogrn"), "ogrn");
        assert_eq!(column_of("organization.inn"), "organization_inn");
        assert_eq!(column_of("products"), "products");
        for c in COLUMNS {
            assert_eq!(column_of(c), c);
        }
    }
}
