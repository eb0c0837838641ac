//! What every admin endpoint shares: its one error shape (Zulip's, with a code of ours), its
//! request bodies (raw or JSON, refused in that shape), realm path segments and JSON merge
//! patches.

use axum::body::Bytes;
use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
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
    /// A body that is not what the endpoint takes (a fixture, or a change that would make the
    /// state invalid; a fault; a stub; a control setting): with the JSON path of the problem.
    #[error("{error}")]
    Invalid { kind: BodyKind, error: FixtureError },
    /// A path segment of the wrong type (a user id that is not a number, say).
    #[error("{0}")]
    InvalidPath(String),
    /// A fault that could not apply as asked (a delay too long, say).
    #[error("{0}")]
    InvalidFault(String),
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
            Self::Invalid { kind, .. } => (StatusCode::BAD_REQUEST, kind.code()),
            Self::InvalidPath(_) => (StatusCode::BAD_REQUEST, "INVALID_PATH"),
            Self::InvalidFault(_) => (StatusCode::BAD_REQUEST, BodyKind::Fault.code()),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
        };
        let (path, problem) = match &self {
            Self::Invalid {
                error: FixtureError::Invalid { path, problem, .. },
                ..
            } => (Some(path.as_str()), Some(problem.as_str())),
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

/// What a refused body was meant to be, which names its error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// A fixture or part of one (a realm, a user, a channel, presence...): `INVALID_FIXTURE`.
    Fixture,
    /// A fault: `INVALID_FAULT`.
    Fault,
    /// A stub, or a realm's `register_state`: `INVALID_STUB`.
    Stub,
    /// A control setting (the clock, the rate limit, event queue settings, an injected event):
    /// `INVALID_REQUEST_BODY`.
    Control,
}

impl BodyKind {
    fn code(self) -> &'static str {
        match self {
            Self::Fixture => "INVALID_FIXTURE",
            Self::Fault => "INVALID_FAULT",
            Self::Stub => "INVALID_STUB",
            Self::Control => "INVALID_REQUEST_BODY",
        }
    }
}

/// A fixture problem: the state would not be valid.
impl From<FixtureError> for AdminError {
    fn from(error: FixtureError) -> Self {
        Self::Invalid {
            kind: BodyKind::Fixture,
            error,
        }
    }
}

/// The body kinds, as types for `AdminJson`.
pub(crate) trait Kind {
    const KIND: BodyKind;
}

/// A fixture or part of one.
pub(crate) enum FixturePart {}
/// A fault.
pub(crate) enum FaultBody {}
/// A stub or `register_state`.
pub(crate) enum StubBody {}
/// A control setting.
pub(crate) enum ControlBody {}

impl Kind for FixturePart {
    const KIND: BodyKind = BodyKind::Fixture;
}
impl Kind for FaultBody {
    const KIND: BodyKind = BodyKind::Fault;
}
impl Kind for StubBody {
    const KIND: BodyKind = BodyKind::Stub;
}
impl Kind for ControlBody {
    const KIND: BodyKind = BodyKind::Control;
}

/// A path's parameters, refused in the admin API's error shape (`INVALID_PATH`) rather than
/// axum's plain text.
pub(crate) struct AdminPath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for AdminPath<T> {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| AdminError::InvalidPath(rejection.body_text()))
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

/// A JSON request body of kind `K`, parsed with the JSON path of any problem; an empty body is
/// `None`.
pub(crate) struct AdminJson<T, K: Kind = FixturePart>(pub Option<T>, PhantomData<K>);

impl<T: DeserializeOwned, K: Kind> FromRequest<AppState> for AdminJson<T, K> {
    type Rejection = AdminError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, AdminError> {
        let AdminBody(bytes) = AdminBody::from_request(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None, PhantomData));
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| AdminError::BadRequest("the request body is not UTF-8".to_owned()))?;
        let value = parse_json(BODY, text).map_err(|error| AdminError::Invalid {
            kind: K::KIND,
            error,
        })?;
        Ok(Self(Some(value), PhantomData))
    }
}

impl<T, K: Kind> AdminJson<T, K> {
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
