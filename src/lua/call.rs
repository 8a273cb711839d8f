//! One call of a Lua service: take a state, run the service in one of its coroutines, and
//! turn what comes back into a [`Response`] or a [`ServiceError`].
//!
//! `ctx:invoke` and `ctx:invoke_async` yield the coroutine back to [`drive`], which runs the
//! other service without holding the Lua state and resumes the coroutine with the answer.
//! A call made from inside a Lua call of the same generation (Lua → Rust → Lua, or Lua →
//! Lua) runs in the state the outer call already holds, in another coroutine: taking a
//! second state instead could deadlock, with every state held by a caller waiting for its
//! callee and no callee able to get one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::future::BoxFuture;
use http::{HeaderName, HeaderValue, StatusCode};
use mlua::thread::ThreadStatus;
use mlua::{IntoLuaMulti, Lua, MultiValue, Thread, Value as LuaValue, ffi};

use super::bridge::CallData;
use super::convert;
use super::pool::Generation;
use super::state::{LuaState, is_invoke_marker};
use super::tape::Tape;
use crate::service::{Body, Context, DynService, ErrorKind, Request, Response, ServiceError};

/// The Lua state a call chain holds, carried in its [`Context`] so that nested calls reuse it.
#[derive(Clone, Debug)]
pub(crate) struct HeldState {
    generation: u64,
    state: LuaState,
}

/// A service defined by a Lua script, as the registry holds it.
pub(crate) struct LuaService {
    pub name: String,
    pub generation: Arc<Generation>,
    /// Whether a call of this service has read `req.payload`. From then on the payload is
    /// converted in the same protected pass that starts the call, which costs a good deal
    /// less than the lazy field read (a metamethod, a Rust callback and a second protected
    /// pass); a service that never reads its payload never has it parsed.
    pub reads_payload: AtomicBool,
}

impl LuaService {
    pub fn new(name: String, generation: Arc<Generation>) -> LuaService {
        LuaService {
            name,
            generation,
            reads_payload: AtomicBool::new(false),
        }
    }
}

impl DynService for LuaService {
    fn name(&self) -> &str {
        &self.name
    }

    fn call(
        &self,
        request: Request,
        ctx: Context,
    ) -> BoxFuture<'_, Result<Response, ServiceError>> {
        Box::pin(run(self, request, ctx))
    }
}

async fn run(
    service: &LuaService,
    request: Request,
    ctx: Context,
) -> Result<Response, ServiceError> {
    let (generation, name) = (&service.generation, service.name.as_str());
    let held = ctx
        .held_lua()
        .filter(|held| held.generation == generation.id())
        .map(|held| held.state.clone());
    let (state, mut lease) = match held {
        Some(state) => (state, None),
        None => {
            let lease = generation.checkout().await?;
            (lease.state().clone(), Some(lease))
        }
    };
    let ctx = ctx.with_held_lua(HeldState {
        generation: generation.id(),
        state: state.clone(),
    });
    let call = state.calls().enter(CallData::new(request, ctx.clone()));
    let payload = if service.reads_payload.load(Ordering::Relaxed) {
        Handover::of(&call.data().request)
    } else {
        Handover::Nothing
    };
    let (outcome, spoiled) = drive(&state, name, call.id(), payload, &ctx).await;
    if call.data().payload_read.load(Ordering::Relaxed) {
        service.reads_payload.store(true, Ordering::Relaxed);
    }
    drop(call);
    if spoiled && let Some(lease) = lease.as_mut() {
        lease.discard();
    }
    outcome
}

