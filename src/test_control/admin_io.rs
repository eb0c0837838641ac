//! What every admin endpoint shares: its one error shape (Zulip's, with a code of ours), its
//! request bodies (raw or JSON, refused in that shape), realm path segments and JSON merge
//! patches.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::app_state::AppState;
use crate::fixtures::{parse_json, FixtureError};
use crate::zulip_api::authentication::ROOT_SEGMENT;

/// An admin API error: Zulip's error shape with a code of ours.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminError {
    #[error("{0}")]
    BadRequest(String),
    /// A fixture, or a change that would make the state invalid: with the JSON path.
    #[error("{0}")]
    InvalidFixture(FixtureError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    #[error("This admin API requires Authorization: Bearer <admin token>")]
    Unauthorized,
    #[error("Request body too large")]
    PayloadTooLarge,
}

#[derive(Serialize)]
struct AdminErrorBody<'a> {
    result: &'static str,
    msg: String,
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<&'a str>,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            Self::InvalidFixture(_) => (StatusCode::BAD_REQUEST, "INVALID_FIXTURE"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
        };
        let (path, problem) = match &self {
            Self::InvalidFixture(FixtureError::Invalid { path, problem, .. }) => {
                (Some(path.as_str()), Some(problem.as_str()))
            }
            _ => (None, None),
        };
        let mut response = crate::zulip_api::responses::json_response(
            status,
            &AdminErrorBody {
                result: "error",
                msg: self.to_string(),
                code,
                path,
                problem,
            },
        );
        if matches!(self, Self::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<FixtureError> for AdminError {
    fn from(err: FixtureError) -> Self {
        Self::InvalidFixture(err)
    }
}

/// What the admin API names a JSON request body in errors.
pub(super) const BODY: &str = "request body";

/// A raw request body whose refusal is an admin error in JSON, like every other (axum's own is
/// plain text): 413 `PAYLOAD_TOO_LARGE` past the body limit.
pub(crate) struct AdminBody(pub Bytes);

impl FromRequest<AppState> for AdminBody {
    type Rejection = AdminError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, AdminError> {
        Bytes::from_request(request, state)
            .await
            .map(Self)
            .map_err(|rejection| match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => AdminError::PayloadTooLarge,
                _ => AdminError::BadRequest(rejection.body_text()),
            })
    }
}

/// A JSON request body, parsed with the JSON path of any problem; an empty body is `None`.
pub(crate) struct AdminJson<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for AdminJson<T> {
    type Rejection = AdminError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, AdminError> {
        let AdminBody(bytes) = AdminBody::from_request(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| AdminError::BadRequest("the request body is not UTF-8".to_owned()))?;
        Ok(Self(Some(parse_json(BODY, text)?)))
    }
}

impl<T> AdminJson<T> {
    /// The body, or an error saying it is required.
    pub(crate) fn required(self) -> Result<T, AdminError> {
        self.0
            .ok_or_else(|| AdminError::BadRequest("a JSON request body is required".to_owned()))
    }
}

/// A subdomain from a path segment: `_root` is the root domain ("").
pub(crate) fn subdomain_from_segment(segment: &str) -> String {
    if segment == ROOT_SEGMENT {
        String::new()
    } else {
        segment.to_ascii_lowercase()
    }
}

/// A subdomain as a path segment.
pub(crate) fn segment_of_subdomain(subdomain: &str) -> &str {
    if subdomain.is_empty() {
        ROOT_SEGMENT
    } else {
        subdomain
    }
}

/// RFC 7386 JSON merge patch: objects merge key by key, `null` removes, anything else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: Value) {
    match patch {
        Value::Object(patch) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            let Value::Object(object) = target else {
                return;
            };
            for (key, value) in patch {
                if value.is_null() {
                    object.remove(&key);
                } else {
                    merge_patch(object.entry(key).or_insert(Value::Null), value);
                }
            }
        }
        other => *target = other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patches_follow_rfc_7386() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut target, json!({"a": "z", "c": {"f": null}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));
        let mut list = json!({"a": [1, 2]});
        merge_patch(&mut list, json!({"a": [3]}));
        assert_eq!(list, json!({"a": [3]}));
    }

    #[test]
    fn the_root_domain_is_written_as_root_in_paths() {
        assert_eq!(subdomain_from_segment("_root"), "");
        assert_eq!(subdomain_from_segment("Lear"), "lear");
        assert_eq!(segment_of_subdomain(""), "_root");
    }
}
