//! Who may do what: roles, permission flags, and the visibility of applications
//! to employees through their visibility links (seed 004: employees see the
//! applications of the points, branches and organizations they are linked to).
//!
//! The rules are pure functions over the agent network; the server resolves a
//! request's credentials to a [`Principal`] and the engine applies these rules,
//! answering "not found" for what a principal may not see, so that existence
//! does not leak.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::agents::{AgentRef, Employee, IssuingPoint, PointParent, UserAccount};
use super::application::{Actor, Application};
use super::ids::UserId;

/// An action that needs a permission flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Create and change products, services and OIDs.
    ManageCatalog,
    /// Create and change organizations, branches, points.
    ManageAgents,
    /// Create users and employees.
    ManageUsers,
    /// Create applications (for applicants, at visible points).
    CreateApplications,
    /// Attach CSRs, re-run checks, accept paper documents.
    ProcessApplications,
    /// Approve and reject applications (CA operator).
    ApproveApplications,
    /// Send applications to the CA.
    IssueCertificates,
    /// Revoke, suspend, resume and renew certificates.
    ManageCertificates,
    /// Create applications in bulk from CSV.
    BulkCreate,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 9] = [
        Self::ManageCatalog,
        Self::ManageAgents,
        Self::ManageUsers,
        Self::CreateApplications,
        Self::ProcessApplications,
        Self::ApproveApplications,
        Self::IssueCertificates,
        Self::ManageCertificates,
        Self::BulkCreate,
    ];

    /// The wire name (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ManageCatalog => "manage_catalog",
            Self::ManageAgents => "manage_agents",
            Self::ManageUsers => "manage_users",
            Self::CreateApplications => "create_applications",
            Self::ProcessApplications => "process_applications",
            Self::ApproveApplications => "approve_applications",
            Self::IssueCertificates => "issue_certificates",
            Self::ManageCertificates => "manage_certificates",
            Self::BulkCreate => "bulk_create",
        }
    }

    /// Parses a wire name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// What an applicant (self-service user) may always do, for their own
    /// applications.
    pub fn applicant_default(self) -> bool {
        matches!(self, Self::CreateApplications | Self::ProcessApplications)
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The bootstrap admin token, an API token of a superuser, or a superuser's
    /// session: everything.
    Admin {
        /// The user, when not the bootstrap token.
        user: Option<UserId>,
    },
    /// A staff user with an employee record: acts within the visibility links and
    /// with the permission flags.
    Employee {
        /// The login.
        user: UserId,
        /// The employee record.
        employee: Box<Employee>,
        /// Flags of the user account and the employee record.
        permissions: BTreeSet<Permission>,
    },
    /// A self-service user: their own applications only.
    Applicant {
        /// The login.
        user: UserId,
    },
}

impl Principal {
    /// The principal of a user account (with its employee record, if any).
    pub fn of_user(user: &UserAccount, employee: Option<Employee>) -> Self {
        if user.superuser {
            return Self::Admin {
                user: Some(user.id),
            };
        }
        match employee {
            Some(e) if user.staff => {
                let permissions = user
                    .permissions
                    .iter()
                    .chain(e.permissions.iter())
                    .filter_map(|p| Permission::from_name(p))
                    .collect();
                Self::Employee {
                    user: user.id,
                    employee: Box::new(e),
                    permissions,
                }
            }
            _ => Self::Applicant { user: user.id },
        }
    }

    /// The actor recorded in history for this principal.
    pub fn actor(&self) -> Actor {
        match self {
            Self::Admin { user: None } => Actor::Admin("bootstrap".into()),
            Self::Admin { user: Some(u) } => Actor::Admin(u.to_string()),
            Self::Employee { employee, .. } => Actor::Employee(employee.id),
            Self::Applicant { user } => Actor::User(*user),
        }
    }

