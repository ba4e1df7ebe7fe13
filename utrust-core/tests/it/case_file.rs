//! Store conformance of [`CaseStore`]: case-file document metadata (upload
//! order, per application, unique ids), signatures set once, the payment and
//! ЕСИА attempt on the application document, and ЕСИА registration checks among
//! the identity checks — on every store.

use std::sync::Arc;

use time::Duration;
use utrust_core::domain::application::Actor;
use utrust_core::domain::casefile::{
    CaseDocument, DocumentSignature, Payment, PaymentMethod, Sha256Hex,
};
use utrust_core::domain::catalog::{DocumentKind, SmevCheckKind};
use utrust_core::domain::checks::IdentityCheck;
use utrust_core::domain::ids::{DocumentId, PointId, ProductId, ServiceId};
use utrust_core::domain::lifecycle::{ApplicationEvent, ApplicationStatus};
use utrust_core::ports::{Store, StoreError};

use crate::support::*;

type Dyn = Arc<dyn Store>;

conformance!(
    documents_round_trip_in_upload_order_per_application,
    duplicate_document_id_is_refused_and_changes_nothing,
    a_signature_is_set_once,
    payment_and_esia_attempt_round_trip_on_the_application,
    esia_registration_checks_are_stored_beside_identity_checks,
);

fn doc(
    app: &utrust_core::domain::application::Application,
    kind: DocumentKind,
    n: u8,
    minutes: i64,
) -> CaseDocument {
    CaseDocument {
        id: DocumentId::from_random_bytes(fresh_bytes()),
        application_id: app.id,
        kind,
        name: format!("скан {n}.pdf"),
        media_type: "application/pdf".into(),
        size: 1000 + u64::from(n),
        sha256: Sha256Hex::of(&[n]),
        uploaded_by: Actor::Admin("tester".into()),
        uploaded_at: t0() + Duration::minutes(minutes),
        signature: None,
    }
}

fn signature(n: u8) -> DocumentSignature {
    DocumentSignature {
        signer_serial: format!("0{n}"),
        signer_subject: "CN=Сотрудник,O=Агент".into(),
        signature_sha256: Sha256Hex::of(&[n, n]),
        signed_by: Actor::Admin("tester".into()),
        signed_at: t0() + Duration::hours(1),
    }
}

async fn stored_application(store: &Dyn) -> utrust_core::domain::application::Application {
    let app = application(
        PointId::from_random_bytes(fresh_bytes()),
        ServiceId::from_random_bytes(fresh_bytes()),
        &[ProductId::from_random_bytes(fresh_bytes())],
        ApplicationStatus::AwaitingDocuments,
    );
    store
        .insert_application(
            &app,
            &entry(&app, ApplicationStatus::Draft, ApplicationEvent::Submit),
        )
        .await
        .unwrap();
    app
}

async fn documents_round_trip_in_upload_order_per_application(store: Dyn) {
    let a = stored_application(&store).await;
    let b = stored_application(&store).await;
    assert!(store.documents(a.id).await.unwrap().is_empty());
    let first = doc(&a, DocumentKind::Passport, 1, 0);
    let second = doc(&a, DocumentKind::Snils, 2, 5);
    // Same instant as `second`: upload order decides.
    let third = doc(&a, DocumentKind::Passport, 3, 5);
    let other = doc(&b, DocumentKind::SignedBlank, 4, 1);
    for d in [&first, &second, &third, &other] {
        store.insert_document(d).await.unwrap();
    }
    assert_eq!(
        store.documents(a.id).await.unwrap(),
        vec![first.clone(), second.clone(), third.clone()]
    );
    assert_eq!(store.documents(b.id).await.unwrap(), vec![other.clone()]);
    assert_eq!(
        store.document(a.id, second.id).await.unwrap(),
        Some(second.clone())
    );
    // A document is found only under its own application.
    assert_eq!(store.document(b.id, second.id).await.unwrap(), None);
    assert_eq!(
        store
            .document(a.id, DocumentId::from_random_bytes(fresh_bytes()))
            .await
            .unwrap(),
        None
    );
}

async fn duplicate_document_id_is_refused_and_changes_nothing(store: Dyn) {
    let a = stored_application(&store).await;
    let d = doc(&a, DocumentKind::Passport, 1, 0);
    store.insert_document(&d).await.unwrap();
    let mut again = doc(&a, DocumentKind::Snils, 2, 1);
    again.id = d.id;
    assert!(matches!(
        store.insert_document(&again).await,
        Err(StoreError::Duplicate {
            entity: "document",
            ..
        })
    ));
    assert_eq!(store.documents(a.id).await.unwrap(), vec![d]);
}

async fn a_signature_is_set_once(store: Dyn) {
    let a = stored_application(&store).await;
    let b = stored_application(&store).await;
    let d = doc(&a, DocumentKind::Passport, 1, 0);
    store.insert_document(&d).await.unwrap();
    // Unknown document, or the document under another application.
    assert!(matches!(
        store
            .set_document_signature(
                a.id,
                DocumentId::from_random_bytes(fresh_bytes()),
                &signature(1)
            )
            .await,
        Err(StoreError::NotFound {
            entity: "document",
            ..
        })
    ));
    assert!(matches!(
        store
            .set_document_signature(b.id, d.id, &signature(1))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    store
        .set_document_signature(a.id, d.id, &signature(1))
        .await
        .unwrap();
    let signed = store.document(a.id, d.id).await.unwrap().unwrap();
    assert_eq!(signed.signature, Some(signature(1)));
    assert_eq!(signed.signature_state(), "signed");
    // A second signature is refused and the first stays.
    assert!(matches!(
        store
            .set_document_signature(a.id, d.id, &signature(2))
            .await,
        Err(StoreError::Duplicate {
            entity: "signature",
            ..
        })
    ));
    assert_eq!(store.documents(a.id).await.unwrap(), vec![signed]);
}

async fn payment_and_esia_attempt_round_trip_on_the_application(store: Dyn) {
    let mut app = stored_application(&store).await;
    app.version += 1;
    app.payment = Payment {
        method: Some(PaymentMethod::Invoice),
        reference: Some("manual-invoice-1".into()),
        paid_at: Some(t0() + Duration::minutes(3)),
    };
    app.esia_attempt = 2;
    store.update_application(&app, None).await.unwrap();
    assert_eq!(store.application(app.id).await.unwrap(), Some(app));
}

async fn esia_registration_checks_are_stored_beside_identity_checks(store: Dyn) {
    let app = stored_application(&store).await;
    let deadline = t0() + Duration::days(1);
    let checks = [
        IdentityCheck::new(app.id, 0, SmevCheckKind::EsiaRegistration, t0(), deadline),
        IdentityCheck::new(app.id, 0, SmevCheckKind::Inn, t0(), deadline),
        IdentityCheck::new(app.id, 1, SmevCheckKind::EsiaRegistration, t0(), deadline),
    ];
    store.ensure_checks(&checks).await.unwrap();
    store.ensure_checks(&checks[..1]).await.unwrap();
    let stored = store.checks(app.id).await.unwrap();
    let keys: Vec<(u32, SmevCheckKind)> = stored.iter().map(|c| (c.round, c.kind)).collect();
    assert_eq!(
        keys,
        [
            (0, SmevCheckKind::Inn),
            (0, SmevCheckKind::EsiaRegistration),
            (1, SmevCheckKind::EsiaRegistration)
        ]
    );
    assert_eq!(
        stored[1].idempotency_key,
        format!("utrust:{}:0:esia_registration", app.id)
    );
}
