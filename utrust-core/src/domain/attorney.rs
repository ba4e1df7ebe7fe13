//! Power of attorney (seed 004, organization "Данные для доверенности" and the
//! service's "Тип доверенности"): the snapshot a corporate application carries
//! and the HTML document rendered from it.
//!
//! The organization's [`AttorneyData`] names the trusted person on whose behalf
//! the power of attorney is issued to the certificate owner, the legal basis, the
//! powers and the validity in years. When a legal entity applies through a service
//! whose [`AttorneyType`] is not `None`, the engine copies that data onto the
//! application ([`PowerOfAttorney::snapshot`]): later edits of the organization do
//! not change documents already prepared.

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use super::agents::AttorneyData;
use super::application::{Account, CertificateOwner};
use super::catalog::AttorneyType;

/// The principal: the legal entity that grants the power of attorney.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Name as registered.
    pub name: String,
    /// 10-digit INN.
    pub inn: String,
    /// KPP, if known.
    pub kpp: Option<String>,
    /// OGRN.
    pub ogrn: String,
}

/// A power of attorney as snapshotted on an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerOfAttorney {
    /// Paper or machine-readable.
    pub attorney_type: AttorneyType,
    /// The legal entity granting it (the application's account).
    pub principal: Principal,
    /// Name of the agent organization whose attorney data was used.
    pub organization: String,
    /// Full name of the trusted person who signs it.
    pub trusted_person: String,
    /// Their position.
    pub position: String,
    /// Legal basis (e.g. the charter or an order with its number).
    pub legal_basis: String,
    /// Powers granted.
    pub powers: Vec<String>,
    /// Holder: the certificate owner's full name.
    pub holder: String,
    /// The holder's position, if given.
    pub holder_position: Option<String>,
    /// Valid from (the submission date).
    pub valid_from: Date,
    /// Valid until (`valid_from` plus the validity in years; 29 February becomes
    /// 28 February in a common year).
    pub valid_until: Date,
}

impl PowerOfAttorney {
    /// The power of attorney a corporate application gets, or `None` when the
    /// service has no attorney type, the account is not a legal entity, or the
    /// organization has no attorney data.
    pub fn snapshot(
        attorney_type: AttorneyType,
        account: &Account,
        owner: &CertificateOwner,
        organization_name: &str,
        data: Option<&AttorneyData>,
        on: Date,
    ) -> Option<Self> {
        if attorney_type == AttorneyType::None {
            return None;
        }
        let Account::LegalEntity {
            name,
            inn,
            kpp,
            ogrn,
        } = account
        else {
            return None;
        };
        let data = data?;
        Some(Self {
            attorney_type,
            principal: Principal {
                name: name.clone(),
                inn: inn.to_string(),
                kpp: kpp.as_ref().map(ToString::to_string),
                ogrn: ogrn.to_string(),
            },
            organization: organization_name.to_owned(),
            trusted_person: data.trusted_person.clone(),
            position: data.position.clone(),
            legal_basis: data.legal_basis.clone(),
            powers: data.powers.clone(),
            holder: owner.full_name(),
            holder_position: owner.position.clone(),
            valid_from: on,
            valid_until: add_years(on, data.validity_years),
        })
    }

    /// The document as a self-contained HTML page. Every value is escaped.
    pub fn render_html(&self, application: &str) -> String {
        let e = escape_html;
        let kind = match self.attorney_type {
            AttorneyType::MachineReadable => "Машиночитаемая доверенность",
            AttorneyType::Paper | AttorneyType::None => "Доверенность",
        };
        let kpp = self
            .principal
            .kpp
            .as_deref()
            .map(|k| format!(", КПП {}", e(k)))
            .unwrap_or_default();
        let holder_position = self
            .holder_position
            .as_deref()
            .map(|p| format!(", {}", e(p)))
            .unwrap_or_default();
        let powers: String = self
            .powers
            .iter()
            .map(|p| format!("    <li>{}</li>\n", e(p)))
            .collect();
        format!(
            "<!DOCTYPE html>\n<html lang=\"ru\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{kind} № {app}</title>\n</head>\n<body>\n\
             <h1>{kind} № {app}</h1>\n\
             <p class=\"dates\">Дата выдачи: <span id=\"valid-from\">{from}</span>. \
             Действительна до: <span id=\"valid-until\">{until}</span>.</p>\n\
             <p class=\"principal\">{pname} (ИНН {pinn}{kpp}, ОГРН {pogrn}) \
             в лице <span id=\"position\">{position}</span> \
             <span id=\"trusted-person\">{person}</span>, действующего на основании \
             <span id=\"legal-basis\">{basis}</span>, доверяет \
             <span id=\"holder\">{holder}</span>{holder_position}:</p>\n\
             <ul id=\"powers\">\n{powers}</ul>\n\
             <p class=\"organization\">Оформлено через: {org}</p>\n\
             <p class=\"signature\">{position} ____________ {person}</p>\n\
             </body>\n</html>\n",
            app = e(application),
            from = self.valid_from,
            until = self.valid_until,
            pname = e(&self.principal.name),
            pinn = e(&self.principal.inn),
            pogrn = e(&self.principal.ogrn),
            position = e(&self.position),
            person = e(&self.trusted_person),
            basis = e(&self.legal_basis),
            holder = e(&self.holder),
            org = e(&self.organization),
        )
    }
}

/// `date` plus `years` calendar years; 29 February maps to 28 February when the
/// target year is common. Saturates at the last representable date.
pub fn add_years(date: Date, years: u8) -> Date {
    let year = date.year().saturating_add(i32::from(years));
    Date::from_calendar_date(year, date.month(), date.day())
        .or_else(|_| Date::from_calendar_date(year, Month::February, 28))
        .unwrap_or(Date::MAX)
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn leap_day_plus_one_year_is_28_february() {
        assert_eq!(add_years(date!(2024 - 02 - 29), 1), date!(2025 - 02 - 28));
        assert_eq!(add_years(date!(2024 - 02 - 29), 4), date!(2028 - 02 - 29));
        assert_eq!(add_years(date!(2026 - 11 - 25), 3), date!(2029 - 11 - 25));
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html(r#"<script>alert("x&y")</script>'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
    }
}