/// The payload handed over with a call, for a service that reads it.
///
/// A payload that does not parse is not handed over: the lazy read raises it as a 400
/// where the script reads it.
#[derive(Clone, Copy)]
enum Handover<'a> {
    Nothing,
    /// JSON text nobody has parsed: it goes to Lua through the state's tape, without a
    /// `serde_json::Value` in between.
    Json(&'a [u8]),
    /// A payload that exists already (an `invoke`'s, or another format's).
    Value(&'a serde_json::Value),
}

impl<'a> Handover<'a> {
    fn of(request: &'a Request) -> Handover<'a> {
        match request.unparsed_json() {
            Some(text) => Handover::Json(text),
            None => request.payload().map_or(Handover::Nothing, Handover::Value),
        }
    }
}

/// Runs the call to its end, serving the invokes it yields on the way.
async fn drive(
    state: &LuaState,
    name: &str,
    id: u64,
    payload: Handover<'_>,
    ctx: &Context,
) -> (Result<Response, ServiceError>, bool) {
    let thread = match state.take_thread() {
        Ok(thread) => thread,
        Err(err) => return interpret(name, state, Err(err)),
    };
    state.budget().resuming(thread.to_pointer());
    let mut result = match start(state, &thread, name, id, payload) {
        Ok(Started::Empty(status)) if state.budget().tripped().is_none() => {
            state.give_back_thread(thread);
            return (empty_response(name, status), false);
        }
        // Reports the tripped budget.
        Ok(Started::Empty(_)) => return interpret(name, state, Ok(MultiValue::new())),
        Ok(Started::Yielded(values)) => Ok(values),
        Err(err) => Err(err),
    };
    loop {
        match result {
            Ok(values) if is_invoke_marker(values.front()) => {
                // Boxed: the other service's future is large, and kept inline it would
                // make every call's future (allocated per call) that much larger.
                let args = match Box::pin(serve_invoke(state, ctx, values)).await {
                    Ok(args) => args,
                    Err(err) => return interpret(name, state, Err(err)),
                };
                state.budget().resuming(thread.to_pointer());
                result = thread.resume::<MultiValue>(args);
            }
            // The hook ended the call's time slice (a finished call always yields values):
            // other tasks on this thread go first, and the wait is not the call's running time.
            Ok(values) if values.is_empty() && thread.status() == ThreadStatus::Resumable => {
                let paused = Instant::now();
                tokio::task::yield_now().await;
                state.budget().exclude(paused.elapsed());
                state.budget().resuming(thread.to_pointer());
                result = thread.resume::<MultiValue>(());
            }
            other => {
                let (outcome, spoiled) = interpret(name, state, other);
                if !spoiled {
                    state.give_back_thread(thread);
                }
                return (outcome, spoiled);
            }
        }
    }
}

/// What the first resume of a call gave back.
enum Started {
    /// The service returned nothing, or a response with no payload and no headers: its
    /// status. Most webhook services answer this way, so it skips building a `MultiValue`.
    Empty(i64),
    /// Anything else the coroutine yielded: an outcome for [`interpret`], or an invoke.
    Yielded(MultiValue),
}

/// Starts a call in `thread` (a coroutine running the prelude's `worker`): builds the
/// call's `req` (with the payload, when it is handed over) and `ctx`, and resumes with the
/// service name and those two, all in one protected pass through the C API. mlua's
/// `Thread::resume` would take a protected call for the name alone (strings are pushed
/// under protection once a memory limit is set), the prelude would build each object with
/// a table constructor and a call to `setmetatable`, and the lazy payload read would take
/// another protected call from inside the call.
fn start(
    state: &LuaState,
    thread: &Thread,
    name: &str,
    id: u64,
    payload: Handover<'_>,
) -> mlua::Result<Started> {
    let mut status = ffi::LUA_OK;
    let mut empty = None;
    // Parsed here, before the protected pass, which then only reads the tape.
    let mut tape = state.take_tape();
    let payload = match payload {
        Handover::Json(text) => match tape.parse(text) {
            Ok(()) => Pushed::Tape(&tape),
            Err(_) => Pushed::Nothing,
        },
        Handover::Value(value) => Pushed::Value(value),
        Handover::Nothing => Pushed::Nothing,
    };
    let objects = state.call_objects();
    let args = (
        state.array_mt(),
        thread,
        &objects.raw_key,
        &objects.request_mt,
        &objects.context_mt,
    );
    // SAFETY: `exec_raw` runs the closure in a protected call with its arguments at indexes
    // 1 to 5: the array metatable (at index 1, as `push_json` and `Tape::push` need), the
    // coroutine, the key of the call id, and the metatables of `req` and `ctx`; mlua holds
    // a reference to each, so they stay alive. The closure holds nothing that needs
    // dropping, so a Lua error (out of memory) unwinding through it leaks nothing; it
    // writes only the two plain locals it borrows. It uses at most a dozen stack slots
    // beyond its arguments (the payload checks its own), within the twenty a C function
    // is given. It leaves on the stack what `exec_raw` then returns: nothing (the empty
    // fast path), the values the coroutine yielded, or the error it raised.
    let values = unsafe {
        state.lua().exec_raw::<MultiValue>(args, |lua_state| {
            let co = ffi::lua_tothread(lua_state, 2);
            ffi::lua_pushlstring(lua_state, name.as_ptr().cast(), name.len());
            // req: sized for both fields, so that a lazy payload read does not grow it.
            ffi::lua_createtable(lua_state, 0, 2);
            ffi::lua_pushvalue(lua_state, 3);
            ffi::lua_pushinteger(lua_state, id as ffi::lua_Integer);
            ffi::lua_rawset(lua_state, -3);
            match payload {
                Pushed::Nothing => {}
                Pushed::Tape(tape) => {
                    ffi::lua_pushstring(lua_state, c"payload".as_ptr());
                    tape.push(lua_state);
                    ffi::lua_rawset(lua_state, -3);
                }
                Pushed::Value(value) => {
                    ffi::lua_pushstring(lua_state, c"payload".as_ptr());
                    convert::push_json(lua_state, value, 0);
                    ffi::lua_rawset(lua_state, -3);
                }
            }
            ffi::lua_pushvalue(lua_state, 4);
            ffi::lua_setmetatable(lua_state, -2);
            // ctx
            ffi::lua_createtable(lua_state, 0, 1);
            ffi::lua_pushvalue(lua_state, 3);
            ffi::lua_pushinteger(lua_state, id as ffi::lua_Integer);
            ffi::lua_rawset(lua_state, -3);
            ffi::lua_pushvalue(lua_state, 5);
            ffi::lua_setmetatable(lua_state, -2);
            let nargs = 3;
            if ffi::lua_checkstack(co, nargs) == 0 {
                ffi::lua_pushstring(lua_state, c"no stack space to start a call".as_ptr());
                ffi::lua_error(lua_state);
            }
            ffi::lua_xmove(lua_state, co, nargs);
            ffi::lua_settop(lua_state, 0);
            let mut nresults = 0;
            status = ffi::lua_resume(co, lua_state, nargs, &mut nresults);
            if status != ffi::LUA_OK && status != ffi::LUA_YIELD {
                // The error object is the coroutine's top value; the coroutine is dead.
                ffi::lua_xmove(co, lua_state, 1);
                return;
            }
            let first = ffi::lua_gettop(co) - nresults + 1;
            let is_empty = nresults >= 3
                && ffi::lua_type(co, first) == ffi::LUA_TBOOLEAN
                && ffi::lua_toboolean(co, first) != 0
                && ffi::lua_isinteger(co, first + 1) != 0
                && ffi::lua_tointegerx(co, first + 1, std::ptr::null_mut()) == 0
                && ffi::lua_isinteger(co, first + 2) != 0
                && (nresults < 4 || ffi::lua_type(co, first + 3) == ffi::LUA_TNIL);
            if is_empty {
                empty = Some(ffi::lua_tointegerx(co, first + 2, std::ptr::null_mut()));
            } else {
                if ffi::lua_checkstack(lua_state, nresults) == 0 {
                    ffi::lua_settop(co, 0);
                    ffi::lua_pushstring(lua_state, c"too many results".as_ptr());
                    ffi::lua_error(lua_state);
                }
                ffi::lua_xmove(co, lua_state, nresults);
            }
            // A yielded coroutine waits with an empty stack, as mlua leaves it.
            ffi::lua_settop(co, 0);
        })
    };
    state.give_back_tape(tape);
    let values = values?;
    if status != ffi::LUA_OK && status != ffi::LUA_YIELD {
        let message = match values.front() {
            Some(value) => value.to_string().unwrap_or_else(|_| "an error".to_string()),
            None => "an error".to_string(),
        };
        return Err(match status {
            ffi::LUA_ERRMEM => mlua::Error::MemoryError(message),
            _ => mlua::Error::RuntimeError(message),
        });
    }
    Ok(match empty {
        Some(status) => Started::Empty(status),
        None => Started::Yielded(values),
    })
}

/// What `start` pushes as the payload argument.
#[derive(Clone, Copy)]
enum Pushed<'a> {
    Nothing,
    Tape(&'a Tape),
    Value(&'a serde_json::Value),
}

/// The answer of a service that returned no payload.
fn empty_response(name: &str, status: i64) -> Result<Response, ServiceError> {
    let status = u16::try_from(status)
        .ok()
        .and_then(|status| StatusCode::from_u16(status).ok())
        .ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!(
                "Lua service `{name}` returned a bad response: {status} is not an HTTP status"
            ))
        })?;
    Ok(Response {
        status,
        ..Response::empty()
    })
}

