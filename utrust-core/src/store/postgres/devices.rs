//! [`DeviceStore`] on PostgreSQL: documents with their keys in columns (see
//! `migrations/postgres/0004_devices.sql`). A device and its journal entry are
//! one transaction; the version check is a conditional `UPDATE` (the row lock
//! orders racing writers), and the journal's order is checked against its last
//! stored entry inside it. The partial `UNIQUE` index on live serials decides
//! races between processes.

use async_trait::async_trait;
use sqlx::PgConnection;

use super::PgStore;
use super::error::{Result as PgResult, insert_error, not_found};
use super::tx::transaction;
use super::value::{data, get, micros, to_json, version_i64};
use crate::domain::devices::{
    Device, DevicePolicy, DeviceType, JournalEntry, PolicyAssignment, PolicyTarget, SecretAnswer,
    journal_append,
};
use crate::domain::ids::{DeviceId, UserId};
use crate::domain::profile::UserProfile;
use crate::ports::{DeviceStore, StoreError};

/// `(target_kind, target)` columns of an assignment.
fn target_columns(target: &PolicyTarget) -> (&'static str, String) {
    match target {
        PolicyTarget::User(u) => ("user", u.to_string()),
        PolicyTarget::Group(g) => ("group", g.clone()),
    }
}

/// The `data` documents `sql` returns for `key`, in row order.
async fn documents<T: serde::de::DeserializeOwned>(
    s: &PgStore,
    sql: &'static str,
    what: &str,
    key: Option<String>,
) -> PgResult<Vec<T>> {
    let mut q = sqlx::query(sql);
    if let Some(k) = key {
        q = q.bind(k);
    }
    let rows = q.fetch_all(&s.pool).await?;
    rows.iter().map(|r| data(what, r)).collect()
}

async fn document<T: serde::de::DeserializeOwned>(
    s: &PgStore,
    sql: &'static str,
    what: &str,
    key: String,
) -> PgResult<Option<T>> {
    let row = sqlx::query(sql).bind(key).fetch_optional(&s.pool).await?;
    row.map(|r| data(what, &r)).transpose()
}

async fn upsert(s: &PgStore, sql: &'static str, key: String, json: String) -> PgResult<()> {
    sqlx::query(sql)
        .bind(key)
        .bind(json)
        .execute(&s.pool)
        .await?;
    Ok(())
}

