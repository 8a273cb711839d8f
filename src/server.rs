//! A server built from a checked config and a set of services, ready to serve a listener.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::lua::Deployment;
use crate::service::background::InProcess;
use crate::service::{Services, Shared};

/// How many `invoke_async` jobs run at once in this process.
const BACKGROUND_CONCURRENCY: usize = 64;

/// What the request flow needs: the config it serves, and the services it calls.
pub(crate) struct Gateway {
    pub config: Config,
    pub shared: Arc<Shared>,
}

/// A server, built by [`App::build`](crate::App::build).
pub struct Server {
    gateway: Arc<Gateway>,
    background: TaskTracker,
    /// The Lua services, watched for changes while the server serves.
    scripts: Option<Arc<Deployment>>,
}

impl Server {
    pub(crate) fn new(
        config: Config,
        services: Services,
        scripts: Option<Arc<Deployment>>,
    ) -> Self {
        let background = TaskTracker::new();
        let shared = Arc::new(Shared {
            services,
            user: Arc::new(config.user.clone()),
            background: Arc::new(InProcess::new(background.clone(), BACKGROUND_CONCURRENCY)),
        });
        Server {
            gateway: Arc::new(Gateway { config, shared }),
            background,
            scripts,
        }
    }

    pub fn config(&self) -> &Config {
        &self.gateway.config
    }

    /// The names of every service this server can call, compiled-in and Lua, sorted.
    pub fn service_names(&self) -> Vec<String> {
        self.gateway.shared.services.names()
    }

    /// The Lua deployment, when the config has a `services_dir`.
    pub fn scripts(&self) -> Option<&Arc<Deployment>> {
        self.scripts.as_ref()
    }

    /// Serves `listener` until `shutdown` completes. Then it stops accepting, lets in-flight
    /// requests and background jobs finish within the grace period, and returns.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let grace = self.gateway.config.server.shutdown_grace;
        if let Ok(address) = listener.local_addr() {
            tracing::info!(
                %address,
                channels = self.gateway.config.channels.len(),
                "serving"
            );
        }
        let watcher = self.scripts.clone().map(crate::lua::watch::spawn);
        let stop_began =
            super::http::serve_connections(listener, Arc::clone(&self.gateway), shutdown).await;
        if let Some(watcher) = watcher {
            watcher.abort();
        }
        self.background.close();
        let left = grace.saturating_sub(stop_began.elapsed());
        if tokio::time::timeout(left, self.background.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                unfinished = self.background.len(),
                "background jobs still running after the grace period are abandoned"
            );
        }
    }
}
