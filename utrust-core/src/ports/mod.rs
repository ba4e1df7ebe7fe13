//! Ports: the traits through which the engine reaches the outside world.
//! Adapters implement them in other crates (`utrust-pki`, `utrust-device`,
//! `utrust-smev`) or in this crate's [`store`](crate::store) module.

pub mod account_store;
pub mod ca;
pub mod case_store;
pub mod device_store;
pub mod documents;
pub mod identity;
pub mod notifier;
pub mod payment;
pub mod runtime;
pub mod signature;
pub mod store;
pub mod token;

pub use account_store::{AccountFilter, AccountStore};
pub use ca::{
    CaError, CertificateAuthority, CrlEntry, CrlRequest, CsrRejection, IssueRequest,
    RequestInspector,
};
pub use case_store::CaseStore;
pub use device_store::DeviceStore;
pub use documents::{DocumentStore, DocumentStoreError, MemoryDocumentStore};
pub use identity::{CheckResult, CheckSubject, CheckTicket, IdentityVerifier, VerifierError};
pub use notifier::{Notification, Notifier, NotifyError, NullNotifier};
pub use payment::{ManualPayments, PaymentError, PaymentProvider};
pub use runtime::{Clock, ManualClock, Random, SeededRandom, SystemClock};
pub use signature::{SignatureError, SignatureVerifier, SignerInfo};
pub use store::{
    ApplicationFilter, PublishedCrl, Session, SessionKind, Store, StoreError, StoredCa,
};
pub use token::{
    PrepareToken, PreparedToken, SecretPin, TokenError, TokenInfo, TokenInitialization,
    TokenProvider,
};