/// Runs what `ctx:invoke` or `ctx:invoke_async` asked for (`marker, what, id, name,
/// payload`), and answers the values to resume the coroutine with.
async fn serve_invoke(
    state: &LuaState,
    ctx: &Context,
    values: MultiValue,
) -> mlua::Result<MultiValue> {
    let lua = state.lua();
    let text = |index: usize| match values.get(index) {
        Some(LuaValue::String(s)) => s.to_string_lossy(),
        _ => String::new(),
    };
    let (what, name) = (text(1), text(3));
    let payload = match convert::from_lua(values.get(4).unwrap_or(&LuaValue::Nil)) {
        Ok(payload) => payload,
        Err(message) => {
            let err = ServiceError::internal(anyhow::anyhow!(
                "ctx:{what}: cannot encode the payload as JSON: {message}"
            ));
            return failed(lua, &err);
        }
    };
    drop(values);
    let waited = Instant::now();
    let answer = if what == "invoke_async" {
        ctx.invoke_async(&name, payload)
            .await
            .map(|job| Answer::Job(job.to_string()))
    } else {
        ctx.invoke(&name, payload).await.map(Answer::Response)
    };
    // The time spent in the other service is not this script's running time.
    state.budget().exclude(waited.elapsed());
    match answer {
        Ok(Answer::Response(response)) => answer_response(state, response),
        Ok(Answer::Job(job)) => (true, job).into_lua_multi(lua),
        Err(err) => failed(lua, &err),
    }
}