    /// The role name: `admin`, `employee`, `applicant`.
    pub fn role(&self) -> &'static str {
        match self {
            Self::Admin { .. } => "admin",
            Self::Employee { .. } => "employee",
            Self::Applicant { .. } => "applicant",
        }
    }

    /// The first of `granted` (permission names) this principal does not hold
    /// itself: nobody but an administrator grants more than they have, so
    /// `manage_users` cannot be turned into other powers through a new account.
    /// Unknown names are left to the caller's validation.
    pub fn first_not_grantable<'a>(&self, granted: &'a [String]) -> Option<&'a str> {
        granted
            .iter()
            .find(|g| Permission::from_name(g).is_some_and(|p| !self.may(p)))
            .map(String::as_str)
    }

    /// Whether the principal holds `permission` (before visibility).
    pub fn may(&self, permission: Permission) -> bool {
        match self {
            Self::Admin { .. } => true,
            Self::Employee { permissions, .. } => permissions.contains(&permission),
            Self::Applicant { .. } => permission.applicant_default(),
        }
    }
}

/// Where a point sits in the agent network, for visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointPlace {
    /// The point.
    pub point: super::ids::PointId,
    /// Its branch, if it is under one.
    pub branch: Option<super::ids::BranchId>,
    /// Its organization.
    pub organization: super::ids::OrganizationId,
}

impl PointPlace {
    /// The place of `point`.
    pub fn of(point: &IssuingPoint) -> Self {
        Self {
            point: point.id,
            branch: match point.parent {
                PointParent::Branch(b) => Some(b),
                PointParent::Organization(_) => None,
            },
            organization: point.organization_id,
        }
    }
}

/// Whether visibility links cover a point: a link to the point itself, to its
/// branch, or to its organization.
pub fn links_cover(links: &[AgentRef], place: PointPlace) -> bool {
    links.iter().any(|l| match l {
        AgentRef::Point(p) => *p == place.point,
        AgentRef::Branch(b) => Some(*b) == place.branch,
        AgentRef::Organization(o) => *o == place.organization,
    })
}

/// Whether `principal` may see an application at a point in `place`.
pub fn may_see(principal: &Principal, app: &Application, place: PointPlace) -> bool {
    match principal {
        Principal::Admin { .. } => true,
        Principal::Employee { employee, .. } => links_cover(&employee.visibility, place),
        Principal::Applicant { user } => app.user == Some(*user),
    }
}

/// Whether `principal` may work at a point (create applications there): an
/// employee within their visibility, an applicant only at non-technical points.
pub fn may_use_point(principal: &Principal, point: &IssuingPoint) -> bool {
    match principal {
        Principal::Admin { .. } => true,
        Principal::Employee { employee, .. } => {
            links_cover(&employee.visibility, PointPlace::of(point))
        }
        Principal::Applicant { .. } => !point.technical,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{BranchId, OrganizationId, PointId};

    #[test]
    fn links_cover_point_branch_and_organization() {
        let org = OrganizationId::from_random_bytes([1; 16]);
        let branch = BranchId::from_random_bytes([2; 16]);
        let point = PointId::from_random_bytes([3; 16]);
        let other = PointId::from_random_bytes([4; 16]);
        let place = PointPlace {
            point,
            branch: Some(branch),
            organization: org,
        };
        assert!(links_cover(&[AgentRef::Point(point)], place));
        assert!(links_cover(&[AgentRef::Branch(branch)], place));
        assert!(links_cover(&[AgentRef::Organization(org)], place));
        assert!(!links_cover(&[AgentRef::Point(other)], place));
        assert!(!links_cover(&[], place));
    }

    #[test]
    fn nobody_grants_more_than_they_hold() {
        let admin = Principal::Admin { user: None };
        let all: Vec<String> = Permission::ALL
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        assert_eq!(admin.first_not_grantable(&all), None);
        let applicant = Principal::Applicant {
            user: UserId::from_random_bytes([6; 16]),
        };
        assert_eq!(
            applicant.first_not_grantable(&["create_applications".into(), "manage_catalog".into()]),
            Some("manage_catalog")
        );
    }

    #[test]
    fn applicants_hold_only_their_defaults() {
        let p = Principal::Applicant {
            user: UserId::from_random_bytes([5; 16]),
        };
        for perm in Permission::ALL {
            assert_eq!(p.may(perm), perm.applicant_default());
        }
        assert!(Principal::Admin { user: None }.may(Permission::ManageUsers));
    }
}
