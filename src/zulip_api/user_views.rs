//! The user directory (zerver/views/users.py): every user of the realm, one user by id or by
//! email, and the requester's own profile.

use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::app_state::AppState;
use crate::domain::feature_levels::Compat;
use crate::domain::store::{RealmState, User, UserId};
use crate::domain::user_directory::{
    accessible_users, can_access_delivery_email, fake_email_domain, inaccessible_user_object,
    user_object, Format,
};
use crate::zulip_api::api_errors::{ApiError, ApiResult};
use crate::zulip_api::authentication::AuthedUser;
use crate::zulip_api::parameters::RequestParams;
use crate::zulip_api::responses::Success;

/// `GET /users` and `GET /users/{id}`: how the user objects are written, from the parameters
/// (`client_gravatar`, `include_custom_profile_fields`, in the view's order).
fn format(params: &RequestParams, compat: Compat) -> ApiResult<Format> {
    Ok(Format {
        compat,
        client_gravatar: params.json_bool("client_gravatar", compat.client_gravatar_by_default)?,
        include_custom_profile_fields: params.json_bool("include_custom_profile_fields", false)?,
    })
}

/// The users `viewer` can access, or `None` for everyone, at the server's level.
fn access(
    realm: &RealmState,
    viewer: &User,
    compat: Compat,
) -> Option<std::collections::HashSet<UserId>> {
    compat
        .user_access_limit
        .then(|| accessible_users(realm, viewer))
        .flatten()
}

#[derive(Debug, Serialize)]
pub(super) struct Members {
    members: Vec<Map<String, Value>>,
}

/// `GET /api/v1/users`: https://zulip.com/api/get-users
pub(super) async fn get_users(
    State(state): State<AppState>,
    authed: AuthedUser,
    params: RequestParams,
) -> ApiResult<Success<Members>> {
    let server = std::sync::Arc::clone(&authed.server);
    let compat = server.compat;
    let format = format(&params, compat)?;
    let mut used = vec!["client_gravatar", "include_custom_profile_fields"];
    let user_ids = match compat.users_by_id_list {
        true => {
            used.push("user_ids");
            user_ids(&params)?
        }
        false => None,
    };
    let host = server.realm_host(authed.realm.subdomain());
    let domain = fake_email_domain(&host, &server.fake_email_domain).to_owned();
    let members = authed.realm.read(|realm| {
        let accessible = access(realm, &authed.user, compat);
        realm
            .users()
            .filter(|user| {
                user_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&user.user_id))
            })
            .filter_map(|user| match &accessible {
                Some(ids) if !ids.contains(&user.user_id) => (!compat.inaccessible_users_omitted)
                    .then(|| inaccessible_user_object(user.user_id, &domain, compat)),
                _ => Some(user_object(user, &authed.user, format)),
            })
            .collect()
    });
    Ok(Success::new(Members { members })
        .with_ignored_parameters(state.ignored_parameters(&params, &used)))
}

/// `user_ids`: a JSON list of integers. Ids no user has, negative ones included, select nobody.
fn user_ids(params: &RequestParams) -> ApiResult<Option<Vec<UserId>>> {
    let Some(items) = params.json_list("user_ids")? else {
        return Ok(None);
    };
    let mut ids = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(id) = item.as_u64() {
            ids.push(id);
        } else if !item.is_i64() {
            return Err(ApiError::BadRequest(format!(
                "user_ids[{i}] is not an integer"
            )));
        }
    }
    Ok(Some(ids))
}

#[derive(Debug, Serialize)]
pub(super) struct OneUser {
    user: Map<String, Value>,
}

/// `GET /api/v1/users/{user_id}` (https://zulip.com/api/get-user) and `GET /api/v1/users/{email}`
/// (https://zulip.com/api/get-user-by-email): deactivated users and bots included.
pub(super) async fn get_user(
    State(state): State<AppState>,
    authed: AuthedUser,
    Path(segment): Path<String>,
    params: RequestParams,
) -> ApiResult<Success<OneUser>> {
    let server = std::sync::Arc::clone(&authed.server);
    let compat = server.compat;
    let by_id = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    if !by_id && !compat.user_by_email {
        // No such route before feature level 39.
        return Err(ApiError::NotFound);
    }
    let format = format(&params, compat)?;
    let host = server.realm_host(authed.realm.subdomain());
    let domain = fake_email_domain(&host, &server.fake_email_domain).to_owned();
    let user = authed.realm.read(|realm| {
        let target = if by_id {
            segment.parse::<UserId>().ok().and_then(|id| realm.user(id))
        } else {
            user_by_email(realm, &authed.user, &segment, &domain, compat)
        }
        .ok_or_else(|| ApiError::BadRequest("No such user".to_owned()))?;
        if access(realm, &authed.user, compat).is_some_and(|ids| !ids.contains(&target.user_id)) {
            return Err(ApiError::BadRequest("Insufficient permission".to_owned()));
        }
        Ok(user_object(target, &authed.user, format))
    })?;
    let used = ["client_gravatar", "include_custom_profile_fields"];
    Ok(Success::new(OneUser { user })
        .with_ignored_parameters(state.ignored_parameters(&params, &used)))
}

/// `access_user_by_email`: a dummy address names its user by id; a real one is looked up among
/// the delivery emails `viewer` may see (the API email before feature level 302).
fn user_by_email<'a>(
    realm: &'a RealmState,
    viewer: &User,
    email: &str,
    fake_domain: &str,
    compat: Compat,
) -> Option<&'a std::sync::Arc<User>> {
    if let Some(id) = email
        .to_ascii_lowercase()
        .strip_suffix(&format!("@{fake_domain}"))
        .and_then(|local| local.strip_prefix("user"))
        .and_then(|id| id.parse::<UserId>().ok())
    {
        if let Some(user) = realm.user(id) {
            return Some(user);
        }
    }
    if compat.user_by_delivery_email {
        realm.users().find(|user| {
            user.delivery_email.eq_ignore_ascii_case(email)
                && can_access_delivery_email(viewer, user)
        })
    } else {
        realm
            .users()
            .find(|user| user.email.eq_ignore_ascii_case(email))
    }
}

/// `GET /api/v1/users/me`: https://zulip.com/api/get-own-user
pub(super) async fn get_own_user(
    State(state): State<AppState>,
    authed: AuthedUser,
    params: RequestParams,
) -> ApiResult<Success<Map<String, Value>>> {
    let compat = authed.server.compat;
    let mut profile = user_object(
        &authed.user,
        &authed.user,
        Format {
            compat,
            client_gravatar: false,
            include_custom_profile_fields: true,
        },
    );
    profile.insert(
        "max_message_id".to_owned(),
        authed.realm.read(max_message_id),
    );
    Ok(Success::new(profile).with_ignored_parameters(state.ignored_parameters(&params, &[])))
}

/// The requester's newest message id: the mock holds no messages (-1, as Zulip says for a user
/// without any), unless the realm's `register_state` gives `message.max_message_id`.
pub(crate) fn max_message_id(realm: &RealmState) -> Value {
    realm
        .settings()
        .register_state
        .get("message")
        .and_then(|state| state.get("max_message_id"))
        .filter(|id| id.is_i64())
        .cloned()
        .unwrap_or(Value::from(-1))
}
