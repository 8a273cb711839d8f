//! Opening SQLite connections with the pragmas Inlet relies on, and sorting SQLite's
//! errors into [`StoreError`] variants.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::store::{StoreError, StoreOptions, Synchronous};

/// What a connection is for; readers cannot write by accident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Writer,
    Reader,
    /// Copies the WAL into the database file; see `checkpoint`.
    Checkpointer,
}

/// Opens (and for the writer, creates) the database file and applies the pragmas.
pub(super) fn open(
    path: &Path,
    options: &StoreOptions,
    role: Role,
) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(classify)?;
    conn.busy_timeout(options.busy_timeout).map_err(classify)?;
    if role == Role::Writer {
        // WAL lets readers (the CLI, other processes) run while the server writes, and
        // turns each commit into one sequential append.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(classify)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend {
                message: format!(
                    "could not switch {} to WAL (journal mode is {mode})",
                    path.display()
                ),
                source: None,
            });
        }
        // The checkpoint thread copies the WAL into the database off the commit path.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(classify)?;
        // After a checkpoint resets the WAL, cut the file back to this size.
        conn.pragma_update(None, "journal_size_limit", 64i64 << 20)
            .map_err(classify)?;
    }
    let sync = match options.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)
        .map_err(classify)?;
    if role == Role::Reader {
        conn.pragma_update(None, "query_only", true)
            .map_err(classify)?;
    }
    // Statements are few and reused on every batch; keep them all prepared.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Sorts a SQLite error: conditions that go away on their own (locks, a full disk, a
/// read-only file, I/O errors) are "unavailable"; constraint violations are conflicts.
pub(crate) fn classify(err: rusqlite::Error) -> StoreError {
    let message = err.to_string();
    let code = err.sqlite_error_code();
    let source = Some(Arc::new(err) as crate::store::error::Cause);
    match code {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::ReadOnly
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::OutOfMemory
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::NoLargeFileSupport,
        ) => StoreError::Unavailable { message, source },
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict { message, source },
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreError::Corrupt { message }
        }
        _ => StoreError::Backend { message, source },
    }
}
