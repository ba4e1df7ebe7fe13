//! Quotas of issuing points: the point's overall **limit** and, per product under
//! quantity accounting, a **quantity** (seed 004: −1 unlimited, 0 none in stock,
//! 1..=1500 for quantities).
//!
//! A quota is an allotment plus two counters: `issued` (committed debits) and
//! `reserved` (debits in flight). Issuance reserves first and commits when the CA
//! has issued, or releases when it fails, so the counters always agree with the
//! issued certificates. Stores perform the same arithmetic as conditional updates;
//! this module is the reference the conformance suite checks them against.

use serde::{Deserialize, Serialize};

use super::ids::{ApplicationId, PointId, ProductId, ReservationId};

/// Largest quantity a point may hold of one product.
pub const MAX_QUANTITY: u32 = 1500;

/// How many units may be issued in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum Allotment {
    /// No limit (−1 on the wire).
    Unlimited,
    /// At most this many (0 = none).
    Finite(u32),
}

impl Allotment {
    /// Parses the wire form: −1 or a non-negative count.
    ///
    /// # Errors
    /// [`QuotaError::InvalidAllotment`] for other negative numbers or values beyond
    /// `u32`.
    pub fn from_wire(v: i64) -> Result<Self, QuotaError> {
        match v {
            -1 => Ok(Self::Unlimited),
            n if n >= 0 => u32::try_from(n)
                .map(Self::Finite)
                .map_err(|_| QuotaError::InvalidAllotment { value: v }),
            _ => Err(QuotaError::InvalidAllotment { value: v }),
        }
    }

    /// A product quantity: −1, 0 or 1..=1500.
    ///
    /// # Errors
    /// [`QuotaError::InvalidAllotment`] outside that range.
    pub fn quantity_from_wire(v: i64) -> Result<Self, QuotaError> {
        match Self::from_wire(v)? {
            Self::Finite(n) if n > MAX_QUANTITY => Err(QuotaError::InvalidAllotment { value: v }),
            a => Ok(a),
        }
    }

    /// The wire form: −1 or the count.
    pub fn to_wire(self) -> i64 {
        match self {
            Self::Unlimited => -1,
            Self::Finite(n) => i64::from(n),
        }
    }
}

impl TryFrom<i64> for Allotment {
    type Error = QuotaError;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        Self::from_wire(v)
    }
}

impl From<Allotment> for i64 {
    fn from(a: Allotment) -> i64 {
        a.to_wire()
    }
}

/// An allotment with its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// The allotment.
    pub allotment: Allotment,
    /// Units issued (committed).
    pub issued: u32,
    /// Units reserved by issuances in flight.
    pub reserved: u32,
}

impl Quota {
    /// A fresh quota with nothing issued.
    pub fn new(allotment: Allotment) -> Self {
        Self {
            allotment,
            issued: 0,
            reserved: 0,
        }
    }

    /// Units still available: `None` when unlimited.
    pub fn remaining(&self) -> Option<u32> {
        match self.allotment {
            Allotment::Unlimited => None,
            Allotment::Finite(n) => Some(n.saturating_sub(self.issued + self.reserved)),
        }
    }

    /// Whether one more unit may be reserved.
    pub fn can_reserve(&self) -> bool {
        self.remaining().is_none_or(|r| r > 0)
    }

    /// Reserves one unit.
    ///
    /// # Errors
    /// [`QuotaError::Exhausted`] when nothing remains.
    pub fn reserve(&mut self, scope: QuotaScope) -> Result<(), QuotaError> {
        if !self.can_reserve() {
            return Err(QuotaError::Exhausted { scope });
        }
        self.reserved += 1;
        Ok(())
    }

    /// Turns one reservation into an issued unit.
    pub fn commit(&mut self) {
        self.reserved = self.reserved.saturating_sub(1);
        self.issued += 1;
    }

    /// Gives one reservation back.
    pub fn release(&mut self) {
        self.reserved = self.reserved.saturating_sub(1);
    }

