//! Store conformance of [`DeviceStore`]: device types, policies and their
//! assignment, user profiles, secret answers, devices (optimistic version, a
//! serial unique among live devices) and the append-only crypto-means journal,
//! over every store.

use std::sync::Arc;

use time::macros::date;
use utrust_core::domain::application::Actor;
use utrust_core::domain::devices::{
    AccountingDocument, Device, DeviceEvent, DevicePolicy, DeviceStatus, DeviceTemplate,
    DeviceType, JournalEntry, JournalError, JournalKind, PolicyTarget, SecretAnswer,
};
use utrust_core::domain::ids::{DeviceId, ServiceId, UserId};
use utrust_core::domain::profile::UserProfile;
use utrust_core::ports::{Store, StoreError};

use crate::support::*;

type Dyn = Arc<dyn Store>;

/// Instantiates every check for every store.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    let f = crate::support::memory();
                    super::$name(f.store.clone()).await;
                }
            )*
        }
        #[cfg(feature = "sqlite")]
        mod sqlite_memory {
            $(
                #[tokio::test]
                async fn $name() {
                    let f = crate::support::sqlite_memory().await;
                    super::$name(f.store.clone()).await;
                }
            )*
        }
        #[cfg(feature = "sqlite")]
        mod sqlite_file {
            $(
                #[tokio::test]
                async fn $name() {
                    let f = crate::support::sqlite_file().await;
                    super::$name(f.store.clone()).await;
                }
            )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    // A fresh schema per test; SKIPPED without a test database.
                    if let Some(f) = crate::support::postgres().await {
                        super::$name(f.store.clone()).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    device_types_and_policies_are_replaced_by_name,
    policies_are_assigned_to_users_and_groups,
    profiles_round_trip,
    secret_answers_are_replaced_as_a_whole,
    devices_keep_their_version_and_a_live_serial_is_unique,
    the_journal_is_ordered_and_written_with_its_device,
    devices_are_listed_per_user_and_by_id,
);

fn user() -> UserId {
    UserId::from_random_bytes(fresh_bytes())
}

fn device(user: Option<UserId>, serial: &str) -> Device {
    Device {
        id: DeviceId::from_random_bytes(fresh_bytes()),
        version: 1,
        user_id: user,
        device_type: "softhsm2".into(),
        serial: serial.into(),
        name: "token of Ivanov".into(),
        model: "SoftHSM v2".into(),
        status: DeviceStatus::Registered,
        template: None,
        application_id: None,
        key_id: None,
        csr_der: None,
        document: None,
        certificates: Vec::new(),
        created_at: t0(),
        updated_at: t0(),
    }
}

fn entry(kind: JournalKind) -> JournalEntry {
    JournalEntry {
        kind,
        document: AccountingDocument {
            number: "17/2026".into(),
            date: date!(2026 - 03 - 01),
        },
        actor: Actor::Admin("root".into()),
        at: t0(),
        note: "issued to Ivanov".into(),
    }
}

/// `d` after `event`, with its version bumped.
fn step(d: &Device, event: DeviceEvent) -> Device {
    let mut next = d.clone();
    next.apply(event, t0()).unwrap();
    next.version += 1;
    next
}

async fn device_types_and_policies_are_replaced_by_name(store: Dyn) {
    assert_eq!(store.device_types().await.unwrap(), vec![]);
    for t in DeviceType::builtin() {
        store.put_device_type(&t).await.unwrap();
    }
    let mut rutoken = DeviceType::builtin().remove(0);
    rutoken.model = "Rutoken ECP 3.0".into();
    store.put_device_type(&rutoken).await.unwrap();
    let names: Vec<String> = store
        .device_types()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["jacarta-2-pki-gost", "rutoken-ecp", "softhsm2"]);
    assert_eq!(
        store.device_type("rutoken-ecp").await.unwrap(),
        Some(rutoken)
    );
    assert_eq!(store.device_type("etoken").await.unwrap(), None);
    assert_eq!(
        store
            .device_type("jacarta-2-pki-gost")
            .await
            .unwrap()
            .unwrap()
            .areas
            .len(),
        2
    );

    let policy = DevicePolicy {
        name: "staff".into(),
        self_issue_allowed: true,
        templates: vec![DeviceTemplate {
            name: "qualified".into(),
            service_id: ServiceId::from_random_bytes(fresh_bytes()),
            qualified: true,
        }],
        ..DevicePolicy::default()
    };
    store.put_device_policy(&policy).await.unwrap();
    let mut changed = policy.clone();
    changed.max_devices_per_user = 3;
    store.put_device_policy(&changed).await.unwrap();
    assert_eq!(
        store.device_policy("staff").await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(store.device_policies().await.unwrap(), vec![changed]);
    assert_eq!(store.device_policy("nobody").await.unwrap(), None);
}

async fn policies_are_assigned_to_users_and_groups(store: Dyn) {
    let u = user();
    let err = store
        .assign_device_policy(&PolicyTarget::User(u), Some("missing"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                entity: "device policy",
                ..
            }
        ),
        "{err:?}"
    );
    for name in ["a", "b"] {
        store
            .put_device_policy(&DevicePolicy {
                name: name.into(),
                ..DevicePolicy::default()
            })
            .await
            .unwrap();
    }
    store
        .assign_device_policy(&PolicyTarget::Group("staff".into()), Some("a"))
        .await
        .unwrap();
    store
        .assign_device_policy(&PolicyTarget::User(u), Some("a"))
        .await
        .unwrap();
    store
        .assign_device_policy(&PolicyTarget::User(u), Some("b"))
        .await
        .unwrap();
    let a = store.device_policy_assignments().await.unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].target, PolicyTarget::User(u));
    assert_eq!(a[0].policy, "b");
    assert_eq!(a[1].target, PolicyTarget::Group("staff".into()));
    store
        .assign_device_policy(&PolicyTarget::User(u), None)
        .await
        .unwrap();
    let a = store.device_policy_assignments().await.unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].policy, "a");
}

