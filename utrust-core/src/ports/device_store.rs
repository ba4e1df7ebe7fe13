//! Persistence of hardware-token self-service: device records, device types and
//! policies, policy assignments, user profiles, secret-question answers
//! (argon2 hashes only) and the crypto-means journal. A part of
//! [`Store`](super::Store), kept in its own trait so that its implementations
//! live in their own files.
//!
//! Devices carry an optimistic `version` like applications: a write gives the
//! new state with `version` already incremented and succeeds only if the stored
//! version is exactly one less ([`StoreError::DeviceVersionConflict`]). A
//! serial number is unique among live devices (not withdrawn or destroyed):
//! [`StoreError::Duplicate`] `device`/`serial`. A journal entry is written in
//! the same transaction as its device, after checking its order against the
//! last stored entry with
//! [`journal_append`](crate::domain::devices::journal_append)
//! ([`StoreError::Journal`]); the journal is never changed or shortened.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::devices::{
    Device, DevicePolicy, DeviceType, JournalEntry, PolicyAssignment, PolicyTarget, SecretAnswer,
};
use crate::domain::ids::{DeviceId, UserId};
use crate::domain::profile::UserProfile;

/// See the module documentation.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Adds or replaces a device type (by name).
    async fn put_device_type(&self, device_type: &DeviceType) -> Result<(), StoreError>;
    /// A device type by name.
    async fn device_type(&self, name: &str) -> Result<Option<DeviceType>, StoreError>;
    /// Every device type, by name.
    async fn device_types(&self) -> Result<Vec<DeviceType>, StoreError>;

    /// Adds or replaces a device policy (by name).
    async fn put_device_policy(&self, policy: &DevicePolicy) -> Result<(), StoreError>;
    /// A device policy by name.
    async fn device_policy(&self, name: &str) -> Result<Option<DevicePolicy>, StoreError>;
    /// Every device policy, by name.
    async fn device_policies(&self) -> Result<Vec<DevicePolicy>, StoreError>;

    /// Assigns a policy to a user or group (replacing its assignment), or
    /// removes the assignment (`policy` `None`). Assigning an unknown policy is
    /// [`StoreError::NotFound`] `device policy`.
    async fn assign_device_policy(
        &self,
        target: &PolicyTarget,
        policy: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Every policy assignment, users first then groups, each by key.
    async fn device_policy_assignments(&self) -> Result<Vec<PolicyAssignment>, StoreError>;

    /// Adds or replaces a user's directory profile.
    async fn put_user_profile(&self, profile: &UserProfile) -> Result<(), StoreError>;
    /// A user's directory profile.
    async fn user_profile(&self, user: UserId) -> Result<Option<UserProfile>, StoreError>;

    /// Replaces all of a user's secret answers at once.
    async fn set_secret_answers(
        &self,
        user: UserId,
        answers: &[SecretAnswer],
    ) -> Result<(), StoreError>;
    /// A user's secret answers, in the order they were set.
    async fn secret_answers(&self, user: UserId) -> Result<Vec<SecretAnswer>, StoreError>;

    /// Adds a device (its `version` is 1) with an optional first journal entry.
    async fn insert_device(
        &self,
        device: &Device,
        journal: Option<&JournalEntry>,
    ) -> Result<(), StoreError>;
    /// Writes a device (version check) and, if given, appends a journal entry,
    /// in one transaction.
    async fn update_device(
        &self,
        device: &Device,
        journal: Option<&JournalEntry>,
    ) -> Result<(), StoreError>;
    /// A device by id.
    async fn device(&self, id: DeviceId) -> Result<Option<Device>, StoreError>;
    /// The live device (not withdrawn or destroyed) with this serial number.
    async fn live_device_by_serial(&self, serial: &str) -> Result<Option<Device>, StoreError>;
    /// A user's devices, oldest first.
    async fn devices_of_user(&self, user: UserId) -> Result<Vec<Device>, StoreError>;
    /// Devices ordered by id after the cursor.
    async fn list_devices(
        &self,
        after: Option<DeviceId>,
        limit: u32,
    ) -> Result<Vec<Device>, StoreError>;
    /// A device's crypto-means journal, oldest first.
    async fn device_journal(&self, id: DeviceId) -> Result<Vec<JournalEntry>, StoreError>;
}
