//! Typed identifiers of stored entities.
//!
//! Each entity has its own id type so an application id can never be passed where a
//! point id is expected. Ids are UUIDs made by the engine from the injected
//! [`Random`](crate::ports::Random) port, never by the domain itself.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! entity_id {
    ($($(#[$m:meta])* $name:ident;)*) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID.
            pub const fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }
            /// A version-4 UUID from 16 random bytes.
            pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
                Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
            }
            /// The UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

entity_id! {
    /// Id of an [`Organization`](super::agents::Organization).
    OrganizationId;
    /// Id of a [`Branch`](super::agents::Branch).
    BranchId;
    /// Id of an [`IssuingPoint`](super::agents::IssuingPoint).
    PointId;
    /// Id of a [`Product`](super::catalog::Product).
    ProductId;
    /// Id of a [`Service`](super::catalog::Service).
    ServiceId;
    /// Id of an [`Application`](super::application::Application).
    ApplicationId;
    /// Id of an [`Employee`](super::agents::Employee).
    EmployeeId;
    /// Id of a [`UserAccount`](super::agents::UserAccount).
    UserId;
    /// Id of a quota [`Reservation`](super::quota::Reservation).
    ReservationId;
    /// Id of a hardware token record ([`Device`](super::devices::Device)).
    DeviceId;
    /// Id of a head [`Account`](super::head_accounts::HeadAccount) (found by INN/KPP).
    HeadAccountId;
    /// Id of a [`CaseDocument`](super::casefile::CaseDocument) of an application's case file.
    DocumentId;
}
