//! Success bodies in Zulip's envelope (`{"result":"success","msg":"",…}`, zerver/lib/response.py)
//! and the one JSON writer every response goes through, errors included.

use std::cell::RefCell;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::http;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::buf::Chain;
use bytes::Buf as _;
use serde::Serialize;

use crate::domain::clock::Timestamp;

/// A successful response: Zulip's envelope around `data`'s fields, then
/// `ignored_parameters_unsupported` when there is anything to list (zerver/lib/typed_endpoint.py
/// appends it last, and leaves it out when empty).
#[derive(Debug)]
pub(crate) struct Success<T> {
    data: T,
    ignored_parameters_unsupported: Vec<String>,
}

impl<T: Serialize> Success<T> {
    /// `data`'s fields after `result` and `msg`.
    pub(crate) fn new(data: T) -> Self {
        Self {
            data,
            ignored_parameters_unsupported: Vec::new(),
        }
    }

    /// Lists these (sorted) parameter names as unsupported.
    pub(crate) fn with_ignored_parameters(mut self, names: Vec<String>) -> Self {
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
pub(crate) fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
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
pub(crate) fn json_bytes(status: StatusCode, bytes: impl Into<Body>) -> Response {
    json_body(status, bytes.into())
}

/// `body` as an `application/json` response with `status`.
fn json_body<B>(status: StatusCode, body: B) -> http::Response<B> {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The start of a success body with `data`'s fields: the envelope without its closing brace,
/// to be kept and finished by `finish_success` for each response.
pub(crate) fn success_prefix(data: &impl Serialize) -> Bytes {
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
/// `ignored_parameters_unsupported` exactly as `Success` would write them. The prefix is sent
/// as it is kept, without a copy.
pub(crate) fn finish_success(prefix: Bytes, server_timestamp: f64, ignored: &[String]) -> Response {
    let tail = success_tail(server_timestamp, ignored);
    json_body(
        StatusCode::OK,
        Body::new(TwoChunks([Some(prefix), Some(tail)])),
    )
}

/// `finish_success` as one body frame, which hyper writes with the head in one `writev` (two
/// frames of a large body take two, as a frame past hyper's buffer limit is flushed first).
/// Only responses that bypass axum can have it: axum's bodies carry `Bytes` frames.
pub(crate) fn finish_success_in_one_frame(
    prefix: Bytes,
    server_timestamp: f64,
    ignored: &[String],
) -> http::Response<OneFrame> {
    let tail = success_tail(server_timestamp, ignored);
    json_body(StatusCode::OK, OneFrame(Some(prefix.chain(tail))))
}

/// The end of a success body after a kept prefix: `server_timestamp`, then
/// `ignored_parameters_unsupported` when there is anything to list.
fn success_tail(server_timestamp: f64, ignored: &[String]) -> Bytes {
    #[derive(Serialize)]
    struct Tail<'a> {
        server_timestamp: f64,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        ignored_parameters_unsupported: &'a [String],
    }
    // The tail's fields continue the prefix's object.
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
    Bytes::from(rest)
}

/// A body of two byte chunks with an exact length, so that a kept prefix needs no copy.
struct TwoChunks([Option<Bytes>; 2]);

impl http_body::Body for TwoChunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let next = self.0.iter_mut().find_map(Option::take);
        Poll::Ready(next.map(|bytes| Ok(http_body::Frame::data(bytes))))
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

/// A body of one frame made of two byte chunks (see `finish_success_in_one_frame`).
#[derive(Debug)]
pub struct OneFrame(Option<Chain<Bytes, Bytes>>);

impl http_body::Body for OneFrame {
    type Data = Chain<Bytes, Bytes>;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Poll::Ready(
            self.0
                .take()
                .map(|chunks| Ok(http_body::Frame::data(chunks))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(
            self.0
                .as_ref()
                .map_or(0, |chunks| chunks.remaining() as u64),
        )
    }
}

/// What the whole application answers with: a body from the router, or the fast path's
/// one-frame body.
#[derive(Debug)]
pub enum AppBody {
    Routed(Body),
    OneFrame(OneFrame),
}

/// A frame of an `AppBody`.
#[derive(Debug)]
pub enum AppData {
    Bytes(Bytes),
    Chain(Chain<Bytes, Bytes>),
}

impl bytes::Buf for AppData {
    fn remaining(&self) -> usize {
        match self {
            Self::Bytes(bytes) => bytes.remaining(),
            Self::Chain(chain) => chain.remaining(),
        }
    }

    fn chunk(&self) -> &[u8] {
        match self {
            Self::Bytes(bytes) => bytes.chunk(),
            Self::Chain(chain) => chain.chunk(),
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [std::io::IoSlice<'a>]) -> usize {
        match self {
            Self::Bytes(bytes) => bytes.chunks_vectored(dst),
            Self::Chain(chain) => chain.chunks_vectored(dst),
        }
    }

    fn advance(&mut self, count: usize) {
        match self {
            Self::Bytes(bytes) => bytes.advance(count),
            Self::Chain(chain) => chain.advance(count),
        }
    }
}

impl http_body::Body for AppBody {
    type Data = AppData;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<AppData>, axum::Error>>> {
        match self.get_mut() {
            Self::Routed(body) => Pin::new(body)
                .poll_frame(cx)
                .map_ok(|frame| frame.map_data(AppData::Bytes)),
            Self::OneFrame(body) => Pin::new(body).poll_frame(cx).map(|frame| {
                frame.map(|frame| match frame {
                    Ok(frame) => Ok(frame.map_data(AppData::Chain)),
                    Err(never) => match never {},
                })
            }),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Routed(body) => body.is_end_stream(),
            Self::OneFrame(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            Self::Routed(body) => body.size_hint(),
            Self::OneFrame(body) => body.size_hint(),
        }
    }
}

/// Zulip's body for an unhandled server error (zerver/middleware.py), also used for panics.
pub(crate) const INTERNAL_ERROR_BODY: &str =
    "{\"result\":\"error\",\"msg\":\"Internal server error\"}\n";

/// An empty success for `OPTIONS`: 204 with `Allow`.
pub(crate) fn options_response(allow: &'static [&'static str]) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}
/// Puts a rate limit's `X-RateLimit-*` headers on a response (zerver/middleware.py
/// `RateLimitMiddleware`).
pub(crate) fn put_rate_limit_headers(
    limit: crate::domain::rate_limits::RateLimitHeaders,
    headers: &mut HeaderMap,
) {
    for (name, value) in [
        ("x-ratelimit-limit", i64::from(limit.limit)),
        ("x-ratelimit-remaining", i64::from(limit.remaining)),
        ("x-ratelimit-reset", limit.reset),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}

/// Django's `add_never_cache_headers`: `Expires` now (its -1 s timeout is clamped to 0), and
/// `Cache-Control`.
pub(crate) fn with_never_cache<B>(
    mut response: http::Response<B>,
    now: Timestamp,
) -> http::Response<B> {
    let headers = response.headers_mut();
    if headers.contains_key(header::CACHE_CONTROL) {
        return response;
    }
    if let Some(value) = http_date_header(now.unix_seconds()) {
        headers.insert(header::EXPIRES, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=0, no-cache, no-store, must-revalidate, private"),
    );
    response
}

/// `http_date` as a header value, made once a second per thread (every response carries one).
fn http_date_header(unix_seconds: i64) -> Option<HeaderValue> {
    thread_local! {
        static LAST: RefCell<Option<(i64, HeaderValue)>> = const { RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((seconds, value)) if *seconds == unix_seconds => Some(value.clone()),
        _ => {
            let value = HeaderValue::from_str(&http_date(unix_seconds)).ok()?;
            *last = Some((unix_seconds, value.clone()));
            Some(value)
        }
    })
}

/// An HTTP date (RFC 9110 IMF-fixdate), e.g. `Tue, 14 Nov 2023 22:13:19 GMT`.
fn http_date(unix_seconds: i64) -> String {
    let since_epoch = Duration::from_secs(u64::try_from(unix_seconds).unwrap_or(0));
    httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + since_epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_use_the_imf_fixdate_form() {
        assert_eq!(http_date(1_699_999_999), "Tue, 14 Nov 2023 22:13:19 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
