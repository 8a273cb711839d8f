//! One call of a Lua service: take a state, hand the request and the context to the
//! prelude's `dispatch`, and turn what comes back into a [`Response`] or a [`ServiceError`].
//!
//! A call made from inside a Lua call of the same generation (Lua → Rust → Lua, or Lua →
//! Lua) runs in the state the outer call already holds, as a second coroutine. Taking a
//! second state instead could deadlock: with every state held by a caller waiting for its
//! callee, no callee could ever get one.

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use http::{HeaderName, HeaderValue, StatusCode};
use mlua::{Lua, MultiValue, UserData, UserDataMethods, Value as LuaValue};

use super::budget::Budget;
use super::convert;
use super::pool::Generation;
use super::state::LuaState;
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
    let raw_context = RawContext {
        ctx,
        budget: Arc::clone(state.budget()),
    };
    let result = state
        .dispatch()
        .call_async::<MultiValue>((name, RawRequest(request), raw_context))
        .await;
    let (outcome, spoiled) = interpret(name, &state, result);
    if spoiled && let Some(lease) = lease.as_mut() {
        lease.discard();
    }
    outcome
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
    let response = build_response(
        &text(1),
        status,
        values.get(3),
        values.get(4),
        values.get(5),
    )
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
    mode: &str,
    status: u16,
    headers: Option<&LuaValue>,
    payload: Option<&LuaValue>,
    content_type: Option<&LuaValue>,
) -> Result<Response, String> {
    let status =
        StatusCode::from_u16(status).map_err(|_| format!("{status} is not an HTTP status"))?;
    let body = match mode {
        "empty" => Body::Empty,
        "json" => Body::Json(convert::from_lua(payload.unwrap_or(&LuaValue::Nil))?),
        "raw" => {
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
        other => return Err(format!("unknown response mode {other:?}")),
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

/// The request, as the prelude's request object reads it.
struct RawRequest(Request);

impl UserData for RawRequest {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("payload", |lua, this, ()| match this.0.payload() {
            Ok(value) => Ok((convert::to_lua(lua, value)?, LuaValue::Nil)),
            Err(err) => Ok((
                LuaValue::Nil,
                LuaValue::String(lua.create_string(err.public_message())?),
            )),
        });
        methods.add_method("body", |lua, this, ()| lua.create_string(this.0.raw_body()));
        methods.add_method("headers", |lua, this, ()| {
            let headers = this.0.headers();
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
        });
        methods.add_method("method", |_, this, ()| Ok(this.0.method().to_string()));
        methods.add_method("path", |_, this, ()| Ok(this.0.path().to_string()));
        methods.add_method("query_string", |_, this, ()| {
            Ok(this.0.query_string().to_string())
        });
        methods.add_method("params", |lua, this, ()| {
            let table = lua.create_table()?;
            for (key, value) in this.0.params() {
                table.raw_set(key.as_str(), value.as_str())?;
            }
            Ok(table)
        });
        methods.add_method("query", |lua, this, ()| {
            let table = lua.create_table()?;
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(this.0.query_string()).unwrap_or_default();
            // The first value of a repeated parameter wins, as in `Request::query`.
            for (key, value) in pairs.into_iter().rev() {
                table.raw_set(key, value)?;
            }
            Ok(table)
        });
        methods.add_method("peer", |_, this, ()| {
            Ok(this.0.peer().map(|peer| peer.to_string()))
        });
    }
}

/// The context, as the prelude's context object reads it.
struct RawContext {
    ctx: Context,
    budget: Arc<Budget>,
}

impl UserData for RawContext {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("cid", |_, this, ()| Ok(this.ctx.cid().to_string()));
        methods.add_method("config", |lua, this, ()| {
            let user = this.ctx.config();
            let table = lua.create_table()?;
            for name in user.section_names() {
                if let Some(section) = user.get(name) {
                    table.raw_set(name, convert::to_lua(lua, section)?)?;
                }
            }
            Ok(table)
        });
        methods.add_async_method(
            "invoke",
            |lua, this, (name, payload): (String, LuaValue)| async move {
                let payload = match encode_payload("invoke", &payload) {
                    Ok(payload) => payload,
                    Err(err) => return failed(&lua, &err),
                };
                let started = Instant::now();
                let result = this.ctx.invoke(&name, payload).await;
                // The time spent in the other service is not this script's running time.
                this.budget.exclude(started.elapsed());
                match result {
                    Ok(response) => answer(&lua, response),
                    Err(err) => failed(&lua, &err),
                }
            },
        );
        methods.add_async_method(
            "invoke_async",
            |lua, this, (name, payload): (String, LuaValue)| async move {
                let payload = match encode_payload("invoke_async", &payload) {
                    Ok(payload) => payload,
                    Err(err) => return failed(&lua, &err),
                };
                let started = Instant::now();
                let result = this.ctx.invoke_async(&name, payload).await;
                this.budget.exclude(started.elapsed());
                match result {
                    Ok(job) => Ok(MultiValue::from_iter([
                        LuaValue::Boolean(true),
                        LuaValue::String(lua.create_string(job.to_string())?),
                    ])),
                    Err(err) => failed(&lua, &err),
                }
            },
        );
    }
}

fn encode_payload(what: &str, payload: &LuaValue) -> Result<serde_json::Value, ServiceError> {
    convert::from_lua(payload).map_err(|message| {
        ServiceError::internal(anyhow::anyhow!(
            "ctx:{what}: cannot encode the payload as JSON: {message}"
        ))
    })
}

/// `true, payload, { status =, headers = }` for the prelude's `ctx:invoke`.
fn answer(lua: &Lua, response: Response) -> mlua::Result<MultiValue> {
    let payload = match &response.body {
        Body::Empty => LuaValue::Nil,
        Body::Json(value) => convert::to_lua(lua, value)?,
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
