//! The one error shape of the API. Every 4xx and 5xx body is
//!
//! ```json
//! {"detail": "human-readable message", "code": "machine_code", "fields": {"name": ["This field must be unique."]}}
//! ```
//!
//! `fields` is always present (empty when the error is not about fields).

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
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

/// A `Result` for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
