//! Ed25519 keys and signatures: the server signs every job with its job key, which the
//! agent pinned at enrolment; the agent signs every request with its own key, whose
//! public half the server stored at enrolment.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};
use std::fmt;

/// Why a signature or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("not a valid Ed25519 public key")]
    BadKey,
    #[error("malformed signature")]
    Malformed,
    #[error("signature does not verify")]
    Invalid,
}

/// A private Ed25519 key. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey(ed25519_dalek::SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public_b64())
    }
}

impl SecretKey {
    /// A new key from the operating system's random generator.
    pub fn generate() -> Self {
        Self(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// The 32-byte seed, base64: the storage form (keep the file private).
    pub fn to_b64(&self) -> String {
        STANDARD.encode(self.0.to_bytes())
    }

    pub fn from_b64(s: &str) -> Result<Self, SignatureError> {
        let bytes = STANDARD
            .decode(s.trim())
            .map_err(|_| SignatureError::BadKey)?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| SignatureError::BadKey)?;
        Ok(Self(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The public key, base64.
    pub fn public_b64(&self) -> String {
        STANDARD.encode(self.0.verifying_key().to_bytes())
    }

    /// Signature over `msg`, base64.
    pub fn sign(&self, msg: &[u8]) -> String {
        STANDARD.encode(self.0.sign(msg).to_bytes())
    }
}

/// Checks a base64 public key.
pub fn check_public_key(public_b64: &str) -> Result<(), SignatureError> {
    verifying_key(public_b64).map(|_| ())
}

fn verifying_key(public_b64: &str) -> Result<ed25519_dalek::VerifyingKey, SignatureError> {
    let bytes = STANDARD
        .decode(public_b64.trim())
        .map_err(|_| SignatureError::BadKey)?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| SignatureError::BadKey)?;
    ed25519_dalek::VerifyingKey::from_bytes(&arr).map_err(|_| SignatureError::BadKey)
}

/// A public key parsed once (base64 decoded and its curve point decompressed), for a
/// verifier that checks many signatures of the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    pub fn parse(public_b64: &str) -> Result<Self, SignatureError> {
        verifying_key(public_b64).map(Self)
    }

    /// [`verify`] with this key.
    pub fn verify(&self, msg: &[u8], signature_b64: &str) -> Result<(), SignatureError> {
        verify_with(&self.0, msg, signature_b64)
    }
}

/// Verifies a base64 signature over `msg` with a base64 public key (strict: no
/// malleable signatures).
pub fn verify(public_b64: &str, msg: &[u8], signature_b64: &str) -> Result<(), SignatureError> {
    verify_with(&verifying_key(public_b64)?, msg, signature_b64)
}

fn verify_with(
    key: &ed25519_dalek::VerifyingKey,
    msg: &[u8],
    signature_b64: &str,
) -> Result<(), SignatureError> {
    let bytes = STANDARD
        .decode(signature_b64.trim())
        .map_err(|_| SignatureError::Malformed)?;
    let arr: [u8; 64] = bytes.try_into().map_err(|_| SignatureError::Malformed)?;
    let sig = ed25519_dalek::Signature::from_bytes(&arr);
    key.verify_strict(msg, &sig)
        .map_err(|_| SignatureError::Invalid)
}

/// Header names of a signed agent request.
pub const HEADER_AGENT_ID: &str = "x-patchwarden-agent";
pub const HEADER_TIMESTAMP: &str = "x-patchwarden-timestamp";
pub const HEADER_SIGNATURE: &str = "x-patchwarden-signature";

/// How far an agent's clock may be from the server's before its requests are refused.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The bytes an agent signs for one request: method, path, timestamp (Unix seconds)
/// and the SHA-256 of the body, so neither a replay at another time nor a changed body
/// verifies.
pub fn request_message(method: &str, path: &str, unix_secs: i64, body: &[u8]) -> Vec<u8> {
    format!(
        "PW-REQ-1\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path,
        unix_secs,
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parsed_public_key_verifies_like_the_text_form() {
        let k = SecretKey::generate();
        let parsed = PublicKey::parse(&k.public_b64()).unwrap();
        let msg = request_message("POST", "/api/v1/agent/checkin", 1_700_000_000, b"{}");
        let sig = k.sign(&msg);
        assert_eq!(parsed.verify(&msg, &sig), Ok(()));
        assert_eq!(parsed.verify(b"other", &sig), Err(SignatureError::Invalid));
        assert_eq!(
            parsed.verify(&msg, "not base64!"),
            Err(SignatureError::Malformed)
        );
        let stranger = PublicKey::parse(&SecretKey::generate().public_b64()).unwrap();
        assert_eq!(stranger.verify(&msg, &sig), Err(SignatureError::Invalid));
        assert_eq!(PublicKey::parse("AAAA"), Err(SignatureError::BadKey));
    }

    #[test]
    fn sign_verify_round_trip_and_tamper() {
        let k = SecretKey::generate();
        let pk = k.public_b64();
        let msg = request_message("post", "/api/v1/agent/checkin", 1_700_000_000, b"{}");
        let sig = k.sign(&msg);
        assert_eq!(verify(&pk, &msg, &sig), Ok(()));
        let other = request_message("post", "/api/v1/agent/checkin", 1_700_000_001, b"{}");
        assert_eq!(verify(&pk, &other, &sig), Err(SignatureError::Invalid));
        let body = request_message("post", "/api/v1/agent/checkin", 1_700_000_000, b"{ }");
        assert_eq!(verify(&pk, &body, &sig), Err(SignatureError::Invalid));
        assert_eq!(
            verify(&SecretKey::generate().public_b64(), &msg, &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(verify("nonsense", &msg, &sig), Err(SignatureError::BadKey));
        assert_eq!(verify(&pk, &msg, "AAAA"), Err(SignatureError::Malformed));
        let again = SecretKey::from_b64(&k.to_b64()).unwrap();
        assert_eq!(again.public_b64(), pk);
        assert!(!format!("{k:?}").contains(&k.to_b64()));
    }
}