async fn profiles_round_trip(store: Dyn) {
    let u = user();
    assert_eq!(store.user_profile(u).await.unwrap(), None);
    let mut p = UserProfile::empty(u);
    p.surname = Some("Иванов".into());
    p.email = Some(email());
    p.birth_date = Some(date!(1980 - 05 - 17));
    store.put_user_profile(&p).await.unwrap();
    assert_eq!(store.user_profile(u).await.unwrap(), Some(p.clone()));
    p.given_name = Some("Иван".into());
    store.put_user_profile(&p).await.unwrap();
    assert_eq!(store.user_profile(u).await.unwrap(), Some(p));
}

async fn secret_answers_are_replaced_as_a_whole(store: Dyn) {
    let u = user();
    let other = user();
    assert_eq!(store.secret_answers(u).await.unwrap(), vec![]);
    let answer = |q: &str| SecretAnswer {
        question: q.into(),
        answer_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$hash-of-{q}"),
    };
    let first = vec![answer("q1"), answer("q2"), answer("q3")];
    store.set_secret_answers(u, &first).await.unwrap();
    store
        .set_secret_answers(other, &[answer("x")])
        .await
        .unwrap();
    assert_eq!(store.secret_answers(u).await.unwrap(), first);
    let second = vec![answer("q9"), answer("q8")];
    store.set_secret_answers(u, &second).await.unwrap();
    assert_eq!(store.secret_answers(u).await.unwrap(), second);
    assert_eq!(
        store.secret_answers(other).await.unwrap(),
        vec![answer("x")]
    );
}

