//! Differential test: random sequences of quota operations give the same results
//! and the same state on the SQLite store as on the memory store (the reference).

use std::sync::Arc;

use proptest::prelude::*;
use utrust_core::domain::application::Application;
use utrust_core::domain::ids::{ProductId, ReservationId, ServiceId};
use utrust_core::domain::lifecycle::{ApplicationEvent as E, ApplicationStatus as S};
use utrust_core::domain::quota::Allotment;
use utrust_core::ports::Store;
use utrust_core::store::{MemoryStore, SqliteStore};

use crate::support::*;

#[derive(Debug, Clone)]
enum Op {
    Begin {
        app: usize,
        debit_qty: bool,
        debit_other: bool,
    },
    Complete {
        app: usize,
    },
    Abort {
        app: usize,
    },
    SetLimit(i64),
    SetQuantity(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize, any::<bool>(), any::<bool>()).prop_map(|(app, debit_qty, debit_other)| Op::Begin { app, debit_qty, debit_other }),
        3 => (0..4usize).prop_map(|app| Op::Complete { app }),
        2 => (0..4usize).prop_map(|app| Op::Abort { app }),
        1 => (-1i64..6).prop_map(Op::SetLimit),
        1 => (-1i64..6).prop_map(Op::SetQuantity),
    ]
}

async fn run(limit: i64, quantity: i64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let stores: [Arc<dyn Store>; 2] = [
        Arc::new(MemoryStore::new()),
        Arc::new(SqliteStore::in_memory().await.unwrap()),
    ];
    let org = organization();
    let p_qty = product("QTY", true);
    let p_other = ProductId::from_random_bytes(fresh_bytes());
    let pt = point(
        org.id,
        Allotment::from_wire(limit).unwrap(),
        &[(p_qty.id, Allotment::from_wire(quantity).unwrap())],
    );
    let service = ServiceId::from_random_bytes(fresh_bytes());
    let mut apps: Vec<(Application, Option<ReservationId>)> = (0..4)
        .map(|_| {
            (
                application(pt.id, service, &[p_qty.id], S::ReadyToIssue),
                None,
            )
        })
        .collect();
    for s in &stores {
        s.insert_organization(&org).await.unwrap();
        s.insert_product(&p_qty).await.unwrap();
        s.insert_point(&pt).await.unwrap();
        for (a, _) in &apps {
            s.insert_application(a, &entry(a, S::Draft, E::Submit))
                .await
                .unwrap();
        }
    }
    for op in ops {
        let results = match &op {
            Op::Begin {
                app,
                debit_qty,
                debit_other,
            } => {
                let (a, pending) = &mut apps[*app];
                let mut next = a.clone();
                let e = step(&mut next, S::Issuing, E::StartIssuing);
                let mut products = Vec::new();
                if *debit_qty {
                    products.push(p_qty.id);
                }
                if *debit_other {
                    products.push(p_other);
                }
                let r = reservation(&next, &products);
                let m = stores[0].begin_issuance(&next, &e, &r).await;
                let q = stores[1].begin_issuance(&next, &e, &r).await;
                if m.is_ok() {
                    *a = next;
                    *pending = Some(r.id);
                }
                (m, q)
            }
            Op::Complete { app } => {
                let (a, pending) = &mut apps[*app];
                let mut next = a.clone();
                let cert = certificate(&next);
                next.certificate_serial = Some(cert.serial.clone());
                let e = step(&mut next, S::Issued, E::CaIssued);
                let r = pending.unwrap_or_else(|| ReservationId::from_random_bytes(fresh_bytes()));
                let m = stores[0].complete_issuance(&next, &e, r, &cert).await;
                let q = stores[1].complete_issuance(&next, &e, r, &cert).await;
                if m.is_ok() {
                    *a = next;
                    *pending = None;
                }
                (m, q)
            }
            Op::Abort { app } => {
                let (a, pending) = &mut apps[*app];
                let mut next = a.clone();
                let e = step(&mut next, S::ReadyToIssue, E::CaFailed);
                let r = pending.unwrap_or_else(|| ReservationId::from_random_bytes(fresh_bytes()));
                let m = stores[0].abort_issuance(&next, &e, r).await;
                let q = stores[1].abort_issuance(&next, &e, r).await;
                if m.is_ok() {
                    *a = next;
                    *pending = None;
                }
                (m, q)
            }
            Op::SetLimit(v) => {
                let a = Allotment::from_wire(*v).unwrap();
                (
                    stores[0].set_point_limit(pt.id, a).await,
                    stores[1].set_point_limit(pt.id, a).await,
                )
            }
            Op::SetQuantity(v) => {
                let a = Allotment::from_wire(*v).unwrap();
                (
                    stores[0].set_point_quantity(pt.id, p_qty.id, a).await,
                    stores[1].set_point_quantity(pt.id, p_qty.id, a).await,
                )
            }
        };
        prop_assert_eq!(&results.0, &results.1, "{:?}", op);
        let pm = stores[0].point(pt.id).await.unwrap();
        let pq = stores[1].point(pt.id).await.unwrap();
        prop_assert_eq!(pm, pq, "{:?}", op);
    }
    for (a, _) in &apps {
        prop_assert_eq!(
            stores[0].application(a.id).await.unwrap(),
            stores[1].application(a.id).await.unwrap()
        );
        prop_assert_eq!(
            stores[0].history(a.id).await.unwrap(),
            stores[1].history(a.id).await.unwrap()
        );
    }
    prop_assert_eq!(
        stores[0].count_certificates(pt.id).await.unwrap(),
        stores[1].count_certificates(pt.id).await.unwrap()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn sqlite_behaves_like_memory(limit in -1i64..5, quantity in -1i64..5, ops in prop::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(limit, quantity, ops))?;
    }
}
