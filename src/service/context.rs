//! What a service can reach besides its request: the cid, the user config, and other services.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::background::{Background, JobId};
use super::{ErrorKind, Request, Response, ServiceError, Services, call_guarded};
use crate::config::UserConfig;
use crate::lua::HeldState;

/// How deep `invoke` may nest before it fails, so that two services invoking each other
/// cannot recurse until the stack runs out.
pub const MAX_INVOKE_DEPTH: u32 = 16;

/// State shared by every call made by one server.
pub(crate) struct Shared {
    pub services: Services,
    pub user: Arc<UserConfig>,
    pub background: Arc<dyn Background>,
}

/// The context of one service call. Cheap to clone.
#[derive(Clone)]
pub struct Context {
    shared: Arc<Shared>,
    cid: Arc<str>,
    depth: u32,
    /// The Lua state this call chain holds, if a Lua service is on the stack; a nested Lua
    /// call of the same generation runs in it rather than waiting for another.
    lua: Option<HeldState>,
}

impl Context {
    pub(crate) fn new(shared: Arc<Shared>, cid: Arc<str>) -> Self {
        Context {
            shared,
            cid,
            depth: 0,
            lua: None,
        }
    }

    /// The correlation id of the request this call follows from. Every log line in the call
    /// carries it already; use it to tag records you write elsewhere.
    pub fn cid(&self) -> &str {
        &self.cid
    }

    /// The `[config.SECTION]` tables of the config file.
    pub fn config(&self) -> &UserConfig {
        &self.shared.user
    }

    /// Runs the service `name` now, with `payload` as its request, and returns its response.
    ///
    /// Errors from the invoked service come back as they are, so `?` passes a 422 through.
    pub async fn invoke(
        &self,
        name: &str,
        payload: impl Serialize,
    ) -> Result<Response, ServiceError> {
        if self.depth >= MAX_INVOKE_DEPTH {
            return Err(ServiceError::internal(anyhow::anyhow!(
                "invoke of `{name}` refused: calls are nested {MAX_INVOKE_DEPTH} deep, which is the limit"
            )));
        }
        let service = self
            .shared
            .services
            .get(name)
            .ok_or_else(|| not_deployed(name))?;
        let payload = to_payload(name, payload)?;
        let child = Context {
            depth: self.depth + 1,
            ..self.clone()
        };
        tracing::debug!(service = name, depth = child.depth, "invoke");
        call_guarded(service.as_ref(), Request::from_payload(payload), child).await
    }

    /// Hands `payload` to the service `name` to run in the background, and returns at once
    /// with the id of the job. The job carries this call's cid.
    pub async fn invoke_async(
        &self,
        name: &str,
        payload: impl Serialize,
    ) -> Result<JobId, ServiceError> {
        if !self.shared.services.contains(name) {
            return Err(not_deployed(name));
        }
        let payload = to_payload(name, payload)?;
        self.shared.background.submit(self, name, payload).await
    }

    pub(crate) fn held_lua(&self) -> Option<&HeldState> {
        self.lua.as_ref()
    }

    pub(crate) fn with_held_lua(self, held: HeldState) -> Context {
        Context {
            lua: Some(held),
            ..self
        }
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("cid", &self.cid)
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

pub(crate) fn not_deployed(name: &str) -> ServiceError {
    ServiceError::with_kind(
        ErrorKind::NotDeployed,
        format!("service {name} is not deployed"),
    )
}

fn to_payload(name: &str, payload: impl Serialize) -> Result<Value, ServiceError> {
    serde_json::to_value(payload).map_err(|err| {
        ServiceError::internal(anyhow::anyhow!(
            "cannot serialise the payload for `{name}`: {err}"
        ))
    })
}
