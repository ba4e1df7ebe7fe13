//! [`DeviceStore`] in memory: its tables sit behind their own lock, so every
//! method (a device with its journal entry included) is atomic.

use std::collections::BTreeMap;
use std::sync::MutexGuard;

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::devices::{
    Device, DevicePolicy, DeviceType, JournalEntry, PolicyAssignment, PolicyTarget, SecretAnswer,
    journal_append,
};
use crate::domain::ids::{DeviceId, UserId};
use crate::domain::profile::UserProfile;
use crate::ports::{DeviceStore, StoreError};

/// The tables of [`DeviceStore`].
#[derive(Debug, Default)]
pub(super) struct DeviceTables {
    types: BTreeMap<String, DeviceType>,
    policies: BTreeMap<String, DevicePolicy>,
    assignments: BTreeMap<PolicyTarget, String>,
    profiles: BTreeMap<UserId, UserProfile>,
    answers: BTreeMap<UserId, Vec<SecretAnswer>>,
    /// Devices with their insertion sequence number.
    devices: BTreeMap<DeviceId, (u64, Device)>,
    next_seq: u64,
    journal: BTreeMap<DeviceId, Vec<JournalEntry>>,
}

impl DeviceTables {
    fn serial_taken(&self, device: &Device) -> bool {
        device.is_live()
            && self
                .devices
                .values()
                .any(|(_, d)| d.id != device.id && d.is_live() && d.serial == device.serial)
    }

    fn check_journal(&self, id: DeviceId, entry: Option<&JournalEntry>) -> Result<(), StoreError> {
        if let Some(e) = entry {
            let last = self.journal.get(&id).and_then(|j| j.last()).map(|l| l.kind);
            journal_append(last, e)?;
        }
        Ok(())
    }

    fn append(&mut self, id: DeviceId, entry: Option<&JournalEntry>) {
        if let Some(e) = entry {
            self.journal.entry(id).or_default().push(e.clone());
        }
    }
}

fn duplicate_serial() -> StoreError {
    StoreError::Duplicate {
        entity: "device",
        field: "serial",
    }
}

impl MemoryStore {
    fn device_tables(&self) -> MutexGuard<'_, DeviceTables> {
        match self.devices.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn put_device_type(&self, device_type: &DeviceType) -> Result<(), StoreError> {
        self.device_tables()
            .types
            .insert(device_type.name.clone(), device_type.clone());
        Ok(())
    }

    async fn device_type(&self, name: &str) -> Result<Option<DeviceType>, StoreError> {
        Ok(self.device_tables().types.get(name).cloned())
    }

    async fn device_types(&self) -> Result<Vec<DeviceType>, StoreError> {
        Ok(self.device_tables().types.values().cloned().collect())
    }

    async fn put_device_policy(&self, policy: &DevicePolicy) -> Result<(), StoreError> {
        self.device_tables()
            .policies
            .insert(policy.name.clone(), policy.clone());
        Ok(())
    }

    async fn device_policy(&self, name: &str) -> Result<Option<DevicePolicy>, StoreError> {
        Ok(self.device_tables().policies.get(name).cloned())
    }

    async fn device_policies(&self) -> Result<Vec<DevicePolicy>, StoreError> {
        Ok(self.device_tables().policies.values().cloned().collect())
    }

    async fn assign_device_policy(
        &self,
        target: &PolicyTarget,
        policy: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut t = self.device_tables();
        match policy {
            Some(name) => {
                if !t.policies.contains_key(name) {
                    return Err(StoreError::NotFound {
                        entity: "device policy",
                        id: name.to_owned(),
                    });
                }
                t.assignments.insert(target.clone(), name.to_owned());
            }
            None => {
                t.assignments.remove(target);
            }
        }
        Ok(())
    }

