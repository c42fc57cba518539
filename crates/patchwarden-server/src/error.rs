//! The one HTTP error type. Every handler returns `Result<_, ApiError>`; domain and
//! storage errors map to a status and a stable, machine-readable code here, and nothing
//! internal (SQL, file paths, driver text) ever reaches the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use patchwarden_domain::ValidationError;
use patchwarden_store::StoreError;
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable code clients can match on (`not_found`, `validation_failed` ...).
    pub code: &'static str,
    /// Human-readable, safe to show.
    pub message: String,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
    /// Internal detail, logged with the request id for 5xx, never sent.
    pub internal: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            internal: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "log in or send an API token (Authorization: Bearer ...)",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error; the server log has the details under this request id".into(),
            retry_after: None,
            internal: Some(detail.to_string()),
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            e.to_string(),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity } => Self::not_found(entity),
            StoreError::Conflict { what } => Self::new(StatusCode::CONFLICT, "conflict", what),
            StoreError::Invalid(what) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", what)
            }
            StoreError::Unavailable(detail) => Self {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "database_unavailable",
                message: "the database is unavailable; try again later".into(),
                retry_after: Some(5),
                internal: Some(detail),
            },
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            // Runs inside the request's trace span, so the log line carries its id.
            tracing::error!(code = self.code, detail = ?self.internal, "request failed");
        }
        let body = serde_json::to_vec(&Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        })
        .unwrap_or_default();
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// Same error, another stable code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }
}
