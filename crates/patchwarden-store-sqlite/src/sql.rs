//! Small pieces of statement building shared by the modules.

use sqlx::{QueryBuilder, Sqlite};

/// Pushes `(v1, v2, …)`, every value bound: the list after an `IN`.
pub(crate) fn push_list<'args, T>(
    q: &mut QueryBuilder<'args, Sqlite>,
    values: impl IntoIterator<Item = T>,
) where
    T: 'args + sqlx::Encode<'args, Sqlite> + sqlx::Type<Sqlite>,
{
    q.push("(");
    let mut sep = q.separated(", ");
    for v in values {
        sep.push_bind(v);
    }
    q.push(")");
}
