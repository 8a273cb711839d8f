//! The SQLite backend: one database file in WAL mode, one writer thread doing group
//! commits (`writer`), a pool of reader connections (`readers`), and the SQL itself
//! (`writes`, `maintenance`, `reads`).
//!
//! Any number of processes may open the same file: the server, and the CLI inspecting or
//! replaying while it runs. Their writers take turns through SQLite's lock, waiting up to
//! the busy timeout.

mod checkpoint;
mod conn;
mod maintenance;
mod migrate;
mod readers;
mod reads;
mod tx;
mod writer;
mod writes;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::Notify;

use self::conn::Role;
use self::maintenance::{Cursor, Scan};
use self::readers::Readers;
use self::writer::Writer;
use super::{
    Accepted, ClaimRequest, Claimed, Completed, Completion, Event, EventFilter, EventSummary,
    NewJob, Purged, ReplaySelector, Stats, StoreError, StoreOptions, Trace, UnixMs,
};

/// Bytes a write is assumed to add beyond its bodies; only steers batch sizes.
const ROW_WEIGHT: usize = 256;

/// The SQLite store. Clones share one writer thread and one reader pool.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Writer,
    readers: Arc<Readers>,
    /// Woken after a commit that made jobs due.
    notify: Arc<Notify>,
}

