//! The app builder: a binary registers its services and gets the whole `inlet` CLI.
//!
//! ```no_run
//! # use inlet::{App, Context, Request, Response, Service, ServiceError};
//! # struct JiraWebhook;
//! # impl Service for JiraWebhook {
//! #     fn name(&self) -> &str { "webhooks.jira.receive" }
//! #     async fn handle(&self, _: Request, _: Context) -> Result<Response, ServiceError> { Ok(Response::empty()) }
//! # }
//! fn main() -> std::process::ExitCode {
//!     App::new().service(JiraWebhook).main()
//! }
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;

use crate::config::Config;
use crate::lua::Deployment;
use crate::server::Server;
use crate::service::{DynService, Echo, Noop, Ping, Service, Services};

/// The services of one binary, and the entry point to its CLI.
pub struct App {
    services: Vec<Arc<dyn DynService>>,
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

impl App {
    /// An app with the built-in services `inlet.ping`, `inlet.echo` and `inlet.noop`.
    pub fn new() -> Self {
        App {
            services: vec![Arc::new(Ping), Arc::new(Echo), Arc::new(Noop)],
        }
    }

    /// Registers a service under its name.
    pub fn service(mut self, service: impl Service) -> Self {
        self.services.push(Arc::new(service));
        self
    }

    /// Registers a service that is already type-erased.
    pub fn dyn_service(mut self, service: Arc<dyn DynService>) -> Self {
        self.services.push(service);
        self
    }

    /// The registered service names, sorted.
    pub fn service_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.services.iter().map(|s| s.name().to_string()).collect();
        names.sort();
        names
    }

    /// Loads the Lua services of `config.services_dir`, if any, checks `config` against all
    /// services, and builds a server for it.
    pub fn build(&self, config: Config) -> anyhow::Result<Server> {
        let names = self.service_names();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            bail!("two services are registered under the name `{}`", pair[0]);
        }
        let services = Services::new(self.services.iter().cloned());
        // Scripts load before the channel check, so that channels may name Lua services.
        let scripts = match &config.services_dir {
            Some(dir) => Some(Deployment::start(dir, &config.lua, services.clone())?),
            None => None,
        };
        let names = services.names();
        let known: Vec<&str> = names.iter().map(String::as_str).collect();
        config.check_services(|name| services.contains(name), &known)?;
        Ok(Server::new(config, services, scripts))
    }

    /// Runs the CLI with the process's arguments, and returns the exit code.
    pub fn main(self) -> ExitCode {
        crate::cli::run(self, std::env::args_os())
    }
}
