//! The Rust primitives behind the `inlet` Lua module: JSON, HMAC, constant-time comparison,
//! base64, hex, time and logging.
//!
//! They are handed to `prelude.lua` in one table, and the prelude builds the public API on
//! top of them. A primitive never raises for bad input: it returns `nil, message`, and the
//! prelude raises with `error(message, 2)`, so that the error points at the script's line and
//! not into Rust.

use std::ffi::c_int;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use mlua::{Function, Lua, Table, Value as LuaValue, ffi};

use super::convert;
use crate::security::hmac::{self, Algorithm, Encoding};
use crate::security::secrets_equal;

/// Builds the table of primitives that `prelude.lua` receives.
pub(crate) fn primitives(lua: &Lua, array_mt: &Table) -> mlua::Result<Table> {
    let raw = lua.create_table()?;
    raw.set("null", LuaValue::NULL)?;
    raw.set("array_mt", array_mt)?;

    raw.set(
        "json_encode",
        lua.create_function(|lua, (value, pretty): (LuaValue, Option<bool>)| {
            let json = match convert::from_lua(&value) {
                Ok(json) => json,
                Err(message) => return failure(lua, message),
            };
            let text = if pretty.unwrap_or(false) {
                serde_json::to_string_pretty(&json)
            } else {
                serde_json::to_string(&json)
            };
            match text {
                Ok(text) => Ok((LuaValue::String(lua.create_string(text)?), LuaValue::Nil)),
                Err(err) => failure(lua, err.to_string()),
            }
        })?,
    )?;
    let mt = array_mt.clone();
    raw.set(
        "json_decode",
        lua.create_function(move |lua, text: mlua::LuaString| {
            match serde_json::from_slice::<serde_json::Value>(&text.as_bytes()) {
                Ok(json) => Ok((convert::to_lua(lua, &mt, &json)?, LuaValue::Nil)),
                Err(err) => failure(lua, format!("invalid JSON: {err}")),
            }
        })?,
    )?;

    raw.set(
        "hmac",
        lua.create_function(
            |lua, (algorithm, key, message): (mlua::LuaString, mlua::LuaString, mlua::LuaString)| {
                let Some(algorithm) = algorithm_named(&algorithm.to_string_lossy()) else {
                    return failure(lua, unknown_algorithm(&algorithm.to_string_lossy()));
                };
                let mac = hmac::compute(algorithm, &key.as_bytes(), &[&message.as_bytes()]);
                Ok((LuaValue::String(lua.create_string(mac)?), LuaValue::Nil))
            },
        )?,
    )?;
    raw.set(
        "hmac_verify",
        lua.create_function(
            |lua,
             (algorithm, encoding, key, message, signature): (
                mlua::LuaString,
                mlua::LuaString,
                mlua::LuaString,
                mlua::LuaString,
                Option<mlua::LuaString>,
            )| {
                let Some(algorithm) = algorithm_named(&algorithm.to_string_lossy()) else {
                    return failure(lua, unknown_algorithm(&algorithm.to_string_lossy()));
                };
                let encoding = match &*encoding.to_string_lossy() {
                    "hex" => Encoding::Hex,
                    "base64" => Encoding::Base64,
                    other => {
                        return failure(
                            lua,
                            format!("unknown encoding {other:?}; use \"hex\" or \"base64\""),
                        );
                    }
                };
                // A missing or non-text signature simply does not match.
                let signature = signature
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default();
                let matches = hmac::signature_matches(
                    algorithm,
                    encoding,
                    &key.as_bytes(),
                    &message.as_bytes(),
                    &signature,
                );
                Ok((LuaValue::Boolean(matches), LuaValue::Nil))
            },
        )?,
    )?;
    raw.set(
        "secrets_equal",
        lua.create_function(|_, (given, expected): (LuaValue, LuaValue)| {
            // Anything that is not a string (a missing header, say) equals nothing.
            Ok(match (given, expected) {
                (LuaValue::String(a), LuaValue::String(b)) => {
                    secrets_equal(&a.as_bytes(), &b.as_bytes())
                }
                _ => false,
            })
        })?,
    )?;

    raw.set(
        "base64_encode",
        lua.create_function(|lua, (bytes, url): (mlua::LuaString, Option<bool>)| {
            let text = if url.unwrap_or(false) {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_bytes())
            } else {
                base64::engine::general_purpose::STANDARD.encode(bytes.as_bytes())
            };
            lua.create_string(text)
        })?,
    )?;
    raw.set(
        "base64_decode",
        lua.create_function(|lua, (text, url): (mlua::LuaString, Option<bool>)| {
            let text = text.as_bytes();
            let text = text.trim_ascii();
            let decoded = if url.unwrap_or(false) {
                // Padding is optional in the URL-safe alphabet; accept it either way.
                let mut unpadded = text;
                while let Some(rest) = unpadded.strip_suffix(b"=") {
                    unpadded = rest;
                }
                base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(unpadded)
            } else {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            };
            match decoded {
                Ok(bytes) => Ok((LuaValue::String(lua.create_string(bytes)?), LuaValue::Nil)),
                Err(err) => failure(lua, format!("invalid base64: {err}")),
            }
        })?,
    )?;
    raw.set(
        "hex_encode",
        lua.create_function(|lua, bytes: mlua::LuaString| {
            lua.create_string(hex::encode(bytes.as_bytes()))
        })?,
    )?;
    raw.set(
        "hex_decode",
        lua.create_function(|lua, text: mlua::LuaString| {
            match hex::decode(text.as_bytes().trim_ascii()) {
                Ok(bytes) => Ok((LuaValue::String(lua.create_string(bytes)?), LuaValue::Nil)),
                Err(err) => failure(lua, format!("invalid hex: {err}")),
            }
        })?,
    )?;

    raw.set(
        "time_now",
        lua.create_function(|_, ()| Ok(since_epoch().as_secs_f64()))?,
    )?;
    raw.set(
        "time_now_ms",
        lua.create_function(|_, ()| Ok(since_epoch().as_millis() as i64))?,
    )?;
    raw.set(
        "time_rfc3339",
        lua.create_function(|lua, seconds: Option<f64>| {
            let at = match seconds {
                None => SystemTime::now(),
                Some(s) if (0.0..253_402_300_800.0).contains(&s) => {
                    UNIX_EPOCH + Duration::from_secs_f64(s)
                }
                Some(s) => {
                    return failure(lua, format!("{s} is not a time between 1970 and 9999"));
                }
            };
            let text = humantime::format_rfc3339_millis(at).to_string();
            Ok((LuaValue::String(lua.create_string(text)?), LuaValue::Nil))
        })?,
    )?;
    raw.set(
        "time_parse_rfc3339",
        lua.create_function(|lua, text: mlua::LuaString| {
            let text = text.to_string_lossy();
            match humantime::parse_rfc3339_weak(text.trim()) {
                Ok(at) => {
                    let seconds = at
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs_f64())
                        .unwrap_or(0.0);
                    Ok((LuaValue::Number(seconds), LuaValue::Nil))
                }
                Err(err) => failure(lua, format!("{text:?} is not an RFC 3339 UTC time: {err}")),
            }
        })?,
    )?;

    // The loggers, `raw.log_debug(fmt, ...)` and so on: C closures over `string.format`.
    let format = lua
        .globals()
        .get::<Table>("string")?
        .get::<Function>("format")?;
    let loggers: [(&str, ffi::lua_CFunction); 4] = [
        ("log_debug", log::<0>),
        ("log_info", log::<1>),
        ("log_warn", log::<2>),
        ("log_error", log::<3>),
    ];
    for (name, logger) in loggers {
        // SAFETY: `exec_raw` runs this in a protected call with `format` at index 1, which
        // `lua_pushcclosure` pops as the closure's upvalue, leaving only the closure.
        let logger = unsafe {
            lua.exec_raw::<Function>(&format, |state| {
                ffi::lua_pushcclosure(state, logger, 1);
            })?
        };
        raw.set(name, logger)?;
    }
    Ok(raw)
}

