//! The parameters of a request, as Zulip's views see them: the query string plus a
//! form-encoded or multipart/form-data body (Django's `request.GET` and `request.POST`). Views
//! take what they use; every other name is "ignored" and listed back to the client.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, StatusCode};

use crate::error::ApiError;

/// Parameters that Zulip's middleware consumes on every request, so no view ever ignores them.
const ALWAYS_CONSUMED: &[&str] = &["client"];

/// Every parameter of a request, in the order received (query string first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestParams {
    pairs: Vec<(String, String)>,
}

impl RequestParams {
    /// The names of parameters that are neither in `used` nor always consumed, sorted and
    /// without repeats: Zulip's `ignored_parameters_unsupported`.
    pub fn ignored(&self, used: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = self
            .pairs
            .iter()
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
        let mut pairs: Vec<(String, String)> = match request.uri().query() {
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
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let body = Bytes::from_request(request, state)
                .await
                .map_err(|rejection| body_error(rejection.status()))?;
            let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|_| ApiError::BadRequest("Malformed form body".to_owned()))?;
            pairs.extend(form);
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
                pairs.push((name, value));
            }
        }
        Ok(Self { pairs })
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
            pairs: names
                .iter()
                .map(|n| (n.to_string(), String::new()))
                .collect(),
        }
    }

    #[test]
    fn ignored_names_are_sorted_unique_and_skip_used_and_client() {
        let p = params(&["zeta", "client", "alpha", "status", "zeta"]);
        assert_eq!(p.ignored(&["status"]), vec!["alpha", "zeta"]);
    }
}
