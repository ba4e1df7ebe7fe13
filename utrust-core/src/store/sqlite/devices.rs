//! [`DeviceStore`] on SQLite: documents with their keys in columns (see
//! `migrations/sqlite/0005_devices.sql`). A device and its journal entry are
//! written in one `BEGIN IMMEDIATE` transaction; the journal's order is checked
//! against its last stored entry inside it.

use async_trait::async_trait;
use sqlx::SqliteConnection;

use super::codec::{db, from_json, get, insert_error, instant, to_json, version_i64};
use super::{SqliteStore, finish};
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

fn duplicate_serial(e: sqlx::Error) -> StoreError {
    insert_error(e, "device", "serial")
}

/// The `data` documents returned by `sql` bound to `key`, in row order.
async fn documents<T: serde::de::DeserializeOwned>(
    s: &SqliteStore,
    sql: &'static str,
    what: &str,
    key: Option<String>,
) -> Result<Vec<T>, StoreError> {
    let mut q = sqlx::query(sql);
    if let Some(k) = key {
        q = q.bind(k);
    }
    let rows = q.fetch_all(s.pool()).await.map_err(db)?;
    rows.iter()
        .map(|r| from_json(what, &get::<String>(r, "data")?))
        .collect()
}

async fn document<T: serde::de::DeserializeOwned>(
    s: &SqliteStore,
    sql: &'static str,
    what: &str,
    key: String,
) -> Result<Option<T>, StoreError> {
    s.fetch_data(sql, key)
        .await?
        .map(|d| from_json(what, &d))
        .transpose()
}