impl SqliteStore {
    /// Opens or creates the database at `path`, starts the writer and applies migrations.
    pub async fn open(
        path: impl Into<PathBuf>,
        options: &StoreOptions,
    ) -> Result<Self, StoreError> {
        let path = path.into();
        let notify = Arc::new(Notify::new());
        let writer = {
            let (path, options, notify) = (path.clone(), options.clone(), Arc::clone(&notify));
            tokio::task::spawn_blocking(move || {
                let conn = conn::open(&path, &options, Role::Writer)?;
                // After the writer's connection: that one creates the file and sets WAL.
                let nudge = checkpoint::start(path.clone(), &options)?;
                let reopen_path = path.clone();
                let reopen_options = options.clone();
                let reopen =
                    Box::new(move || conn::open(&reopen_path, &reopen_options, Role::Writer));
                Writer::start(conn, reopen, &options, notify, nudge)
            })
            .await
            .map_err(|err| StoreError::Backend {
                message: format!("opening the store failed: {err}"),
                source: None,
            })??
        };
        let store = SqliteStore {
            inner: Arc::new(Inner {
                readers: Arc::new(Readers::new(path.clone(), options)),
                path,
                writer,
                notify,
            }),
        };
        let applied = store.migrate().await?;
        if applied > 0 {
            // A new database takes them all; an older one is being upgraded, which an
            // operator wants to see (a rebuild of a big table takes a while).
            tracing::info!(
                message = "Applied store migrations.",
                applied,
                version = migrate::MIGRATIONS.len(),
                path = %store.inner.path.display()
            );
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub(super) async fn migrate(&self) -> Result<u32, StoreError> {
        let now = system_now();
        self.inner
            .writer
            .exclusive(move |conn| migrate::migrate(conn, now))
            .await
    }

    pub(super) async fn schema_version(&self) -> Result<u32, StoreError> {
        self.inner.readers.read(migrate::version).await
    }

    pub(super) fn notify(&self) -> Arc<Notify> {
        Arc::clone(&self.inner.notify)
    }

    pub(super) async fn accept(&self, event: Event, job: NewJob) -> Result<Accepted, StoreError> {
        let weight = ROW_WEIGHT
            + event.body.len()
            + event
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>();
        self.inner
            .writer
            .write(weight, true, move |conn| writes::accept(conn, &event, &job))
            .await
    }

    pub(super) async fn enqueue(
        &self,
        cid: String,
        payload: Bytes,
        job: NewJob,
    ) -> Result<(), StoreError> {
        let weight = ROW_WEIGHT + payload.len();
        self.inner
            .writer
            .write(weight, true, move |conn| {
                writes::enqueue(conn, &cid, &payload, &job)
            })
            .await
    }

    pub(super) async fn claim(&self, req: ClaimRequest) -> Result<Claimed, StoreError> {
        // Claims are answered after the commit like any write; the claimed jobs (bodies
        // included) travel back in the reply, weighed as one row per job.
        let weight = ROW_WEIGHT * req.limit as usize;
        self.inner
            .writer
            .write_unsynced(weight, move |conn| writes::claim(conn, &req))
            .await
    }

    pub(super) async fn complete(&self, done: Completion) -> Result<Completed, StoreError> {
        self.inner
            .writer
            .write(ROW_WEIGHT, false, move |conn| writes::complete(conn, &done))
            .await
    }

    pub(super) async fn complete_all(
        &self,
        done: Vec<Completion>,
    ) -> Result<Vec<Completed>, StoreError> {
        self.inner
            .writer
            .write(ROW_WEIGHT * done.len(), false, move |conn| {
                done.iter().map(|one| writes::complete(conn, one)).collect()
            })
            .await
    }

    pub(super) async fn release(&self, owner: String, now: UnixMs) -> Result<u64, StoreError> {
        self.inner
            .writer
            .write(ROW_WEIGHT, true, move |conn| {
                writes::release(conn, &owner, now)
            })
            .await
    }

    pub(super) async fn recover(&self, owner: String, now: UnixMs) -> Result<u64, StoreError> {
        self.inner
            .writer
            .write(ROW_WEIGHT, true, move |conn| {
                writes::expire_leases(conn, now, Some(&owner))
            })
            .await
    }

    pub(super) async fn list_events(
        &self,
        filter: EventFilter,
    ) -> Result<Vec<EventSummary>, StoreError> {
        self.inner
            .readers
            .read(move |conn| reads::list_events(conn, &filter))
            .await
    }

    pub(super) async fn trace(&self, cid: String) -> Result<Option<Trace>, StoreError> {
        self.inner
            .readers
            .read(move |conn| reads::trace(conn, &cid))
            .await
    }

    pub(super) async fn stats(&self) -> Result<Stats, StoreError> {
        self.inner.readers.read(reads::stats).await
    }

    pub(super) async fn replay_count(&self, selector: ReplaySelector) -> Result<u64, StoreError> {
        self.inner
            .readers
            .read(move |conn| match selector {
                ReplaySelector::Cids(cids) => maintenance::count_cids(conn, &cids),
                ReplaySelector::Dead => maintenance::count_scan(conn, &Scan::Dead),
                ReplaySelector::Channel { channel, since } => {
                    maintenance::count_scan(conn, &Scan::Channel { channel, since })
                }
            })
            .await
    }

    pub(super) async fn replay(
        &self,
        selector: ReplaySelector,
        now: UnixMs,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        let scan = match selector {
            ReplaySelector::Dead => Scan::Dead,
            ReplaySelector::Channel { channel, since } => Scan::Channel { channel, since },
            ReplaySelector::Cids(cids) => {
                for chunk in cids.chunks(maintenance::CHUNK as usize) {
                    let chunk = chunk.to_vec();
                    total += self
                        .inner
                        .writer
                        .write(ROW_WEIGHT * chunk.len(), true, move |conn| {
                            maintenance::replay_cids(conn, &chunk, now)
                        })
                        .await?;
                    progress(total);
                }
                return Ok(total);
            }
        };
        let scan = Arc::new(scan);
        let mut cursor = Cursor::default();
        loop {
            let scan = Arc::clone(&scan);
            let (count, next) = self
                .inner
                .writer
                .write(
                    ROW_WEIGHT * maintenance::CHUNK as usize,
                    true,
                    move |conn| {
                        // A copy per run: the writer may run this more than once.
                        let mut next = cursor.clone();
                        let count = maintenance::replay_scan(conn, &scan, &mut next, now)?;
                        Ok((count, next))
                    },
                )
                .await?;
            cursor = next;
            total += u64::from(count);
            progress(total);
            if count < maintenance::CHUNK {
                return Ok(total);
            }
        }
    }

    pub(super) async fn purge(&self, before: UnixMs, now: UnixMs) -> Result<Purged, StoreError> {
        let mut total = Purged::default();
        loop {
            let purged = self
                .inner
                .writer
                .write(
                    ROW_WEIGHT * maintenance::CHUNK as usize,
                    false,
                    move |conn| maintenance::purge_chunk(conn, before, now),
                )
                .await?;
            if purged.is_empty() {
                return Ok(total);
            }
            total.add(purged);
        }
    }

    pub(super) async fn purge_dead(&self, before: UnixMs) -> Result<Purged, StoreError> {
        let mut total = Purged::default();
        loop {
            let purged = self
                .inner
                .writer
                .write(
                    ROW_WEIGHT * maintenance::CHUNK as usize,
                    false,
                    move |conn| maintenance::purge_dead_chunk(conn, before),
                )
                .await?;
            if purged.is_empty() {
                return Ok(total);
            }
            total.add(purged);
        }
    }

    pub(super) async fn close(&self) {
        self.inner.writer.close().await;
    }

    /// Reads a pragma on the write connection, for tests.
    #[cfg(test)]
    pub(crate) async fn writer_pragma(&self, name: &'static str) -> Result<i64, StoreError> {
        self.inner
            .writer
            .inspect(move |conn| {
                conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
                    .map_err(conn::classify)
            })
            .await
    }

    /// Caps the database at `pages` pages (SQLite's `max_page_count`; it never goes below
    /// the current size), returning the cap in force. Tests use it to fill the "disk".
    #[cfg(test)]
    pub(crate) async fn set_max_page_count(&self, pages: i64) -> Result<i64, StoreError> {
        self.inner
            .writer
            .exclusive(move |conn| {
                conn.pragma_update_and_check(None, "max_page_count", pages, |row| row.get(0))
                    .map_err(conn::classify)
            })
            .await
    }
}

/// Wall-clock time, for the one thing the store stamps itself: when a migration ran.
fn system_now() -> UnixMs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as UnixMs)
}
