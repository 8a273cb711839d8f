//! Versioned schema migrations for SQLite.
//!
//! Each migration is a file `migrations/sqlite/NNNN_name.sql`, embedded into the binary so
//! that `inlet serve` and `inlet migrate` need nothing beside the executable. The table
//! `schema_version` records each applied version. Migrations run in one `BEGIN IMMEDIATE`
//! transaction, so two processes starting at once cannot both apply the same step, and a
//! failed step leaves the schema as it was.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::conn::classify;
use crate::store::StoreError;

/// One schema step.
pub(super) struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. Append only: an applied migration is never edited. (The one
/// exception: before any release, `0001_init.sql` was rewritten in place to key events by
/// arrival time; stores made by earlier development builds keep the old layout, which every
/// query still serves. From the first release on, changes are new migrations.)
pub(super) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "init",
    sql: include_str!("../../../migrations/sqlite/0001_init.sql"),
}];

/// Applies the migrations the database lacks; returns how many ran.
pub(super) fn migrate(conn: &mut Connection, now: i64) -> Result<u32, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(classify)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )
    .map_err(classify)?;
    let current: u32 = tx
        .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get::<_, Option<u32>>(0)
        })
        .optional()
        .map_err(classify)?
        .flatten()
        .unwrap_or(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    let mut applied = 0;
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.execute_batch(migration.sql).map_err(|err| {
            let err = classify(err);
            if err.is_unavailable() {
                return err;
            }
            StoreError::Backend {
                message: format!(
                    "migration {:04}_{} failed: {err}",
                    migration.version, migration.name
                ),
                source: Some(std::sync::Arc::new(err)),
            }
        })?;
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)",
            (migration.version, migration.name, now),
        )
        .map_err(classify)?;
        applied += 1;
    }
    tx.commit().map_err(classify)?;
    Ok(applied)
}

/// The version the database is at, 0 when never migrated.
pub(super) fn version(conn: &Connection) -> Result<u32, StoreError> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
            [],
            |row| row.get(0),
        )
        .map_err(classify)?;
    if !exists {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |row| row.get(0),
    )
    .map_err(classify)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1, "{}", migration.name);
        }
    }

    #[test]
    fn migrate_is_idempotent_and_refuses_newer_schemas() {
        let mut conn = Connection::open_in_memory().unwrap();
        let known = MIGRATIONS.len() as u32;
        assert_eq!(migrate(&mut conn, 1).unwrap(), known);
        assert_eq!(migrate(&mut conn, 2).unwrap(), 0);
        assert_eq!(version(&conn).unwrap(), known);

        conn.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, 'future', 3)",
            [known + 1],
        )
        .unwrap();
        let err = migrate(&mut conn, 4).unwrap_err();
        assert!(
            matches!(err, StoreError::SchemaTooNew { found, known: k } if found == known + 1 && k == known)
        );
    }
}
