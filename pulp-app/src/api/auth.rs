//! HTTP Basic authentication against the catalog's users (argon2id hashes).
//!
//! Verifying argon2 costs tens of milliseconds by design; pulp-cli sends the
//! same credentials on every request (and polls tasks once a second), so a
//! successful check is remembered for a few minutes, keyed by a SHA-256 of
//! the credentials (the password itself is never kept).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;

const REMEMBER: Duration = Duration::from_secs(300);

/// Recently verified credentials.
#[derive(Debug, Default)]
pub struct AuthCache {
    verified: Mutex<HashMap<[u8; 32], (String, Instant)>>,
}

/// The authenticated user, available to handlers as a request extension.
#[derive(Debug, Clone)]
pub struct User(pub String);

impl AuthCache {
    fn lookup(&self, key: &[u8; 32]) -> Option<String> {
        let map = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|(_, at)| at.elapsed() < REMEMBER)
            .map(|(u, _)| u.clone())
    }

    fn remember(&self, key: [u8; 32], user: String) {
        let mut map = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, at)| at.elapsed() < REMEMBER);
        map.insert(key, (user, Instant::now()));
    }
}

/// Middleware: lets the request through with a [`User`] extension, or
/// answers 401.
pub async fn require_user(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthenticated("Authentication credentials were not provided.")
        })?;
    let encoded = header
        .strip_prefix("Basic ")
        .ok_or_else(|| ApiError::unauthenticated("Only HTTP Basic authentication is supported."))?;
    let decoded = Base64::decode_vec(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            ApiError::unauthenticated(
                "Invalid basic header. Credentials not correctly base64 encoded.",
            )
        })?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or_else(|| ApiError::unauthenticated("Invalid basic header."))?;
    let key: [u8; 32] = Sha256::digest(decoded.as_bytes()).into();
    let user = match state.auth_cache().lookup(&key) {
        Some(u) => u,
        None => {
            if !state.catalog.check_password(user, password).await? {
                return Err(ApiError::unauthenticated("Invalid username/password."));
            }
            state.auth_cache().remember(key, user.to_owned());
            user.to_owned()
        }
    };
    req.extensions_mut().insert(User(user));
    Ok(next.run(req).await)
}
