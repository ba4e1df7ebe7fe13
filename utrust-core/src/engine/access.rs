//! Accounts, sessions and authorization use cases: user accounts and employees,
//! login rules (inactive users and employees of blocked agents are refused),
//! bearer sessions and API tokens stored as hashes, and the checks every other
//! use case applies for a [`Principal`]: permission flags, and visibility that
//! answers "not found" for what the principal may not see.

use async_trait::async_trait;

use super::Engine;
use super::paging::{FilteredSource, filtered_page};
use crate::domain::access::{Permission, PointPlace, Principal, may_see, may_use_point};
use crate::domain::agents::{AgentRef, Availability, Employee, IssuingPoint, UserAccount};
use crate::domain::application::Application;
use crate::domain::ids::{ApplicationId, EmployeeId, PointId, UserId};
use crate::error::{Error, Result};
use crate::ports::{ApplicationFilter, Session, SessionKind};

/// Usernames: 3–64 characters of letters, digits, `.`, `_`, `-`, `@`.
fn valid_username(name: &str) -> bool {
    (3..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

impl Engine {
    /// Creates a user account; the id given is replaced. The password hash is
    /// made by the caller (the server uses argon2) and never the password.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `username` or `permissions`; [`Error::Duplicate`].
    pub async fn create_user(&self, mut user: UserAccount) -> Result<UserAccount> {
        if !valid_username(&user.username) {
            return Err(Error::invalid(
                "username",
                "3 to 64 letters, digits, '.', '_', '-' or '@'",
            ));
        }
        if let Some(p) = user
            .permissions
            .iter()
            .find(|p| Permission::from_name(p).is_none())
        {
            return Err(Error::invalid(
                "permissions",
                format!("unknown permission {p}"),
            ));
        }
        user.id = UserId::from_random_bytes(self.random_bytes());
        self.store.insert_user(&user).await?;
        Ok(user)
    }

    /// A user account.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn user(&self, id: UserId) -> Result<UserAccount> {
        self.store.user(id).await?.ok_or_else(|| Error::NotFound {
            entity: "user",
            id: id.to_string(),
        })
    }

    /// A user account by login.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserAccount>> {
        Ok(self.store.user_by_username(username).await?)
    }

    async fn agent_exists(&self, r: AgentRef) -> Result<bool> {
        Ok(match r {
            AgentRef::Organization(o) => self.store.organization(o).await?.is_some(),
            AgentRef::Branch(b) => self.store.branch(b).await?.is_some(),
            AgentRef::Point(p) => self.store.point(p).await?.is_some(),
        })
    }

    /// Creates an employee for a staff user; the id given is replaced.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `user_id`, `referral_id`, `visibility`,
    /// `permissions`, `surname` or `given_name`; [`Error::Duplicate`] when the
    /// user already is an employee.
    pub async fn create_employee(&self, mut employee: Employee) -> Result<Employee> {
        let user = self
            .store
            .user(employee.user_id)
            .await?
            .ok_or_else(|| Error::invalid("user_id", "no such user"))?;
        if !user.staff {
            return Err(Error::invalid(
                "user_id",
                "only staff users can be employees",
            ));
        }
        for (field, v) in [
            ("surname", &employee.surname),
            ("given_name", &employee.given_name),
        ] {
            if v.trim().is_empty() {
                return Err(Error::invalid(field, "must not be empty"));
            }
        }
        if !self.agent_exists(employee.referral).await? {
            return Err(Error::invalid(
                "referral_id",
                "no such organization, branch or point",
            ));
        }
        for v in &employee.visibility {
            if !self.agent_exists(*v).await? {
                return Err(Error::invalid(
                    "visibility",
                    "no such organization, branch or point",
                ));
            }
        }
        if let Some(p) = employee
            .permissions
            .iter()
            .find(|p| Permission::from_name(p).is_none())
        {
            return Err(Error::invalid(
                "permissions",
                format!("unknown permission {p}"),
            ));
        }
        employee.id = EmployeeId::from_random_bytes(self.random_bytes());
        self.store.insert_employee(&employee).await?;
        Ok(employee)
    }

    /// An employee.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn employee(&self, id: EmployeeId) -> Result<Employee> {
        self.store
            .employee(id)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "employee",
                id: id.to_string(),
            })
    }

    /// Whether the agent an employee belongs to is open (not blocked, also by
    /// cascade).
    async fn referral_open(&self, r: AgentRef) -> Result<bool> {
        Ok(match r {
            AgentRef::Point(p) => {
                let point = self.point(p).await?;
                self.point_availability(&point).await? == Availability::Available
            }
            AgentRef::Branch(b) => {
                let branch = self.branch(b).await?;
                !branch.blocked && !self.organization(branch.organization_id).await?.blocked
            }
            AgentRef::Organization(o) => !self.organization(o).await?.blocked,
        })
    }

    /// Whether a user may log in: active, and — for an employee — working for an
    /// organization, branch and point that are not blocked.
    ///
    /// # Errors
    /// [`Error::LoginRefused`] with the reason.
    pub async fn check_login(&self, user: &UserAccount) -> Result<Option<Employee>> {
        if !user.active {
            return Err(Error::LoginRefused("the account is inactive".into()));
        }
        let employee = self.store.employee_by_user(user.id).await?;
        if let Some(e) = &employee
            && !self.referral_open(e.referral).await?
        {
            return Err(Error::LoginRefused(
                "the employee's organization, branch or point is blocked".into(),
            ));
        }
        Ok(employee)
    }

    /// Stores a session (or API token) for `user` by the hash of its token.
    ///
    /// # Errors
    /// [`Error::LoginRefused`] if the user may not log in; storage errors.
    pub async fn open_session(
        &self,
        user: &UserAccount,
        token_hash: String,
        kind: SessionKind,
        name: Option<String>,
        ttl: Option<time::Duration>,
    ) -> Result<Session> {
        self.check_login(user).await?;
        let now = self.clock.now();
        let session = Session {
            token_hash,
            user_id: user.id,
            kind,
            name,
            created_at: now,
            expires_at: ttl.map(|t| now + t),
        };
        self.store.insert_session(&session).await?;
        Ok(session)
    }

    /// The principal of a bearer token hash: `None` for an unknown or expired
    /// token, or a user who may no longer log in (inactive, blocked agent).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn principal_of(&self, token_hash: &str) -> Result<Option<Principal>> {
        let Some(session) = self.store.session(token_hash).await? else {
            return Ok(None);
        };
        if session.expires_at.is_some_and(|e| e <= self.clock.now()) {
            self.store.delete_session(token_hash).await?;
            return Ok(None);
        }
        let Some(user) = self.store.user(session.user_id).await? else {
            return Ok(None);
        };
        match self.check_login(&user).await {
            Ok(employee) => Ok(Some(Principal::of_user(&user, employee))),
            Err(Error::LoginRefused(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Ends a session.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn close_session(&self, token_hash: &str) -> Result<()> {
        Ok(self.store.delete_session(token_hash).await?)
    }

    /// Refuses to grant permissions the principal does not hold itself.
    ///
    /// # Errors
    /// [`Error::Forbidden`] naming the first such permission.
    pub fn authorize_grant(&self, principal: &Principal, granted: &[String]) -> Result<()> {
        match principal
            .first_not_grantable(granted)
            .and_then(Permission::from_name)
        {
            Some(p) => Err(Error::Forbidden {
                permission: p.as_str(),
            }),
            None => Ok(()),
        }
    }

    /// Refuses a principal without `permission`.
    ///
    /// # Errors
    /// [`Error::Forbidden`].
    pub fn authorize(&self, principal: &Principal, permission: Permission) -> Result<()> {
        if principal.may(permission) {
            Ok(())
        } else {
            Err(Error::Forbidden {
                permission: permission.as_str(),
            })
        }
    }

    /// The application, if `principal` may see it; otherwise "not found", so its
    /// existence does not leak.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn visible_application(
        &self,
        principal: &Principal,
        id: ApplicationId,
    ) -> Result<Application> {
        let app = self.load_application(id).await?;
        let point = self.point(app.point_id).await?;
        if may_see(principal, &app, PointPlace::of(&point)) {
            Ok(app)
        } else {
            Err(Error::NotFound {
                entity: "application",
                id: id.to_string(),
            })
        }
    }

    /// The application, if `principal` may see it (else "not found") and holds
    /// `permission` (else "forbidden") — in that order, so that a missing
    /// permission never reveals that an invisible application exists.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Forbidden`].
    pub async fn application_for(
        &self,
        principal: &Principal,
        id: ApplicationId,
        permission: Permission,
    ) -> Result<Application> {
        let app = self.visible_application(principal, id).await?;
        self.authorize(principal, permission)?;
        Ok(app)
    }

    /// Refuses a point the principal may not use for new applications: outside
    /// an employee's visibility, or technical for an applicant. Answers as if the
    /// point did not exist.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `point_id`.
    pub async fn usable_point(
        &self,
        principal: &Principal,
        id: crate::domain::ids::PointId,
    ) -> Result<()> {
        let point = self
            .store
            .point(id)
            .await?
            .ok_or_else(|| Error::invalid("point_id", "no such point"))?;
        if may_use_point(principal, &point) {
            Ok(())
        } else {
            Err(Error::invalid("point_id", "no such point"))
        }
    }

    /// A page of the applications `principal` may see, ordered by id after the
    /// cursor, and the cursor of the next page (`None` at the end).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn visible_applications(
        &self,
        principal: &Principal,
        filter: &ApplicationFilter,
        after: Option<ApplicationId>,
        limit: u32,
    ) -> Result<(Vec<Application>, Option<ApplicationId>)> {
        let source = VisibleApplications {
            engine: self,
            principal,
            filter,
        };
        filtered_page(&source, after, limit).await
    }
}

