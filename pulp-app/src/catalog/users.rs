//! Users for HTTP Basic authentication; passwords stored as argon2id hashes.
//!
//! Verification is CPU-bound by design (tens of milliseconds), so it runs on
//! the blocking pool, not on the async runtime. An unknown user name (or an
//! unreadable stored hash) is verified against a dummy hash with the same
//! parameters, so a refusal costs the same whether or not the user exists
//! and user names cannot be discovered by timing.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use redis::AsyncCommands;

use super::{Catalog, Result};

impl Catalog {
    /// Creates a user or resets its password.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn set_user(&self, username: &str, password: &str) -> Result<()> {
        let hash = Argon2::default()
            .hash_password(password.as_bytes())
            .map_err(|e| redis::RedisError::from(std::io::Error::other(e.to_string())))?
            .to_string();
        let _: () = self
            .conn()
            .hset(self.keys().users(), username, hash)
            .await?;
        Ok(())
    }

    /// Whether `password` is the password of `username`; takes as long for
    /// an unknown user as for a wrong password.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn check_password(&self, username: &str, password: &str) -> Result<bool> {
        let hash: Option<String> = self.conn().hget(self.keys().users(), username).await?;
        let password = password.to_owned();
        let verified = tokio::task::spawn_blocking(move || verify(hash.as_deref(), &password))
            .await
            .map_err(|e| redis::RedisError::from(std::io::Error::other(e.to_string())))?;
        Ok(verified)
    }

    /// Whether any user exists.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn has_users(&self) -> Result<bool> {
        let n: u64 = self.conn().hlen(self.keys().users()).await?;
        Ok(n > 0)
    }
}

/// A hash of a random password with the parameters `set_user` uses, for
/// refusing unknown users at the cost of a real verification.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    let random = uuid::Uuid::now_v7().to_string();
    Argon2::default()
        .hash_password(random.as_bytes())
        .ok()
        .map(|h| h.to_string())
});

/// Verifies `password` against `stored`, or against [`DUMMY_HASH`] (always
/// refusing) when there is no usable stored hash.
fn verify(stored: Option<&str>, password: &str) -> bool {
    let argon = Argon2::default();
    if let Some(parsed) = stored.and_then(|h| PasswordHash::new(h).ok()) {
        return argon.verify_password(password.as_bytes(), &parsed).is_ok();
    }
    if let Some(parsed) = DUMMY_HASH
        .as_deref()
        .and_then(|h| PasswordHash::new(h).ok())
    {
        let _ = argon.verify_password(password.as_bytes(), &parsed);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_users_cost_a_verification_and_are_refused() {
        let real = Argon2::default()
            .hash_password(b"secret")
            .unwrap()
            .to_string();
        assert!(verify(Some(&real), "secret"));
        assert!(!verify(Some(&real), "wrong"));
        assert!(!verify(None, "secret"));
        assert!(!verify(Some("not a phc string"), "secret"));
        // The dummy hash exists and uses the same parameters as real ones.
        let dummy = DUMMY_HASH.as_deref().expect("dummy hash");
        let params = |h: &str| h.rsplitn(3, '$').nth(2).unwrap().to_owned();
        assert_eq!(params(dummy), params(&real));
        // And verifying against it takes about as long as a real check.
        let time = |stored: Option<&str>| {
            let start = std::time::Instant::now();
            for _ in 0..3 {
                verify(stored, "wrong");
            }
            start.elapsed()
        };
        let _ = time(None); // warm up
        let (known, unknown) = (time(Some(&real)), time(None));
        assert!(
            unknown * 2 >= known,
            "unknown user {unknown:?} vs wrong password {known:?}"
        );
    }
}
