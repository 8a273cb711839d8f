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
use std::time::Instant;

use futures_util::future::BoxFuture;
use http::{HeaderName, HeaderValue, StatusCode};
use mlua::{IntoLuaMulti, Lua, MultiValue, Value as LuaValue};

use super::bridge::CallData;
use super::convert;
use super::pool::Generation;
use super::state::{LuaState, is_invoke_marker};
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
        Box::pin(run(Arc::clone(&self.generation), &self.name, request, ctx))
    }
}

async fn run(
    generation: Arc<Generation>,
    name: &str,
    request: Request,
    ctx: Context,
) -> Result<Response, ServiceError> {
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
    let call = state.calls().enter(CallData {
        request,
        ctx: ctx.clone(),
    });
    let (outcome, spoiled) = drive(&state, name, call.id(), &ctx).await;
    drop(call);
    if spoiled && let Some(lease) = lease.as_mut() {
        lease.discard();
    }
    outcome
}

/// Runs the call to its end, serving the invokes it yields on the way.
async fn drive(
    state: &LuaState,
    name: &str,
    id: u64,
    ctx: &Context,
) -> (Result<Response, ServiceError>, bool) {
    let started = state
        .take_thread()
        .and_then(|thread| Ok((thread, (name, id).into_lua_multi(state.lua())?)));
    let (thread, mut args) = match started {
        Ok(started) => started,
        Err(err) => return interpret(name, state, Err(err)),
    };
    loop {
        let result = thread.resume::<MultiValue>(args);
        match result {
            Ok(values) if is_invoke_marker(values.front()) => {
                args = match serve_invoke(state, ctx, values).await {
                    Ok(args) => args,
                    Err(err) => return interpret(name, state, Err(err)),
                };
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
