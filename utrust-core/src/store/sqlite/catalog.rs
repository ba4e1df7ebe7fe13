//! The catalog: object identifiers, products, services.

use crate::domain::catalog::{ObjectIdentifier, Product, Service};
use crate::domain::ids::{ProductId, ServiceId};
use crate::ports::StoreError;

use super::codec::{db, from_json, get, insert_error, to_json};
use super::{SqliteStore, exists, finish};

pub(super) async fn insert_object_identifier(
    s: &SqliteStore,
    oid: &ObjectIdentifier,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO object_identifiers (oid, data) VALUES (?, ?)")
        .bind(oid.oid.as_str().to_owned())
        .bind(to_json("oid", oid)?)
        .execute(&s.pool)
        .await
        .map_err(|e| insert_error(e, "oid", "oid"))?;
    Ok(())
}

pub(super) async fn object_identifiers(
    s: &SqliteStore,
) -> Result<Vec<ObjectIdentifier>, StoreError> {
    let rows = sqlx::query("SELECT data FROM object_identifiers ORDER BY oid")
        .fetch_all(&s.pool)
        .await
        .map_err(db)?;
    rows.iter()
        .map(|r| from_json("oid", &get::<String>(r, "data")?))
        .collect()
}

pub(super) async fn insert_product(s: &SqliteStore, product: &Product) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    let result = async {
        // As the memory store: a taken code is refused, a known id is replaced.
        let taken = exists(
            &mut tx,
            "SELECT 1 FROM products WHERE code = ?",
            product.code.clone(),
        )
        .await?;
        if taken {
            return Err(StoreError::Duplicate {
                entity: "product",
                field: "code",
            });
        }
        sqlx::query(
            "INSERT INTO products (id, code, data) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET code = excluded.code, data = excluded.data",
        )
        .bind(product.id.to_string())
        .bind(product.code.clone())
        .bind(to_json("product", product)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "product", "code"))?;
        Ok(())
    }
    .await;
    finish(tx, result).await
}

pub(super) async fn product(s: &SqliteStore, id: ProductId) -> Result<Option<Product>, StoreError> {
    s.fetch_data("SELECT data FROM products WHERE id = ?", id.to_string())
        .await?
        .map(|d| from_json("product", &d))
        .transpose()
}

pub(super) async fn insert_service(s: &SqliteStore, service: &Service) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO services (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data")
        .bind(service.id.to_string())
        .bind(to_json("service", service)?)
        .execute(&s.pool)
        .await
        .map_err(db)?;
    Ok(())
}

pub(super) async fn service(s: &SqliteStore, id: ServiceId) -> Result<Option<Service>, StoreError> {
    s.fetch_data("SELECT data FROM services WHERE id = ?", id.to_string())
        .await?
        .map(|d| from_json("service", &d))
        .transpose()
}
