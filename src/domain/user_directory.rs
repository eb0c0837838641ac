//! Zulip's user directory rules as pure functions: the user object a viewer gets for a user
//! (zerver/lib/users.py `format_user_row`), who may see a real email address
//! (zerver/models/users.py `can_access_delivery_email`), avatar URLs (zerver/lib/avatar.py), the
//! placeholder a limited guest gets for a user they cannot access
//! (`get_data_for_inaccessible_user`), and which users a guest can access at all. No HTTP here:
//! `routes/users.rs` and `/register` use these.

use std::collections::HashSet;

use md5::{Digest, Md5};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::domain::clock::Timestamp;
use crate::domain::feature_levels::Compat;
use crate::domain::store::{
    AccessAllUsersGroup, Avatar, EmailVisibility, RealmState, Role, User, UserId,
};

/// `UserProfile.INACCESSIBLE_USER_NAME`.
pub(crate) const INACCESSIBLE_USER_NAME: &str = "Unknown user";

/// The avatar of an inaccessible user, as Zulip's development server serves its static files.
pub(crate) const UNKNOWN_USER_AVATAR: &str = "/static/images/unknown-user-avatar.png";

/// Gravatar's size for medium avatars (zerver/lib/thumbnail.py `MEDIUM_AVATAR_SIZE`).
const MEDIUM_AVATAR_SIZE: u32 = 500;

/// How a user object is written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Format {
    pub compat: Compat,
    /// The client computes Gravatar URLs itself: they are `null` for users whose email is public.
    pub client_gravatar: bool,
    /// Whether humans carry `profile_data`.
    pub include_custom_profile_fields: bool,
}

/// Zulip's numeric role (`UserProfile.ROLE_*`).
pub(crate) fn role_number(role: Role) -> u16 {
    match role {
        Role::Owner => 100,
        Role::Admin => 200,
        Role::Moderator => 300,
        Role::Member => 400,
        Role::Guest => 600,
    }
}

/// Whether `viewer` may see `target`'s real email address.
pub(crate) fn can_access_delivery_email(viewer: &User, target: &User) -> bool {
    if viewer.user_id == target.user_id {
        return true;
    }
    let visibility = target.email_address_visibility;
    match viewer.role {
        Role::Owner | Role::Admin => visibility != EmailVisibility::Nobody,
        Role::Moderator => matches!(
            visibility,
            EmailVisibility::Moderators | EmailVisibility::Members | EmailVisibility::Everyone
        ),
        Role::Member => matches!(
            visibility,
            EmailVisibility::Members | EmailVisibility::Everyone
        ),
        Role::Guest => visibility == EmailVisibility::Everyone,
    }
}

/// `date_joined` as Zulip writes it: ISO 8601 to the minute, in UTC (`isoformat(timespec="minutes")`).
pub(crate) fn date_joined(at: Timestamp) -> String {
    let at = OffsetDateTime::from_unix_timestamp(at.unix_seconds())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}+00:00",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// A user's avatar URL with its version (`append_url_query_string`), or `null` when the client
/// computes Gravatar URLs itself and may (the user's email is public).
pub(crate) fn avatar_url(user: &User, medium: bool, client_gravatar: bool) -> Value {
    let base = match &user.avatar {
        Avatar::Uploaded(urls) => {
            if medium {
                urls.medium_url.clone()
            } else {
                urls.url.clone()
            }
        }
        Avatar::Gravatar => {
            if client_gravatar && user.email_address_visibility == EmailVisibility::Everyone {
                return Value::Null;
            }
            let hash = Md5::digest(user.delivery_email.to_lowercase().as_bytes());
            let hex: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
            let size = if medium {
                format!("&s={MEDIUM_AVATAR_SIZE}")
            } else {
                String::new()
            };
            format!("https://secure.gravatar.com/avatar/{hex}?d=identicon{size}")
        }
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    Value::from(format!("{base}{separator}version={}", user.avatar_version))
}

/// `avatar_source`: "G" (Gravatar) or "U" (uploaded).
pub(crate) fn avatar_source(user: &User) -> &'static str {
    match user.avatar {
        Avatar::Gravatar => "G",
        Avatar::Uploaded { .. } => "U",
    }
}

