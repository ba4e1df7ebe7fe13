//! Catalog and agents: OIDs, products, services, organizations, branches. Plain
//! documents with a few key columns.

use sqlx::{PgConnection, PgExecutor};

use super::error::{Result, insert_error, not_found};
use super::value::{data, to_json};
use crate::domain::agents::{Branch, Organization};
use crate::domain::catalog::{ObjectIdentifier, Product, Service};
use crate::ports::StoreError;

/// The `data` document of the row whose key is `id`, decoded.
async fn document<'c, T: serde::de::DeserializeOwned>(
    ex: impl PgExecutor<'c>,
    sql: &'static str,
    what: &str,
    id: String,
) -> Result<Option<T>> {
    let row = sqlx::query(sql).bind(id).fetch_optional(ex).await?;
    row.map(|r| data(what, &r)).transpose()
}

pub(super) async fn insert_oid(ex: impl PgExecutor<'_>, oid: &ObjectIdentifier) -> Result<()> {
    sqlx::query("INSERT INTO object_identifiers (oid, data) VALUES ($1, $2::jsonb)")
        .bind(oid.oid.as_str().to_owned())
        .bind(to_json("oid", oid)?)
        .execute(ex)
        .await
        .map_err(|e| insert_error(e, "oid", "oid"))?;
    Ok(())
}

pub(super) async fn oids(ex: impl PgExecutor<'_>) -> Result<Vec<ObjectIdentifier>> {
    let rows =
        sqlx::query("SELECT data::text AS data FROM object_identifiers ORDER BY oid COLLATE \"C\"")
            .fetch_all(ex)
            .await?;
    rows.iter().map(|r| data("oid", r)).collect()
}

/// As the memory store: a taken code is refused, a known id is replaced.
pub(super) async fn insert_product(conn: &mut PgConnection, product: &Product) -> Result<()> {
    let taken = sqlx::query("SELECT 1 FROM products WHERE code = $1")
        .bind(product.code.clone())
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    if taken {
        return Err(StoreError::Duplicate {
            entity: "product",
            field: "code",
        }
        .into());
    }
    sqlx::query(
        "INSERT INTO products (id, code, data) VALUES ($1, $2, $3::jsonb) \
         ON CONFLICT (id) DO UPDATE SET code = excluded.code, data = excluded.data",
    )
    .bind(product.id.to_string())
    .bind(product.code.clone())
    .bind(to_json("product", product)?)
    .execute(&mut *conn)
    .await
    .map_err(|e| insert_error(e, "product", "code"))?;
    Ok(())
}

pub(super) async fn product(ex: impl PgExecutor<'_>, id: String) -> Result<Option<Product>> {
    document(
        ex,
        "SELECT data::text AS data FROM products WHERE id = $1",
        "product",
        id,
    )
    .await
}

pub(super) async fn upsert_service(ex: impl PgExecutor<'_>, service: &Service) -> Result<()> {
    sqlx::query(
        "INSERT INTO services (id, data) VALUES ($1, $2::jsonb) \
         ON CONFLICT (id) DO UPDATE SET data = excluded.data",
    )
    .bind(service.id.to_string())
    .bind(to_json("service", service)?)
    .execute(ex)
    .await?;
    Ok(())
}

pub(super) async fn service(ex: impl PgExecutor<'_>, id: String) -> Result<Option<Service>> {
    document(
        ex,
        "SELECT data::text AS data FROM services WHERE id = $1",
        "service",
        id,
    )
    .await
}

pub(super) async fn upsert_organization(ex: impl PgExecutor<'_>, org: &Organization) -> Result<()> {
    sqlx::query(
        "INSERT INTO organizations (id, data) VALUES ($1, $2::jsonb) \
         ON CONFLICT (id) DO UPDATE SET data = excluded.data",
    )
    .bind(org.id.to_string())
    .bind(to_json("organization", org)?)
    .execute(ex)
    .await?;
    Ok(())
}

pub(super) async fn organization(
    ex: impl PgExecutor<'_>,
    id: String,
) -> Result<Option<Organization>> {
    document(
        ex,
        "SELECT data::text AS data FROM organizations WHERE id = $1",
        "organization",
        id,
    )
    .await
}

pub(super) async fn update_organization(ex: impl PgExecutor<'_>, org: &Organization) -> Result<()> {
    let done = sqlx::query("UPDATE organizations SET data = $1::jsonb WHERE id = $2")
        .bind(to_json("organization", org)?)
        .bind(org.id.to_string())
        .execute(ex)
        .await?;
    if done.rows_affected() == 0 {
        return Err(not_found("organization", org.id));
    }
    Ok(())
}

pub(super) async fn upsert_branch(ex: impl PgExecutor<'_>, branch: &Branch) -> Result<()> {
    sqlx::query(
        "INSERT INTO branches (id, organization_id, data) VALUES ($1, $2, $3::jsonb) \
         ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id, data = excluded.data",
    )
    .bind(branch.id.to_string())
    .bind(branch.organization_id.to_string())
    .bind(to_json("branch", branch)?)
    .execute(ex)
    .await?;
    Ok(())
}

pub(super) async fn branch(ex: impl PgExecutor<'_>, id: String) -> Result<Option<Branch>> {
    document(
        ex,
        "SELECT data::text AS data FROM branches WHERE id = $1",
        "branch",
        id,
    )
    .await
}

pub(super) async fn update_branch(ex: impl PgExecutor<'_>, branch: &Branch) -> Result<()> {
    let done =
        sqlx::query("UPDATE branches SET organization_id = $1, data = $2::jsonb WHERE id = $3")
            .bind(branch.organization_id.to_string())
            .bind(to_json("branch", branch)?)
            .bind(branch.id.to_string())
            .execute(ex)
            .await?;
    if done.rows_affected() == 0 {
        return Err(not_found("branch", branch.id));
    }
    Ok(())
}
