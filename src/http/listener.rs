//! The accept loop: connection cap, header timeout, keep-alive, and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::dispatch;
use crate::server::Gateway;

/// Serves `listener` until `shutdown` completes, then stops accepting and gives open
/// connections until `grace` has passed to finish their requests. Returns when the stop
/// began, so that the caller can spend what is left of the grace period.
pub(crate) async fn serve_connections(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()>,
) -> Instant {
    let server = &gateway.config.server;
    let grace = server.shutdown_grace;
    // A permit per open connection; when they run out, new connections wait in the kernel's
    // backlog instead of exhausting file descriptors and memory here.
    let slots = Arc::new(Semaphore::new(server.max_connections));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(server.header_read_timeout)
        .keep_alive(true)
        .max_buf_size(64 * 1024);
    let graceful = GracefulShutdown::new();
    // Every connection's task, so that those still open when the grace period ends can be
    // aborted, which closes their sockets and drops their requests' futures. (An embedding
    // program keeps its runtime after `serve` returns; they would otherwise run on.)
    let mut connections = tokio::task::JoinSet::new();
    let _heartbeat = Heartbeat::start();
    tokio::pin!(shutdown);

    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Usually EMFILE or ECONNABORTED: wait a moment rather than spin.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Webhook answers are small; sending them at once beats Nagle's coalescing.
        let _ = stream.set_nodelay(true);
        let gateway = Arc::clone(&gateway);
        let service = service_fn(move |request| {
            let gateway = Arc::clone(&gateway);
            // Boxed: the request's future is over a KiB, and hyper would otherwise copy it
            // into place on every request.
            let answer = Box::pin(dispatch::handle(gateway, request, peer));
            async move { Ok::<_, Infallible>(answer.await) }
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        // Reap the finished ones first, so that the set holds only live connections.
        while connections.try_join_next().is_some() {}
        connections.spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
            drop(slot);
        });
    }

    let stop_began = Instant::now();
    drop(listener);
    tracing::info!(
        grace_s = grace.as_secs_f64(),
        "stopped accepting; finishing in-flight requests"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(
                connections = connections.len(),
                "grace period over; closing the remaining connections"
            );
            connections.abort_all();
        }
    }
    stop_began
}

/// How often [`Heartbeat`] ticks: well under the shortest default read timeout (10 s).
const HEARTBEAT: Duration = Duration::from_secs(1);

/// A timer that is always due within [`HEARTBEAT`], for as long as the server serves.
///
/// Why: every request arms timers (hyper's header-read timeout for the next request on
/// the connection, the body-read and service timeouts). tokio's time driver wakes its
/// thread, with a `write` to an eventfd, whenever a new timer is due before the earliest
/// one it knew of when it last went idle, and always when it knew of none. Under load a
/// worker goes idle with no timer armed often (an async channel's requests all wait for
/// the store's commit), and then every timer armed until it idles again cost a system
/// call: about one per two requests. With this timer armed, the earliest known deadline is
/// at most a second away, the request timers are due later (seconds), and tokio keeps
/// them without waking anyone. Costs one wake-up per second.
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    fn start() -> Heartbeat {
        Heartbeat(tokio::spawn(async {
            let mut ticks = tokio::time::interval(HEARTBEAT);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}
