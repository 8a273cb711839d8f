//! The contract suite on a real SQLite file, plus what only SQLite has: the file itself,
//! a second process, a full disk and the durability order of group commit.

use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::BoxFuture;
use rusqlite::Connection;

use crate::store::contract::{Env, Faults, T0, contract_suite, event};
use crate::store::{Accepted, NewJob, Store, StoreOptions};

/// Options for tests: a short busy timeout so that a held lock fails fast.
fn options() -> StoreOptions {
    StoreOptions {
        busy_timeout: Duration::from_millis(100),
        ..StoreOptions::default()
    }
}

async fn open(dir: &tempfile::TempDir) -> Store {
    Store::open_with(&url(dir), &options()).await.unwrap()
}

fn url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("inlet.db").display())
}

/// Makes the store unavailable the way another process can: by holding SQLite's write
/// lock (as a long CLI transaction or a backup would) past the busy timeout.
struct LockHolder {
    path: std::path::PathBuf,
    held: Mutex<Option<Connection>>,
}

impl Faults for LockHolder {
    fn break_writes(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let conn = Connection::open(&self.path).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            *self.held.lock().unwrap() = Some(conn);
        })
    }

    fn heal(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(conn) = self.held.lock().unwrap().take() {
                conn.execute_batch("ROLLBACK").unwrap();
            }
        })
    }
}

async fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    Env {
        store,
        faults: Box::new(LockHolder {
            path: dir.path().join("inlet.db"),
            held: Mutex::new(None),
        }),
        _keep: Box::new(dir),
    }
}

contract_suite!(setup);

fn job() -> NewJob {
    NewJob::new("svc", 5, T0)
}

#[tokio::test]
async fn open_creates_the_file_in_wal_mode_and_records_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    assert!(dir.path().join("inlet.db").exists());
    let latest = super::migrate::MIGRATIONS.len() as u32;
    assert_eq!(store.schema_version().await.unwrap(), latest);
    assert_eq!(store.migrate().await.unwrap(), 0, "already migrated");
    let conn = Connection::open(dir.path().join("inlet.db")).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let name: String = conn
        .query_row(
            "SELECT name FROM schema_version WHERE version = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(name, "init");
    store.close().await;
}