async fn devices_keep_their_version_and_a_live_serial_is_unique(store: Dyn) {
    let u = user();
    let d = device(Some(u), "0a1b2c3d");
    store.insert_device(&d, None).await.unwrap();
    assert_eq!(store.device(d.id).await.unwrap(), Some(d.clone()));
    // The same serial again while the first is live.
    let twin = device(Some(user()), "0a1b2c3d");
    assert_eq!(
        store.insert_device(&twin, None).await.unwrap_err(),
        StoreError::Duplicate {
            entity: "device",
            field: "serial"
        }
    );
    let pending = step(&d, DeviceEvent::RequestSent);
    store.update_device(&pending, None).await.unwrap();
    // A stale writer loses.
    let mut stale = step(&d, DeviceEvent::RequestSent);
    stale.name = "other".into();
    assert_eq!(
        store.update_device(&stale, None).await.unwrap_err(),
        StoreError::DeviceVersionConflict { id: d.id }
    );
    assert_eq!(store.device(d.id).await.unwrap(), Some(pending.clone()));
    assert_eq!(
        store.live_device_by_serial("0a1b2c3d").await.unwrap(),
        Some(pending.clone())
    );
    let unknown = device(None, "ffff");
    let mut unknown2 = unknown.clone();
    unknown2.version = 2;
    assert!(matches!(
        store.update_device(&unknown2, None).await.unwrap_err(),
        StoreError::NotFound {
            entity: "device",
            ..
        }
    ));
    // Withdrawn, the serial is free for a new record.
    let issued = step(&pending, DeviceEvent::IssuanceCompleted);
    store.update_device(&issued, None).await.unwrap();
    let withdrawn = step(&issued, DeviceEvent::Withdraw);
    store.update_device(&withdrawn, None).await.unwrap();
    assert_eq!(store.live_device_by_serial("0a1b2c3d").await.unwrap(), None);
    store.insert_device(&twin, None).await.unwrap();
    assert_eq!(
        store.live_device_by_serial("0a1b2c3d").await.unwrap(),
        Some(twin)
    );
    assert_eq!(
        store.device(d.id).await.unwrap().map(|x| x.status),
        Some(DeviceStatus::Withdrawn)
    );
}

async fn the_journal_is_ordered_and_written_with_its_device(store: Dyn) {
    let d = device(Some(user()), "journal-1");
    // A journal cannot start with "issued": nothing is stored.
    assert_eq!(
        store
            .insert_device(&d, Some(&entry(JournalKind::Issued)))
            .await
            .unwrap_err(),
        StoreError::Journal(JournalError::OutOfOrder {
            last: None,
            next: JournalKind::Issued
        })
    );
    assert_eq!(store.device(d.id).await.unwrap(), None);
    store
        .insert_device(&d, Some(&entry(JournalKind::Received)))
        .await
        .unwrap();
    let pending = step(&d, DeviceEvent::RequestSent);
    // "installed" before "issued": refused, and the device stays as it was.
    assert!(matches!(
        store
            .update_device(&pending, Some(&entry(JournalKind::Installed)))
            .await
            .unwrap_err(),
        StoreError::Journal(JournalError::OutOfOrder { .. })
    ));
    assert_eq!(store.device(d.id).await.unwrap(), Some(d.clone()));
    store.update_device(&pending, None).await.unwrap();
    let issued = step(&pending, DeviceEvent::IssuanceCompleted);
    store
        .update_device(&issued, Some(&entry(JournalKind::Issued)))
        .await
        .unwrap();
    let mut no_number = entry(JournalKind::Withdrawn);
    no_number.document.number = "  ".into();
    let withdrawn = step(&issued, DeviceEvent::Withdraw);
    assert_eq!(
        store
            .update_device(&withdrawn, Some(&no_number))
            .await
            .unwrap_err(),
        StoreError::Journal(JournalError::DocumentNumberMissing)
    );
    store
        .update_device(&withdrawn, Some(&entry(JournalKind::Withdrawn)))
        .await
        .unwrap();
    let destroyed = step(&withdrawn, DeviceEvent::Destroy);
    store
        .update_device(&destroyed, Some(&entry(JournalKind::Destroyed)))
        .await
        .unwrap();
    let kinds: Vec<JournalKind> = store
        .device_journal(d.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            JournalKind::Received,
            JournalKind::Issued,
            JournalKind::Withdrawn,
            JournalKind::Destroyed
        ]
    );
    let journal = store.device_journal(d.id).await.unwrap();
    assert_eq!(journal[0], entry(JournalKind::Received));
}

async fn devices_are_listed_per_user_and_by_id(store: Dyn) {
    let u = user();
    let mut mine = Vec::new();
    for i in 0..3 {
        let mut d = device(Some(u), &format!("list-{i}"));
        d.created_at = t0() + time::Duration::seconds(10 - i);
        store.insert_device(&d, None).await.unwrap();
        mine.push(d);
    }
    store
        .insert_device(&device(Some(user()), "list-other"), None)
        .await
        .unwrap();
    let listed: Vec<String> = store
        .devices_of_user(u)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.serial)
        .collect();
    assert_eq!(listed, ["list-2", "list-1", "list-0"]);
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_devices(after, 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().map(|d| d.id);
        all.extend(page.into_iter().map(|d| d.id));
    }
    assert_eq!(all.len(), 4);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
}
