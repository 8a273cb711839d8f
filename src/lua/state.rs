//! One sandboxed Lua state: the VM, its limits, the prelude, and the scripts loaded into it.
//!
//! A state is created with only the safe standard libraries (plus what `[lua] grant` names),
//! a memory limit, and an instruction hook that charges the state's [`Budget`]. The prelude
//! (`prelude.lua`) then builds the sandbox and hands back its entry points, `load_file` and
//! `worker`, and what a call's `req` and `ctx` are made of; they are kept here so that a call
//! does not look them up each time.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mlua::{
    Function, HookTriggers, LightUserData, Lua, LuaOptions, StdLib, Table, Thread,
    Value as LuaValue, VmState,
};

use mlua::thread::ThreadStatus;

use super::bridge::Calls;
use super::budget::{Budget, HOOK_EVERY};
use super::tape::Tape;
use crate::config::LuaConfig;

/// The value `ctx:invoke` yields to Inlet: the address of this static, as a light userdata,
/// which Lua code cannot forge.
static INVOKE_MARKER: u8 = 0;

/// Idle coroutines kept per state; more are created when calls nest deeper.
const SPARE_THREADS: usize = 8;

const PRELUDE: &str = include_str!("prelude.lua");

/// Everything needed to create a state: the same for every state of a deployment.
#[derive(Debug)]
pub(crate) struct StateSettings {
    pub config: LuaConfig,
    /// Names of the compiled-in services, which a script may not define.
    pub reserved: BTreeSet<String>,
    /// Where `require` looks, when `package` is granted.
    pub services_dir: PathBuf,
}

/// The prelude's pieces of a call's `req` and `ctx` objects: each is a table that holds the
/// call id under `raw_key` (a table no script can name), with its metatable.
pub(crate) struct CallObjects {
    pub raw_key: Table,
    pub request_mt: Table,
    pub context_mt: Table,
}

/// A Lua state ready to run services. Cheap to clone: clones share the one VM.
#[derive(Clone)]
pub(crate) struct LuaState {
    inner: Arc<Inner>,
}

struct Inner {
    budget: Arc<Budget>,
    calls: Arc<Calls>,
    array_mt: Table,
    load_file: Function,
    /// The prelude's `worker`: the body of the coroutines that calls run in.
    worker: Function,
    /// What `call.rs` builds a call's `req` and `ctx` from.
    call_objects: CallObjects,
    threads: Mutex<Vec<Thread>>,
    /// Where a call's JSON payload is parsed before it is pushed (see `tape.rs`).
    tape: Mutex<Tape>,
    /// Last, so that the handles above are released before the VM closes.
    lua: Lua,
}

impl LuaState {
    /// A fresh state with the prelude loaded and no scripts.
    pub fn new(settings: &StateSettings) -> Result<LuaState, String> {
        Self::build(settings).map_err(|err| format!("cannot create a Lua state: {err}"))
    }

