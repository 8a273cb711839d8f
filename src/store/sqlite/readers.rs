//! A small pool of read connections.
//!
//! In WAL mode each reader sees a consistent snapshot and never blocks the writer, so
//! list/show/stats get their own connections rather than queueing behind group commits.
//! SQLite calls block, so they run on tokio's blocking pool; a semaphore bounds how many
//! run at once, and idle connections are kept for reuse.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::conn::{self, Role};
use crate::store::{StoreError, StoreOptions};

pub(super) struct Readers {
    path: PathBuf,
    options: StoreOptions,
    idle: Mutex<Vec<Connection>>,
    slots: Arc<Semaphore>,
}

impl Readers {
    pub fn new(path: PathBuf, options: &StoreOptions) -> Self {
        Readers {
            path,
            options: options.clone(),
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(options.readers.max(1))),
        }
    }

    /// Runs `read` on a reader connection off the async threads.
    pub async fn read<T, F>(self: &Arc<Self>, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::closed())?;
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = this.take()?;
            let result = read(&conn);
            // A connection that saw the store fail is dropped rather than reused, in case
            // the failure left it in a bad state.
            if !matches!(&result, Err(err) if err.is_unavailable()) {
                this.give_back(conn);
            }
            result
        })
        .await
        .map_err(|err| StoreError::Backend {
            message: format!("a store read panicked or was cancelled: {err}"),
            source: None,
        })?
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(conn) => Ok(conn),
            None => conn::open(&self.path, &self.options, Role::Reader),
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.options.readers
        {
            idle.push(conn);
        }
    }
}
