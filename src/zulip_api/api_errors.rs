//! Every error a Zulip client can receive, in Zulip's wire shape
//! (`{"result":"error","msg":…,"code":…}`, zerver/lib/exceptions.py), with its status and
//! headers. Start-up errors (fixtures, bind) are not here: they never become HTTP.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::zulip_api::responses::json_response;

/// An error returned to a Zulip client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 401 `UNAUTHORIZED` with `WWW-Authenticate`: no credentials at all.
    #[error("Not logged in: API authentication or user session required")]
    NotLoggedIn,

    /// 401 `UNAUTHORIZED` with `WWW-Authenticate` and the given message: a bad header, a
    /// malformed or invalid key, a deactivated account or realm, another realm's user. Zulip
    /// re-raises every credential failure this way (zerver/decorator.py).
    #[error("{0}")]
    Unauthenticated(&'static str),

    /// 400 `BAD_REQUEST`: an Authorization header with another scheme than Basic.
    #[error("This endpoint requires HTTP basic authentication.")]
    BasicAuthRequired,

    /// 400 `REQUEST_VARIABLE_MISSING`, with `var_name`.
    #[error("Missing '{0}' argument")]
    MissingArgument(&'static str),

    /// 400 `BAD_REQUEST` with a free-form message.
    #[error("{0}")]
    BadRequest(String),

    /// 404 `BAD_REQUEST`: no Zulip endpoint has this path.
    #[error("Not Found")]
    NotFound,

    /// 405 with `Allow` and `allowed_methods`, and no `code` (zerver/lib/rest.py).
    #[error("Method Not Allowed")]
    MethodNotAllowed(&'static [&'static str]),

    /// 413 `BAD_REQUEST`: the body is larger than the mock accepts.
    #[error("Request body too large")]
    PayloadTooLarge,

    /// 429 with `Retry-After` and `retry-after` (seconds until a request would be allowed),
    /// and `code: RATE_LIMIT_HIT` from feature level 36 (zerver/lib/exceptions.py
    /// `RateLimitedError`).
    #[error("API usage exceeded rate limit")]
    RateLimited { retry_after: f64, with_code: bool },

    /// Before feature level 76: 403 for a deactivated user (`USER_DEACTIVATED`) or realm
    /// (`REALM_DEACTIVATED`), without `WWW-Authenticate`.
    #[error("{msg}")]
    Deactivated {
        msg: &'static str,
        code: &'static str,
    },

    /// 400 `BAD_EVENT_QUEUE_ID` with `queue_id`: an unknown, expired, deleted or another
    /// user's event queue.
    #[error("Bad event queue ID: {0}")]
    BadEventQueue(String),

    /// 504 `REQUEST_TIMEOUT`: the mock did not answer within its request timeout (only an
    /// injected delay can take that long). Zulip's nginx would answer with an HTML 504.
    #[error("The request timed out")]
    Timeout,

    /// 500 without `code`: a bug in the mock. Details go to the log, never to the client.
    #[error("Internal server error")]
    Internal,

    /// An error a test asked for through the admin API (`/__admin/faults`): its status,
    /// message and code, in Zulip's shape.
    #[error("{msg}")]
    Injected {
        status: StatusCode,
        msg: String,
        code: Option<String>,
    },
}

/// Convenient alias for handler results.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The error body, one struct for every variant so the shape cannot drift. Its keys are in
/// Zulip's order (zerver/lib/exceptions.py `JsonableError.data`): `result`, `msg`, the error's
/// data fields, then `code`; `RateLimitedError` appends `retry-after` after `code`.
#[derive(Serialize)]
struct ErrorBody<'a> {
    result: &'static str,
    msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    var_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_methods: Option<&'a [&'static str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(rename = "retry-after", skip_serializing_if = "Option::is_none")]
    retry_after: Option<f64>,
}

impl ApiError {
    /// The HTTP status Zulip sends for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotLoggedIn | Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::BasicAuthRequired
            | Self::MissingArgument(_)
            | Self::BadRequest(_)
            | Self::BadEventQueue(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Deactivated { .. } => StatusCode::FORBIDDEN,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Injected { status, .. } => *status,
        }
    }

    /// The `code` field, absent for the errors Zulip sends without one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::RateLimited { with_code, .. } => with_code.then_some("RATE_LIMIT_HIT"),
            Self::Timeout => Some("REQUEST_TIMEOUT"),
            Self::BadEventQueue(_) => Some("BAD_EVENT_QUEUE_ID"),
            Self::Deactivated { code, .. } => Some(code),
            Self::Injected { code, .. } => code.as_deref(),
            Self::NotLoggedIn | Self::Unauthenticated(_) => Some("UNAUTHORIZED"),
            Self::MissingArgument(_) => Some("REQUEST_VARIABLE_MISSING"),
            Self::BasicAuthRequired
            | Self::BadRequest(_)
            | Self::NotFound
            | Self::PayloadTooLarge => Some("BAD_REQUEST"),
            Self::MethodNotAllowed(_) | Self::Internal => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let allowed_methods = match &self {
            Self::MethodNotAllowed(methods) => Some(*methods),
            _ => None,
        };
        let body = ErrorBody {
            result: "error",
            msg: self.to_string(),
            code: self.code(),
            var_name: match &self {
                Self::MissingArgument(name) => Some(*name),
                _ => None,
            },
            allowed_methods,
            retry_after: match &self {
                Self::RateLimited { retry_after, .. } => Some(*retry_after),
                _ => None,
            },
            queue_id: match &self {
                Self::BadEventQueue(queue_id) => Some(queue_id.as_str()),
                _ => None,
            },
        };
        let mut response = json_response(self.status(), &body);
        let headers = response.headers_mut();
        match self {
            Self::RateLimited { retry_after, .. } => {
                // Python's str(float): 0.5 -> "0.5", 60.0 -> "60.0" (Rust's Debug agrees).
                if let Ok(value) = HeaderValue::from_str(&format!("{retry_after:?}")) {
                    headers.insert(header::RETRY_AFTER, value);
                }
            }
            Self::NotLoggedIn | Self::Unauthenticated(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"zulip\""),
                );
            }
            Self::MethodNotAllowed(methods) => {
                if let Ok(allow) = HeaderValue::from_str(&methods.join(", ")) {
                    headers.insert(header::ALLOW, allow);
                }
            }
            _ => {}
        }
        response
    }
}
