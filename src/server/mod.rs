//! A server built from a checked config and a set of services, ready to serve a listener.
//!
//! [`Server::serve`] opens the store, starts the worker pool and the retention task, serves
//! until told to stop, and then shuts down: at the stop signal it stops accepting and stops
//! claiming jobs; in-flight requests (each answered only after its commit) and running jobs
//! then share one grace period; the store closes last, committing what is still queued.

mod jobs;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jobs::{Clock, RetentionConfig, WorkerConfig, Workers, start_retention};
use crate::lua::Deployment;
use crate::ops::{self, Metrics};
use crate::service::{Services, Shared};
use crate::store::Store;

pub(crate) use self::jobs::run_job;

/// What the request flow needs: the config it serves, the services it calls, and the
/// store that async channels commit to.
pub(crate) struct Gateway {
    pub config: Config,
    pub shared: Arc<Shared>,
    pub store: Store,
    pub workers: Arc<WorkerConfig>,
    pub metrics: Arc<Metrics>,
    /// Each channel's name (by index, as `config.channels`), shared so that a request's log
    /// scope holds it without a copy.
    pub channel_names: Vec<Arc<str>>,
}

/// A server, built by [`App::build`](crate::App::build).
pub struct Server {
    config: Config,
    services: Services,
    /// The Lua services, watched for changes while the server serves.
    scripts: Option<Arc<Deployment>>,
}

impl Server {
    pub(crate) fn new(
        config: Config,
        services: Services,
        scripts: Option<Arc<Deployment>>,
    ) -> Self {
        Server {
            config,
            services,
            scripts,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The names of every service this server can call, compiled-in and Lua, sorted.
    pub fn service_names(&self) -> Vec<String> {
        self.services.names()
    }

    /// The Lua deployment, when the config has a `services_dir`.
    pub fn scripts(&self) -> Option<&Arc<Deployment>> {
        self.scripts.as_ref()
    }

    /// Serves `listener` until `shutdown` completes, then stops as the module doc says.
    /// Fails only when the store cannot be opened or `server.admin_listen` cannot be bound.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let Server {
            config,
            services,
            scripts,
        } = self;
        let store = Store::open_with(&config.store.url, &config.store.options)
            .await
            .with_context(|| format!("cannot open the store at {}", config.store.url))?;
        let admin =
            match config.server.admin_listen {
                Some(address) => Some(TcpListener::bind(address).await.with_context(|| {
                    format!("cannot listen on {address} (server.admin_listen)")
                })?),
                None => None,
            };
        let metrics = Arc::new(Metrics::new(
            config.channels.iter().map(|c| c.name.clone()).collect(),
        ));
        let grace = config.server.shutdown_grace;
        let workers = Arc::new(worker_config(&config));
        let shared = Arc::new(Shared {
            services,
            user: Arc::new(config.user.clone()),
            background: Arc::new(jobs::Durable {
                store: store.clone(),
                workers: Arc::clone(&workers),
            }),
        });
        let worker_settings = config.workers.clone();
        let retention = RetentionConfig {
            interval: config.retention.interval,
            retention: config.retention.events,
            clock: Clock::System,
        };
        let channel_names = config
            .channels
            .iter()
            .map(|c| Arc::from(c.name.as_str()))
            .collect();
        let gateway = Arc::new(Gateway {
            channel_names,
            config,
            shared,
            store: store.clone(),
            workers: Arc::clone(&workers),
            metrics: Arc::clone(&metrics),
        });

        let stopping = CancellationToken::new();
        let stop_jobs = CancellationToken::new();
        let admin = admin.map(|listener| {
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "serving /metrics, /healthz and /readyz");
            }
            ops::spawn(listener, metrics, stopping.clone())
        });
        // One grace period for everything: from the stop signal on, /readyz says so, the
        // listener drains its requests, and the workers stop claiming and give their running
        // jobs the grace period, all at once rather than one after the other.
        let shutdown = async {
            shutdown.await;
            stopping.cancel();
            stop_jobs.cancel();
        };

        let pool = worker_settings.enabled.then(|| {
            let gateway = Arc::clone(&gateway);
            let runner = move |job| run_job(Arc::clone(&gateway), job);
            Workers::start(
                store.clone(),
                Arc::new(runner),
                (*workers).clone(),
                stop_jobs.clone(),
            )
        });
        let purge = start_retention(store.clone(), retention, stop_jobs.clone());
        if let Ok(address) = listener.local_addr() {
            tracing::info!(
                %address,
                channels = gateway.config.channels.len(),
                store = %gateway.config.store.url,
                workers = if worker_settings.enabled { worker_settings.concurrency } else { 0 },
                "serving"
            );
        }
        let watcher = scripts.map(crate::lua::watch::spawn);

        let stop_began: Instant =
            crate::http::serve_connections(listener, Arc::clone(&gateway), shutdown).await;
        if let Some(watcher) = watcher {
            watcher.abort();
        }
        // Every request has been answered, so every acknowledged event is committed. The
        // workers have been stopping since the signal; the pool releases unfinished jobs.
        if let Some(pool) = pool {
            pool.join().await;
        }
        let _ = purge.await;
        store.close().await;
        if let Some(admin) = admin {
            admin.abort();
        }
        tracing::info!(
            took_ms = stop_began.elapsed().as_millis() as u64,
            grace_s = grace.as_secs_f64(),
            "store closed"
        );
        Ok(())
    }
}

/// The worker pool's settings, from `[workers]`, `[retry]`, `[service.*]` and channels'
/// `retry`.
fn worker_config(config: &Config) -> WorkerConfig {
    WorkerConfig {
        owner: config
            .workers
            .owner
            .clone()
            .unwrap_or_else(|| default_owner(config)),
        concurrency: config.workers.concurrency,
        poll_interval: config.workers.poll_interval,
        grace: config.server.shutdown_grace,
        default_policy: config.retry.default,
        services: config.retry.services.clone(),
        channels: config.retry.channels.clone(),
        ..WorkerConfig::default()
    }
}

/// A lease owner that stays the same across restarts of this instance: the host name and
/// a digest of the config file's path. At start the pool takes back the jobs that this
/// owner's previous run left leased. Two instances on one host with one config file must
/// set `[workers] owner` apart.
fn default_owner(config: &Config) -> String {
    use sha2::{Digest, Sha256};
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    let path = std::fs::canonicalize(&config.file).unwrap_or_else(|_| config.file.clone());
    let digest = Sha256::digest(path.to_string_lossy().as_bytes());
    format!("{host}:{}", hex::encode(&digest[..6]))
}
