//! A generation: one deployed version of the scripts, and the pool of Lua states that run it.
//!
//! A Lua state runs one thing at a time, so a request takes a state from the pool for the
//! length of its Lua call and gives it back afterwards; with as many states as cores, Lua
//! runs on every core. States are created on demand, up to `[lua] states`, by loading the
//! generation's scripts into a fresh VM. A request that finds every state busy waits for one
//! (asynchronously: it holds no thread), within the channel's `service_timeout`.
//!
//! Every hot reload builds a new generation and leaves the old one alone: requests that hold
//! one of its states finish on it, and it is freed when the last of them ends.

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::state::{LuaState, StateSettings};
use crate::service::ServiceError;

/// One script as a generation loads it into each of its states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Script {
    /// The path as shown in messages, which is also the Lua chunk name.
    pub path: String,
    pub source: Arc<str>,
}

/// One deployed version of the scripts, with its pool of states.
#[derive(Debug)]
pub(crate) struct Generation {
    id: u64,
    scripts: Vec<Script>,
    settings: Arc<StateSettings>,
    idle: Mutex<Vec<LuaState>>,
    /// One permit per state that exists or may be created.
    slots: Arc<Semaphore>,
}

impl Generation {
    /// A generation whose first state, `first`, already has `scripts` loaded.
    pub fn new(
        id: u64,
        scripts: Vec<Script>,
        settings: Arc<StateSettings>,
        first: LuaState,
    ) -> Arc<Generation> {
        let states = settings.config.states;
        Arc::new(Generation {
            id,
            scripts,
            settings,
            idle: Mutex::new(vec![first]),
            slots: Arc::new(Semaphore::new(states)),
        })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn scripts(&self) -> &[Script] {
        &self.scripts
    }

    /// Takes an idle state, creating one if none is idle and the pool is not full, or waits.
    /// The state's budget is armed for a new call.
    pub async fn checkout(self: &Arc<Self>) -> Result<Lease, ServiceError> {
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| ServiceError::internal(anyhow::anyhow!("the Lua pool is closed")))?;
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let state = match idle {
            Some(state) => state,
            None => self
                .create_state()
                .map_err(|message| ServiceError::internal(anyhow::anyhow!(message)))?,
        };
        state.budget().arm();
        Ok(Lease {
            generation: Arc::clone(self),
            state: Some(state),
            discard: false,
            _permit: permit,
        })
    }

    fn create_state(&self) -> Result<LuaState, String> {
        let state = LuaState::new(&self.settings)?;
        for script in &self.scripts {
            // Every script loaded once already, when this generation was built; one that
            // fails now (it depends on the clock, say) loses only its own services here.
            if let Err(message) = state.load_script(&script.path, &script.source) {
                tracing::error!(file = script.path, error = %message, "Lua script failed to load into a new state");
            }
        }
        Ok(state)
    }
}

/// A state taken from a generation's pool; dropping it gives the state back.
pub(crate) struct Lease {
    generation: Arc<Generation>,
    state: Option<LuaState>,
    discard: bool,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    pub fn state(&self) -> &LuaState {
        self.state
            .as_ref()
            .expect("a lease holds its state until dropped")
    }

    /// Drops the state instead of giving it back: after a runaway call it may hold garbage
    /// up to its memory limit, or a script's half-updated globals. The pool creates a fresh
    /// one when it needs it.
    pub fn discard(&mut self) {
        self.discard = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(state) = self.state.take()
            && !self.discard
        {
            self.generation
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(state);
        }
    }
}
