//! Composition of the request template of an application: the subject from the
//! owner and the account with the Russian attribute OIDs and string types
//! (`shared/domain/russian-pki.md`), the extended key usage from the products'
//! OID sets, and the certificate policies from the service's crypto class.

use super::application::{Account, Application};
use super::catalog::{KeyAlgorithm, Product, Service};
use super::identifiers::Oid;
use super::request::{
    KeyUsage, RequestTemplate, RequestedExtensions, StringType, SubjectAttribute,
};

/// Attribute type OIDs used in subjects.
pub mod oids {
    /// commonName.
    pub const CN: &str = "2.5.4.3";
    /// surname.
    pub const SN: &str = "2.5.4.4";
    /// countryName.
    pub const C: &str = "2.5.4.6";
    /// localityName.
    pub const L: &str = "2.5.4.7";
    /// stateOrProvinceName.
    pub const ST: &str = "2.5.4.8";
    /// streetAddress.
    pub const STREET: &str = "2.5.4.9";
    /// organizationName.
    pub const O: &str = "2.5.4.10";
    /// title.
    pub const T: &str = "2.5.4.12";
    /// givenName.
    pub const G: &str = "2.5.4.42";
    /// emailAddress.
    pub const E: &str = "1.2.840.113549.1.9.1";
    /// OGRN.
    pub const OGRN: &str = "1.2.643.100.1";
    /// SNILS.
    pub const SNILS: &str = "1.2.643.100.3";
    /// INN of a legal entity.
    pub const INNLE: &str = "1.2.643.100.4";
    /// OGRNIP.
    pub const OGRNIP: &str = "1.2.643.100.5";
    /// INN of a person.
    pub const INN: &str = "1.2.643.3.131.1.1";
}

/// Key usage for a key algorithm: signature and non-repudiation, plus the
/// algorithm's way of protecting keys (key agreement for EC and GOST keys, key
/// encipherment for RSA).
pub fn key_usage_for(alg: KeyAlgorithm) -> Vec<KeyUsage> {
    let mut v = vec![KeyUsage::DigitalSignature, KeyUsage::NonRepudiation];
    match alg {
        KeyAlgorithm::Rsa2048 => v.push(KeyUsage::KeyEncipherment),
        KeyAlgorithm::Ed25519 => {}
        KeyAlgorithm::EcdsaP256
        | KeyAlgorithm::EcdsaP384
        | KeyAlgorithm::Gost2012_256
        | KeyAlgorithm::Gost2012_512 => v.push(KeyUsage::KeyAgreement),
    }
    v
}

/// Builds a subject attribute from a constant OID of this module.
fn attr(
    oid: &'static str,
    value: impl Into<String>,
    string_type: StringType,
) -> Option<SubjectAttribute> {
    // The OIDs are constants of this module; a parse failure would be a bug caught
    // by the tests, and yields no attribute rather than a panic.
    Oid::parse(oid).ok().map(|oid| SubjectAttribute {
        oid,
        value: value.into(),
        string_type,
    })
}

/// The request template of `app`, given its products and service.
///
/// ```
/// # use utrust_core::domain::template::*;
/// // See the crate's integration tests for a full example.
/// assert_eq!(oids::INN, "1.2.643.3.131.1.1");
/// ```
pub fn request_template(
    app: &Application,
    products: &[Product],
    service: &Service,
) -> RequestTemplate {
    use StringType::{Ia5, Numeric, Printable, Utf8};
    let o = &app.owner;
    let mut s: Vec<Option<SubjectAttribute>> = Vec::new();
    match &app.account {
        Account::LegalEntity { name, .. } => {
            s.push(attr(oids::CN, name.clone(), Utf8));
            s.push(attr(oids::O, name.clone(), Utf8));
        }
        Account::Individual | Account::SoleProprietor { .. } => {
            s.push(attr(oids::CN, o.full_name(), Utf8));
        }
    }
    s.push(attr(oids::SN, o.surname.clone(), Utf8));
    s.push(attr(oids::G, o.given_and_patronymic(), Utf8));
    if let (Account::LegalEntity { .. }, Some(t)) = (&app.account, &o.position) {
        s.push(attr(oids::T, t.clone(), Utf8));
    }
    s.push(attr(oids::C, "RU", Printable));
    if let Some(st) = app.address.state_or_province() {
        s.push(attr(oids::ST, st, Utf8));
    }
    if let Some(l) = &app.address.locality {
        s.push(attr(oids::L, l.clone(), Utf8));
    }
    if let Some(street) = &app.address.street {
        s.push(attr(oids::STREET, street.clone(), Utf8));
    }
    match &app.account {
        Account::Individual => {}
        Account::SoleProprietor { ogrnip } => {
            s.push(attr(oids::OGRNIP, ogrnip.as_str(), Numeric));
        }
        Account::LegalEntity { inn, ogrn, .. } => {
            s.push(attr(oids::OGRN, ogrn.as_str(), Numeric));
            s.push(attr(oids::INNLE, inn.as_str(), Numeric));
        }
    }
    s.push(attr(oids::SNILS, o.snils.as_str(), Numeric));
    s.push(attr(oids::INN, o.inn.as_str(), Numeric));
    s.push(attr(oids::E, o.email.as_str(), Ia5));

    let kind = app.applicant_kind();
    let mut eku: Vec<Oid> = Vec::new();
    for p in products.iter().filter(|p| app.products.contains(&p.id)) {
        for oid in p.oids.for_kind(kind) {
            if !eku.contains(oid) {
                eku.push(oid.clone());
            }
        }
    }
    let policies = Oid::parse(service.crypto_class.policy_oid())
        .into_iter()
        .collect();
    RequestTemplate {
        key_algorithm: service.key_algorithm,
        subject: s.into_iter().flatten().collect(),
        extensions: RequestedExtensions {
            key_usage: key_usage_for(service.key_algorithm),
            extended_key_usage: eku,
            certificate_policies: policies,
        },
    }
}

/// The subject as one line of text (`CN=…, SN=…`), for display and search.
pub fn subject_text(subject: &[SubjectAttribute]) -> String {
    let name = |oid: &str| -> String {
        match oid {
            oids::CN => "CN".into(),
            oids::SN => "SN".into(),
            oids::C => "C".into(),
            oids::L => "L".into(),
            oids::ST => "ST".into(),
            oids::STREET => "street".into(),
            oids::O => "O".into(),
            oids::T => "title".into(),
            oids::G => "GN".into(),
            oids::E => "emailAddress".into(),
            oids::OGRN => "OGRN".into(),
            oids::SNILS => "SNILS".into(),
            oids::INNLE => "INNLE".into(),
            oids::OGRNIP => "OGRNIP".into(),
            oids::INN => "INN".into(),
            other => other.to_owned(),
        }
    };
    subject
        .iter()
        .map(|a| format!("{}={}", name(a.oid.as_str()), a.value))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_constants_are_valid() {
        for o in [
            oids::CN,
            oids::SN,
            oids::C,
            oids::L,
            oids::ST,
            oids::STREET,
            oids::O,
            oids::T,
            oids::G,
            oids::E,
            oids::OGRN,
            oids::SNILS,
            oids::INNLE,
            oids::OGRNIP,
            oids::INN,
        ] {
            assert!(Oid::parse(o).is_ok(), "{o}");
        }
    }
}
