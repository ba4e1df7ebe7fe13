//! Outcomes over HTTP: valid data, every magic value, configured delays.

use std::time::Duration;

use time::macros::date;
use utrust_core::domain::catalog::SmevCheckKind::{self, Inn, Passport, Snils};
use utrust_core::domain::identifiers;
use utrust_core::ports::identity::{CheckResult, CheckSubject, IdentityVerifier};
use utrust_smev::simulator::{
    REASON_BIRTH_DATE_MISMATCH, REASON_INN_MISMATCH, REASON_NAME_MISMATCH, REASON_PASSPORT_EXPIRED,
    REASON_PROVIDER_FAILURE, expected_outcome,
};
use utrust_smev::{SimConfig, SimServer};

use crate::support::{ALL_KINDS, TestResult, client, passport, run_check, subject};

#[tokio::test]
async fn valid_data_passes_all_three_kinds() -> TestResult {
    let server = SimServer::start(SimConfig {
        pending_polls: 2,
        ..SimConfig::default()
    })
    .await?;
    let v = client(&server.url())?;
    for kind in ALL_KINDS {
        let result = run_check(&v, &format!("app-1/{kind:?}"), kind, &subject()).await?;
        assert_eq!(result, CheckResult::Valid, "{kind:?}");
    }
    assert_eq!(server.sim().stats().checks_created, 3);
    Ok(())
}

fn with(f: impl FnOnce(&mut CheckSubject)) -> CheckSubject {
    let mut s = subject();
    f(&mut s);
    s
}

fn cases() -> Vec<(&'static str, SmevCheckKind, CheckSubject, CheckResult)> {
    let invalid = |r: &str| CheckResult::Invalid(r.to_owned());
    let mut cases = Vec::new();
    for kind in ALL_KINDS {
        for (surname, result) in [
            (
                "Ошибкин",
                CheckResult::Error(REASON_PROVIDER_FAILURE.into()),
            ),
            ("Error", CheckResult::Error(REASON_PROVIDER_FAILURE.into())),
            ("Ненайденов", CheckResult::NotFound),
            ("NotFound", CheckResult::NotFound),
            ("Невалидов", invalid(REASON_NAME_MISMATCH)),
            ("invalid", invalid(REASON_NAME_MISMATCH)),
        ] {
            cases.push((surname, kind, with(|s| s.surname = surname.into()), result));
        }
    }
    cases.extend([
        (
            "passport series 0000",
            Passport,
            with(|s| s.passport = passport("0000", "123456")),
            invalid(REASON_PASSPORT_EXPIRED),
        ),
        (
            "passport number 000000",
            Passport,
            with(|s| s.passport = passport("4510", "000000")),
            CheckResult::NotFound,
        ),
        (
            "SNILS number ending 000",
            Snils,
            with(|s| s.snils = identifiers::Snils::parse("12345600018").ok()),
            CheckResult::NotFound,
        ),
        (
            "birth date 1900-01-01",
            Snils,
            with(|s| s.birth_date = Some(date!(1900 - 01 - 01))),
            invalid(REASON_BIRTH_DATE_MISMATCH),
        ),
        (
            "INN passport number 000000",
            Inn,
            with(|s| s.passport = passport("4510", "000000")),
            CheckResult::NotFound,
        ),
        (
            "INN 000000000000",
            Inn,
            with(|s| s.inn = identifiers::Inn::parse("000000000000").ok()),
            invalid(REASON_INN_MISMATCH),
        ),
        // A magic value for one kind does not affect the others.
        (
            "series 0000 for INN",
            Inn,
            with(|s| s.passport = passport("0000", "123456")),
            CheckResult::Valid,
        ),
        (
            "INN 000000000000 for passport",
            Passport,
            with(|s| s.inn = identifiers::Inn::parse("000000000000").ok()),
            CheckResult::Valid,
        ),
    ]);
    cases
}

#[tokio::test]
async fn each_magic_value_gives_its_result() -> TestResult {
    let server = SimServer::start(SimConfig {
        pending_polls: 1,
        ..SimConfig::default()
    })
    .await?;
    let v = client(&server.url())?;
    for (i, (name, kind, subject, expected)) in cases().into_iter().enumerate() {
        // The magic identifiers are well-formed (they parsed above).
        assert!(
            subject.passport.is_some() && subject.snils.is_some() && subject.inn.is_some(),
            "{name}"
        );
        assert_eq!(
            expected_outcome(kind, &subject).as_ref(),
            Some(&expected),
            "{name}"
        );
        let result = run_check(&v, &format!("case-{i}"), kind, &subject).await?;
        assert_eq!(result, expected, "{name} ({kind:?})");
    }
    Ok(())
}

#[tokio::test]
async fn answers_wait_for_the_configured_polls_and_time() -> TestResult {
    let server = SimServer::start(SimConfig {
        pending_polls: 3,
        pending_for: Duration::from_millis(80),
        ..SimConfig::default()
    })
    .await?;
    let v = client(&server.url())?;
    let started = std::time::Instant::now();
    let ticket = v.submit("k", Passport, &subject()).await?;
    for _ in 0..3 {
        assert_eq!(v.poll(&ticket).await?, None);
    }
    // Enough polls now, but not enough time unless the machine is very slow.
    if started.elapsed() < Duration::from_millis(60) {
        assert_eq!(v.poll(&ticket).await?, None);
    }
    tokio::time::sleep(Duration::from_millis(90)).await;
    assert_eq!(v.poll(&ticket).await?, Some(CheckResult::Valid));
    Ok(())
}
