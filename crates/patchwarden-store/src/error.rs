/// Errors of a storage backend. Backends map driver errors into these; the server maps
/// these to HTTP status codes and never shows `Backend` text to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    /// A uniqueness rule would be broken (`what` is safe to show to the client).
    #[error("conflict: {what}")]
    Conflict { what: String },
    /// The caller broke a rule of the model (e.g. duplicate packages).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database cannot be reached or refused the connection.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back into domain types.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Anything else from the driver.
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}
