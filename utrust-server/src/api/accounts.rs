//! Users, sessions, API tokens and employees.
//!
//! Passwords are hashed with argon2id (PHC strings); bearer tokens are 256-bit
//! random values shown once and stored only as SHA-256 hashes.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utrust_core::domain::access::{Permission, Principal};
use utrust_core::domain::agents::{AgentRef, Employee, UserAccount};
use utrust_core::domain::identifiers::Email;
use utrust_core::domain::ids::{BranchId, EmployeeId, OrganizationId, PointId, UserId};
use utrust_core::ports::SessionKind;
use zeroize::Zeroizing;

use super::auth::token_hash;
use super::catalog::{body_id, path_id};
use super::json::ApiJson;
use super::openapi::{AuthedErrors, LoginErrors, ReadErrors, WriteErrors};
use super::wire::rfc3339;
use super::{ApiError, AppState};

/// How long a login session lasts.
const SESSION_TTL: time::Duration = time::Duration::hours(12);

/// A PHC string for a password nobody has, verified when the user does not
/// exist so that both failures take the same time.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$7y8MtHcWnp+NeoTODWDWJg$ND6pOuzyUZO7kD+XZRweb2mGhmQYPvHNAB0VqDVX3UY";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    username: String,
    #[schema(value_type = String, min_length = 8, max_length = 1024)]
    password: Zeroizing<String>,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    staff: bool,
    #[serde(default)]
    superuser: bool,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    permissions: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A user account as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub username: String,
    pub active: bool,
    pub staff: bool,
    pub superuser: bool,
    pub groups: Vec<String>,
    pub permissions: Vec<String>,
}

impl UserOut {
    pub fn from_domain(u: &UserAccount) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.clone(),
            active: u.active,
            staff: u.staff,
            superuser: u.superuser,
            groups: u.groups.clone(),
            permissions: u.permissions.clone(),
        }
    }
}

async fn hash_password(password: Zeroizing<String>) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "hashing failed",
        )
    })?
    .map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "hashing failed",
        )
    })
}

async fn password_matches(password: Zeroizing<String>, phc: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// `POST /users`.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "accounts",
    request_body = UserIn,
    responses((status = 201, description = "Created", body = UserOut), WriteErrors),
)]
pub async fn create_user(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<UserIn>,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    st.engine.authorize_grant(&who, &body.permissions)?;
    if !(8..=1024).contains(&body.password.chars().count()) {
        return Err(ApiError::invalid("password", "8 to 1024 characters"));
    }
    if body.superuser && !matches!(who, Principal::Admin { .. }) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an administrator creates superusers",
        ));
    }
    let user = UserAccount {
        id: UserId::from_uuid(uuid::Uuid::nil()),
        username: body.username,
        password_hash: hash_password(body.password).await?,
        active: body.active,
        staff: body.staff,
        superuser: body.superuser,
        groups: body.groups,
        permissions: body.permissions,
    };
    let user = st.engine.create_user(user).await?;
    Ok((StatusCode::CREATED, Json(UserOut::from_domain(&user))))
}

/// `GET /users/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "accounts",
    params(("id" = uuid::Uuid, Path, description = "The user's id (UUID)")),
    responses((status = 200, description = "The user", body = UserOut), ReadErrors),
)]
pub async fn get_user(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<UserOut>, ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let user = st.engine.user(path_id::<UserId>(&id, "user")?).await?;
    Ok(Json(UserOut::from_domain(&user)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    username: String,
    #[schema(value_type = String)]
    password: Zeroizing<String>,
}

/// `POST /sessions` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginOut {
    /// The bearer token (shown once).
    pub token: String,
    /// When the session expires (RFC 3339).
    pub expires_at: Option<String>,
    pub user_id: String,
}

/// `POST /tokens` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    /// The API token (shown once).
    pub token: String,
    pub name: String,
    pub user_id: String,
}

/// `GET /me` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    /// `admin`, `employee` or `applicant`.
    pub role: String,
    pub user_id: Option<String>,
    pub employee_id: Option<String>,
    /// The permission flags the caller holds.
    pub permissions: Vec<String>,
}

fn new_token() -> String {
    utrust_pki::OsRandom::new().hex_token(32)
}

