//! Watching `services_dir`, so that a saved script is live within a second.
//!
//! The watcher only says "something changed"; [`Deployment::reload`] then rescans the whole
//! folder, which is cheap and copes with every way editors save (write in place, write a
//! temporary file and rename it, delete and recreate). Events that arrive close together are
//! merged into one reload.

use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Deployment;

/// How long to wait for more events before reloading: an editor's save is often several.
const SETTLE: Duration = Duration::from_millis(50);

/// How often to rescan when the OS offers no file events for the folder.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// Watches the deployment's folder until the returned task is aborted.
pub(crate) fn spawn(deployment: Arc<Deployment>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let (changed_tx, mut changed_rx) = mpsc::unbounded_channel::<()>();
        let on_event = move |event: notify::Result<notify::Event>| {
            // An error event (a queue overflow, say) may hide changes: rescan anyway.
            if event.as_ref().map_or(true, |e| !e.kind.is_access()) {
                let _ = changed_tx.send(());
            }
        };
        // Kept alive for as long as this task runs; dropping it stops the OS watch.
        let _watcher = match watch(&deployment, on_event) {
            Ok(watcher) => Some(watcher),
            Err(err) => {
                tracing::warn!(dir = %deployment.dir().display(), error = %err, "cannot watch services_dir; rescanning it every {POLL_EVERY:?} instead");
                None
            }
        };
        // Changes made between the first load and the start of the watch would go unseen:
        // one rescan now catches them (and costs nothing when there were none).
        let mut first = true;
        loop {
            if std::mem::take(&mut first) {
                // Fall through to the rescan below.
            } else if _watcher.is_some() {
                if changed_rx.recv().await.is_none() {
                    return;
                }
                tokio::time::sleep(SETTLE).await;
                while changed_rx.try_recv().is_ok() {}
            } else {
                tokio::time::sleep(POLL_EVERY).await;
            }
            let deployment = Arc::clone(&deployment);
            // Loading scripts is CPU work that can take milliseconds: keep it off the
            // threads that serve requests.
            if let Err(err) = tokio::task::spawn_blocking(move || deployment.reload()).await {
                tracing::error!(error = %err, "Lua reload task failed");
            }
        }
    })
}

fn watch(
    deployment: &Deployment,
    on_event: impl Fn(notify::Result<notify::Event>) + Send + 'static,
) -> notify::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(on_event)?;
    watcher.watch(deployment.dir(), RecursiveMode::NonRecursive)?;
    Ok(watcher)
}
