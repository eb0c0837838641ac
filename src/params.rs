//! The parameters of a request, as Zulip's views see them: the query string plus a
//! form-encoded or multipart/form-data body (Django's `request.GET` and `request.POST`). Views
//! take what they use; every other name is "ignored" and listed back to the client.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, StatusCode};

use serde_json::Value;

use crate::error::{ApiError, ApiResult};

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

    /// An optional `Json[int]` parameter. JSON `null` is a value, not an absence: it is not
    /// an integer (pydantic's strict mode, as Zulip's `typed_endpoint` uses it).
    pub fn json_int(&self, name: &'static str) -> ApiResult<Option<i64>> {
        match self.json(name)? {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(_) => Err(ApiError::BadRequest(format!("{name} is not an integer"))),
        }
    }

    fn json(&self, name: &'static str) -> ApiResult<Option<Value>> {
        self.get(name)
            .map(|text| {
                serde_json::from_str(text)
                    .map_err(|_| ApiError::BadRequest(format!("{name} is not valid JSON")))
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
    fn ignored_names_are_sorted_unique_and_skip_used_and_client() {
        let p = params(&["zeta", "client", "alpha", "status", "zeta"]);
        assert_eq!(p.ignored(&["status"]), vec!["alpha", "zeta"]);
    }
}
