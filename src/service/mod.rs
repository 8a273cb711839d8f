//! Services, in the Zato sense: named handlers that get a request and answer it.
//!
//! A service implements [`Service`]. It receives a [`Request`] (payload, raw body, headers,
//! path parameters) and a [`Context`] (cid, user config, `invoke`, `invoke_async`), and returns
//! a [`Response`] or a [`ServiceError`]. The registry stores services as [`DynService`], the
//! object-safe form that every `Service` gets for free.

pub mod background;
mod builtin;
mod context;
mod error;
mod registry;
mod request;
mod response;

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

pub use self::background::JobId;
pub use self::builtin::{Echo, Noop, Ping};
pub(crate) use self::context::Shared;
pub use self::context::{Context, MAX_INVOKE_DEPTH};
pub use self::error::{ErrorKind, ServiceError};
pub use self::registry::Services;
pub use self::request::Request;
pub use self::response::{Body, Response};

/// A named unit of logic, such as `webhooks.jira.receive`.
///
/// ```
/// use inlet::{Context, Request, Response, Service, ServiceError};
///
/// struct Hello;
///
/// impl Service for Hello {
///     fn name(&self) -> &str {
///         "hello"
///     }
///
///     async fn handle(&self, request: Request, _ctx: Context) -> Result<Response, ServiceError> {
///         let name = request.payload()?["name"].as_str().unwrap_or("world").to_string();
///         Ok(Response::json(serde_json::json!({ "hello": name })))
///     }
/// }
/// ```
pub trait Service: Send + Sync + 'static {
    /// The name that channels and `invoke` use.
    fn name(&self) -> &str;

    /// Handles one request.
    fn handle(
        &self,
        request: Request,
        ctx: Context,
    ) -> impl Future<Output = Result<Response, ServiceError>> + Send;
}

/// The object-safe form of [`Service`], as the registry stores it.
pub trait DynService: Send + Sync + 'static {
    fn name(&self) -> &str;
    fn call(&self, request: Request, ctx: Context)
    -> BoxFuture<'_, Result<Response, ServiceError>>;
}

impl<S: Service> DynService for S {
    fn name(&self) -> &str {
        Service::name(self)
    }

    fn call(
        &self,
        request: Request,
        ctx: Context,
    ) -> BoxFuture<'_, Result<Response, ServiceError>> {
        Box::pin(self.handle(request, ctx))
    }
}

/// Calls `service`, turning a panic inside it into an error so that one bad request never
/// takes down the server.
pub(crate) async fn call_guarded(
    service: &dyn DynService,
    request: Request,
    ctx: Context,
) -> Result<Response, ServiceError> {
    match AssertUnwindSafe(service.call(request, ctx))
        .catch_unwind()
        .await
    {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-string panic payload".to_string());
            Err(ServiceError::with_kind(
                ErrorKind::Panic,
                format!("service `{}` panicked: {message}", service.name()),
            ))
        }
    }
}