/// Checks the entry's order against the device's last stored entry and appends
/// it.
async fn append_journal(
    conn: &mut PgConnection,
    id: DeviceId,
    entry: Option<&JournalEntry>,
) -> PgResult<()> {
    let Some(entry) = entry else {
        return Ok(());
    };
    let row = sqlx::query(
        "SELECT seq, data::text AS data FROM device_journal WHERE device_id = $1 \
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let (last, seq) = match row {
        Some(r) => {
            let last: JournalEntry = data("journal entry", &r)?;
            (Some(last.kind), get::<i32>(&r, "seq")? + 1)
        }
        None => (None, 1),
    };
    journal_append(last, entry).map_err(StoreError::from)?;
    sqlx::query(
        "INSERT INTO device_journal (device_id, seq, kind, data) VALUES ($1, $2, $3, $4::jsonb)",
    )
    .bind(id.to_string())
    .bind(seq)
    .bind(entry.kind.as_str())
    .bind(to_json("journal entry", entry)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_device(
    conn: &mut PgConnection,
    device: &Device,
    journal: Option<&JournalEntry>,
) -> PgResult<()> {
    let taken = sqlx::query("SELECT 1 FROM devices WHERE id = $1")
        .bind(device.id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    if taken {
        return Err(StoreError::Duplicate {
            entity: "device",
            field: "id",
        }
        .into());
    }
    sqlx::query(
        "INSERT INTO devices (id, user_id, serial, status, version, created_at, data) \
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
    )
    .bind(device.id.to_string())
    .bind(device.user_id.map(|u| u.to_string()))
    .bind(device.serial.clone())
    .bind(device.status.as_str())
    .bind(version_i64(device.version)?)
    .bind(micros(device.created_at))
    .bind(to_json("device", device)?)
    .execute(&mut *conn)
    .await
    .map_err(|e| insert_error(e, "device", "serial"))?;
    append_journal(conn, device.id, journal).await
}

async fn update_device(
    conn: &mut PgConnection,
    device: &Device,
    journal: Option<&JournalEntry>,
) -> PgResult<()> {
    let done = sqlx::query(
        "UPDATE devices SET user_id = $1, serial = $2, status = $3, version = $4, \
         data = $5::jsonb WHERE id = $6 AND version = $7",
    )
    .bind(device.user_id.map(|u| u.to_string()))
    .bind(device.serial.clone())
    .bind(device.status.as_str())
    .bind(version_i64(device.version)?)
    .bind(to_json("device", device)?)
    .bind(device.id.to_string())
    .bind(version_i64(device.version.saturating_sub(1))?)
    .execute(&mut *conn)
    .await
    .map_err(|e| insert_error(e, "device", "serial"))?;
    if done.rows_affected() == 0 {
        let exists = sqlx::query("SELECT 1 FROM devices WHERE id = $1")
            .bind(device.id.to_string())
            .fetch_optional(&mut *conn)
            .await?
            .is_some();
        return Err(if exists {
            StoreError::DeviceVersionConflict { id: device.id }.into()
        } else {
            not_found("device", device.id)
        });
    }
    append_journal(conn, device.id, journal).await
}

async fn assign(
    conn: &mut PgConnection,
    target: &PolicyTarget,
    policy: Option<&str>,
) -> PgResult<()> {
    let (kind, key) = target_columns(target);
    match policy {
        Some(name) => {
            let known = sqlx::query("SELECT 1 FROM device_policies WHERE name = $1")
                .bind(name.to_owned())
                .fetch_optional(&mut *conn)
                .await?
                .is_some();
            if !known {
                return Err(not_found("device policy", name));
            }
            sqlx::query(
                "INSERT INTO device_policy_assignments (target_kind, target, policy) \
                 VALUES ($1, $2, $3) ON CONFLICT (target_kind, target) \
                 DO UPDATE SET policy = excluded.policy",
            )
            .bind(kind)
            .bind(key)
            .bind(name.to_owned())
            .execute(&mut *conn)
            .await?;
        }
        None => {
            sqlx::query(
                "DELETE FROM device_policy_assignments WHERE target_kind = $1 AND target = $2",
            )
            .bind(kind)
            .bind(key)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

async fn set_answers(
    conn: &mut PgConnection,
    user: UserId,
    answers: &[SecretAnswer],
) -> PgResult<()> {
    sqlx::query("DELETE FROM secret_answers WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    for (i, a) in answers.iter().enumerate() {
        sqlx::query(
            "INSERT INTO secret_answers (user_id, position, data) VALUES ($1, $2, $3::jsonb)",
        )
        .bind(user.to_string())
        .bind(i32::try_from(i).map_err(|e| StoreError::Backend(e.to_string()))?)
        .bind(to_json("secret answer", a)?)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl DeviceStore for PgStore {
    async fn put_device_type(&self, device_type: &DeviceType) -> Result<(), StoreError> {
        Ok(upsert(
            self,
            "INSERT INTO device_types (name, data) VALUES ($1, $2::jsonb) \
             ON CONFLICT (name) DO UPDATE SET data = excluded.data",
            device_type.name.clone(),
            to_json("device type", device_type)?,
        )
        .await?)
    }

    async fn device_type(&self, name: &str) -> Result<Option<DeviceType>, StoreError> {
        Ok(document(
            self,
            "SELECT data::text AS data FROM device_types WHERE name = $1",
            "device type",
            name.to_owned(),
        )
        .await?)
    }

    async fn device_types(&self) -> Result<Vec<DeviceType>, StoreError> {
        Ok(documents(
            self,
            "SELECT data::text AS data FROM device_types ORDER BY name COLLATE \"C\"",
            "device type",
            None,
        )
        .await?)
    }

    async fn put_device_policy(&self, policy: &DevicePolicy) -> Result<(), StoreError> {
        Ok(upsert(
            self,
            "INSERT INTO device_policies (name, data) VALUES ($1, $2::jsonb) \
             ON CONFLICT (name) DO UPDATE SET data = excluded.data",
            policy.name.clone(),
            to_json("device policy", policy)?,
        )
        .await?)
    }

    async fn device_policy(&self, name: &str) -> Result<Option<DevicePolicy>, StoreError> {
        Ok(document(
            self,
            "SELECT data::text AS data FROM device_policies WHERE name = $1",
            "device policy",
            name.to_owned(),
        )
        .await?)
    }

    async fn device_policies(&self) -> Result<Vec<DevicePolicy>, StoreError> {
        Ok(documents(
            self,
            "SELECT data::text AS data FROM device_policies ORDER BY name COLLATE \"C\"",
            "device policy",
            None,
        )
        .await?)
    }

    async fn assign_device_policy(
        &self,
        target: &PolicyTarget,
        policy: Option<&str>,
    ) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| assign(conn, target, policy))
    }

    async fn device_policy_assignments(&self) -> Result<Vec<PolicyAssignment>, StoreError> {
        let rows = sqlx::query(
            "SELECT target_kind, target, policy FROM device_policy_assignments \
             ORDER BY CASE target_kind WHEN 'user' THEN 0 ELSE 1 END, target COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(super::error::Failure::from)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind: String = get(r, "target_kind")?;
            let key: String = get(r, "target")?;
            let target = if kind == "user" {
                PolicyTarget::User(
                    key.parse()
                        .map_err(|e| StoreError::Corrupt(format!("assignment user: {e}")))?,
                )
            } else {
                PolicyTarget::Group(key)
            };
            out.push(PolicyAssignment {
                target,
                policy: get(r, "policy")?,
            });
        }
        Ok(out)
    }

    async fn put_user_profile(&self, profile: &UserProfile) -> Result<(), StoreError> {
        Ok(upsert(
            self,
            "INSERT INTO user_profiles (user_id, data) VALUES ($1, $2::jsonb) \
             ON CONFLICT (user_id) DO UPDATE SET data = excluded.data",
            profile.user_id.to_string(),
            to_json("user profile", profile)?,
        )
        .await?)
    }

    async fn user_profile(&self, user: UserId) -> Result<Option<UserProfile>, StoreError> {
        Ok(document(
            self,
            "SELECT data::text AS data FROM user_profiles WHERE user_id = $1",
            "user profile",
            user.to_string(),
        )
        .await?)
    }

    async fn set_secret_answers(
        &self,
        user: UserId,
        answers: &[SecretAnswer],
    ) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| set_answers(conn, user, answers))
    }

    async fn secret_answers(&self, user: UserId) -> Result<Vec<SecretAnswer>, StoreError> {
        Ok(documents(
            self,
            "SELECT data::text AS data FROM secret_answers WHERE user_id = $1 ORDER BY position",
            "secret answer",
            Some(user.to_string()),
        )
        .await?)
    }

    async fn insert_device(
        &self,
        device: &Device,
        journal: Option<&JournalEntry>,
    ) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| insert_device(conn, device, journal))
    }

    async fn update_device(
        &self,
        device: &Device,
        journal: Option<&JournalEntry>,
    ) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| update_device(conn, device, journal))
    }

    async fn device(&self, id: DeviceId) -> Result<Option<Device>, StoreError> {
        Ok(document(
            self,
            "SELECT data::text AS data FROM devices WHERE id = $1",
            "device",
            id.to_string(),
        )
        .await?)
    }

    async fn live_device_by_serial(&self, serial: &str) -> Result<Option<Device>, StoreError> {
        Ok(document(
            self,
            "SELECT data::text AS data FROM devices WHERE serial = $1 \
             AND status NOT IN ('withdrawn', 'destroyed')",
            "device",
            serial.to_owned(),
        )
        .await?)
    }

    async fn devices_of_user(&self, user: UserId) -> Result<Vec<Device>, StoreError> {
        Ok(documents(
            self,
            "SELECT data::text AS data FROM devices WHERE user_id = $1 \
             ORDER BY created_at, seq",
            "device",
            Some(user.to_string()),
        )
        .await?)
    }

    async fn list_devices(
        &self,
        after: Option<DeviceId>,
        limit: u32,
    ) -> Result<Vec<Device>, StoreError> {
        let rows = sqlx::query(
            "SELECT data::text AS data FROM devices WHERE id > $1 \
             ORDER BY id COLLATE \"C\" LIMIT $2",
        )
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(super::error::Failure::from)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(data("device", r)?);
        }
        Ok(out)
    }

    async fn device_journal(&self, id: DeviceId) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(documents(
            self,
            "SELECT data::text AS data FROM device_journal WHERE device_id = $1 ORDER BY seq",
            "journal entry",
            Some(id.to_string()),
        )
        .await?)
    }
}
