//! HTTPS to the server: rustls with the ring provider (no OpenSSL). With a pinned CA
//! the client trusts that CA only, not the system roots. Request bodies of check-ins
//! are gzipped and signed; replies are read with a size cap.

use flate2::write::GzEncoder;
use flate2::Compression;
use patchwarden_wire::agent::{
    CheckInReply, EnrollRequest, EnrollResponse, CHECKIN_FRAMED_MEDIA_TYPE,
};
use patchwarden_wire::sign::{
    request_message, SecretKey, HEADER_AGENT_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, DATE};
use reqwest::{StatusCode, Url};
use std::io::Write;
use std::time::Duration;

pub const ENROLL_PATH: &str = "/api/v1/agent/enroll";
pub const CHECKIN_PATH: &str = "/api/v1/agent/checkin";

/// Largest reply read from the server.
pub const MAX_REPLY_BYTES: usize = 16 * 1024 * 1024;
/// Clock difference with the server's `Date` header that is worth a warning.
pub const SKEW_WARNING_SECS: i64 = 60;

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server revoked this agent: stop, do not retry.
    #[error("this agent was revoked by the server ({0}); re-enrol it to report again")]
    Revoked(String),
    #[error("the server refused the enrolment token ({0}): it is wrong, expired or used")]
    InvalidToken(String),
    #[error("the server refused this agent's signature ({0}); check the clock and enrolment")]
    Unauthenticated(String),
    #[error("the server answered {status} ({code})")]
    Status { status: StatusCode, code: String },
    #[error("the server is unreachable: {0}")]
    Unreachable(String),
    #[error("the server's reply is larger than {MAX_REPLY_BYTES} bytes: refused")]
    TooLarge,
    #[error("the server's reply is not valid: {0}")]
    BadReply(String),
}

impl ClientError {
    /// Errors that retrying cannot fix.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::Revoked(_))
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
}

/// A check-in reply and what the exchange told about the clocks.
#[derive(Debug)]
pub struct Exchanged {
    pub reply: CheckInReply,
    /// Server `Date` minus local time, in seconds, when the server sent a `Date`.
    pub skew_secs: Option<i64>,
}

impl Client {
    /// A client for `base` trusting only `ca_pem` when given (the pin), else the
    /// system's roots.
    pub fn new(base: Url, ca_pem: Option<&[u8]>) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            .https_only(base.scheme() == "https")
            .user_agent(concat!("patchwarden-agent/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| anyhow::anyhow!("the CA certificate is not valid PEM: {e}"))?;
            if certs.is_empty() {
                anyhow::bail!("the CA certificate file holds no certificate");
            }
            builder = builder.tls_built_in_root_certs(false);
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up HTTPS: {e}"))?;
        Ok(Self { http, base })
    }

    fn url(&self, path: &str) -> Result<Url, ClientError> {
        let joined = format!("{}{path}", self.base.as_str().trim_end_matches('/'));
        Url::parse(&joined).map_err(|e| ClientError::Unreachable(format!("bad URL: {e}")))
    }

    pub async fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse, ClientError> {
        let resp = self
            .http
            .post(self.url(ENROLL_PATH)?)
            .json(req)
            .send()
            .await
            .map_err(transport)?;
        let (status, _, body) = read_capped(resp).await?;
        if status != StatusCode::CREATED && status != StatusCode::OK {
            return Err(error_for(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::BadReply(e.to_string()))
    }

    /// Sends one check-in, `framed` ([`patchwarden_wire::agent::CheckIn::to_framed`]):
    /// gzipped, then the gzipped bytes are signed.
    pub async fn checkin(
        &self,
        key: &SecretKey,
        agent_id: i64,
        framed: &[u8],
        now_unix: i64,
    ) -> Result<Exchanged, ClientError> {
        let body = gzip(framed).map_err(|e| ClientError::BadReply(format!("gzip: {e}")))?;
        let signature = key.sign(&request_message("POST", CHECKIN_PATH, now_unix, &body));
        let resp = self
            .http
            .post(self.url(CHECKIN_PATH)?)
            .header(CONTENT_TYPE, CHECKIN_FRAMED_MEDIA_TYPE)
            .header(CONTENT_ENCODING, "gzip")
            .header(HEADER_AGENT_ID, agent_id.to_string())
            .header(HEADER_TIMESTAMP, now_unix.to_string())
            .header(HEADER_SIGNATURE, signature)
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let (status, date, body) = read_capped(resp).await?;
        let skew_secs = date.map(|d| d - now_unix);
        if status != StatusCode::OK {
            return Err(match error_for(status, &body) {
                ClientError::Unauthenticated(code) => match skew_secs {
                    Some(s) if s.abs() > SKEW_WARNING_SECS => ClientError::Unauthenticated(
                        format!("{code}; the local clock is {}s off the server's", s.abs()),
                    ),
                    _ => ClientError::Unauthenticated(code),
                },
                other => other,
            });
        }
        let reply: CheckInReply = serde_json::from_slice(&body).map_err(|e| {
            ClientError::BadReply(format!("not a check-in reply ({} bytes): {e}", body.len()))
        })?;
        Ok(Exchanged { reply, skew_secs })
    }
}

pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes)?;
    enc.finish()
}

fn transport(e: reqwest::Error) -> ClientError {
    // The whole chain: "error sending request" alone hides the TLS or connect cause.
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    ClientError::Unreachable(msg)
}

/// Status, `Date` (Unix seconds) and body, refusing bodies over [`MAX_REPLY_BYTES`].
async fn read_capped(
    mut resp: reqwest::Response,
) -> Result<(StatusCode, Option<i64>, Vec<u8>), ClientError> {
    let status = resp.status();
    let date = resp
        .headers()
        .get(DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| jiff::fmt::rfc2822::parse(s).ok())
        .map(|z| z.timestamp().as_second());
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_REPLY_BYTES as u64)
    {
        return Err(ClientError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(ClientError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, date, body))
}

/// Maps an error status and its `{"error":{"code":...}}` body.
fn error_for(status: StatusCode, body: &[u8]) -> ClientError {
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "no error code".to_owned());
    match (status, code.as_str()) {
        (StatusCode::FORBIDDEN, "agent_revoked") => ClientError::Revoked(code),
        (StatusCode::UNAUTHORIZED, "invalid_token") => ClientError::InvalidToken(code),
        (StatusCode::UNAUTHORIZED, _) => ClientError::Unauthenticated(code),
        _ => ClientError::Status { status, code },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn error_bodies_map_to_stable_kinds() {
        let revoked = br#"{"error":{"code":"agent_revoked","message":"x"}}"#;
        assert!(error_for(StatusCode::FORBIDDEN, revoked).is_fatal());
        assert!(matches!(
            error_for(
                StatusCode::UNAUTHORIZED,
                br#"{"error":{"code":"invalid_token"}}"#
            ),
            ClientError::InvalidToken(_)
        ));
        assert!(matches!(
            error_for(StatusCode::BAD_GATEWAY, b"<html>"),
            ClientError::Status { .. }
        ));
        // A 403 without the revoked code is not taken as revocation.
        assert!(!error_for(StatusCode::FORBIDDEN, b"{}").is_fatal());
    }

    #[test]
    fn http_dates_parse() {
        let t = jiff::fmt::rfc2822::parse("Tue, 25 Nov 2025 10:00:00 GMT").unwrap();
        assert_eq!(t.timestamp().as_second(), 1_764_064_800);
    }
}
