//! The user's directory data (seed 000: "данные пользователя из ресурсной
//! системы") that prefill the certificate owner of a self-service issuance, and
//! the rule for the user's edits: with editing allowed by the device policy
//! every field may change; otherwise only fields the directory leaves empty may
//! be filled, and a change of a present field is refused naming it.

use serde::{Deserialize, Serialize};
use time::Date;

use super::application::{CertificateOwner, Passport};
use super::identifiers::{Email, Inn, Snils};
use super::ids::UserId;

/// A user's person data from the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    /// The user.
    pub user_id: UserId,
    /// Surname.
    pub surname: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Patronymic.
    pub patronymic: Option<String>,
    /// SNILS.
    pub snils: Option<Snils>,
    /// Personal INN.
    pub inn: Option<Inn>,
    /// E-mail.
    pub email: Option<Email>,
    /// Birth date.
    pub birth_date: Option<Date>,
    /// Passport.
    pub passport: Option<Passport>,
    /// Position.
    pub position: Option<String>,
    /// The manager's e-mail (a generated PIN may be mailed there).
    pub manager_email: Option<Email>,
}

impl UserProfile {
    /// An empty profile of `user`.
    pub fn empty(user_id: UserId) -> Self {
        Self {
            user_id,
            surname: None,
            given_name: None,
            patronymic: None,
            snils: None,
            inn: None,
            email: None,
            birth_date: None,
            passport: None,
            position: None,
            manager_email: None,
        }
    }
}

/// The user's corrections of the prefilled owner data (absent: keep).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerEdits {
    /// Surname.
    pub surname: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Patronymic.
    pub patronymic: Option<String>,
    /// SNILS.
    pub snils: Option<Snils>,
    /// Personal INN.
    pub inn: Option<Inn>,
    /// E-mail.
    pub email: Option<Email>,
    /// Birth date.
    pub birth_date: Option<Date>,
    /// Passport.
    pub passport: Option<Passport>,
    /// Position.
    pub position: Option<String>,
}

/// Why the owner data cannot be settled; each names the field (`owner.…`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The field is prefilled from the directory and the policy does not let
    /// the user change it.
    #[error("{field}: prefilled from the directory; the device policy does not allow changing it")]
    NotEditable {
        /// The field.
        field: &'static str,
    },
    /// The field is needed for the certificate and neither the directory nor
    /// the user gives it.
    #[error("{field}: required for the certificate (missing in the directory)")]
    Missing {
        /// The field.
        field: &'static str,
    },
}

impl ProfileError {
    /// The field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::NotEditable { field } | Self::Missing { field } => field,
        }
    }
}

/// Merges one field: an edit of an empty field fills it; an edit of a present
/// field replaces it only when `editable` (an edit equal to the present value
/// is no change).
fn merge<T: Clone + PartialEq>(
    field: &'static str,
    present: &Option<T>,
    edit: &Option<T>,
    editable: bool,
) -> Result<Option<T>, ProfileError> {
    match (present, edit) {
        (_, None) => Ok(present.clone()),
        (None, Some(e)) => Ok(Some(e.clone())),
        (Some(p), Some(e)) if p == e || editable => Ok(Some(e.clone())),
        (Some(_), Some(_)) => Err(ProfileError::NotEditable { field }),
    }
}

/// A text field with blank treated as absent.
fn text(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The certificate owner from the profile and the user's edits.
///
/// # Errors
/// [`ProfileError::NotEditable`] for a change of a present field when
/// `editable` is false; [`ProfileError::Missing`] for a surname, given name,
/// SNILS, INN or e-mail that neither gives.
pub fn owner_from_profile(
    profile: &UserProfile,
    edits: &OwnerEdits,
    editable: bool,
) -> Result<CertificateOwner, ProfileError> {
    let surname = merge(
        "owner.surname",
        &text(&profile.surname),
        &text(&edits.surname),
        editable,
    )?;
    let given_name = merge(
        "owner.given_name",
        &text(&profile.given_name),
        &text(&edits.given_name),
        editable,
    )?;
    let patronymic = merge(
        "owner.patronymic",
        &text(&profile.patronymic),
        &text(&edits.patronymic),
        editable,
    )?;
    let snils = merge("owner.snils", &profile.snils, &edits.snils, editable)?;
    let inn = merge("owner.inn", &profile.inn, &edits.inn, editable)?;
    let email = merge("owner.email", &profile.email, &edits.email, editable)?;
    let birth_date = merge(
        "owner.birth_date",
        &profile.birth_date,
        &edits.birth_date,
        editable,
    )?;
    let passport = merge(
        "owner.passport",
        &profile.passport,
        &edits.passport,
        editable,
    )?;
    let position = merge(
        "owner.position",
        &text(&profile.position),
        &text(&edits.position),
        editable,
    )?;
    Ok(CertificateOwner {
        surname: surname.ok_or(ProfileError::Missing {
            field: "owner.surname",
        })?,
        given_name: given_name.ok_or(ProfileError::Missing {
            field: "owner.given_name",
        })?,
        patronymic,
        snils: snils.ok_or(ProfileError::Missing {
            field: "owner.snils",
        })?,
        inn: inn.ok_or(ProfileError::Missing { field: "owner.inn" })?,
        email: email.ok_or(ProfileError::Missing {
            field: "owner.email",
        })?,
        birth_date,
        passport,
        position,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn profile() -> UserProfile {
        UserProfile {
            surname: Some("Иванов".into()),
            given_name: Some("Иван".into()),
            snils: Some(Snils::parse("112-233-445 95").unwrap()),
            email: Some(Email::parse("ivanov@example.org").unwrap()),
            ..UserProfile::empty(UserId::from_uuid(uuid::Uuid::nil()))
        }
    }

    fn inn() -> Inn {
        Inn::parse("500100732259").unwrap()
    }

    #[test]
    fn missing_fields_may_be_filled_present_ones_not_changed() {
        let edits = OwnerEdits {
            inn: Some(inn()),
            patronymic: Some("Петрович".into()),
            ..OwnerEdits::default()
        };
        let owner = owner_from_profile(&profile(), &edits, false).unwrap();
        assert_eq!(owner.full_name(), "Иванов Иван Петрович");
        assert_eq!(owner.inn, inn());

        let change = OwnerEdits {
            surname: Some("Петров".into()),
            inn: Some(inn()),
            ..OwnerEdits::default()
        };
        assert_eq!(
            owner_from_profile(&profile(), &change, false),
            Err(ProfileError::NotEditable {
                field: "owner.surname"
            })
        );
        // The same value again is no change.
        let same = OwnerEdits {
            surname: Some(" Иванов ".into()),
            inn: Some(inn()),
            ..OwnerEdits::default()
        };
        assert!(owner_from_profile(&profile(), &same, false).is_ok());
        // Editing allowed: the change is taken.
        let owner = owner_from_profile(&profile(), &change, true).unwrap();
        assert_eq!(owner.surname, "Петров");
    }

    #[test]
    fn required_fields_name_themselves() {
        assert_eq!(
            owner_from_profile(&profile(), &OwnerEdits::default(), true),
            Err(ProfileError::Missing { field: "owner.inn" })
        );
        let empty = UserProfile::empty(UserId::from_uuid(uuid::Uuid::nil()));
        assert_eq!(
            owner_from_profile(&empty, &OwnerEdits::default(), true),
            Err(ProfileError::Missing {
                field: "owner.surname"
            })
        );
    }
}
