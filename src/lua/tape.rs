//! A JSON body turned into Lua tables without building a `serde_json::Value` first.
//!
//! A Lua service that reads its payload gets it with the call (see `call.rs`). Going through
//! `Value` cost a `BTreeMap` node and a `String` per field, only to free them all again after
//! the call; that was about a sixth of a small Lua request's work. Here the parser writes
//! the document into a [`Tape`] instead: a flat list of tokens and one buffer for the text of
//! its strings, both kept by the state and reused, so a call allocates nothing on the Rust
//! side. The tape is then pushed to Lua in the same protected pass that starts the call.
//!
//! Why not push straight from the parser: the push runs inside a protected call, and a Lua
//! error (out of memory) unwinds it with `longjmp`, which must not cross Rust frames that own
//! anything, such as the parser's. The tape is filled before the protected call and only
//! read inside it.
//!
//! The Lua values are exactly those of `convert::push_json` for the same text (the tests
//! compare them): a `null` field is absent, a `null` item is `inlet.json.null`, arrays carry
//! the array metatable, integers that fit an `i64` stay integers, and the last of two equal
//! keys wins, as in `Value`.

use std::fmt;

use mlua::ffi;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// One JSON value on the tape; an array or object is followed by its items (an object's as
/// key, value, key, value...).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Null,
    Bool(bool),
    Integer(i64),
    Float(f64),
    /// A string: its bytes are `text[start..start + len]`.
    Str {
        start: usize,
        len: usize,
    },
    Array(usize),
    Object(usize),
}

/// A parsed JSON document, ready to push to Lua; reused from call to call.
#[derive(Debug, Default)]
pub(crate) struct Tape {
    tokens: Vec<Token>,
    text: Vec<u8>,
}

/// Beyond this many bytes of tokens or text, a tape gives its memory back after a call, so
/// that one large payload does not keep a state's buffers large for good.
const KEEP_BYTES: usize = 64 * 1024;

impl Tape {
    /// Parses `json` (one complete document) into the tape, replacing what it held.
    pub fn parse(&mut self, json: &[u8]) -> Result<(), serde_json::Error> {
        self.tokens.clear();
        self.text.clear();
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        Fill(self).deserialize(&mut deserializer)?;
        deserializer.end()
    }

    /// Lets go of large buffers; see [`KEEP_BYTES`].
    pub fn trim(&mut self) {
        if self.tokens.capacity() * size_of::<Token>() > KEEP_BYTES {
            self.tokens = Vec::new();
        }
        if self.text.capacity() > KEEP_BYTES {
            self.text = Vec::new();
        }
    }

    /// Pushes the document as one Lua value (`nil` for a top-level `null`, and for an empty
    /// tape).
    ///
    /// # Safety
    ///
    /// Only inside a protected call (it may raise out of memory), with the array metatable at
    /// stack index 1. Nothing here owns memory, so the error's `longjmp` leaks nothing.
    pub unsafe fn push(&self, state: *mut ffi::lua_State) {
        let mut at = 0;
        // SAFETY: as the caller guarantees.
        unsafe { self.push_at(state, &mut at, 0) }
    }