/// The user object `viewer` gets for `target` (`format_user_row`), keys in Zulip's order.
pub(crate) fn user_object(target: &User, viewer: &User, format: Format) -> Map<String, Value> {
    let compat = format.compat;
    let mut user = Map::new();
    let mut put = |key: &str, value: Value| {
        user.insert(key.to_owned(), value);
    };
    put("email", Value::from(&*target.email));
    put("user_id", Value::from(target.user_id));
    if compat.avatar_version {
        put("avatar_version", Value::from(target.avatar_version));
    }
    put(
        "is_admin",
        Value::from(matches!(target.role, Role::Owner | Role::Admin)),
    );
    if compat.owner_flag {
        put("is_owner", Value::from(target.role == Role::Owner));
    }
    put("is_guest", Value::from(target.role == Role::Guest));
    if compat.user_is_billing_admin {
        put("is_billing_admin", Value::from(false));
    }
    if compat.role_field {
        put("role", Value::from(role_number(target.role)));
    }
    put("is_bot", Value::from(target.is_bot));
    put("full_name", Value::from(&*target.full_name));
    put("timezone", Value::from(&*target.timezone));
    put("is_active", Value::from(target.is_active));
    put("date_joined", Value::from(date_joined(target.date_joined)));
    let visible = can_access_delivery_email(viewer, target);
    if compat.delivery_email_always {
        let delivery_email = if visible {
            Value::from(&*target.delivery_email)
        } else {
            Value::Null
        };
        put("delivery_email", delivery_email);
    } else if visible {
        put("delivery_email", Value::from(&*target.delivery_email));
    }
    if compat.imported_stub {
        put("is_imported_stub", Value::from(target.is_imported_stub));
    }
    put(
        "avatar_url",
        avatar_url(target, false, format.client_gravatar),
    );
    if target.is_bot {
        put("bot_type", target.bot_type.map_or(Value::Null, Value::from));
        put(
            "bot_owner_id",
            target.bot_owner_id.map_or(Value::Null, Value::from),
        );
    } else if format.include_custom_profile_fields {
        put("profile_data", target.profile_data.to_json());
    }
    user
}

/// What a limited guest gets for a user they cannot access (`get_data_for_inaccessible_user`).
pub(crate) fn inaccessible_user_object(
    user_id: UserId,
    fake_email_domain: &str,
    compat: Compat,
) -> Map<String, Value> {
    let mut user = Map::new();
    let mut put = |key: &str, value: Value| {
        user.insert(key.to_owned(), value);
    };
    put(
        "email",
        Value::from(format!("user{user_id}@{fake_email_domain}")),
    );
    put("user_id", Value::from(user_id));
    put("avatar_version", Value::from(1));
    put("is_admin", Value::from(false));
    put("is_owner", Value::from(false));
    put("is_guest", Value::from(false));
    if !compat.billing_admin_removed {
        put("is_billing_admin", Value::from(false));
    }
    put("role", Value::from(role_number(Role::Member)));
    put("is_bot", Value::from(false));
    put("full_name", Value::from(INACCESSIBLE_USER_NAME));
    put("timezone", Value::from(""));
    put("is_active", Value::from(true));
    put("date_joined", Value::from("1970-01-01T00:00:00+00:00"));
    put("delivery_email", Value::Null);
    put("avatar_url", Value::from(UNKNOWN_USER_AVATAR));
    put("profile_data", Value::Object(Map::new()));
    if compat.imported_stub {
        put("is_imported_stub", Value::from(false));
    }
    user
}

/// The domain of dummy email addresses in a realm on `host` (`get_fake_email_domain`): the
/// host when `bot@<host>` is a valid address (no port), else the server's fake domain.
pub(crate) fn fake_email_domain<'a>(host: &'a str, fallback: &'a str) -> &'a str {
    let valid = !host.is_empty()
        && !host.contains(':')
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        host
    } else {
        fallback
    }
}

/// The users `viewer` can access in the user directory, or `None` when they can access
/// everyone (zerver/lib/users.py `get_accessible_user_ids`): a guest outside the realm's
/// `can_access_all_users_group` accesses themself, every bot, the active users who share a
/// channel subscription with them, and the members of their direct-message groups,
/// deactivated or not.
pub(crate) fn accessible_users(realm: &RealmState, viewer: &User) -> Option<HashSet<UserId>> {
    let group = realm.settings().can_access_all_users_group;
    if viewer.role != Role::Guest || group == AccessAllUsersGroup::Everyone {
        return None;
    }
    let me = viewer.user_id;
    let mut accessible: HashSet<UserId> = realm
        .users()
        .filter(|user| user.is_bot)
        .map(|user| user.user_id)
        .collect();
    accessible.insert(me);
    let active = |id: &UserId| realm.user(*id).is_some_and(|user| user.is_active);
    for channel in realm.channels() {
        if channel.subscribers.contains(&me) {
            accessible.extend(channel.subscribers.iter().copied().filter(active));
        }
    }
    for members in realm.conversations() {
        if members.contains(&me) {
            accessible.extend(members.iter().copied());
        }
    }
    Some(accessible)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_joined_are_written_to_the_minute_in_utc() {
        assert_eq!(
            date_joined(Timestamp::from_unix_seconds(1_705_311_059)),
            "2024-01-15T09:30+00:00"
        );
    }

    #[test]
    fn fake_email_domains_need_a_host_without_a_port() {
        assert_eq!(
            fake_email_domain("lear.example.com", "x.invalid"),
            "lear.example.com"
        );
        assert_eq!(
            fake_email_domain("localhost:9991", "zulip.localhost"),
            "zulip.localhost"
        );
    }
}
