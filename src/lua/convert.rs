//! JSON ↔ Lua values, for payloads, responses, `invoke` and `inlet.json`.
//!
//! The rules, chosen so that webhook code reads naturally (`if event.issue then`):
//! - a JSON `null` in an object is an absent key (`nil`); in an array it is `inlet.json.null`,
//!   so that positions and `#` stay right; a top-level `null` is `nil`;
//! - arrays become sequences marked with the `inlet.json.array` metatable, so that an empty
//!   array encodes back as `[]`; an unmarked empty table encodes as `{}`;
//! - a table whose keys are exactly `1..n` encodes as an array, one whose keys are all strings
//!   as an object; anything else is an error that says why;
//! - integers stay integers; a float with no fractional part encodes as an integer, so that
//!   `10 / 2` gives `5` and not `5.0`.

use mlua::{Lua, Table, Value as LuaValue, ffi};
use serde_json::{Map, Number, Value};

/// How deep a table may nest before encoding gives up; this also catches cycles.
pub(super) const MAX_DEPTH: usize = 128;

/// The largest integer that a double represents exactly.
const EXACT_IN_F64: f64 = 9_007_199_254_740_992.0;

/// A JSON value as a Lua value; `array_mt` is the state's `inlet.json.array` metatable.
///
/// Payloads are converted on every call, so this builds the whole value in one protected
/// call through the C API: going through `create_table`/`raw_set` costs a protected call per
/// table, string and field, which was most of a small Lua service's overhead.
pub(crate) fn to_lua(lua: &Lua, array_mt: &Table, value: &Value) -> mlua::Result<LuaValue> {
    // SAFETY: `exec_raw` runs the closure inside a protected call, with `array_mt` at stack
    // index 1. The closure only pushes and sets values, checking the stack space first, and
    // holds nothing that needs dropping, so a Lua error (out of memory) unwinding through it
    // leaks nothing. It leaves exactly one value, the result, at index 1.
    unsafe {
        lua.exec_raw::<LuaValue>(array_mt, |state| {
            push_json(state, value, 0);
            ffi::lua_copy(state, -1, 1);
            ffi::lua_settop(state, 1);
        })
    }
}

