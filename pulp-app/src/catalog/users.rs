//! Users for HTTP Basic authentication; passwords stored as argon2id hashes.

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

    /// Whether `password` is the password of `username`.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn check_password(&self, username: &str, password: &str) -> Result<bool> {
        let hash: Option<String> = self.conn().hget(self.keys().users(), username).await?;
        let Some(hash) = hash else { return Ok(false) };
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return Ok(false);
        };
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
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
