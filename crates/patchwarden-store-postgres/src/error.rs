//! Maps driver errors into [`StoreError`].

use patchwarden_store::StoreError;

/// Maps a driver error; unique violations become a generic conflict (callers that know
/// what was duplicated use [`conflict`]).
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict {
            what: "a unique value is already taken".to_owned(),
        },
        sqlx::Error::Database(d) if is_unavailable(d.code().as_deref()) => {
            StoreError::Unavailable(d.to_string())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => StoreError::corrupt(e),
        other => StoreError::Backend(Box::new(other)),
    }
}

/// SQLSTATE classes 08 (connection exception), 53 (insufficient resources) and 57P
/// (operator intervention, e.g. the server shutting down).
fn is_unavailable(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("08") || c.starts_with("53") || c.starts_with("57P"))
}

/// Maps a unique violation to a conflict that names `what`; anything else as
/// [`db_err`].
pub(crate) fn conflict(what: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict { what: what() }
        }
        _ => db_err(e),
    }
}