/// Checks the entry's order against the device's last stored entry and appends
/// it.
async fn append_journal(
    conn: &mut SqliteConnection,
    id: DeviceId,
    entry: Option<&JournalEntry>,
) -> Result<(), StoreError> {
    let Some(entry) = entry else {
        return Ok(());
    };
    let row = sqlx::query(
        "SELECT seq, data FROM device_journal WHERE device_id = ? ORDER BY seq DESC LIMIT 1",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let (last, seq) = match row {
        Some(r) => {
            let last: JournalEntry = from_json("journal entry", &get::<String>(&r, "data")?)?;
            (Some(last.kind), get::<i64>(&r, "seq")? + 1)
        }
        None => (None, 1),
    };
    journal_append(last, entry)?;
    sqlx::query("INSERT INTO device_journal (device_id, seq, kind, data) VALUES (?, ?, ?, ?)")
        .bind(id.to_string())
        .bind(seq)
        .bind(entry.kind.as_str())
        .bind(to_json("journal entry", entry)?)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn put_device_type(&self, device_type: &DeviceType) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO device_types (name, data) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET data = excluded.data",
        )
        .bind(device_type.name.clone())
        .bind(to_json("device type", device_type)?)
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn device_type(&self, name: &str) -> Result<Option<DeviceType>, StoreError> {
        document(
            self,
            "SELECT data FROM device_types WHERE name = ?",
            "device type",
            name.to_owned(),
        )
        .await
    }

    async fn device_types(&self) -> Result<Vec<DeviceType>, StoreError> {
        documents(
            self,
            "SELECT data FROM device_types ORDER BY name",
            "device type",
            None,
        )
        .await
    }

    async fn put_device_policy(&self, policy: &DevicePolicy) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO device_policies (name, data) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET data = excluded.data",
        )
        .bind(policy.name.clone())
        .bind(to_json("device policy", policy)?)
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn device_policy(&self, name: &str) -> Result<Option<DevicePolicy>, StoreError> {
        document(
            self,
            "SELECT data FROM device_policies WHERE name = ?",
            "device policy",
            name.to_owned(),
        )
        .await
    }

    async fn device_policies(&self) -> Result<Vec<DevicePolicy>, StoreError> {
        documents(
            self,
            "SELECT data FROM device_policies ORDER BY name",
            "device policy",
            None,
        )
        .await
    }

    async fn assign_device_policy(
        &self,
        target: &PolicyTarget,
        policy: Option<&str>,
    ) -> Result<(), StoreError> {
        let (kind, key) = target_columns(target);
        let mut tx = self.write_tx().await?;
        let result = async {
            match policy {
                Some(name) => {
                    let known = sqlx::query("SELECT 1 FROM device_policies WHERE name = ?")
                        .bind(name.to_owned())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?
                        .is_some();
                    if !known {
                        return Err(StoreError::NotFound {
                            entity: "device policy",
                            id: name.to_owned(),
                        });
                    }
                    sqlx::query(
                        "INSERT INTO device_policy_assignments (target_kind, target, policy) \
                         VALUES (?, ?, ?) ON CONFLICT (target_kind, target) \
                         DO UPDATE SET policy = excluded.policy",
                    )
                    .bind(kind)
                    .bind(key)
                    .bind(name.to_owned())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                None => {
                    sqlx::query(
                        "DELETE FROM device_policy_assignments WHERE target_kind = ? AND target = ?",
                    )
                    .bind(kind)
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
            }
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    async fn device_policy_assignments(&self) -> Result<Vec<PolicyAssignment>, StoreError> {
        let rows = sqlx::query(
            "SELECT target_kind, target, policy FROM device_policy_assignments \
             ORDER BY CASE target_kind WHEN 'user' THEN 0 ELSE 1 END, target",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
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
                Ok(PolicyAssignment {
                    target,
                    policy: get(r, "policy")?,
                })
            })
            .collect()
    }

    async fn put_user_profile(&self, profile: &UserProfile) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO user_profiles (user_id, data) VALUES (?, ?) \
             ON CONFLICT (user_id) DO UPDATE SET data = excluded.data",
        )
        .bind(profile.user_id.to_string())
        .bind(to_json("user profile", profile)?)
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn user_profile(&self, user: UserId) -> Result<Option<UserProfile>, StoreError> {
        document(
            self,
            "SELECT data FROM user_profiles WHERE user_id = ?",
            "user profile",
            user.to_string(),
        )
        .await
    }

    async fn set_secret_answers(
        &self,
        user: UserId,
        answers: &[SecretAnswer],
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            sqlx::query("DELETE FROM secret_answers WHERE user_id = ?")
                .bind(user.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            for (i, a) in answers.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO secret_answers (user_id, position, data) VALUES (?, ?, ?)",
                )
                .bind(user.to_string())
                .bind(i64::try_from(i).map_err(|e| StoreError::Backend(e.to_string()))?)
                .bind(to_json("secret answer", a)?)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    async fn secret_answers(&self, user: UserId) -> Result<Vec<SecretAnswer>, StoreError> {
        documents(
            self,
            "SELECT data FROM secret_answers WHERE user_id = ? ORDER BY position",
            "secret answer",
            Some(user.to_string()),
        )
        .await
    }

    async fn insert_device(
        &self,
        device: &Device,
        journal: Option<&JournalEntry>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            let (s, ns) = instant(device.created_at);
            let taken = sqlx::query("SELECT 1 FROM devices WHERE id = ?")
                .bind(device.id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?
                .is_some();
            if taken {
                return Err(StoreError::Duplicate {
                    entity: "device",
                    field: "id",
                });
            }
            sqlx::query(
                "INSERT INTO devices (id, user_id, serial, status, version, created_at_s, \
                 created_at_ns, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(device.id.to_string())
            .bind(device.user_id.map(|u| u.to_string()))
            .bind(device.serial.clone())
            .bind(device.status.as_str())
            .bind(version_i64(device.version)?)
            .bind(s)
            .bind(ns)
            .bind(to_json("device", device)?)
            .execute(&mut *tx)
            .await
            .map_err(duplicate_serial)?;
            append_journal(&mut tx, device.id, journal).await
        }
        .await;
        finish(tx, result).await
    }

    async fn update_device(
        &self,
        device: &Device,
        journal: Option<&JournalEntry>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            let done = sqlx::query(
                "UPDATE devices SET user_id = ?, serial = ?, status = ?, version = ?, data = ? \
                 WHERE id = ? AND version = ?",
            )
            .bind(device.user_id.map(|u| u.to_string()))
            .bind(device.serial.clone())
            .bind(device.status.as_str())
            .bind(version_i64(device.version)?)
            .bind(to_json("device", device)?)
            .bind(device.id.to_string())
            .bind(version_i64(device.version.saturating_sub(1))?)
            .execute(&mut *tx)
            .await
            .map_err(duplicate_serial)?;
            if done.rows_affected() == 0 {
                let exists = sqlx::query("SELECT 1 FROM devices WHERE id = ?")
                    .bind(device.id.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?
                    .is_some();
                return Err(if exists {
                    StoreError::DeviceVersionConflict { id: device.id }
                } else {
                    StoreError::NotFound {
                        entity: "device",
                        id: device.id.to_string(),
                    }
                });
            }
            append_journal(&mut tx, device.id, journal).await
        }
        .await;
        finish(tx, result).await
    }

    async fn device(&self, id: DeviceId) -> Result<Option<Device>, StoreError> {
        document(
            self,
            "SELECT data FROM devices WHERE id = ?",
            "device",
            id.to_string(),
        )
        .await
    }

    async fn live_device_by_serial(&self, serial: &str) -> Result<Option<Device>, StoreError> {
        document(
            self,
            "SELECT data FROM devices WHERE serial = ? \
             AND status NOT IN ('withdrawn', 'destroyed')",
            "device",
            serial.to_owned(),
        )
        .await
    }

    async fn devices_of_user(&self, user: UserId) -> Result<Vec<Device>, StoreError> {
        documents(
            self,
            "SELECT data FROM devices WHERE user_id = ? \
             ORDER BY created_at_s, created_at_ns, rowid",
            "device",
            Some(user.to_string()),
        )
        .await
    }

    async fn list_devices(
        &self,
        after: Option<DeviceId>,
        limit: u32,
    ) -> Result<Vec<Device>, StoreError> {
        let rows = sqlx::query("SELECT data FROM devices WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| from_json("device", &get::<String>(r, "data")?))
            .collect()
    }

    async fn device_journal(&self, id: DeviceId) -> Result<Vec<JournalEntry>, StoreError> {
        documents(
            self,
            "SELECT data FROM device_journal WHERE device_id = ? ORDER BY seq",
            "journal entry",
            Some(id.to_string()),
        )
        .await
    }
}
