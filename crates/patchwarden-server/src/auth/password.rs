//! argon2id password hashing. Hashing is slow on purpose, so it runs on the blocking
//! thread pool.

use crate::config::AuthConfig;
use crate::error::ApiError;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

#[derive(Debug, Clone)]
pub struct Passwords {
    params: Params,
    /// A hash of a random password, verified against when the user does not exist, so
    /// that a login for an unknown name takes as long as one for a known name.
    dummy: String,
}

impl Passwords {
    pub fn new(cfg: &AuthConfig) -> Self {
        let params =
            Params::new(cfg.argon2_memory_kib, cfg.argon2_iterations, 1, None).unwrap_or_default();
        let dummy = hash_with(&params, &super::secret::random_password()).unwrap_or_default();
        Self { params, dummy }
    }

    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let params = self.params.clone();
        let pw = password.to_owned();
        tokio::task::spawn_blocking(move || hash_with(&params, &pw))
            .await
            .map_err(ApiError::internal)?
    }

    /// Verifies `password` against `phc`, or against the dummy hash when `phc` is
    /// `None`; always spends the same work.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let known = phc.is_some();
        let phc = phc.unwrap_or(&self.dummy).to_owned();
        let pw = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&phc)
                .map(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        ok && known
    }
}

fn hash_with(params: &Params, password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let cfg = AuthConfig {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            ..AuthConfig::default()
        };
        let p = Passwords::new(&cfg);
        let h = p.hash("correct horse battery").await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(p.verify("correct horse battery", Some(&h)).await);
        assert!(!p.verify("wrong horse battery", Some(&h)).await);
        assert!(!p.verify("anything", None).await);
        assert!(!p.verify("x", Some("not a phc string")).await);
    }
}
