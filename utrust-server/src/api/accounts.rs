//! Users, sessions, API tokens and employees.
//!
//! Passwords are hashed with argon2id (PHC strings); bearer tokens are 256-bit
//! random values shown once and stored only as SHA-256 hashes.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utrust_core::domain::access::{Permission, Principal};
use utrust_core::domain::agents::{AgentRef, Employee, UserAccount};
use utrust_core::domain::identifiers::Email;
use utrust_core::domain::ids::{BranchId, EmployeeId, OrganizationId, PointId, UserId};
use utrust_core::ports::SessionKind;
use zeroize::Zeroizing;

use super::auth::token_hash;
use super::catalog::{body_id, path_id};
use super::json::ApiJson;
use super::wire::rfc3339;
use super::{ApiError, AppState};

/// How long a login session lasts.
const SESSION_TTL: time::Duration = time::Duration::hours(12);

/// A PHC string for a password nobody has, verified when the user does not
/// exist so that both failures take the same time.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$7y8MtHcWnp+NeoTODWDWJg$ND6pOuzyUZO7kD+XZRweb2mGhmQYPvHNAB0VqDVX3UY";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    username: String,
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

pub(super) fn user_json(u: &UserAccount) -> Value {
    json!({
        "id": u.id.to_string(),
        "username": u.username,
        "active": u.active,
        "staff": u.staff,
        "superuser": u.superuser,
        "groups": u.groups,
        "permissions": u.permissions,
    })
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
pub async fn create_user(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<UserIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
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
    Ok((StatusCode::CREATED, Json(user_json(&user))))
}

/// `GET /users/{id}`.
pub async fn get_user(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let user = st.engine.user(path_id::<UserId>(&id, "user")?).await?;
    Ok(Json(user_json(&user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    username: String,
    password: Zeroizing<String>,
}

fn new_token() -> String {
    utrust_pki::OsRandom::new().hex_token(32)
}

/// `POST /sessions` (no authentication): `{"username", "password"}` →
/// `{"token", "expires_at"}`.
pub async fn login(
    State(st): State<AppState>,
    ApiJson(body): ApiJson<LoginIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
        Json(json!({
            "token": token,
            "expires_at": session.expires_at.map(rfc3339),
            "user_id": user.id.to_string(),
        })),
    ))
}

/// `DELETE /sessions/current`: ends the session of the token presented.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    name: String,
    user_id: Option<String>,
}

/// `POST /tokens` `{"name", "user_id"?}`: an API token for an integration, for
/// the caller's own account (or, with `manage_users`, another one). Shown once.
pub async fn create_token(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<TokenIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
        Json(json!({ "token": token, "name": body.name, "user_id": user.id.to_string() })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmployeeIn {
    user_id: String,
    surname: String,
    given_name: String,
    patronymic: Option<String>,
    #[serde(default)]
    position: String,
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    notify: bool,
    #[serde(default)]
    permissions: Vec<String>,
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

pub(super) fn employee_json(e: &Employee) -> Value {
    json!({
        "id": e.id.to_string(),
        "user_id": e.user_id.to_string(),
        "surname": e.surname,
        "given_name": e.given_name,
        "patronymic": e.patronymic,
        "position": e.position,
        "email": e.email.to_string(),
        "phone": e.phone,
        "notify": e.notify,
        "permissions": e.permissions,
        "referral_id": agent_id(&e.referral),
        "visibility": e.visibility.iter().map(agent_id).collect::<Vec<_>>(),
    })
}

/// `POST /employees`.
pub async fn create_employee(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(b): ApiJson<EmployeeIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
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
    Ok((StatusCode::CREATED, Json(employee_json(&e))))
}

/// `GET /employees/{id}`.
pub async fn get_employee(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let e = st
        .engine
        .employee(path_id::<EmployeeId>(&id, "employee")?)
        .await?;
    Ok(Json(employee_json(&e)))
}

/// `GET /me`: who the caller is.
pub async fn me(Extension(who): Extension<Principal>) -> Json<Value> {
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
    Json(json!({
        "role": who.role(),
        "user_id": user,
        "employee_id": employee,
        "permissions": permissions,
    }))
}