/// `log.info(fmt, ...)` and the other levels (0 debug, 1 info, 2 warn, 3 error): formats
/// like `string.format` when there are arguments, converts the message like `tostring`,
/// and logs it.
///
/// A C function that scripts call directly, rather than a Lua wrapper around an mlua
/// closure: scripts log on nearly every call, and the wrapper's frames (plus `select`) and
/// the closure's lock, error-handling frame and copy of the message into a `String` cost
/// more than the line itself. The common `log.info("... %s ...", text)` is formatted by
/// the log writer straight from the arguments ([`Message`]), without making a Lua string
/// that the collector must then free; anything else goes through the upvalue
/// `string.format`. Everything that may raise a Lua error (`string.format`, a failing
/// `__tostring`) runs before any Rust value that needs dropping exists in this frame,
/// because the error unwinds with `longjmp`.
unsafe extern "C-unwind" fn log<const LEVEL: u8>(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: Lua calls this with its arguments on the stack and the format function as its
    // upvalue. The strings read stay on the stack, and so alive, until this returns.
    unsafe {
        let nargs = ffi::lua_gettop(state);
        let formatted = match nargs {
            0 => {
                // `log.info()` logs "nil", as `tostring(nil)` would.
                ffi::lua_settop(state, 1);
                None
            }
            1 => None,
            _ => Message::read(state, nargs),
        };
        let message = match formatted {
            Some(formatted) => formatted,
            None => {
                if nargs > 1 {
                    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
                    ffi::lua_insert(state, 1);
                    ffi::lua_call(state, nargs, 1);
                }
                let mut len = 0;
                let text = if ffi::lua_type(state, 1) == ffi::LUA_TSTRING {
                    ffi::lua_tolstring(state, 1, &mut len)
                } else {
                    ffi::luaL_tolstring(state, 1, &mut len)
                };
                Message::text(std::slice::from_raw_parts(text.cast::<u8>(), len))
            }
        };
        // The call runs inside the request's (or job's) span, which carries the cid. A panic
        // must not unwind into Lua's C frames. The message is the event's `message` field
        // itself, as `info!("{message}")` would make it, without the `format_args!` around it.
        let _ = std::panic::catch_unwind(|| match LEVEL {
            0 => tracing::debug!(message = %message),
            2 => tracing::warn!(message = %message),
            3 => tracing::error!(message = %message),
            _ => tracing::info!(message = %message),
        });
    }
    0
}

