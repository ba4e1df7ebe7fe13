//! Head accounts (seed 004, "Головной аккаунт": the main account found in the
//! base by the INN of the legal entity, sole proprietor or person).
//!
//! A head account is keyed by INN, plus KPP for a legal entity: one branch of a
//! company (its own KPP) is its own account. Submitting an application finds the
//! account for its key or creates it from the application's data, and links it
//! (`head_account_id`). Accounts can then be browsed and edited; edits are
//! optimistic (the caller names the version it read).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::application::{Account, Address, CertificateOwner};
use super::catalog::ApplicantKind;
use super::identifiers::{AnyInn, Email, Kpp};
use super::ids::HeadAccountId;

/// The key of a head account: INN, and KPP for a legal entity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccountKey {
    /// INN (10 digits for a legal entity, 12 for a person or sole proprietor).
    pub inn: AnyInn,
    /// KPP (legal entities only; may be unknown).
    pub kpp: Option<Kpp>,
}

impl AccountKey {
    /// The key of an application's account: the legal entity's INN and KPP, or
    /// the owner's personal INN for a person or a sole proprietor.
    pub fn of_application(account: &Account, owner: &CertificateOwner) -> Self {
        match account {
            Account::LegalEntity { inn, kpp, .. } => Self {
                inn: AnyInn::LegalEntity(inn.clone()),
                kpp: kpp.clone(),
            },
            Account::Individual | Account::SoleProprietor { .. } => Self {
                inn: AnyInn::Person(owner.inn.clone()),
                kpp: None,
            },
        }
    }

    /// The KPP as stored (empty when absent): `(inn, kpp)` is unique.
    pub fn kpp_str(&self) -> &str {
        self.kpp.as_ref().map_or("", Kpp::as_str)
    }
}

/// Contact data of an account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contacts {
    /// E-mail.
    pub email: Option<Email>,
    /// Phone.
    pub phone: Option<String>,
    /// Contact person.
    pub contact_person: Option<String>,
}

/// A head account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadAccount {
    /// Server-generated id.
    pub id: HeadAccountId,
    /// Optimistic-concurrency version; 1 when created, bumped by every update.
    pub version: u64,
    /// Person, sole proprietor or legal entity.
    pub kind: ApplicantKind,
    /// INN (and KPP): the unique key.
    pub key: AccountKey,
    /// Full name of the person, sole proprietor or legal entity.
    pub full_name: String,
    /// Address, with KLADR and region code.
    pub address: Address,
    /// Contacts.
    pub contacts: Contacts,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl HeadAccount {
    /// A new account (version 1) from an application's data.
    pub fn from_application(
        id: HeadAccountId,
        account: &Account,
        owner: &CertificateOwner,
        address: &Address,
        at: OffsetDateTime,
    ) -> Self {
        let full_name = match account {
            Account::LegalEntity { name, .. } => name.clone(),
            Account::SoleProprietor { .. } => format!("ИП {}", owner.full_name()),
            Account::Individual => owner.full_name(),
        };
        Self {
            id,
            version: 1,
            kind: account.kind(),
            key: AccountKey::of_application(account, owner),
            full_name,
            address: address.clone(),
            contacts: Contacts {
                email: Some(owner.email.clone()),
                phone: None,
                contact_person: match account {
                    Account::LegalEntity { .. } => Some(owner.full_name()),
                    _ => None,
                },
            },
            created_at: at,
            updated_at: at,
        }
    }

    /// Applies `patch` at `at` and bumps the version.
    ///
    /// # Errors
    /// [`AccountEditError`] naming the field; nothing changes then.
    pub fn apply(
        &mut self,
        patch: AccountPatch,
        at: OffsetDateTime,
    ) -> Result<(), AccountEditError> {
        if let Some(name) = &patch.full_name
            && name.trim().is_empty()
        {
            return Err(AccountEditError {
                field: "full_name",
                problem: "must not be empty",
            });
        }
        if let Some(kladr) = patch.address.as_ref().and_then(|a| a.kladr.as_ref())
            && (!(13..=19).contains(&kladr.len()) || !kladr.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(AccountEditError {
                field: "address.kladr",
                problem: "must be 13 to 19 digits",
            });
        }
        if let Some(name) = patch.full_name {
            self.full_name = name;
        }
        if let Some(address) = patch.address {
            self.address = address;
        }
        if let Some(contacts) = patch.contacts {
            self.contacts = contacts;
        }
        self.version += 1;
        self.updated_at = at;
        Ok(())
    }
}

/// A change to an account's editable data (the key and the kind never change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountPatch {
    /// New full name.
    pub full_name: Option<String>,
    /// New address (replaces the whole address).
    pub address: Option<Address>,
    /// New contacts (replace all contacts).
    pub contacts: Option<Contacts>,
}

/// A patch value that is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct AccountEditError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong.
    pub problem: &'static str,
}