/// `POST /sessions` (no authentication): `{"username", "password"}` →
/// `{"token", "expires_at"}`.
#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    tag = "accounts",
    request_body = LoginIn,
    security(()),
    responses((status = 201, description = "A login session", body = LoginOut), LoginErrors),
)]
pub async fn login(
    State(st): State<AppState>,
    ApiJson(body): ApiJson<LoginIn>,
) -> Result<(StatusCode, Json<LoginOut>), ApiError> {
    let user = st.engine.user_by_username(&body.username).await?;
    let phc = user
        .as_ref()
        .map_or_else(|| DUMMY_HASH.to_owned(), |u| u.password_hash.clone());
    let ok = password_matches(body.password, phc).await;
    let (Some(user), true) = (user, ok) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "unknown user or wrong password",
        ));
    };
    let token = new_token();
    let session = st
        .engine
        .open_session(
            &user,
            token_hash(&token),
            SessionKind::Session,
            None,
            Some(SESSION_TTL),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(LoginOut {
            token,
            expires_at: session.expires_at.map(rfc3339),
            user_id: user.id.to_string(),
        }),
    ))
}

/// `DELETE /sessions/current`: ends the session of the token presented.
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/current",
    tag = "accounts",
    responses((status = 204, description = "The session of the presented token is closed"), AuthedErrors),
)]
pub async fn logout(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    if let Some(token) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        st.engine.close_session(&token_hash(token)).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    name: String,
    #[schema(format = Uuid)]
    user_id: Option<String>,
}