    fn build(settings: &StateSettings) -> mlua::Result<LuaState> {
        let grants = settings.config.grants;
        // `debug` is always loaded so that the prelude can keep `debug.traceback` for error
        // logs; the prelude hides the library itself unless it is granted.
        let mut libs = StdLib::TABLE
            | StdLib::STRING
            | StdLib::MATH
            | StdLib::UTF8
            | StdLib::COROUTINE
            | StdLib::DEBUG;
        if grants.os {
            libs |= StdLib::OS;
        }
        if grants.io {
            libs |= StdLib::IO;
        }
        if grants.package {
            libs |= StdLib::PACKAGE;
        }
        // SAFETY: `unsafe_new_with` is needed only to load `debug`. Scripts reach neither
        // `debug` nor C modules unless `[lua] grant` names them: the prelude builds the
        // sandbox from an explicit allow-list and removes the C loaders from `package`.
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::default()) };

        let budget = Arc::new(Budget::new(
            settings.config.max_instructions,
            settings.config.time_limit,
        ));
        let hook_budget = Arc::clone(&budget);
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |lua, _| match hook_budget.charge(u64::from(HOOK_EVERY)) {
                // Yield only the coroutine Inlet resumed (see budget.rs); mlua yields only
                // where Lua can (not across a C call), and runs on otherwise.
                Ok(())
                    if hook_budget.slice_over()
                        && lua.current_thread().to_pointer() as usize == hook_budget.running() =>
                {
                    Ok(VmState::Yield)
                }
                Ok(()) => Ok(VmState::Continue),
                Err(trip) => Err(mlua::Error::runtime(hook_budget.describe(trip))),
            },
        )?;
        budget.arm();

        // Calls allocate a few short-lived tables each; the generational collector handles
        // that pattern with less work than the incremental one, and letting the young
        // generation double before a minor collection halves the collector's share again.
        // A major collection waits until memory is ten times what the last one left: at
        // the default (double), a young generation allowed to double already crossed that
        // line, so nearly every step was a full collection. The memory limit still holds,
        // since Lua collects in full before it fails an allocation.
        lua.gc_set_mode(mlua::state::GcMode::Generational(
            mlua::state::GcGenParams::default()
                .minor_multiplier(100)
                .minor_to_major(1000),
        ));

        let array_mt = lua.create_table()?;
        array_mt.raw_set("__jsonarray", true)?;
        array_mt.raw_set("__name", "inlet.json.array")?;

        let raw = super::api::primitives(&lua, &array_mt)?;
        let calls = Arc::new(Calls::default());
        super::bridge::register(&lua, &raw, &calls, &array_mt)?;
        raw.set("invoke_marker", invoke_marker())?;
        let over_budget = Arc::clone(&budget);
        raw.set(
            "over_budget",
            lua.create_function(move |_, ()| Ok(over_budget.tripped().is_some()))?,
        )?;
        let grant_table = lua.create_table()?;
        grant_table.set("os", grants.os)?;
        grant_table.set("io", grants.io)?;
        grant_table.set("package", grants.package)?;
        grant_table.set("debug", grants.debug)?;
        grant_table.set("native", grants.native)?;
        let reserved = lua.create_table()?;
        for name in &settings.reserved {
            reserved.set(name.as_str(), true)?;
        }
        let dir = settings.services_dir.to_string_lossy().to_string();
        let entry: Table = lua.load(PRELUDE).set_name("=inlet/prelude.lua").call((
            raw,
            grant_table,
            reserved,
            dir,
        ))?;

        // The limit comes last so that the prelude never counts against a script's memory.
        lua.set_memory_limit(settings.config.memory_limit)?;
        Ok(LuaState {
            inner: Arc::new(Inner {
                load_file: entry.get("load_file")?,
                worker: entry.get("worker")?,
                call_objects: CallObjects {
                    raw_key: entry.get("raw_key")?,
                    request_mt: entry.get("request_mt")?,
                    context_mt: entry.get("context_mt")?,
                },
                threads: Mutex::new(Vec::new()),
                tape: Mutex::new(Tape::default()),
                budget,
                calls,
                array_mt,
                lua,
            }),
        })
    }

    /// Runs the script `path` (shown in messages as it is given) and registers its services.
    /// Answers the names it defined, or the error with the file and line in it. On error,
    /// nothing of the script is registered.
    pub fn load_script(&self, path: &str, source: &str) -> Result<Vec<String>, String> {
        let inner = &self.inner;
        inner.budget.arm();
        let result = inner
            .load_file
            .call::<(bool, LuaValue)>((path, source))
            .map_err(|err| err.to_string());
        if let Some(trip) = inner.budget.tripped() {
            return Err(format!(
                "{path}: its top level was {}",
                inner.budget.describe(trip)
            ));
        }
        match result? {
            (true, LuaValue::Table(names)) => names
                .sequence_values::<String>()
                .collect::<mlua::Result<Vec<_>>>()
                .map_err(|err| err.to_string()),
            (_, message) => Err(message
                .to_string()
                .unwrap_or_else(|_| format!("{path}: failed to load"))),
        }
    }

    pub fn budget(&self) -> &Arc<Budget> {
        &self.inner.budget
    }

    pub fn lua(&self) -> &Lua {
        &self.inner.lua
    }

    pub fn calls(&self) -> &Arc<Calls> {
        &self.inner.calls
    }

    pub fn array_mt(&self) -> &Table {
        &self.inner.array_mt
    }

    pub fn call_objects(&self) -> &CallObjects {
        &self.inner.call_objects
    }

    /// The state's JSON tape, taken out for one call's start (an empty one if another
    /// start holds it), so that no lock is held while the call runs.
    pub fn take_tape(&self) -> Tape {
        std::mem::take(&mut *self.inner.tape.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts a tape back for the next call, without buffers grown large (see `Tape::trim`).
    pub fn give_back_tape(&self, mut tape: Tape) {
        tape.trim();
        *self.inner.tape.lock().unwrap_or_else(|e| e.into_inner()) = tape;
    }

    /// A coroutine waiting to run a call: an idle one, or a new one.
    pub fn take_thread(&self) -> mlua::Result<Thread> {
        let idle = self.lock_threads().pop();
        match idle {
            Some(thread) => Ok(thread),
            None => self.inner.lua.create_thread(self.inner.worker.clone()),
        }
    }

    /// Keeps a coroutine that finished its call cleanly for the next one.
    pub fn give_back_thread(&self, thread: Thread) {
        if thread.status() == ThreadStatus::Resumable {
            let mut threads = self.lock_threads();
            if threads.len() < SPARE_THREADS {
                threads.push(thread);
            }
        }
    }

    fn lock_threads(&self) -> std::sync::MutexGuard<'_, Vec<Thread>> {
        self.inner.threads.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// True when `value` is what `ctx:invoke` yields.
pub(crate) fn is_invoke_marker(value: Option<&LuaValue>) -> bool {
    matches!(value, Some(LuaValue::LightUserData(ud)) if ud.0 == invoke_marker().0)
}

fn invoke_marker() -> LightUserData {
    LightUserData(std::ptr::addr_of!(INVOKE_MARKER) as *mut std::ffi::c_void)
}

impl std::fmt::Debug for LuaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaState")
            .field("used_memory", &self.inner.lua.used_memory())
            .finish_non_exhaustive()
    }
}