#[tokio::test]
async fn a_missing_directory_is_unavailable_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("no/such/dir/inlet.db").display()
    );
    let err = Store::open_with(&url, &options()).await.err().unwrap();
    assert!(err.is_unavailable(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ok_means_committed_and_visible_to_other_connections() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let outside = Connection::open(dir.path().join("inlet.db")).unwrap();
    let mut tasks = Vec::new();
    for n in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let cid = format!("cid-{n}");
            store.accept(event(&cid, "c", T0), job()).await.unwrap();
            cid
        }));
    }
    for task in tasks {
        // The moment a caller hears "stored", a separate connection (another process, a
        // crash-restart) must see it: the answer comes after COMMIT, never before.
        let cid = task.await.unwrap();
        let found: bool = outside
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM events WHERE cid = ?1)",
                [&cid],
                |r| r.get(0),
            )
            .unwrap();
        assert!(found, "{cid} answered before it was committed");
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_reads_and_replays_while_the_first_writes() {
    let dir = tempfile::tempdir().unwrap();
    let server = open(&dir).await;
    let cli = open(&dir).await;
    for n in 0..20 {
        server
            .accept(event(&format!("cid-{n}"), "c", T0 + n), job())
            .await
            .unwrap();
    }
    assert_eq!(cli.stats().await.unwrap().events, 20);
    let listed = cli
        .list_events(crate::store::EventFilter::latest(5))
        .await
        .unwrap();
    assert_eq!(listed[0].cid, "cid-19");
    // Both write at once; SQLite's lock and the busy timeout make them take turns.
    let (a, b) = tokio::join!(
        server.accept(event("from-server", "c", T0), job()),
        cli.enqueue("from-cli".into(), "{}".into(), job()),
    );
    assert_eq!(a.unwrap(), Accepted::Stored);
    b.unwrap();
    assert_eq!(server.stats().await.unwrap().jobs.pending, 22);
    server.close().await;
    cli.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_unavailable_and_the_writer_recovers_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    store.accept(event("small", "c", T0), job()).await.unwrap();
    let Store::Sqlite(sqlite) = &store;
    // SQLite's max_page_count stands in for a full file system: a write that needs a new
    // page fails with SQLITE_FULL, exactly as on ENOSPC.
    let cap = sqlite.set_max_page_count(1).await.unwrap();
    let big = |cid: &str| crate::store::Event {
        body: vec![7u8; 256 * 1024].into(),
        ..event(cid, "c", T0)
    };
    let err = store.accept(big("too-big"), job()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    // The writer thread is still there and still failing cleanly, batch after batch.
    for n in 0..3 {
        let err = store
            .accept(big(&format!("still-{n}")), job())
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
    }
    sqlite.set_max_page_count(cap * 1000).await.unwrap();
    assert_eq!(
        store.accept(big("fits-now"), job()).await.unwrap(),
        Accepted::Stored
    );
    let stats = store.stats().await.unwrap();
    assert_eq!(
        stats.events, 2,
        "only the events that were acknowledged exist"
    );
    store.close().await;
}

#[tokio::test]
async fn writes_after_close_are_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    store.close().await;
    let err = store
        .accept(event("late", "c", T0), job())
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let stats = store.stats().await;
    assert_eq!(
        stats.as_ref().map(|s| s.events).ok(),
        Some(0),
        "reads still work: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_thread_copies_the_wal_into_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let db = dir.path().join("inlet.db");
    let before = std::fs::metadata(&db).unwrap().len();
    let mut tasks = Vec::new();
    for task in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..500 {
                let event = crate::store::Event {
                    body: vec![b'x'; 1024].into(),
                    ..event(&format!("cid-{task}-{n}"), "c", T0)
                };
                store.accept(event, job()).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // Automatic checkpoints are off on the writer; only the checkpoint thread can grow the
    // database file past its empty size.
    for _ in 0..100 {
        if std::fs::metadata(&db).unwrap().len() > before + (4 << 20) {
            store.close().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the WAL was not checkpointed within 5 s");
}
#[tokio::test]
async fn writer_syncs_fully_by_default_and_normal_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let Store::Sqlite(full) = open(&dir).await;
    // 2 is FULL, 1 is NORMAL.
    assert_eq!(full.writer_pragma("synchronous").await.unwrap(), 2);
    assert_eq!(full.writer_pragma("wal_autocheckpoint").await.unwrap(), 0);
    assert_eq!(full.writer_pragma("busy_timeout").await.unwrap(), 100);
    full.close().await;
    let normal = StoreOptions {
        synchronous: crate::store::Synchronous::Normal,
        ..options()
    };
    let Store::Sqlite(normal) = Store::open_with(&url(&dir), &normal).await.unwrap();
    assert_eq!(normal.writer_pragma("synchronous").await.unwrap(), 1);
    normal.close().await;
}

/// A claim alone needs no fsync (see `writer`): its batch commits at NORMAL, and the next
/// batch that must be durable switches back to FULL before it commits.
#[tokio::test]
async fn claims_alone_skip_the_fsync_and_durable_writes_get_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let Store::Sqlite(sqlite) = open(&dir).await;
    let store = Store::Sqlite(sqlite.clone());
    let claim = || crate::store::ClaimRequest {
        owner: "w".into(),
        now: T0,
        lease_until: T0 + 60_000,
        limit: 8,
    };
    assert_eq!(sqlite.writer_pragma("synchronous").await.unwrap(), 2);
    store.claim(claim()).await.unwrap();
    assert_eq!(sqlite.writer_pragma("synchronous").await.unwrap(), 1);
    store
        .accept(event("durable", "c", T0), job())
        .await
        .unwrap();
    assert_eq!(sqlite.writer_pragma("synchronous").await.unwrap(), 2);
    let claimed = store.claim(claim()).await.unwrap();
    assert_eq!(claimed.jobs.len(), 1, "the claim still takes the job");
    assert_eq!(sqlite.writer_pragma("synchronous").await.unwrap(), 1);
    // A migration runs alone, at the configured setting, whatever the last batch left.
    assert_eq!(store.migrate().await.unwrap(), 0);
    assert_eq!(sqlite.writer_pragma("synchronous").await.unwrap(), 2);
    store.close().await;

    // Configured NORMAL stays NORMAL for every write.
    let normal = StoreOptions {
        synchronous: crate::store::Synchronous::Normal,
        ..options()
    };
    let Store::Sqlite(sqlite) = Store::open_with(&url(&dir), &normal).await.unwrap();
    let store = Store::Sqlite(sqlite.clone());
    store.accept(event("normal", "c", T0), job()).await.unwrap();
    assert_eq!(sqlite.writer_pragma("synchronous").await.unwrap(), 1);
    store.close().await;
}
