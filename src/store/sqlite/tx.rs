//! The write connection as one batch sees it, with the batch's hot statements kept
//! prepared between its writes.
//!
//! `Connection::prepare_cached` costs about as much as binding and running a small insert:
//! it hashes the SQL text, takes the statement out of rusqlite's LRU cache, copies the text
//! into a new key, and on drop clears the bindings and hashes the text again to put the
//! statement back. An accepted event runs two such statements, and a batch holds dozens of
//! events, so [`Tx::with`] takes each statement out of that cache once per batch and
//! returns it when the batch ends.

use std::cell::RefCell;
use std::ops::Deref;

use rusqlite::{CachedStatement, Connection, Statement};

/// The writer's connection during one run of a batch. Derefs to the connection, so a write
/// that has no hot statement takes it as `&Connection`.
pub(super) struct Tx<'c> {
    conn: &'c Connection,
    /// Statements prepared in this batch, by SQL text. A batch uses few distinct
    /// statements, so a linear search beats hashing the text.
    kept: RefCell<Vec<(&'static str, CachedStatement<'c>)>>,
}

impl<'c> Tx<'c> {
    pub fn new(conn: &'c Connection) -> Self {
        Tx {
            conn,
            kept: RefCell::new(Vec::new()),
        }
    }

    /// Runs `f` with `sql` prepared; the statement stays prepared until the batch ends.
    /// `f` must not call `with` itself (the statements are borrowed meanwhile).
    pub fn with<T>(
        &self,
        sql: &'static str,
        f: impl FnOnce(&mut Statement<'c>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let mut kept = self.kept.borrow_mut();
        let found = kept
            .iter()
            .position(|(text, _)| std::ptr::eq(*text, sql) || *text == sql);
        let index = match found {
            Some(index) => index,
            None => {
                kept.push((sql, self.conn.prepare_cached(sql)?));
                kept.len() - 1
            }
        };
        f(&mut kept[index].1)
    }
}

impl Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_is_prepared_once_per_batch_and_reused() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        const INSERT: &str = "INSERT INTO t (x) VALUES (?1)";
        let tx = Tx::new(&conn);
        for x in 0..3 {
            tx.with(INSERT, |stmt| stmt.execute([x])).unwrap();
        }
        assert_eq!(tx.kept.borrow().len(), 1);
        let sum: i64 = tx
            .with("SELECT SUM(x) FROM t", |stmt| {
                stmt.query_row([], |row| row.get(0))
            })
            .unwrap();
        assert_eq!(sum, 3);
        assert_eq!(tx.kept.borrow().len(), 2);
        drop(tx);
        // Back in rusqlite's cache, ready for the next batch.
        assert!(conn.prepare_cached(INSERT).is_ok());
    }

    /// The writer's rerun of a batch: a kept statement that failed (a constraint) and was
    /// rolled back with its transaction runs again in the next try of the same batch.
    #[test]
    fn kept_statements_survive_a_failed_write_and_a_rollback() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)")
            .unwrap();
        const INSERT: &str = "INSERT INTO t (x) VALUES (?1)";
        let tx = Tx::new(&conn);
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        tx.with(INSERT, |stmt| stmt.execute([1])).unwrap();
        assert!(tx.with(INSERT, |stmt| stmt.execute([1])).is_err());
        conn.execute_batch("ROLLBACK").unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        tx.with(INSERT, |stmt| stmt.execute([1])).unwrap();
        tx.with(INSERT, |stmt| stmt.execute([2])).unwrap();
        conn.execute_batch("COMMIT").unwrap();
        drop(tx);
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 2);
    }

    #[test]
    fn a_bad_statement_is_an_error_and_not_kept() {
        let conn = Connection::open_in_memory().unwrap();
        let tx = Tx::new(&conn);
        assert!(
            tx.with("INSERT INTO missing VALUES (1)", |stmt| stmt.execute([]))
                .is_err()
        );
        assert!(tx.kept.borrow().is_empty());
    }
}