enum Answer {
    Response(Response),
    Job(String),
}

/// The call's outcome, and whether its state should be dropped rather than reused.
fn interpret(
    name: &str,
    state: &LuaState,
    result: mlua::Result<MultiValue>,
) -> (Result<Response, ServiceError>, bool) {
    if let Some(trip) = state.budget().tripped() {
        let message = format!("Lua service `{name}` {}", state.budget().describe(trip));
        return (
            Err(ServiceError::with_kind(ErrorKind::Timeout, message)),
            true,
        );
    }
    let values = match result {
        Ok(values) => values,
        Err(mlua::Error::MemoryError(message)) => {
            return (Err(out_of_memory(name, &message)), true);
        }
        Err(err) => {
            let err = anyhow::anyhow!("Lua service `{name}` failed: {err}");
            return (Err(ServiceError::internal(err)), false);
        }
    };
    let text = |index: usize| match values.get(index) {
        Some(LuaValue::String(s)) => s.to_string_lossy(),
        _ => String::new(),
    };
    let status = match values.get(2) {
        Some(LuaValue::Integer(code)) => u16::try_from(*code).unwrap_or(0),
        _ => 0,
    };
    if !matches!(values.front(), Some(LuaValue::Boolean(true))) {
        let message = text(3);
        let err = match text(1).as_str() {
            "client" => match StatusCode::from_u16(status) {
                Ok(status) => ServiceError::client(status, message),
                Err(_) => ServiceError::internal(anyhow::anyhow!(message)),
            },
            "permanent" => ServiceError::permanent(anyhow::anyhow!(message)),
            "not_deployed" => ServiceError::with_kind(ErrorKind::NotDeployed, message),
            "timeout" => ServiceError::with_kind(ErrorKind::Timeout, message),
            "unavailable" => ServiceError::with_kind(ErrorKind::Unavailable, message),
            "lua" if message == "not enough memory" => {
                return (Err(out_of_memory(name, &message)), true);
            }
            "lua" => {
                ServiceError::internal(anyhow::anyhow!("Lua service `{name}` failed: {message}"))
            }
            _ => ServiceError::internal(anyhow::anyhow!(message)),
        };
        return (Err(err), false);
    }
    let mode = match values.get(1) {
        Some(LuaValue::Integer(mode)) => *mode,
        _ => -1,
    };
    let response = build_response(mode, status, values.get(3), values.get(4), values.get(5))
        .map_err(|message| {
            ServiceError::internal(anyhow::anyhow!(
                "Lua service `{name}` returned a bad response: {message}"
            ))
        });
    (response, false)
}