/// `POST /tokens` `{"name", "user_id"?}`: an API token for an integration, for
/// the caller's own account (or, with `manage_users`, another one). Shown once.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "accounts",
    request_body = TokenIn,
    responses((status = 201, description = "The API token, shown once", body = TokenOut), WriteErrors),
)]
pub async fn create_token(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<TokenIn>,
) -> Result<(StatusCode, Json<TokenOut>), ApiError> {
    if body.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    let own = match &who {
        Principal::Admin { user } => *user,
        Principal::Employee { user, .. } | Principal::Applicant { user } => Some(*user),
    };
    let user_id = match &body.user_id {
        Some(raw) => {
            st.engine.authorize(&who, Permission::ManageUsers)?;
            body_id::<UserId>(raw, "user_id")?
        }
        None => own.ok_or_else(|| {
            ApiError::invalid(
                "user_id",
                "the bootstrap token has no account: name the user",
            )
        })?,
    };
    let user = st
        .engine
        .user(user_id)
        .await
        .map_err(|_| ApiError::invalid("user_id", "no such user"))?;
    // A token for a superuser acts as an administrator: like creating a
    // superuser, only an administrator may mint one (manage_users is not enough).
    if user.superuser && !matches!(who, Principal::Admin { .. }) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an administrator issues tokens for superusers",
        ));
    }
    let token = new_token();
    st.engine
        .open_session(
            &user,
            token_hash(&token),
            SessionKind::ApiToken,
            Some(body.name.clone()),
            None,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenOut {
            token,
            name: body.name,
            user_id: user.id.to_string(),
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployeeIn {
    #[schema(format = Uuid)]
    user_id: String,
    surname: String,
    given_name: String,
    patronymic: Option<String>,
    #[serde(default)]
    position: String,
    #[schema(format = Email)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    notify: bool,
    #[serde(default)]
    permissions: Vec<String>,
    #[schema(format = Uuid)]
    referral_id: String,
    #[serde(default)]
    visibility: Vec<String>,
}

/// Resolves an id to the organization, branch or point it names.
async fn agent_ref(st: &AppState, raw: &str, field: &str) -> Result<AgentRef, ApiError> {
    let id = body_id::<uuid::Uuid>(raw, field)?;
    let store = st.engine.store();
    let found = if store
        .organization(OrganizationId::from_uuid(id))
        .await
        .map_err(utrust_core::Error::from)?
        .is_some()
    {
        Some(AgentRef::Organization(OrganizationId::from_uuid(id)))
    } else if store
        .branch(BranchId::from_uuid(id))
        .await
        .map_err(utrust_core::Error::from)?
        .is_some()
    {
        Some(AgentRef::Branch(BranchId::from_uuid(id)))
    } else if store
        .point(PointId::from_uuid(id))
        .await
        .map_err(utrust_core::Error::from)?
        .is_some()
    {
        Some(AgentRef::Point(PointId::from_uuid(id)))
    } else {
        None
    };
    found.ok_or_else(|| ApiError::invalid(field, "no such organization, branch or point"))
}

fn agent_id(r: &AgentRef) -> String {
    match r {
        AgentRef::Organization(o) => o.to_string(),
        AgentRef::Branch(b) => b.to_string(),
        AgentRef::Point(p) => p.to_string(),
    }
}

/// An employee as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmployeeOut {
    pub id: String,
    pub user_id: String,
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub position: String,
    pub email: String,
    pub phone: String,
    pub notify: bool,
    pub permissions: Vec<String>,
    /// The organization, branch or point the employee belongs to.
    pub referral_id: String,
    /// Organizations, branches and points whose applications the employee sees.
    pub visibility: Vec<String>,
}

impl EmployeeOut {
    pub fn from_domain(e: &Employee) -> Self {
        Self {
            id: e.id.to_string(),
            user_id: e.user_id.to_string(),
            surname: e.surname.clone(),
            given_name: e.given_name.clone(),
            patronymic: e.patronymic.clone(),
            position: e.position.clone(),
            email: e.email.to_string(),
            phone: e.phone.clone(),
            notify: e.notify,
            permissions: e.permissions.clone(),
            referral_id: agent_id(&e.referral),
            visibility: e.visibility.iter().map(agent_id).collect(),
        }
    }
}

/// `POST /employees`.
#[utoipa::path(
    post,
    path = "/api/v1/employees",
    tag = "accounts",
    request_body = EmployeeIn,
    responses((status = 201, description = "Created", body = EmployeeOut), WriteErrors),
)]
pub async fn create_employee(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(b): ApiJson<EmployeeIn>,
) -> Result<(StatusCode, Json<EmployeeOut>), ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    st.engine.authorize_grant(&who, &b.permissions)?;
    let mut visibility = Vec::with_capacity(b.visibility.len());
    for v in &b.visibility {
        visibility.push(agent_ref(&st, v, "visibility").await?);
    }
    let e = Employee {
        id: EmployeeId::from_uuid(uuid::Uuid::nil()),
        user_id: body_id::<UserId>(&b.user_id, "user_id")?,
        surname: b.surname,
        given_name: b.given_name,
        patronymic: b.patronymic,
        position: b.position,
        email: Email::parse(&b.email)
            .map_err(|e| ApiError::invalid("email", e.problem.to_string()))?,
        phone: b.phone,
        notify: b.notify,
        permissions: b.permissions,
        referral: agent_ref(&st, &b.referral_id, "referral_id").await?,
        visibility,
    };
    let e = st.engine.create_employee(e).await?;
    Ok((StatusCode::CREATED, Json(EmployeeOut::from_domain(&e))))
}

/// `GET /employees/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/employees/{id}",
    tag = "accounts",
    params(("id" = uuid::Uuid, Path, description = "The employee's id (UUID)")),
    responses((status = 200, description = "The employee", body = EmployeeOut), ReadErrors),
)]
pub async fn get_employee(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<EmployeeOut>, ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let e = st
        .engine
        .employee(path_id::<EmployeeId>(&id, "employee")?)
        .await?;
    Ok(Json(EmployeeOut::from_domain(&e)))
}

/// `GET /me`: who the caller is.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "accounts",
    responses((status = 200, description = "The caller", body = MeOut), AuthedErrors),
)]
pub async fn me(Extension(who): Extension<Principal>) -> Json<MeOut> {
    let (user, employee) = match &who {
        Principal::Admin { user } => (user.map(|u| u.to_string()), None),
        Principal::Employee { user, employee, .. } => {
            (Some(user.to_string()), Some(employee.id.to_string()))
        }
        Principal::Applicant { user } => (Some(user.to_string()), None),
    };
    let permissions: Vec<&str> = Permission::ALL
        .into_iter()
        .filter(|p| who.may(*p))
        .map(Permission::as_str)
        .collect();
    Json(MeOut {
        role: who.role().to_owned(),
        user_id: user,
        employee_id: employee,
        permissions: permissions.into_iter().map(str::to_owned).collect(),
    })
}