/// The most pieces (text between conversions, and arguments) that [`Message`] takes; a
/// line with more goes through `string.format`.
const MAX_PIECES: usize = 17;

/// A log message, turned into text only if the line is written: a text, or a format whose
/// only conversions are `%s` and `%%` with a string for each `%s`. What `string.format`
/// would make of that is the format with the strings spliced in, so the log writer can do
/// it itself. The line is split into its pieces once, when it is read.
struct Message<'a> {
    /// The line in order, `%%` already made `%`; empty pieces are left out.
    pieces: [&'a [u8]; MAX_PIECES],
    count: usize,
}

impl<'a> Message<'a> {
    /// Reads `format, ...` at stack indexes 1 to `nargs`, if they have that shape. Extra
    /// arguments are ignored, as `string.format` ignores them.
    ///
    /// # Safety
    ///
    /// The slices borrow strings on the stack: use them only while those stay there.
    unsafe fn read(state: *mut ffi::lua_State, nargs: c_int) -> Option<Message<'a>> {
        // SAFETY: the indexes are within `nargs`, and only strings are read.
        unsafe {
            let format = Self::string_at(state, 1)?;
            let mut line = Message {
                pieces: [&b""[..]; MAX_PIECES],
                count: 0,
            };
            let (mut text_from, mut search_from, mut next_arg) = (0, 0, 2);
            while let Some(offset) = format[search_from..].iter().position(|&b| b == b'%') {
                let percent = search_from + offset;
                match format.get(percent + 1) {
                    Some(b'%') => line.push(&format[text_from..=percent])?,
                    Some(b's') if next_arg <= nargs => {
                        line.push(&format[text_from..percent])?;
                        line.push(Self::string_at(state, next_arg)?)?;
                        next_arg += 1;
                    }
                    _ => return None,
                }
                text_from = percent + 2;
                search_from = percent + 2;
            }
            line.push(&format[text_from..])?;
            Some(line)
        }
    }

    /// A message that is this text.
    fn text(text: &'a [u8]) -> Message<'a> {
        let mut pieces = [&b""[..]; MAX_PIECES];
        pieces[0] = text;
        Message { pieces, count: 1 }
    }

    /// Appends a piece; `None` when there is no room left.
    fn push(&mut self, piece: &'a [u8]) -> Option<()> {
        if !piece.is_empty() {
            *self.pieces.get_mut(self.count)? = piece;
            self.count += 1;
        }
        Some(())
    }

    unsafe fn string_at(state: *mut ffi::lua_State, index: c_int) -> Option<&'a [u8]> {
        // SAFETY: see `read`; `lua_tolstring` does not convert a value that is a string.
        unsafe {
            if ffi::lua_type(state, index) != ffi::LUA_TSTRING {
                return None;
            }
            let mut len = 0;
            let text = ffi::lua_tolstring(state, index, &mut len);
            Some(std::slice::from_raw_parts(text.cast::<u8>(), len))
        }
    }
}

impl std::fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for piece in &self.pieces[..self.count] {
            Lossy(piece).fmt(f)?;
        }
        Ok(())
    }
}

/// Bytes shown as text, with invalid UTF-8 replaced; converted only if the line is written.
struct Lossy<'a>(&'a [u8]);

impl std::fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        // Nearly always valid, and checking that in one pass costs less than walking chunks.
        if let Ok(text) = std::str::from_utf8(self.0) {
            return f.write_str(text);
        }
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{FFFD}")?;
            }
        }
        Ok(())
    }
}

/// `nil, message`: how a primitive reports bad input to the prelude.
fn failure(lua: &Lua, message: String) -> mlua::Result<(LuaValue, LuaValue)> {
    Ok((LuaValue::Nil, LuaValue::String(lua.create_string(message)?)))
}

fn algorithm_named(name: &str) -> Option<Algorithm> {
    match name.to_ascii_lowercase().as_str() {
        "sha1" => Some(Algorithm::Sha1),
        "sha256" => Some(Algorithm::Sha256),
        "sha512" => Some(Algorithm::Sha512),
        _ => None,
    }
}

fn unknown_algorithm(name: &str) -> String {
    format!("unknown HMAC algorithm {name:?}; use \"sha1\", \"sha256\" or \"sha512\"")
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
