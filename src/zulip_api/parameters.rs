//! The parameters of a request, as Zulip's views see them: the query string plus a
//! form-encoded or multipart/form-data body (Django's `request.GET` and `request.POST`). Views
//! take what they use; every other name is "ignored" and listed back to the client.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, StatusCode};

use serde_json::Value;

use crate::domain::python_int::{PyInt, JSON_WHITESPACE};
use crate::zulip_api::api_errors::{ApiError, ApiResult};

/// Parameters that Zulip's middleware consumes on every request, so no view ever ignores them.
const ALWAYS_CONSUMED: &[&str] = &["client"];

/// Every parameter of a request, in the order received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestParams {
    query: Vec<(String, String)>,
    body: Vec<(String, String)>,
}

impl RequestParams {
    /// The value of `name` as Zulip's views find it: in the body first, then in the query
    /// string; the last of repeated values (Django's `QueryDict`).
    pub fn get(&self, name: &str) -> Option<&str> {
        [&self.body, &self.query].into_iter().find_map(|pairs| {
            pairs
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        })
    }

    /// A required plain-string parameter, or Zulip's missing-argument error.
    pub fn required(&self, name: &'static str) -> ApiResult<&str> {
        self.get(name).ok_or(ApiError::MissingArgument(name))
    }

    /// A `Json[bool]` parameter with a default (zerver/lib/typed_endpoint.py messages).
    pub fn json_bool(&self, name: &'static str, default: bool) -> ApiResult<bool> {
        match self.json(name)? {
            None => Ok(default),
            Some(Value::Bool(value)) => Ok(value),
            Some(_) => Err(ApiError::BadRequest(format!("{name} is not a boolean"))),
        }
    }

    /// An optional `Json[int]` parameter: an integer as Python reads it, of any size. JSON
    /// `null` is a value, not an absence: it is not an integer (pydantic's strict mode, as
    /// Zulip's `typed_endpoint` uses it), and neither is a float such as `1.0`.
    pub fn json_int(&self, name: &'static str) -> ApiResult<Option<PyInt>> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        if let Some(int) = PyInt::from_json(text) {
            return Ok(Some(int));
        }
        // Valid JSON of another type is not an integer; invalid JSON says so first.
        self.json(name)?;
        Err(ApiError::BadRequest(format!("{name} is not an integer")))
    }

    /// An optional `Json[list[...]]` parameter's items. JSON `null` is a value, not an absence:
    /// it is not a list. The caller checks the items, naming the first bad one `name[i]`.
    pub fn json_list(&self, name: &'static str) -> ApiResult<Option<Vec<Value>>> {
        match self.json(name)? {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(ApiError::BadRequest(format!("{name} is not a list"))),
        }
    }

    /// The value of a JSON parameter, as Python's `json.loads` reads it: `NaN`, `Infinity`,
    /// `-Infinity` and numbers beyond `f64` are valid JSON there (floats); they come back as
    /// a string, which no typed parameter of these endpoints accepts.
    fn json(&self, name: &'static str) -> ApiResult<Option<Value>> {
        self.get(name)
            .map(|text| {
                serde_json::from_str(text).or_else(|_| match python_only_json(text) {
                    true => Ok(Value::String(text.to_owned())),
                    false => Err(ApiError::BadRequest(format!("{name} is not valid JSON"))),
                })
            })
            .transpose()
    }

    /// The body's parameters, in the order received.
    pub fn body_pairs(&self) -> &[(String, String)] {
        &self.body
    }

    /// The names of parameters that are neither in `used` nor always consumed, sorted and
    /// without repeats: Zulip's `ignored_parameters_unsupported`.
    pub fn ignored(&self, used: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = self
            .query
            .iter()
            .chain(&self.body)
            .map(|(name, _)| name)
            .filter(|name| {
                !used.contains(&name.as_str()) && !ALWAYS_CONSUMED.contains(&name.as_str())
            })
            .cloned()
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Whether `text` is JSON to Python's `json.loads` though not to strict JSON: `NaN`,
/// `Infinity`, `-Infinity`, or a number too large for a float (which Python reads as `inf`).
fn python_only_json(text: &str) -> bool {
    let text = text.trim_matches(JSON_WHITESPACE);
    matches!(text, "NaN" | "Infinity" | "-Infinity") || is_json_number(text)
}

/// Whether `text` is a JSON number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (int, fraction) = match mantissa.split_once('.') {
        Some((int, fraction)) => (int, Some(fraction)),
        None => (mantissa, None),
    };
    digits(int)
        && (int == "0" || !int.starts_with('0'))
        && fraction.is_none_or(digits)
        && exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)))
}

impl<S: Send + Sync> FromRequest<S> for RequestParams {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let query: Vec<(String, String)> = match request.uri().query() {
            Some(query) => serde_urlencoded::from_str(query)
                .map_err(|_| ApiError::BadRequest("Malformed query string".to_owned()))?,
            None => Vec::new(),
        };
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut body = Vec::new();
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let bytes = Bytes::from_request(request, state)
                .await
                .map_err(|rejection| body_error(rejection.status()))?;
            let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
                .map_err(|_| ApiError::BadRequest("Malformed form body".to_owned()))?;
            body = form;
        } else if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(request, state)
                .await
                .map_err(|rejection| body_error(rejection.status()))?;
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|err| body_error(err.status()))?
            {
                let name = field.name().unwrap_or("").to_owned();
                let value = field.text().await.map_err(|err| body_error(err.status()))?;
                body.push((name, value));
            }
        }
        Ok(Self { query, body })
    }
}

fn body_error(status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest("Malformed request body".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(names: &[&str]) -> RequestParams {
        RequestParams {
            query: names
                .iter()
                .map(|n| (n.to_string(), String::new()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn python_reads_nan_infinity_and_huge_floats_as_json() {
        for text in ["NaN", "Infinity", "-Infinity", "1e400", " 1.5e-999 "] {
            assert!(python_only_json(text), "{text}");
        }
        for text in ["nan", "inf", "1.", ".5", "1e", "0x10", "abc"] {
            assert!(!python_only_json(text), "{text}");
        }
    }

    #[test]
    fn ignored_names_are_sorted_unique_and_skip_used_and_client() {
        let p = params(&["zeta", "client", "alpha", "status", "zeta"]);
        assert_eq!(p.ignored(&["status"]), vec!["alpha", "zeta"]);
    }
}
