//! Request inputs: query parameters (repeatable, comma lists), path
//! parameters, JSON and multipart bodies, all with rejections in the API's
//! error shape, and pagination.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::ApiError;

/// Query parameters in order, repeated keys kept.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
    path: String,
    host: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let pairs = form_decode(query);
        Ok(Params {
            pairs,
            path: parts.uri.path().to_owned(),
            host: parts
                .headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned),
        })
    }
}

/// Decodes `a=1&b=x%20y&b=z` (application/x-www-form-urlencoded).
pub(crate) fn form_decode(query: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let byte = bytes
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match byte {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

impl Params {
    /// The last value of `name`, if given and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every value of `name`, splitting comma-joined lists.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// `name` as a boolean.
    ///
    /// # Errors
    /// 400 if it is neither `true` nor `false`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some("true" | "True" | "1") => Ok(Some(true)),
            Some("false" | "False" | "0") => Ok(Some(false)),
            Some(_) => Err(ApiError::field(name, "Must be a valid boolean.")),
        }
    }

    /// Offset and limit (default 0 and 100, limit at most 1000).
    ///
    /// # Errors
    /// 400 for values that are not non-negative integers.
    pub fn page(&self) -> Result<(usize, usize), ApiError> {
        let num = |name: &str, default: usize| -> Result<usize, ApiError> {
            match self.get(name) {
                None => Ok(default),
                Some(v) => v.parse::<usize>().map_err(|_| {
                    ApiError::field(name, "A valid non-negative integer is required.")
                }),
            }
        };
        Ok((num("offset", 0)?, num("limit", 100)?.min(1000)))
    }

    /// The list response: `count`, absolute `next`/`previous` URLs, `results`.
    pub fn paginated(&self, count: u64, results: Vec<Value>) -> Value {
        let (offset, limit) = self.page().unwrap_or((0, 100));
        let url = |new_offset: usize| -> Value {
            let mut pairs: Vec<(String, String)> = self
                .pairs
                .iter()
                .filter(|(k, _)| k != "offset" && k != "limit")
                .cloned()
                .collect();
            pairs.push(("limit".into(), limit.to_string()));
            pairs.push(("offset".into(), new_offset.to_string()));
            let query: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            let host = self.host.as_deref().unwrap_or("localhost");
            Value::String(format!("http://{host}{}?{}", self.path, query.join("&")))
        };
        let next = if ((offset + limit) as u64) < count && limit > 0 {
            url(offset + limit)
        } else {
            Value::Null
        };
        let previous = if offset > 0 {
            url(offset.saturating_sub(limit))
        } else {
            Value::Null
        };
        json!({"count": count, "next": next, "previous": previous, "results": Value::Array(results)})
    }
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A JSON request body; parse errors become 400s in the API's shape.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                ApiError::from_status(
                    e.status(),
                    format!("Could not read the request body: {}", e.body_text()),
                )
            })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("JSON parse error - {e}")))?;
        if !value.is_object() {
            return Err(ApiError::bad_request(
                "Invalid data. Expected a dictionary.",
            ));
        }
        serde_json::from_value(value).map(Body).map_err(|e| {
            let msg = e.to_string();
            // serde names the field in "missing field `x`" / "invalid type ... for field"
            if let Some(f) = msg
                .strip_prefix("missing field `")
                .and_then(|r| r.split('`').next())
            {
                ApiError::required(f)
            } else {
                ApiError::bad_request(format!("Invalid data: {msg}"))
            }
        })
    }
}

/// Path parameters; a value that does not parse (`versions/abc/`) is a 404
/// in the API's shape, as an URL that matches no route.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(PathRejection::FailedToDeserializePathParams(_)) => {
                Err(ApiError::not_found("page"))
            }
            Err(e) => Err(ApiError::internal(&e)),
        }
    }
}

/// A `multipart/form-data` body; a missing or bad boundary is a 400 in the
/// API's shape.
#[derive(Debug)]
pub struct Form(pub Multipart);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Multipart::from_request(req, state)
            .await
            .map(Form)
            .map_err(|e| {
                ApiError::from_status(
                    e.status(),
                    format!("Invalid multipart body: {}", e.body_text()),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_repeated_and_encoded_parameters() {
        let p = Params {
            pairs: form_decode(
                "fields=a&fields=b&state__in=waiting,running&name=x%20y+z&bad=%zz&end=%4",
            ),
            ..Default::default()
        };
        assert_eq!(p.list("fields"), vec!["a", "b"]);
        assert_eq!(p.list("state__in"), vec!["waiting", "running"]);
        assert_eq!(p.get("name"), Some("x y z"));
        assert_eq!(p.get("bad"), Some("%zz"));
        assert_eq!(p.get("end"), Some("%4"));
    }

    #[test]
    fn pagination_links() {
        let p = Params {
            pairs: form_decode("limit=2&offset=2&name=a"),
            path: "/pulp/api/v3/tasks/".into(),
            host: Some("h:1".into()),
        };
        let v = p.paginated(5, vec![]);
        assert_eq!(v["count"], 5);
        assert_eq!(
            v["next"],
            "http://h:1/pulp/api/v3/tasks/?name=a&limit=2&offset=4"
        );
        assert_eq!(
            v["previous"],
            "http://h:1/pulp/api/v3/tasks/?name=a&limit=2&offset=0"
        );
        let last = Params {
            pairs: form_decode("limit=2&offset=4"),
            ..p
        };
        assert!(last.paginated(5, vec![])["next"].is_null());
    }
}
