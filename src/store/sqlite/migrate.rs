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
/// query still serves. Every change since is a new migration.)
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "checks_without_lists",
        sql: include_str!("../../../migrations/sqlite/0002_checks_without_lists.sql"),
    },
];

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
    if current > 0 && current < known {
        // An upgrade may rebuild a big table (0002 copies every job); say so before the
        // pause, so that a slow start is not a mystery.
        tracing::info!(
            message = "Upgrading the store's schema; large stores take a while.",
            from = current,
            to = known
        );
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

    /// A store made at version 1 keeps its rows (and the jobs' rowids, which claims use)
    /// through the rebuild of version 2, and the rewritten checks still refuse bad values.
    #[test]
    fn version_2_rebuilds_jobs_and_attempts_without_losing_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                          applied_at INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1, 'init', 0);",
        )
        .unwrap();
        conn.execute_batch(MIGRATIONS[0].sql).unwrap();
        conn.execute_batch(
            "INSERT INTO jobs (rowid, id, cid, service, input, payload, state, attempts,
                               max_attempts, next_attempt_at, created_at, updated_at)
             VALUES (42, 'job_a', 'cid_a', 'svc', 'payload', x'7b7d', 'dead', 3, 3, 5, 1, 2);
             INSERT INTO attempts VALUES ('job_a', 3, 1, 2, 'timeout', 'too slow');",
        )
        .unwrap();
        assert_eq!(migrate(&mut conn, 9).unwrap(), MIGRATIONS.len() as u32 - 1);
        let job: (i64, String, String, Vec<u8>) = conn
            .query_row(
                "SELECT rowid, id, state, payload FROM jobs WHERE cid = 'cid_a'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .unwrap();
        assert_eq!(job, (42, "job_a".into(), "dead".into(), b"{}".to_vec()));
        let outcome: String = conn
            .query_row(
                "SELECT outcome FROM attempts WHERE job_id = 'job_a'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(outcome, "timeout");
        let bad_state = conn.execute("UPDATE jobs SET state = 'lost'", []);
        assert!(bad_state.is_err(), "state check is gone");
        let bad_outcome = conn.execute(
            "INSERT INTO attempts VALUES ('job_a', 4, 1, 2, 'maybe', NULL)",
            [],
        );
        assert!(bad_outcome.is_err(), "outcome check is gone");
    }

    /// The hot-path writes compile without a temporary b-tree: a CHECK with an IN list
    /// makes SQLite build one per row written (see 0002_checks_without_lists.sql).
    #[test]
    fn hot_path_writes_build_no_temporary_btrees() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, 1).unwrap();
        for sql in [
            "INSERT INTO jobs (id, cid, service, input, payload, state, attempts, max_attempts,
                               next_attempt_at, created_at, updated_at)
             VALUES ('j', 'c', 's', 'event', NULL, 'pending', 0, 3, 1, 1, 1)",
            "UPDATE jobs SET state = 'done', lease_owner = NULL WHERE id = 'j'",
            "INSERT INTO attempts VALUES ('j', 1, 1, 2, 'ok', NULL)",
        ] {
            let mut stmt = conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
            let opcodes: Vec<String> = stmt
                .query_map([], |row| row.get(1))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                !opcodes.iter().any(|op| op == "OpenEphemeral"),
                "{sql} opens a temporary b-tree: {opcodes:?}"
            );
        }
    }
}