    async fn device_policy_assignments(&self) -> Result<Vec<PolicyAssignment>, StoreError> {
        // `PolicyTarget` orders users before groups.
        Ok(self
            .device_tables()
            .assignments
            .iter()
            .map(|(target, policy)| PolicyAssignment {
                target: target.clone(),
                policy: policy.clone(),
            })
            .collect())
    }

    async fn put_user_profile(&self, profile: &UserProfile) -> Result<(), StoreError> {
        self.device_tables()
            .profiles
            .insert(profile.user_id, profile.clone());
        Ok(())
    }

    async fn user_profile(&self, user: UserId) -> Result<Option<UserProfile>, StoreError> {
        Ok(self.device_tables().profiles.get(&user).cloned())
    }

    async fn set_secret_answers(
        &self,
        user: UserId,
        answers: &[SecretAnswer],
    ) -> Result<(), StoreError> {
        self.device_tables().answers.insert(user, answers.to_vec());
        Ok(())
    }

    async fn secret_answers(&self, user: UserId) -> Result<Vec<SecretAnswer>, StoreError> {
        Ok(self
            .device_tables()
            .answers
            .get(&user)
            .cloned()
            .unwrap_or_default())
    }

    async fn insert_device(
        &self,
        device: &Device,
        journal: Option<&JournalEntry>,
    ) -> Result<(), StoreError> {
        let mut t = self.device_tables();
        if t.devices.contains_key(&device.id) {
            return Err(StoreError::Duplicate {
                entity: "device",
                field: "id",
            });
        }
        if t.serial_taken(device) {
            return Err(duplicate_serial());
        }
        t.check_journal(device.id, journal)?;
        t.next_seq += 1;
        let seq = t.next_seq;
        t.devices.insert(device.id, (seq, device.clone()));
        t.append(device.id, journal);
        Ok(())
    }

    async fn update_device(
        &self,
        device: &Device,
        journal: Option<&JournalEntry>,
    ) -> Result<(), StoreError> {
        let mut t = self.device_tables();
        let seq = match t.devices.get(&device.id) {
            Some((seq, stored)) if stored.version + 1 == device.version => *seq,
            Some(_) => return Err(StoreError::DeviceVersionConflict { id: device.id }),
            None => {
                return Err(StoreError::NotFound {
                    entity: "device",
                    id: device.id.to_string(),
                });
            }
        };
        if t.serial_taken(device) {
            return Err(duplicate_serial());
        }
        t.check_journal(device.id, journal)?;
        t.devices.insert(device.id, (seq, device.clone()));
        t.append(device.id, journal);
        Ok(())
    }

    async fn device(&self, id: DeviceId) -> Result<Option<Device>, StoreError> {
        Ok(self
            .device_tables()
            .devices
            .get(&id)
            .map(|(_, d)| d.clone()))
    }

    async fn live_device_by_serial(&self, serial: &str) -> Result<Option<Device>, StoreError> {
        Ok(self
            .device_tables()
            .devices
            .values()
            .find(|(_, d)| d.is_live() && d.serial == serial)
            .map(|(_, d)| d.clone()))
    }

    async fn devices_of_user(&self, user: UserId) -> Result<Vec<Device>, StoreError> {
        let t = self.device_tables();
        let mut v: Vec<&(u64, Device)> = t
            .devices
            .values()
            .filter(|(_, d)| d.user_id == Some(user))
            .collect();
        v.sort_by_key(|(seq, d)| (d.created_at, *seq));
        Ok(v.into_iter().map(|(_, d)| d.clone()).collect())
    }

    async fn list_devices(
        &self,
        after: Option<DeviceId>,
        limit: u32,
    ) -> Result<Vec<Device>, StoreError> {
        let t = self.device_tables();
        let take = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(t.devices
            .iter()
            .filter(|(id, _)| after.is_none_or(|a| **id > a))
            .take(take)
            .map(|(_, (_, d))| d.clone())
            .collect())
    }

    async fn device_journal(&self, id: DeviceId) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self
            .device_tables()
            .journal
            .get(&id)
            .cloned()
            .unwrap_or_default())
    }
}