impl Engine {
    /// Refuses applicants access to the agent network's internals (answering
    /// "not found", as for anything they may not see).
    ///
    /// # Errors
    /// [`Error::NotFound`] for applicants.
    pub fn staff_only(
        &self,
        principal: &Principal,
        entity: &'static str,
        id: impl ToString,
    ) -> Result<()> {
        match principal {
            Principal::Applicant { .. } => Err(Error::NotFound {
                entity,
                id: id.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// A point as `principal` may see it: technical points are hidden from
    /// applicants.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn visible_point(
        &self,
        principal: &Principal,
        id: crate::domain::ids::PointId,
    ) -> Result<crate::domain::agents::IssuingPoint> {
        let point = self.point(id).await?;
        if matches!(principal, Principal::Applicant { .. }) && point.technical {
            return Err(Error::NotFound {
                entity: "point",
                id: id.to_string(),
            });
        }
        Ok(point)
    }

    /// A page of points for `principal`, ordered by id after the cursor, and the
    /// next cursor: applicants are offered only points that are neither technical
    /// nor blocked (also by cascade).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn offered_points(
        &self,
        principal: &Principal,
        after: Option<crate::domain::ids::PointId>,
        limit: u32,
    ) -> Result<(
        Vec<crate::domain::agents::IssuingPoint>,
        Option<crate::domain::ids::PointId>,
    )> {
        let source = OfferedPoints {
            engine: self,
            principal,
        };
        filtered_page(&source, after, limit).await
    }

    /// A certificate, if `principal` may see it (else "not found") and holds
    /// `permission` (else "forbidden"), in that order.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Forbidden`].
    pub async fn certificate_for(
        &self,
        principal: &Principal,
        serial: &crate::domain::certificate::SerialNumber,
        permission: Permission,
    ) -> Result<crate::domain::certificate::CertificateRecord> {
        let cert = self.visible_certificate(principal, serial).await?;
        self.authorize(principal, permission)?;
        Ok(cert)
    }

    /// A certificate, if `principal` may see its application.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn visible_certificate(
        &self,
        principal: &Principal,
        serial: &crate::domain::certificate::SerialNumber,
    ) -> Result<crate::domain::certificate::CertificateRecord> {
        let cert = self.certificate(serial).await?;
        self.visible_application(principal, cert.application_id)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::NotFound {
                    entity: "certificate",
                    id: serial.to_string(),
                },
                other => other,
            })?;
        Ok(cert)
    }
}

