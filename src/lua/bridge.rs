//! The calls a Lua state is running, and the primitives through which the prelude's `req`
//! and `ctx` objects read them.
//!
//! A call is registered here under a small integer id, and the Lua objects hold only that id.
//! This costs one slot lookup per field read, where a userdata per call would cost an
//! allocation, a metatable check on every method call and a finalizer: that difference is a
//! large part of a Lua call's overhead.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mlua::{Lua, Table, Value as LuaValue};

use super::convert;
use crate::service::{Context, Request};

/// What one call can read: its request and its context.
pub(crate) struct CallData {
    pub request: Request,
    pub ctx: Context,
    /// Set when the script read `req.payload` on first use, so that the service's later
    /// calls get their payload handed over with the call (see `call.rs`).
    pub payload_read: AtomicBool,
}

impl CallData {
    pub fn new(request: Request, ctx: Context) -> CallData {
        CallData {
            request,
            ctx,
            payload_read: AtomicBool::new(false),
        }
    }
}

/// The calls in flight in one Lua state (more than one only when calls nest).
///
/// A slab: a call's id is its slot in the low bits and a per-state sequence number above
/// them, so a slot is found by indexing, and a `req` kept past its call (in a global, say)
/// never reads the later call that reuses its slot: the sequence no longer matches.
#[derive(Default)]
pub(crate) struct Calls {
    slab: Mutex<Slab>,
}

#[derive(Default)]
struct Slab {
    slots: Vec<Option<(u64, Arc<CallData>)>>,
    free: Vec<usize>,
    sequence: u64,
}

/// Bits of an id that name its slot; nesting is bounded, so slots stay few.
const SLOT_BITS: u32 = 16;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;

impl Calls {
    /// Registers a call; it is readable until the guard is dropped.
    pub fn enter(self: &Arc<Self>, data: CallData) -> CallGuard {
        let mut slab = self.lock();
        let slot = match slab.free.pop() {
            Some(slot) => slot,
            None => {
                slab.slots.push(None);
                slab.slots.len() - 1
            }
        };
        slab.sequence += 1;
        let id = (slab.sequence << SLOT_BITS) | (slot as u64 & SLOT_MASK);
        let data = Arc::new(data);
        slab.slots[slot] = Some((id, Arc::clone(&data)));
        drop(slab);
        CallGuard {
            calls: Arc::clone(self),
            id,
            data,
        }
    }

    fn get(&self, id: u64) -> mlua::Result<Arc<CallData>> {
        let slab = self.lock();
        match slab.slots.get((id & SLOT_MASK) as usize) {
            Some(Some((current, data))) if *current == id => Ok(Arc::clone(data)),
            _ => Err(mlua::Error::runtime(
                "this request is over; do not keep req or ctx",
            )),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slab> {
        self.slab.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Keeps a call readable; dropping it (when the call ends, or is abandoned) forgets it.
pub(crate) struct CallGuard {
    calls: Arc<Calls>,
    id: u64,
    data: Arc<CallData>,
}

impl CallGuard {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn data(&self) -> &CallData {
        &self.data
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let mut slab = self.calls.lock();
        let slot = (self.id & SLOT_MASK) as usize;
        if let Some(entry) = slab.slots.get_mut(slot) {
            *entry = None;
            slab.free.push(slot);
        }
    }
}

/// Adds the request and context readers to `raw`, the prelude's table of primitives.
pub(crate) fn register(
    lua: &Lua,
    raw: &Table,
    calls: &Arc<Calls>,
    array_mt: &Table,
) -> mlua::Result<()> {
    // Each reader takes the call id and answers one field.
    fn reader<R: mlua::IntoLuaMulti>(
        lua: &Lua,
        raw: &Table,
        calls: &Arc<Calls>,
        name: &str,
        read: impl Fn(&Lua, &CallData) -> mlua::Result<R> + Send + 'static,
    ) -> mlua::Result<()> {
        let calls = Arc::clone(calls);
        let function = lua.create_function(move |lua, id: u64| read(lua, &*calls.get(id)?))?;
        raw.set(name, function)
    }

    let mt = array_mt.clone();
    reader(lua, raw, calls, "payload", move |lua, call| {
        call.payload_read.store(true, Ordering::Relaxed);
        match call.request.payload() {
            Ok(value) => Ok((convert::to_lua(lua, &mt, value)?, LuaValue::Nil)),
            Err(err) => Ok((
                LuaValue::Nil,
                LuaValue::String(lua.create_string(err.public_message())?),
            )),
        }
    })?;
    reader(lua, raw, calls, "body", |lua, call| {
        lua.create_string(call.request.raw_body())
    })?;
    reader(lua, raw, calls, "headers", |lua, call| {
        let headers = call.request.headers();
        let table = lua.create_table_with_capacity(0, headers.keys_len())?;
        for name in headers.keys() {
            let mut joined = Vec::new();
            for (index, value) in headers.get_all(name).iter().enumerate() {
                if index > 0 {
                    joined.extend_from_slice(b", ");
                }
                joined.extend_from_slice(value.as_bytes());
            }
            table.raw_set(name.as_str(), lua.create_string(joined)?)?;
        }
        Ok(table)
    })?;
    reader(lua, raw, calls, "method", |_, call| {
        Ok(call.request.method().to_string())
    })?;
    reader(lua, raw, calls, "path", |_, call| {
        Ok(call.request.path().to_string())
    })?;
    reader(lua, raw, calls, "query_string", |_, call| {
        Ok(call.request.query_string().to_string())
    })?;
    reader(lua, raw, calls, "params", |lua, call| {
        let table = lua.create_table()?;
        for (key, value) in call.request.params() {
            table.raw_set(key.as_str(), value.as_str())?;
        }
        Ok(table)
    })?;
    reader(lua, raw, calls, "query", |lua, call| {
        let table = lua.create_table()?;
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(call.request.query_string()).unwrap_or_default();
        // The first value of a repeated parameter wins, as in `Request::query`.
        for (key, value) in pairs.into_iter().rev() {
            table.raw_set(key, value)?;
        }
        Ok(table)
    })?;
    reader(lua, raw, calls, "peer", |_, call| {
        Ok(call.request.peer().map(|peer| peer.to_string()))
    })?;
    reader(lua, raw, calls, "cid", |_, call| {
        Ok(call.ctx.cid().to_string())
    })?;
    let mt = array_mt.clone();
    reader(lua, raw, calls, "config", move |lua, call| {
        let user = call.ctx.config();
        let table = lua.create_table()?;
        for name in user.section_names() {
            if let Some(section) = user.get(name) {
                table.raw_set(name, convert::to_lua(lua, &mt, section)?)?;
            }
        }
        Ok(table)
    })?;
    Ok(())
}