    /// Changes the allotment.
    ///
    /// # Errors
    /// [`QuotaError::BelowUsage`] when the new allotment is below what is issued
    /// plus reserved.
    pub fn set_allotment(
        &mut self,
        allotment: Allotment,
        scope: QuotaScope,
    ) -> Result<(), QuotaError> {
        if let Allotment::Finite(n) = allotment {
            let used = self.issued + self.reserved;
            if n < used {
                return Err(QuotaError::BelowUsage {
                    scope,
                    requested: n,
                    used,
                });
            }
        }
        self.allotment = allotment;
        Ok(())
    }
}

/// Which quota an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuotaScope {
    /// The point's overall limit.
    PointLimit(PointId),
    /// The point's quantity of one product.
    ProductQuantity(PointId, ProductId),
}

impl core::fmt::Display for QuotaScope {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::PointLimit(p) => write!(f, "limit of point {p}"),
            Self::ProductQuantity(p, pr) => write!(f, "quantity of product {pr} at point {p}"),
        }
    }
}

/// Quota errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuotaError {
    /// Nothing remains.
    #[error("quota exhausted: {scope}")]
    Exhausted {
        /// The quota at fault.
        scope: QuotaScope,
    },
    /// A new allotment would be below what is already used.
    #[error("{scope}: {requested} is below the {used} already issued or reserved")]
    BelowUsage {
        /// The quota at fault.
        scope: QuotaScope,
        /// The requested allotment.
        requested: u32,
        /// Issued plus reserved.
        used: u32,
    },
    /// Not −1 or a valid count.
    #[error(
        "invalid limit or quantity {value}: use -1 (unlimited) or a count (quantities 0..=1500)"
    )]
    InvalidAllotment {
        /// The rejected value.
        value: i64,
    },
}

/// A debit in flight: one unit of the point's limit and one unit of each listed
/// product quantity, held for one application until committed or released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// Id of the reservation.
    pub id: ReservationId,
    /// The application being issued.
    pub application_id: ApplicationId,
    /// The point debited.
    pub point_id: PointId,
    /// Products under quantity accounting that are debited.
    pub products: Vec<ProductId>,
    /// When it lapses if neither committed nor released (crash recovery).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scope() -> QuotaScope {
        QuotaScope::PointLimit(PointId::from_random_bytes([1; 16]))
    }

    #[test]
    fn wire_forms() {
        assert_eq!(Allotment::from_wire(-1), Ok(Allotment::Unlimited));
        assert_eq!(Allotment::from_wire(0), Ok(Allotment::Finite(0)));
        assert!(Allotment::from_wire(-2).is_err());
        assert!(Allotment::quantity_from_wire(1501).is_err());
        assert_eq!(
            Allotment::quantity_from_wire(1500),
            Ok(Allotment::Finite(1500))
        );
    }

    #[test]
    fn zero_means_none() {
        let mut q = Quota::new(Allotment::Finite(0));
        assert!(matches!(
            q.reserve(scope()),
            Err(QuotaError::Exhausted { .. })
        ));
    }

    #[test]
    fn lowering_below_usage_is_refused() {
        let mut q = Quota::new(Allotment::Finite(3));
        assert!(q.reserve(scope()).is_ok());
        q.commit();
        assert!(q.reserve(scope()).is_ok());
        assert!(matches!(
            q.set_allotment(Allotment::Finite(1), scope()),
            Err(QuotaError::BelowUsage { used: 2, .. })
        ));
        assert!(q.set_allotment(Allotment::Finite(2), scope()).is_ok());
    }

    proptest! {
        /// Whatever the sequence of reserve/commit/release, issued + reserved never
        /// exceeds a finite allotment, and remaining is exactly the difference.
        #[test]
        fn conservation(limit in 0u32..20, ops in proptest::collection::vec(0u8..3, 0..80)) {
            let mut q = Quota::new(Allotment::Finite(limit));
            let mut reserved = 0u32;
            let mut issued = 0u32;
            for op in ops {
                match op {
                    0 if q.reserve(scope()).is_ok() => reserved += 1,
                    1 if reserved > 0 => { q.commit(); reserved -= 1; issued += 1 },
                    2 if reserved > 0 => { q.release(); reserved -= 1 },
                    _ => {}
                }
                prop_assert_eq!(q.issued, issued);
                prop_assert_eq!(q.reserved, reserved);
                prop_assert!(issued + reserved <= limit);
                prop_assert_eq!(q.remaining(), Some(limit - issued - reserved));
            }
        }
    }
}