/// The applications a principal may see, for [`filtered_page`].
struct VisibleApplications<'a> {
    engine: &'a Engine,
    principal: &'a Principal,
    filter: &'a ApplicationFilter,
}

#[async_trait]
impl FilteredSource for VisibleApplications<'_> {
    type Item = Application;
    type Cursor = ApplicationId;

    fn cursor(item: &Application) -> ApplicationId {
        item.id
    }

    async fn fetch(&self, after: Option<ApplicationId>, limit: u32) -> Result<Vec<Application>> {
        Ok(self
            .engine
            .store
            .list_applications(self.filter, after, limit)
            .await?)
    }

    async fn keep(&self, app: &Application) -> Result<bool> {
        let point = self.engine.point(app.point_id).await?;
        Ok(may_see(self.principal, app, PointPlace::of(&point)))
    }
}

/// The points offered to a principal, for [`filtered_page`]: applicants get
/// only points that are neither technical nor blocked (also by cascade).
struct OfferedPoints<'a> {
    engine: &'a Engine,
    principal: &'a Principal,
}

#[async_trait]
impl FilteredSource for OfferedPoints<'_> {
    type Item = IssuingPoint;
    type Cursor = PointId;

    fn cursor(item: &IssuingPoint) -> PointId {
        item.id
    }

    async fn fetch(&self, after: Option<PointId>, limit: u32) -> Result<Vec<IssuingPoint>> {
        Ok(self.engine.store.list_points(after, limit).await?)
    }

    async fn keep(&self, point: &IssuingPoint) -> Result<bool> {
        Ok(match self.principal {
            Principal::Applicant { .. } => {
                !point.technical
                    && self.engine.point_availability(point).await? == Availability::Available
            }
            _ => true,
        })
    }
}