fn out_of_memory(name: &str, message: &str) -> ServiceError {
    ServiceError::internal(anyhow::anyhow!(
        "Lua service `{name}` ran out of memory ([lua] memory_limit): {message}"
    ))
}

fn build_response(
    mode: i64,
    status: u16,
    headers: Option<&LuaValue>,
    payload: Option<&LuaValue>,
    content_type: Option<&LuaValue>,
) -> Result<Response, String> {
    let status =
        StatusCode::from_u16(status).map_err(|_| format!("{status} is not an HTTP status"))?;
    let body = match mode {
        0 => Body::Empty,
        1 => Body::Json(convert::from_lua(payload.unwrap_or(&LuaValue::Nil))?),
        2 => {
            let bytes = match payload {
                Some(LuaValue::String(s)) => s.as_bytes().to_vec(),
                _ => return Err("a raw response needs a string body".to_string()),
            };
            let content_type = match content_type {
                Some(LuaValue::String(s)) => HeaderValue::from_bytes(&s.as_bytes())
                    .map_err(|_| "the content type is not valid header text".to_string())?,
                _ => HeaderValue::from_static("application/octet-stream"),
            };
            Body::Raw {
                content_type,
                bytes: bytes.into(),
            }
        }
        other => return Err(format!("unknown response mode {other}")),
    };
    let mut response = Response {
        status,
        body,
        ..Response::empty()
    };
    if let Some(LuaValue::Table(headers)) = headers {
        for pair in headers.pairs::<mlua::LuaString, LuaValue>() {
            let (name, value) = pair.map_err(|err| format!("headers: {err}"))?;
            let name = HeaderName::from_bytes(&name.as_bytes())
                .map_err(|_| format!("{:?} is not a header name", name.to_string_lossy()))?;
            let values = match value {
                LuaValue::Table(list) => list
                    .sequence_values::<mlua::LuaString>()
                    .collect::<mlua::Result<Vec<_>>>()
                    .map_err(|err| format!("header {name}: {err}"))?,
                LuaValue::String(value) => vec![value],
                _ => return Err(format!("header {name}: the value must be a string")),
            };
            for value in values {
                let value = HeaderValue::from_bytes(&value.as_bytes())
                    .map_err(|_| format!("header {name}: the value is not valid header text"))?;
                response.headers.append(name.clone(), value);
            }
        }
    }
    Ok(response)
}

/// `true, payload, { status =, headers = }` for the prelude's `ctx:invoke`.
fn answer_response(state: &LuaState, response: Response) -> mlua::Result<MultiValue> {
    let lua = state.lua();
    let payload = match &response.body {
        Body::Empty => LuaValue::Nil,
        Body::Json(value) => convert::to_lua(lua, state.array_mt(), value)?,
        Body::Raw { bytes, .. } => LuaValue::String(lua.create_string(bytes)?),
    };
    let meta = lua.create_table()?;
    meta.raw_set("status", response.status.as_u16())?;
    let headers = lua.create_table()?;
    for (name, value) in &response.headers {
        headers.raw_set(name.as_str(), lua.create_string(value.as_bytes())?)?;
    }
    meta.raw_set("headers", headers)?;
    Ok(MultiValue::from_iter([
        LuaValue::Boolean(true),
        payload,
        LuaValue::Table(meta),
    ]))
}

/// `false, kind, status, message`: a failed `invoke`, which the prelude raises as an
/// `inlet.error` so that an uncaught one fails the caller the same way.
fn failed(lua: &Lua, err: &ServiceError) -> mlua::Result<MultiValue> {
    let kind = match err.kind() {
        ErrorKind::Client(_) => "client",
        ErrorKind::Permanent => "permanent",
        ErrorKind::NotDeployed => "not_deployed",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::Internal | ErrorKind::Panic => "internal",
    };
    // A client error's message is what the client sees; any other keeps its whole cause
    // chain for the log, and the client still gets the opaque 500 text.
    let message = match err.kind() {
        ErrorKind::Client(_) | ErrorKind::NotDeployed => err.public_message(),
        _ => err.to_string(),
    };
    Ok(MultiValue::from_iter([
        LuaValue::Boolean(false),
        LuaValue::String(lua.create_string(kind)?),
        LuaValue::Integer(i64::from(err.status().as_u16())),
        LuaValue::String(lua.create_string(message)?),
    ]))
}
