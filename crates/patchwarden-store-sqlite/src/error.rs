//! Maps driver errors into [`StoreError`].

use patchwarden_store::StoreError;

/// Maps a driver error; unique violations become a generic conflict (callers that know
/// what was duplicated use [`conflict`]).
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict {
            what: "a unique value is already taken".to_owned(),
        },
        sqlx::Error::Database(d) if is_busy(d.code().as_deref()) => {
            StoreError::Unavailable(format!("database is busy: {d}"))
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

/// SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
fn is_busy(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i64>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
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
