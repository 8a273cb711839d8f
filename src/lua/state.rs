//! One sandboxed Lua state: the VM, its limits, the prelude, and the scripts loaded into it.
//!
//! A state is created with only the safe standard libraries (plus what `[lua] grant` names),
//! a memory limit, and an instruction hook that charges the state's [`Budget`]. The prelude
//! (`prelude.lua`) then builds the sandbox and hands back its two entry points, `load_file`
//! and `dispatch`, which are kept here so that a call does not look them up each time.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value as LuaValue, VmState};

use super::budget::{Budget, HOOK_EVERY};
use super::convert::ARRAY_METATABLE;
use crate::config::LuaConfig;

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

/// A Lua state ready to run services. Cheap to clone: clones share the one VM.
#[derive(Clone)]
pub(crate) struct LuaState {
    inner: Arc<Inner>,
}

struct Inner {
    lua: Lua,
    budget: Arc<Budget>,
    load_file: Function,
    dispatch: Function,
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
            move |_, _| match hook_budget.charge(u64::from(HOOK_EVERY)) {
                Ok(()) => Ok(VmState::Continue),
                Err(trip) => Err(mlua::Error::runtime(hook_budget.describe(trip))),
            },
        )?;
        budget.arm();

        let array_mt = lua.create_table()?;
        array_mt.raw_set("__jsonarray", true)?;
        array_mt.raw_set("__name", "inlet.json.array")?;
        lua.set_named_registry_value(ARRAY_METATABLE, array_mt)?;

        let raw = super::api::primitives(&lua)?;
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
                dispatch: entry.get("dispatch")?,
                budget,
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

    pub fn dispatch(&self) -> &Function {
        &self.inner.dispatch
    }
}

impl std::fmt::Debug for LuaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaState")
            .field("used_memory", &self.inner.lua.used_memory())
            .finish_non_exhaustive()
    }
}
