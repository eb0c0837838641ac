//! Success bodies in Zulip's envelope (`{"result":"success","msg":"",…}`, zerver/lib/response.py)
//! and the one JSON writer every response goes through, errors included.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A successful response: Zulip's envelope around `data`'s fields, then
/// `ignored_parameters_unsupported` when there is anything to list (zerver/lib/typed_endpoint.py
/// appends it last, and leaves it out when empty).
#[derive(Debug)]
pub struct Success<T> {
    data: T,
    ignored_parameters_unsupported: Vec<String>,
}

impl<T: Serialize> Success<T> {
    /// `data`'s fields after `result` and `msg`.
    pub fn new(data: T) -> Self {
        Self {
            data,
            ignored_parameters_unsupported: Vec::new(),
        }
    }

    /// Lists these (sorted) parameter names as unsupported.
    pub fn with_ignored_parameters(mut self, names: Vec<String>) -> Self {
        self.ignored_parameters_unsupported = names;
        self
    }
}

#[derive(Serialize)]
struct Envelope<'a, T> {
    result: &'static str,
    msg: &'static str,
    #[serde(flatten)]
    data: &'a T,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    ignored_parameters_unsupported: &'a [String],
}

impl<T: Serialize> IntoResponse for Success<T> {
    fn into_response(self) -> Response {
        json_response(
            StatusCode::OK,
            &Envelope {
                result: "success",
                msg: "",
                data: &self.data,
                ignored_parameters_unsupported: &self.ignored_parameters_unsupported,
            },
        )
    }
}

/// `value` as an `application/json` response with `status`.
pub fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    // Zulip's JSON responses end with a newline (orjson `OPT_APPEND_NEWLINE`).
    match serde_json::to_vec(value) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            json_bytes(status, bytes)
        }
        Err(err) => {
            // Only a bug can get here (our types always serialize); say so without recursing.
            tracing::error!(error = %err, "failed to serialize a response");
            json_bytes(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_ERROR_BODY)
        }
    }
}

/// Ready JSON bytes as an `application/json` response with `status`.
pub fn json_bytes(status: StatusCode, bytes: impl Into<Body>) -> Response {
    let mut response = Response::new(bytes.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The start of a success body with `data`'s fields: the envelope without its closing brace,
/// to be kept and finished by `finish_success` for each response.
pub fn success_prefix(data: &impl Serialize) -> Bytes {
    let mut bytes = serde_json::to_vec(&Envelope {
        result: "success",
        msg: "",
        data,
        ignored_parameters_unsupported: &[],
    })
    .expect("response types always serialize");
    debug_assert_eq!(bytes.last(), Some(&b'}'));
    bytes.pop();
    Bytes::from(bytes)
}

/// A success response from a kept `prefix`, adding `server_timestamp` and
/// `ignored_parameters_unsupported` exactly as `Success` would write them.
pub fn finish_success(prefix: Bytes, server_timestamp: f64, ignored: &[String]) -> Response {
    #[derive(Serialize)]
    struct Tail<'a> {
        server_timestamp: f64,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        ignored_parameters_unsupported: &'a [String],
    }
    // The tail's fields continue the prefix's object. The prefix is sent as it is kept,
    // without a copy.
    let mut rest = Vec::with_capacity(64);
    rest.push(b',');
    let written = if ignored.is_empty() {
        // What `Tail` writes without a list, without building a second buffer.
        rest.extend_from_slice(b"\"server_timestamp\":");
        serde_json::to_writer(&mut rest, &server_timestamp).map(|()| rest.push(b'}'))
    } else {
        serde_json::to_vec(&Tail {
            server_timestamp,
            ignored_parameters_unsupported: ignored,
        })
        .map(|tail| rest.extend_from_slice(&tail[1..]))
    };
    written.expect("response types always serialize");
    rest.push(b'\n');
    json_bytes(
        StatusCode::OK,
        Body::new(TwoChunks([Some(prefix), Some(Bytes::from(rest))])),
    )
}

/// A body of two byte chunks with an exact length, so that a kept prefix needs no copy.
struct TwoChunks([Option<Bytes>; 2]);

impl http_body::Body for TwoChunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let next = self.0.iter_mut().find_map(Option::take);
        std::task::Poll::Ready(next.map(|bytes| Ok(http_body::Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let len = self
            .0
            .iter()
            .flatten()
            .map(|bytes| bytes.len() as u64)
            .sum();
        http_body::SizeHint::with_exact(len)
    }
}

/// Zulip's body for an unhandled server error (zerver/middleware.py), also used for panics.
pub const INTERNAL_ERROR_BODY: &str = "{\"result\":\"error\",\"msg\":\"Internal server error\"}\n";

/// An empty success for `OPTIONS`: 204 with `Allow`.
pub fn options_response(allow: &'static [&'static str]) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}