    /// Pushes the value at `*at` and moves `*at` past it.
    unsafe fn push_at(&self, state: *mut ffi::lua_State, at: &mut usize, depth: usize) {
        let Some(&token) = self.tokens.get(*at) else {
            // SAFETY: pushing nil needs no stack check beyond the caller's.
            unsafe { ffi::lua_pushnil(state) };
            return;
        };
        *at += 1;
        // SAFETY: inside a protected call (see `push`), after checking the stack space.
        unsafe {
            // Deep nesting is cut off as null, as `push_json` does (the parser's own limit
            // is lower, so this is only a guard).
            if depth > super::convert::MAX_DEPTH || ffi::lua_checkstack(state, 4) == 0 {
                *at = self.skip(*at - 1);
                ffi::lua_pushnil(state);
                return;
            }
            match token {
                Token::Null => ffi::lua_pushnil(state),
                Token::Bool(b) => ffi::lua_pushboolean(state, i32::from(b)),
                Token::Integer(i) => ffi::lua_pushinteger(state, i),
                Token::Float(f) => ffi::lua_pushnumber(state, f),
                Token::Str { start, len } => self.push_str(state, start, len),
                Token::Array(items) => {
                    ffi::lua_createtable(state, clamp(items), 0);
                    for index in 1..=items {
                        if self.tokens.get(*at) == Some(&Token::Null) {
                            // Keeps positions and `#` right; see `convert`.
                            *at += 1;
                            ffi::lua_pushlightuserdata(state, std::ptr::null_mut());
                        } else {
                            self.push_at(state, at, depth + 1);
                        }
                        ffi::lua_rawseti(state, -2, index as ffi::lua_Integer);
                    }
                    ffi::lua_pushvalue(state, 1);
                    ffi::lua_setmetatable(state, -2);
                }
                Token::Object(fields) => {
                    ffi::lua_createtable(state, 0, clamp(fields));
                    for _ in 0..fields {
                        let key = self.tokens.get(*at).copied();
                        let value = self.tokens.get(*at + 1).copied();
                        match (key, value) {
                            // A null field is an absent key.
                            (Some(Token::Str { .. }), Some(Token::Null)) => *at += 2,
                            (Some(Token::Str { start, len }), Some(_)) => {
                                *at += 1;
                                self.push_str(state, start, len);
                                self.push_at(state, at, depth + 1);
                                ffi::lua_rawset(state, -3);
                            }
                            // Not a tape that `parse` makes; stop reading it.
                            _ => {
                                *at = self.tokens.len();
                                break;
                            }
                        }
                    }
                }
            }
        }
    }

    unsafe fn push_str(&self, state: *mut ffi::lua_State, start: usize, len: usize) {
        let bytes = self.text.get(start..start + len).unwrap_or_default();
        // SAFETY: the caller is inside a protected call with stack space.
        unsafe { ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len()) };
    }

    /// The index just past the value at `at`.
    fn skip(&self, at: usize) -> usize {
        let mut next = at + 1;
        match self.tokens.get(at) {
            Some(Token::Array(items)) => {
                for _ in 0..*items {
                    next = self.skip(next);
                }
            }
            Some(Token::Object(fields)) => {
                for _ in 0..fields * 2 {
                    next = self.skip(next);
                }
            }
            _ => {}
        }
        next.min(self.tokens.len())
    }
}

fn clamp(size: usize) -> i32 {
    i32::try_from(size).unwrap_or(i32::MAX)
}

/// Appends one value to the tape, as a serde seed and visitor.
struct Fill<'t>(&'t mut Tape);

