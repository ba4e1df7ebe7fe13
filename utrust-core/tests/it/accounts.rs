//! Store conformance of [`DeviceStore`]: device types, policies and their
//! Store conformance of [`AccountStore`]: head accounts keyed by INN (and KPP),
//! atomic find-or-create (concurrent creations give one account), optimistic
//! updates, keyset listing with an INN filter — over every store.

use std::sync::Arc;

use utrust_core::domain::application::{Account, Address};
use utrust_core::domain::head_accounts::{AccountKey, AccountPatch, Contacts, HeadAccount};
use utrust_core::domain::identifiers::{AnyInn, InnLe, Kpp, Ogrn, RegionCode};
use utrust_core::domain::ids::HeadAccountId;
use utrust_core::ports::{AccountFilter, Store, StoreError};

use crate::support::*;

type Dyn = Arc<dyn Store>;

conformance!(
    find_or_create_creates_once_then_finds,
    concurrent_creations_give_one_account,
    kpp_distinguishes_legal_entity_accounts,
    updates_are_optimistic,
    listing_pages_by_id_and_filters_by_inn,
);

fn company(inn: &str, kpp: Option<&str>) -> Account {
    Account::LegalEntity {
        name: "ООО «Ромашка»".into(),
        inn: InnLe::parse(inn).unwrap(),
        kpp: kpp.map(|k| Kpp::parse(k).unwrap()),
        ogrn: Ogrn::parse("1027700132195").unwrap(),
    }
}

fn candidate(account: &Account) -> HeadAccount {
    let address = Address {
        region_code: Some(RegionCode::parse("77").unwrap()),
        region_name: Some("г. Москва".into()),
        locality: Some("Москва".into()),
        street: Some("ул. Тверская, д. 1".into()),
        kladr: Some("7700000000000".into()),
    };
    HeadAccount::from_application(
        HeadAccountId::from_random_bytes(fresh_bytes()),
        account,
        &owner(),
        &address,
        t0(),
    )
}

async fn find_or_create_creates_once_then_finds(store: Dyn) {
    let first = candidate(&company("7707083893", Some("770701001")));
    let (stored, created) = store.find_or_create_account(&first).await.unwrap();
    assert!(created);
    assert_eq!(stored, first);
    // Another candidate with the same key finds the first account.
    let second = candidate(&company("7707083893", Some("770701001")));
    let (found, created) = store.find_or_create_account(&second).await.unwrap();
    assert!(!created);
    assert_eq!(found, first);
    assert_eq!(store.account(first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.account(second.id).await.unwrap(), None);
    assert_eq!(
        store.account_by_key(&first.key).await.unwrap(),
        Some(first.clone())
    );
    // A person is keyed by the owner's INN.
    let person = candidate(&Account::Individual);
    assert_eq!(person.key.inn.as_str(), owner().inn.as_str());
    assert!(store.find_or_create_account(&person).await.unwrap().1);
    assert_eq!(
        store.account_by_key(&person.key).await.unwrap(),
        Some(person)
    );
}

async fn concurrent_creations_give_one_account(store: Dyn) {
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let c = candidate(&company("7707083893", None));
            tokio::spawn(async move { store.find_or_create_account(&c).await })
        })
        .collect();
    let mut ids = Vec::new();
    let mut created = 0;
    for a in attempts {
        let (account, new) = a.await.unwrap().unwrap();
        ids.push(account.id);
        created += usize::from(new);
    }
    assert_eq!(created, 1, "exactly one creation");
    ids.dedup();
    assert_eq!(ids.len(), 1, "every caller got the same account");
    let all = store
        .list_accounts(&AccountFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
}

async fn kpp_distinguishes_legal_entity_accounts(store: Dyn) {
    let head_office = candidate(&company("7707083893", Some("770701001")));
    let branch = candidate(&company("7707083893", Some("780201001")));
    let unknown_kpp = candidate(&company("7707083893", None));
    for c in [&head_office, &branch, &unknown_kpp] {
        assert!(store.find_or_create_account(c).await.unwrap().1);
    }
    for c in [&head_office, &branch, &unknown_kpp] {
        assert_eq!(
            store.account_by_key(&c.key).await.unwrap().unwrap().id,
            c.id
        );
    }
    let other = AccountKey {
        inn: AnyInn::parse("7736050003").unwrap(),
        kpp: None,
    };
    assert_eq!(store.account_by_key(&other).await.unwrap(), None);
}

async fn updates_are_optimistic(store: Dyn) {
    let original = candidate(&company("7707083893", Some("770701001")));
    store.find_or_create_account(&original).await.unwrap();
    let mut edited = original.clone();
    edited
        .apply(
            AccountPatch {
                full_name: Some("ООО «Ромашка-2»".into()),
                contacts: Some(Contacts {
                    phone: Some("+7 495 000-00-00".into()),
                    ..Contacts::default()
                }),
                ..AccountPatch::default()
            },
            t0() + time::Duration::minutes(1),
        )
        .unwrap();
    assert_eq!(edited.version, 2);
    store.update_account(&edited).await.unwrap();
    assert_eq!(
        store.account(original.id).await.unwrap(),
        Some(edited.clone())
    );
    // A writer that read version 1 loses.
    let mut stale = original.clone();
    stale.version = 2;
    stale.full_name = "stale".into();
    assert_eq!(
        store.update_account(&stale).await,
        Err(StoreError::AccountVersionConflict { id: original.id })
    );
    // The key cannot be changed by an update.
    let mut rekeyed = edited.clone();
    rekeyed.version = 3;
    rekeyed.key.kpp = None;
    assert_eq!(
        store.update_account(&rekeyed).await,
        Err(StoreError::AccountVersionConflict { id: original.id })
    );
    assert_eq!(store.account(original.id).await.unwrap(), Some(edited));
    // An unknown account.
    let ghost = candidate(&company("7736050003", None));
    let mut ghost2 = ghost.clone();
    ghost2.version = 2;
    assert!(matches!(
        store.update_account(&ghost2).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn listing_pages_by_id_and_filters_by_inn(store: Dyn) {
    let mut all = Vec::new();
    for (inn, kpp) in [
        ("7707083893", Some("770701001")),
        ("7707083893", Some("780201001")),
        ("7736050003", None),
        ("7736050003", Some("773601001")),
    ] {
        let c = candidate(&company(inn, kpp));
        store.find_or_create_account(&c).await.unwrap();
        all.push(c);
    }
    let person = candidate(&Account::Individual);
    store.find_or_create_account(&person).await.unwrap();
    all.push(person);
    all.sort_by_key(|a| a.id);
    let none = AccountFilter::default();
    // Pages of two, each after the last id of the previous one.
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_accounts(&none, after, 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().map(|a| a.id);
        pages.extend(page);
    }
    assert_eq!(pages, all);
    assert!(
        store
            .list_accounts(&none, None, 0)
            .await
            .unwrap()
            .is_empty()
    );
    let sber = AccountFilter {
        inn: Some(AnyInn::parse("7707083893").unwrap()),
    };
    let got = store.list_accounts(&sber, None, 100).await.unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|a| a.key.inn.as_str() == "7707083893"));
    let first = store.list_accounts(&sber, None, 1).await.unwrap();
    let rest = store
        .list_accounts(&sber, first.last().map(|a| a.id), 10)
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), 2);
    assert_ne!(first[0].id, rest[0].id);
}
