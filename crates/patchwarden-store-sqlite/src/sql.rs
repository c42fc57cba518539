//! Small pieces of statement building shared by the modules.

use sqlx::query::{Query, QueryAs};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{FromRow, QueryBuilder, Sqlite};

/// Longest statement text, built at run time, that a connection keeps prepared.
///
/// sqlx keeps each connection's last 100 distinct statements prepared, and a built
/// statement's text grows with its rows (a group's new packages, sets and audit
/// events): during a fleet's first reports, hundreds of texts each used once (481 in
/// 775 group writes, docs/benchmarks.md), which took the place of statements that
/// recur, and each held its compiled program until pushed out. A short built text (an
/// `IN` list of a few ids) recurs and stays cached; a longer one is prepared for its
/// one use and finalised. (Measured: the time spent preparing hardly moved, because it
/// is spent on those one-use texts themselves; constant statements for the group's
/// write are the step that would remove it.)
const KEEP_PREPARED_MAX: usize = 512;

fn keep_prepared(sql: &str) -> bool {
    sql.len() <= KEEP_PREPARED_MAX
}

/// `q.build()`, kept prepared only when its text is short ([`KEEP_PREPARED_MAX`]).
pub(crate) fn build<'q, 'args>(
    q: &'q mut QueryBuilder<'args, Sqlite>,
) -> Query<'q, Sqlite, SqliteArguments<'args>> {
    let keep = keep_prepared(q.sql());
    q.build().persistent(keep)
}

/// `q.build_query_as()`, kept prepared only when its text is short.
pub(crate) fn build_as<'q, 'args, T>(
    q: &'q mut QueryBuilder<'args, Sqlite>,
) -> QueryAs<'q, Sqlite, T, SqliteArguments<'args>>
where
    T: for<'r> FromRow<'r, SqliteRow>,
{
    let keep = keep_prepared(q.sql());
    q.build_query_as().persistent(keep)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_built_statements_stay_prepared() {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT id FROM assets WHERE id IN ");
        push_list(&mut q, [1_i64, 2, 3]);
        assert!(keep_prepared(q.sql()));
        let mut q = QueryBuilder::<Sqlite>::new("SELECT id FROM assets WHERE id IN ");
        push_list(&mut q, 0..500_i64);
        assert!(!keep_prepared(q.sql()));
    }
}