impl<'de> DeserializeSeed<'de> for Fill<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Fill<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.tokens.push(Token::Null);
        Ok(())
    }

    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.0.tokens.push(Token::Bool(b));
        Ok(())
    }

    fn visit_i64<E>(self, i: i64) -> Result<(), E> {
        self.0.tokens.push(Token::Integer(i));
        Ok(())
    }

    /// Beyond `i64`, a float, as `Value::as_i64` falling back to `as_f64` gives.
    fn visit_u64<E>(self, u: u64) -> Result<(), E> {
        self.0.tokens.push(match i64::try_from(u) {
            Ok(i) => Token::Integer(i),
            Err(_) => Token::Float(u as f64),
        });
        Ok(())
    }

    fn visit_f64<E>(self, f: f64) -> Result<(), E> {
        self.0.tokens.push(Token::Float(f));
        Ok(())
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        let start = self.0.text.len();
        self.0.text.extend_from_slice(s.as_bytes());
        self.0.tokens.push(Token::Str {
            start,
            len: s.len(),
        });
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let tape = self.0;
        let at = tape.tokens.len();
        tape.tokens.push(Token::Array(0));
        let mut items = 0;
        while seq.next_element_seed(Fill(tape))?.is_some() {
            items += 1;
        }
        tape.tokens[at] = Token::Array(items);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let tape = self.0;
        let at = tape.tokens.len();
        tape.tokens.push(Token::Object(0));
        let mut fields = 0;
        while map.next_key_seed(Fill(tape))?.is_some() {
            map.next_value_seed(Fill(tape))?;
            fields += 1;
        }
        tape.tokens[at] = Token::Object(fields);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lua::convert;
    use crate::lua::convert::tests::lua;
    use mlua::{Lua, Table, Value as LuaValue};
    use serde_json::Value;

    fn via_tape(lua: &Lua, mt: &Table, text: &str) -> LuaValue {
        let mut tape = Tape::default();
        tape.parse(text.as_bytes()).unwrap();
        // SAFETY: as `push` requires: a protected call with the metatable at index 1.
        unsafe {
            lua.exec_raw::<LuaValue>(mt, |state| {
                tape.push(state);
                ffi::lua_copy(state, -1, 1);
                ffi::lua_settop(state, 1);
            })
            .unwrap()
        }
    }

    /// The tape gives what `Value` then `push_json` gives, including the array marks.
    #[test]
    fn the_tape_builds_what_the_value_path_builds() {
        let (lua, mt) = lua();
        let texts = [
            r#"{"webhookEvent":"jira:issue_created","issue":{"key":"PROJ-1","fields":{"n":null}}}"#,
            r#"[1, -2, 2.5, 1e300, 18446744073709551615, -9223372036854775808, true, false]"#,
            r#"{"a": [null, {"b": []}, [], {}], "esc": "tab\tquote\"snow\u2603", "": 0}"#,
            r#"{"dup": 1, "dup": 2, "x": {"y": {"z": [[["deep"]]]}}}"#,
            r#""just a string""#,
            "12",
            "[]",
            "{}",
        ];
        for text in texts {
            let value: Value = serde_json::from_str(text).unwrap();
            let expected = convert::to_lua(&lua, &mt, &value).unwrap();
            let got = via_tape(&lua, &mt, text);
            assert_eq!(
                convert::from_lua(&got).unwrap(),
                convert::from_lua(&expected).unwrap(),
                "{text}"
            );
            assert_eq!(marks(&got), marks(&expected), "{text}");
        }
    }

    /// Which tables carry the array metatable, in a walk of the value.
    fn marks(value: &LuaValue) -> Vec<bool> {
        let mut found = Vec::new();
        if let LuaValue::Table(table) = value {
            found.push(table.metatable().is_some());
            let mut pairs: Vec<(String, LuaValue)> = table
                .pairs::<LuaValue, LuaValue>()
                .map(|pair| {
                    let (key, value) = pair.unwrap();
                    (format!("{key:?}"), value)
                })
                .collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, item) in pairs {
                found.extend(marks(&item));
            }
        }
        found
    }

    #[test]
    fn nulls_are_absent_fields_and_marked_items() {
        let (lua, mt) = lua();
        assert!(via_tape(&lua, &mt, "null").is_nil());
        let value = via_tape(&lua, &mt, r#"{"gone": null, "list": [null, 2]}"#);
        let table = value.as_table().unwrap();
        assert!(table.raw_get::<LuaValue>("gone").unwrap().is_nil());
        let list: Table = table.raw_get("list").unwrap();
        assert_eq!(list.raw_len(), 2);
        assert_eq!(list.raw_get::<LuaValue>(1).unwrap(), LuaValue::NULL);
    }

    #[test]
    fn bad_text_is_an_error_and_the_tape_is_reusable() {
        let mut tape = Tape::default();
        assert!(tape.parse(b"{\"a\": ").is_err());
        assert!(tape.parse(b"[1] 2").is_err());
        // As `Value` refuses it, so that the lazy read reports it as a 400.
        assert!(tape.parse(b"[\"\xff\"]").is_err());
        tape.parse(b"[1, 2]").unwrap();
        assert_eq!(
            tape.tokens,
            [Token::Array(2), Token::Integer(1), Token::Integer(2)]
        );
    }
}
