//! The one error shape of the API. Every 4xx and 5xx body is
//!
//! ```json
//! {"detail": "human-readable message", "code": "machine_code", "fields": {"name": ["This field must be unique."]}}
//! ```
//!
//! `fields` is always present (empty when the error is not about fields).
//!
//! Handlers return [`ApiError`]; the extractors in [`super::params`] map
//! axum's rejections to it; the router answers unknown paths and methods
//! with it; and two outer layers keep the promise for everything else:
//! [`catch_panic`] turns a panicking handler into a 500 of this shape, and
//! [`normalize`] rewrites any other error response that is not JSON (a
//! rejection or a layer outside our extractors) into this shape.

use std::collections::BTreeMap;

use std::panic::AssertUnwindSafe;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use serde::Serialize;

use crate::catalog::CatalogError;

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    status: StatusCode,
    detail: String,
    code: &'static str,
    fields: BTreeMap<String, Vec<String>>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
            code,
            fields: BTreeMap::new(),
        }
    }

    /// 400 about one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("{field}: {message}"),
        );
        e.fields.insert(field.to_owned(), vec![message]);
        e
    }

    /// 400 for a required field that is missing.
    pub fn required(field: &str) -> Self {
        ApiError::field(field, "This field is required.")
    }

    /// 400 with a general message.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", detail)
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("No {what} matches the given query."),
        )
    }

    /// 401.
    pub fn unauthenticated(detail: &str) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "not_authenticated", detail)
    }

    /// An error with `status` and the usual code for it.
    pub fn from_status(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError::new(status, code_for(status), detail)
    }

    /// 405 for `method`.
    pub fn method_not_allowed(method: &str) -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("Method \"{method}\" not allowed."),
        )
    }

    /// 409.
    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 500, logging the cause.
    pub fn internal(err: &dyn std::error::Error) -> Self {
        let mut chain = err.to_string();
        let mut cur = err.source();
        while let Some(e) = cur {
            chain.push_str(": ");
            chain.push_str(&e.to_string());
            cur = e.source();
        }
        tracing::error!(error = %chain, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Internal server error.",
        )
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.detail)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut res = (status, axum::Json(&self)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"pulp\""),
            );
        }
        res
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Conflict { field, .. } => {
                ApiError::field(field, "This field must be unique.")
            }
            CatalogError::Overlap(_) => {
                ApiError::field("base_path", "Overlaps with an existing distribution.")
            }
            CatalogError::NotFound => ApiError::not_found("object"),
            CatalogError::Concurrent(_) => ApiError::conflict(e.to_string()),
            other => {
                let status = if matches!(other, CatalogError::Redis(_)) {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                let mut err = ApiError::internal(&other);
                err.status = status;
                err
            }
        }
    }
}

impl From<taskq::Error> for ApiError {
    fn from(e: taskq::Error) -> Self {
        let mut err = ApiError::internal(&e);
        if e.is_transient() {
            err.status = StatusCode::SERVICE_UNAVAILABLE;
        }
        err
    }
}

/// The machine code of an error status.
pub fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "not_authenticated",
        403 => "permission_denied",
        404 => "not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        429 => "throttled",
        500..=599 => "server_error",
        _ => "invalid",
    }
}

/// Wraps `router` in [`normalize`] and, outside it, [`catch_panic`].
pub fn one_shape(router: axum::Router) -> axum::Router {
    router
        .layer(axum::middleware::from_fn(normalize))
        .layer(axum::middleware::from_fn(catch_panic))
}

/// Middleware: a handler (or inner layer) that panics answers 500 in the
/// error shape instead of dropping the connection; the panic is logged.
pub async fn catch_panic(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(res) => res,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(not a string)".to_owned());
            tracing::error!(%method, %path, panic = %message, "handler panicked");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Internal server error.",
            )
            .into_response()
        }
    }
}

/// Largest non-JSON error body [`normalize`] reads to use as `detail`.
const MAX_FOREIGN_BODY: usize = 16 * 1024;

/// Middleware: an error response (4xx, 5xx) that is not JSON, such as an
/// axum rejection that no extractor of ours mapped, is rewritten into the
/// error shape with the same status (and headers such as `Allow`); its
/// text, if any, becomes `detail`.
pub async fn normalize(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json");
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, MAX_FOREIGN_BODY)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("Request failed.")
            .to_owned()
    } else {
        text
    };
    let fresh = ApiError::from_status(status, detail).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let (fresh_parts, fresh_body) = fresh.into_parts();
    parts.headers.extend(fresh_parts.headers);
    Response::from_parts(parts, fresh_body)
}

/// A `Result` for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    async fn call(router: axum::Router, method: &str, path: &str) -> (StatusCode, Value, Response) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let res = one_shape(router).oneshot(req).await.unwrap();
        let status = res.status();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let value: Value = serde_json::from_slice(&bytes).expect("a JSON body");
        (status, value, Response::from_parts(parts, Body::empty()))
    }

    fn assert_shape(v: &Value) {
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["code", "detail", "fields"], "{v}");
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_in_the_error_shape() {
        async fn boom() -> &'static str {
            panic!("kaboom")
        }
        let router = axum::Router::new().route("/boom", get(boom));
        let (status, body, res) = call(router, "GET", "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_shape(&body);
        assert_eq!(body["code"], "server_error");
        assert!(!body.to_string().contains("kaboom"), "no internals leak");
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[tokio::test]
    async fn foreign_error_responses_are_rewritten_keeping_status_and_headers() {
        async fn plain() -> Response {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                [(header::ALLOW, "GET")],
                "plain text rejection",
            )
                .into_response()
        }
        async fn fine() -> &'static str {
            "fine"
        }
        let router = axum::Router::new()
            .route("/plain", get(plain))
            .route("/fine", get(fine));
        let (status, body, res) = call(router.clone(), "GET", "/plain").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_shape(&body);
        assert_eq!(body["detail"], "plain text rejection");
        assert_eq!(res.headers()[header::ALLOW], "GET");
        // axum's own empty 405 becomes the shape too.
        let (status, body, _) = call(router.clone(), "DELETE", "/fine").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_shape(&body);
        assert_eq!(body["code"], "method_not_allowed");
        // Successful responses are left alone.
        let res = one_shape(router)
            .oneshot(Request::builder().uri("/fine").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(res.into_body(), 100).await.unwrap();
        assert_eq!(&bytes[..], b"fine");
    }
}