/// Pushes `value`; index 1 of the current frame holds the array metatable. Nesting deeper
/// than [`MAX_DEPTH`] is cut off as null (serde_json's parser refuses it already).
///
/// # Safety
///
/// Only inside a protected call (it may raise out of memory), with the array metatable at
/// stack index 1.
pub(super) unsafe fn push_json(state: *mut ffi::lua_State, value: &Value, depth: usize) {
    // SAFETY: the caller runs this inside a protected call; see `to_lua`.
    unsafe {
        if depth > MAX_DEPTH || ffi::lua_checkstack(state, 4) == 0 {
            ffi::lua_pushnil(state);
            return;
        }
        match value {
            Value::Null => ffi::lua_pushnil(state),
            Value::Bool(b) => ffi::lua_pushboolean(state, i32::from(*b)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => ffi::lua_pushinteger(state, i),
                None => ffi::lua_pushnumber(state, n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(text) => {
                ffi::lua_pushlstring(state, text.as_ptr().cast(), text.len());
            }
            Value::Array(items) => {
                ffi::lua_createtable(state, clamp(items.len()), 0);
                for (index, item) in items.iter().enumerate() {
                    match item {
                        // Keeps positions and `#` right; see the module doc.
                        Value::Null => ffi::lua_pushlightuserdata(state, std::ptr::null_mut()),
                        other => push_json(state, other, depth + 1),
                    }
                    ffi::lua_rawseti(state, -2, index as ffi::lua_Integer + 1);
                }
                ffi::lua_pushvalue(state, 1);
                ffi::lua_setmetatable(state, -2);
            }
            Value::Object(fields) => {
                ffi::lua_createtable(state, 0, clamp(fields.len()));
                for (key, field) in fields {
                    if field.is_null() {
                        continue;
                    }
                    ffi::lua_pushlstring(state, key.as_ptr().cast(), key.len());
                    push_json(state, field, depth + 1);
                    ffi::lua_rawset(state, -3);
                }
            }
        }
    }
}

fn clamp(size: usize) -> i32 {
    i32::try_from(size).unwrap_or(i32::MAX)
}

/// A Lua value as JSON; the error says what cannot be encoded and where.
pub(crate) fn from_lua(value: &LuaValue) -> Result<Value, String> {
    from_lua_at(value, 0, &mut String::from("$"))
}

fn from_lua_at(value: &LuaValue, depth: usize, path: &mut String) -> Result<Value, String> {
    match value {
        LuaValue::Nil => Ok(Value::Null),
        LuaValue::LightUserData(ud) if ud.0.is_null() => Ok(Value::Null),
        LuaValue::Boolean(b) => Ok(Value::Bool(*b)),
        LuaValue::Integer(i) => Ok(Value::from(*i)),
        LuaValue::Number(n) => {
            number(*n).ok_or_else(|| format!("{path}: {n} is not a JSON number"))
        }
        LuaValue::String(s) => match s.to_str() {
            Ok(text) => Ok(Value::String(text.to_string())),
            Err(_) => Err(format!(
                "{path}: the string is not UTF-8; encode binary data with inlet.base64.encode"
            )),
        },
        LuaValue::Table(table) => {
            if depth >= MAX_DEPTH {
                return Err(format!(
                    "{path}: tables nest more than {MAX_DEPTH} deep (is there a cycle?)"
                ));
            }
            table_to_json(table, depth, path)
        }
        other => Err(format!(
            "{path}: a {} cannot be encoded as JSON",
            other.type_name()
        )),
    }
}

fn table_to_json(table: &Table, depth: usize, path: &mut String) -> Result<Value, String> {
    let marked_array = table
        .metatable()
        .and_then(|mt| mt.raw_get::<bool>("__jsonarray").ok())
        .unwrap_or(false);
    let length = table.raw_len();
    let mut pairs = 0usize;
    let mut string_keys = 0usize;
    for pair in table.pairs::<LuaValue, LuaValue>() {
        let (key, _) = pair.map_err(|err| format!("{path}: {err}"))?;
        pairs += 1;
        if key.is_string() {
            string_keys += 1;
        }
    }
    let is_array = (marked_array || pairs > 0) && string_keys == 0 && pairs == length;
    if is_array || (marked_array && pairs == 0) {
        let mut items = Vec::with_capacity(length);
        for index in 1..=length {
            let item: LuaValue = table.raw_get(index).map_err(|e| format!("{path}: {e}"))?;
            let mark = path.len();
            path.push_str(&format!("[{index}]"));
            items.push(from_lua_at(&item, depth + 1, path)?);
            path.truncate(mark);
        }
        return Ok(Value::Array(items));
    }
    if string_keys != pairs {
        return Err(format!(
            "{path}: a table with keys other than strings can only be encoded when its keys are exactly 1..n (an array)"
        ));
    }
    let mut fields = Map::with_capacity(pairs);
    for pair in table.pairs::<mlua::LuaString, LuaValue>() {
        let (key, item) = pair.map_err(|err| format!("{path}: {err}"))?;
        let key = key
            .to_str()
            .map_err(|_| format!("{path}: a key is not UTF-8"))?
            .to_string();
        let mark = path.len();
        path.push('.');
        path.push_str(&key);
        let item = from_lua_at(&item, depth + 1, path)?;
        path.truncate(mark);
        fields.insert(key, item);
    }
    Ok(Value::Object(fields))
}

fn number(n: f64) -> Option<Value> {
    if n.fract() == 0.0 && n.abs() <= EXACT_IN_F64 {
        return Some(Value::from(n as i64));
    }
    Number::from_f64(n).map(Value::Number)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use serde_json::json;

    /// A state and the array metatable that marks JSON arrays; the tape's tests use it too.
    pub(in crate::lua) fn lua() -> (Lua, Table) {
        let lua = Lua::new();
        let mt = lua.create_table().unwrap();
        mt.raw_set("__jsonarray", true).unwrap();
        (lua, mt)
    }

    #[test]
    fn round_trip_keeps_shape() {
        let (lua, mt) = lua();
        let value = json!({"a": [1, 2.5, "x", [], {}], "b": {"c": true}, "d": [null, 1]});
        let back = from_lua(&to_lua(&lua, &mt, &value).unwrap()).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn null_field_is_absent() {
        let (lua, mt) = lua();
        let table = to_lua(&lua, &mt, &json!({"issue": null, "k": 1})).unwrap();
        let table = table.as_table().unwrap();
        assert!(table.get::<LuaValue>("issue").unwrap().is_nil());
    }

    #[test]
    fn lua_tables_encode_by_their_keys() {
        let (lua, _) = lua();
        let value: LuaValue = lua
            .load("return {list = {1, 2, 3}, empty = {}, half = 10 / 4, whole = 10 / 2}")
            .eval()
            .unwrap();
        assert_eq!(
            from_lua(&value).unwrap(),
            json!({"list": [1, 2, 3], "empty": {}, "half": 2.5, "whole": 5})
        );
    }

    #[test]
    fn unencodable_values_name_their_path() {
        let (lua, _) = lua();
        let mixed: LuaValue = lua.load("return {a = {1, x = 2}}").eval().unwrap();
        assert!(from_lua(&mixed).unwrap_err().starts_with("$.a:"));
        let cyclic: LuaValue = lua.load("local t = {}; t.t = t; return t").eval().unwrap();
        assert!(from_lua(&cyclic).unwrap_err().contains("nest"));
        let function: LuaValue = lua.load("return {f = print}").eval().unwrap();
        assert!(from_lua(&function).unwrap_err().contains("function"));
    }
}
