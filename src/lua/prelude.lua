-- The Lua half of Inlet's Lua API. It runs once in every new Lua state, before any script.
--
-- It builds the sandbox that scripts see (the globals table `G`), the `inlet` module, the
-- request and context metatables, and the two entry points Rust calls: `load_file` (run one
-- script and register its services) and `worker` (the body of the coroutines that run
-- service calls). Rust hands it `raw`, a table of primitives (see api.rs), plus the granted
-- libraries, the names of the compiled-in services, and the services folder.
--
-- Anything that raises on behalf of a script does so with `error(message, 2)`, so that the
-- message names the script's file and line.

local raw, grants, reserved, services_dir = ...

-- Kept before the sandbox hides them: scripts never see `debug` unless it is granted.
local traceback = debug.traceback
local rawpcall, rawxpcall, rawload, rawloadfile = pcall, xpcall, load, loadfile
local coresume, cocreate, yield = coroutine.resume, coroutine.create, coroutine.yield
local pack, unpack = table.pack, table.unpack
local setmetatable, getmetatable, rawget, rawset = setmetatable, getmetatable, rawget, rawset
local type, tostring, select, error, ipairs, pairs = type, tostring, select, error, ipairs, pairs
local format, lower = string.format, string.lower
local over_budget = raw.over_budget
-- What ctx:invoke yields to Inlet: a light userdata, which no script can make.
local INVOKE = raw.invoke_marker

------------------------------------------------------------------------------------------
-- The sandbox
------------------------------------------------------------------------------------------

local G = {}
for _, name in ipairs {
    "assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget", "rawlen", "rawset",
    "select", "setmetatable", "getmetatable", "tonumber", "tostring", "type", "_VERSION",
} do
    G[name] = _G[name]
end
G.string, G.table, G.math, G.utf8 = string, table, math, utf8

-- A budget error must not be swallowed: once the call is over its limit, every protected
-- call re-raises what it caught, so the error climbs back to Inlet whatever the script does.
local function recheck(ok, ...)
    if not ok and over_budget() then
        error((...), 0)
    end
    return ok, ...
end
G.pcall = function(f, ...) return recheck(rawpcall(f, ...)) end
G.xpcall = function(f, handler, ...) return recheck(rawxpcall(f, handler, ...)) end
-- ctx:invoke works by yielding to Inlet. Inside a script's own coroutine that yield would
-- reach the script instead, so resume passes it up to Inlet and Inlet's answer back down.
local function resume_forwarding(co, ...)
    local r = pack(coresume(co, ...))
    while r[1] and r[2] == INVOKE do
        r = pack(coresume(co, yield(unpack(r, 2, r.n))))
    end
    return unpack(r, 1, r.n)
end
G.coroutine = {}
for name, f in pairs(coroutine) do G.coroutine[name] = f end
G.coroutine.resume = function(co, ...) return recheck(resume_forwarding(co, ...)) end
G.coroutine.wrap = function(f)
    local co = cocreate(f)
    return function(...)
        local r = pack(recheck(resume_forwarding(co, ...)))
        if not r[1] then error(r[2], 0) end
        return unpack(r, 2, r.n)
    end
end

-- Text chunks only: a crafted binary chunk can crash the VM. The environment defaults to
-- the sandbox, never to the real globals.
G.load = function(chunk, name, mode, env)
    if mode ~= nil and mode ~= "t" then
        error("load: only text chunks may be loaded (mode \"t\")", 2)
    end
    return rawload(chunk, name, "t", env or G)
end

-- `stop` and the tuning options could defeat the memory limit's garbage collection.
local collect = collectgarbage
G.collectgarbage = function(option, ...)
    option = option or "collect"
    if option == "collect" or option == "count" or option == "step" or option == "isrunning" then
        return collect(option, ...)
    end
    error(format("collectgarbage(%q) is not allowed in a service", tostring(option)), 2)
end

if grants.os then G.os = os end
if grants.io then G.io = io end
if grants.debug then G.debug = debug end
if grants.package then
    G.package = package
    package.path = services_dir .. "/?.lua;" .. services_dir .. "/?/init.lua"
    local searchers = { package.searchers[1] }
    -- Modules load into the sandbox too, not into the real globals.
    searchers[2] = function(name)
        local path, err = package.searchpath(name, package.path)
        if not path then return "\n\t" .. err end
        local chunk, load_err = rawloadfile(path, "t", G)
        if not chunk then error(load_err, 0) end
        return chunk, path
    end
    if grants.native then
        searchers[3], searchers[4] = package.searchers[3], package.searchers[4]
    else
        package.cpath, package.loadlib = "", nil
    end
    package.searchers = searchers
    G.require = require
end

------------------------------------------------------------------------------------------
-- The inlet module
------------------------------------------------------------------------------------------

local inlet = {}

-- Errors. A table with this metatable, raised with error(), answers with its status.
local error_mt = { __name = "inlet.error" }
error_mt.__tostring = function(e) return e.message end
local function make_error(kind, status, message)
    return setmetatable({ kind = kind, status = status, message = tostring(message) }, error_mt)
end
inlet.bad_request = function(message) return make_error("client", 400, message) end
inlet.unprocessable = function(message) return make_error("client", 422, message) end
inlet.client_error = function(status, message)
    if math.type(status) ~= "integer" or status < 400 or status > 499 then
        error("inlet.client_error: the status must be an integer from 400 to 499", 2)
    end
    return make_error("client", status, message)
end
inlet.permanent = function(message) return make_error("permanent", 500, message) end
inlet.is_error = function(value) return getmetatable(value) == error_mt end

-- Responses. Returning any other value answers 200 with it as JSON; returning nothing
-- answers an empty 200.
local response_mt = { __name = "inlet.response" }
local function check_status(status, what)
    if math.type(status) ~= "integer" or status < 100 or status > 999 then
        error(what .. ": the status must be an integer from 100 to 999", 3)
    end
end
inlet.response = function(status, payload, headers)
    check_status(status, "inlet.response")
    local mode = payload == nil and 0 or 1
    return setmetatable({ status = status, mode = mode, payload = payload, headers = headers }, response_mt)
end
inlet.raw_response = function(status, body, content_type, headers)
    check_status(status, "inlet.raw_response")
    if type(body) ~= "string" then error("inlet.raw_response: the body must be a string", 2) end
    return setmetatable({
        status = status, mode = 2, payload = body, headers = headers,
        content_type = content_type or "application/octet-stream",
    }, response_mt)
end

-- Helpers: each primitive answers `value` or `nil, message`.
local function checked(name, f)
    return function(...)
        local value, err = f(...)
        if err ~= nil then error(name .. ": " .. err, 2) end
        return value
    end
end

inlet.json = {
    null = raw.null,
    encode = checked("inlet.json.encode", raw.json_encode),
    -- Decoding text from the network is expected to fail sometimes: `nil, message`.
    decode = function(text)
        if type(text) ~= "string" then error("inlet.json.decode: expected a string", 2) end
        return raw.json_decode(text)
    end,
    array = function(t) return setmetatable(t or {}, raw.array_mt) end,
}

-- inlet.hmac("sha256", key, message [, "hex" | "base64" | "raw"])
inlet.hmac = function(algorithm, key, message, encoding)
    local mac, err = raw.hmac(algorithm, key, message)
    if err ~= nil then error("inlet.hmac: " .. err, 2) end
    if encoding == nil or encoding == "hex" then return raw.hex_encode(mac) end
    if encoding == "base64" then return raw.base64_encode(mac) end
    if encoding == "raw" then return mac end
    error("inlet.hmac: the encoding must be \"hex\", \"base64\" or \"raw\"", 2)
end
-- inlet.hmac_verify("sha256", "hex", key, message, signature): constant-time.
inlet.hmac_verify = checked("inlet.hmac_verify", raw.hmac_verify)
inlet.secrets_equal = raw.secrets_equal

inlet.base64 = {
    encode = function(bytes) return raw.base64_encode(bytes, false) end,
    decode = function(text) return raw.base64_decode(text, false) end,
    url_encode = function(bytes) return raw.base64_encode(bytes, true) end,
    url_decode = function(text) return raw.base64_decode(text, true) end,
}
inlet.hex = { encode = raw.hex_encode, decode = raw.hex_decode }

inlet.time = {
    now = raw.time_now,
    now_ms = raw.time_now_ms,
    rfc3339 = checked("inlet.time.rfc3339", raw.time_rfc3339),
    parse_rfc3339 = raw.time_parse_rfc3339,
}

-- inlet.log.info("New issue created: %s", key): a format string when there are arguments.
-- The loggers are C functions (see api.rs) that format, apply `tostring` and log.
inlet.log = { debug = raw.log_debug, info = raw.log_info, warn = raw.log_warn, error = raw.log_error }
local log_info = raw.log_info
G.print = function(...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    log_info(table.concat(parts, "\t", 1, parts.n))
end

-- inlet.expect(value, {"issueKey", "email", "amount:number", "note:string?"}): checks fields
-- in order and raises a 422 that names the first missing or mistyped one.
local expected_names = {
    string = "a string", number = "a number", integer = "an integer", boolean = "a boolean",
    table = "a table", object = "an object", array = "an array", any = "any value",
}
local function describe(value)
    local t = type(value)
    if t == "nil" or value == raw.null then return "null" end
    if t == "string" then return format("string %q", value) end
    if t == "boolean" then return format("boolean `%s`", tostring(value)) end
    if t == "number" then
        if math.type(value) == "integer" then return format("integer `%d`", value) end
        return format("floating point `%s`", tostring(value))
    end
    if t == "table" then return getmetatable(value) == raw.array_mt and "sequence" or "map" end
    return t
end
local function matches(value, kind)
    if kind == "any" then return true end
    if kind == "integer" then return math.type(value) == "integer" end
    if kind == "object" then return type(value) == "table" and getmetatable(value) ~= raw.array_mt end
    if kind == "array" then return type(value) == "table" and getmetatable(value) == raw.array_mt end
    return type(value) == kind
end
inlet.expect = function(value, fields)
    if type(value) ~= "table" or getmetatable(value) == raw.array_mt then
        error(make_error("client", 422, "invalid type: " .. describe(value) .. ", expected an object"), 2)
    end
    for _, spec in ipairs(fields) do
        local name, kind = spec:match("^%s*([^:]-)%s*:%s*(%a+%??)%s*$")
        name, kind = name or spec, kind or "any"
        local optional = kind:sub(-1) == "?"
        if optional then kind = kind:sub(1, -2) end
        if not expected_names[kind] then
            error(format("inlet.expect: unknown type %q in %q", kind, spec), 2)
        end
        local field = value[name]
        if field == nil or field == raw.null then
            if not optional then
                error(make_error("client", 422, format("missing field `%s`", name)), 2)
            end
        elseif not matches(field, kind) then
            error(make_error("client", 422, format("field `%s`: invalid type: %s, expected %s",
                name, describe(field), expected_names[kind])), 2)
        end
    end
    return value
end

------------------------------------------------------------------------------------------
-- Defining services
------------------------------------------------------------------------------------------

local services = {} -- name -> { handler = function, file = path }
local pending, pending_names -- set while one file loads

local function define(name, handler, level)
    if pending == nil then
        error("service() may only be called while a script loads, not from inside a service", level)
    end
    if type(name) ~= "string" or name == "" then
        error("service(name, handler): the name must be a non-empty string", level)
    end
    if type(handler) ~= "function" then
        error(format("service(%q, handler): the handler must be a function", name), level)
    end
    if reserved[name] then
        error(format("service %q is compiled into this server; a script cannot replace it", name), level)
    end
    if services[name] then
        error(format("service %q is already defined in %s", name, services[name].file), level)
    end
    if pending[name] then
        error(format("service %q is defined twice in this file", name), level)
    end
    pending[name] = handler
    pending_names[#pending_names + 1] = name
end
G.service = function(name, handler) define(name, handler, 3) end
inlet.service = G.service

-- The module is shared by every script in the state: read-only, so that one script cannot
-- break another.
local function read_only(t, name)
    return setmetatable({}, {
        __index = t,
        __newindex = function() error(name .. " is read-only", 2) end,
        __pairs = function() return next, t, nil end,
        __metatable = false,
    })
end
for key, value in pairs(inlet) do
    if type(value) == "table" then inlet[key] = read_only(value, "inlet." .. key) end
end
G.inlet = read_only(inlet, "inlet")
G.log = inlet.log

-- Runs one script in an environment of its own, and registers its services only if the
-- whole file ran. Answers true and the names it defined, or false and the error.
local function load_file(path, source)
    -- The sandbox's globals are copied into the script's own environment, so that reading
    -- `type` or `log` in a handler is a hit in that table, not a miss that goes on to G
    -- through a metamethod on every call; G stays behind it for a name the script unsets.
    -- `log` is the script's own plain copy of `inlet.log`, for the same reason: changing
    -- it changes nothing for another script.
    local env = setmetatable({}, { __index = G })
    for name, value in next, G do env[name] = value end
    env.log = { debug = raw.log_debug, info = raw.log_info, warn = raw.log_warn, error = raw.log_error }
    env._G = env
    local chunk, err = rawload(source, "@" .. path, "t", env)
    if not chunk then return false, err end
    pending, pending_names = {}, {}
    local ok, result = rawxpcall(chunk, traceback)
    if ok and type(result) == "table" then
        -- A file may also return { ["service.name"] = function(req, ctx) ... end }.
        ok, result = rawpcall(function()
            local names = {}
            for name in pairs(result) do names[#names + 1] = name end
            table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
            for _, name in ipairs(names) do define(name, result[name], 0) end
        end)
        if not ok then result = path .. ": in the returned table: " .. tostring(result) end
    end
    local defined, names = pending, pending_names
    pending, pending_names = nil, nil
    if not ok then return false, tostring(result) end
    for _, name in ipairs(names) do
        services[name] = { handler = defined[name], file = path }
    end
    return true, names
end

------------------------------------------------------------------------------------------
-- Calling services
------------------------------------------------------------------------------------------

local RAW = setmetatable({}, { __name = "inlet.raw" }) -- a key no script can name

local headers_mt = {
    __index = function(t, key)
        if type(key) == "string" then return rawget(t, lower(key)) end
    end,
}
-- Each reader takes the call's id; see bridge.rs.
local request_fields = {
    payload = function(id)
        local value, err = raw.payload(id)
        if err ~= nil then error(make_error("client", 400, err), 3) end
        return value
    end,
    body = raw.body,
    headers = function(id) return setmetatable(raw.headers(id), headers_mt) end,
    method = raw.method,
    path = raw.path,
    params = raw.params,
    query = raw.query,
    query_string = raw.query_string,
    peer = raw.peer,
}
local request_methods = {
    header = function(self, name) return self.headers[name] end,
    payload_as = function(self, fields) return inlet.expect(self.payload, fields) end,
}
-- Fields are computed on first use and kept, so a service pays only for what it reads.
local request_mt = {
    __name = "inlet.request",
    __index = function(self, key)
        local get = request_fields[key]
        if get == nil then return request_methods[key] end
        local value = get(rawget(self, RAW))
        rawset(self, key, value)
        return value
    end,
}

local function check_self(self, method)
    if type(self) ~= "table" or rawget(self, RAW) == nil then
        error(format("call it as ctx:%s(...), with a colon", method), 3)
    end
    return rawget(self, RAW)
end
-- invoke and invoke_async yield to Inlet, which runs the service (without holding this Lua
-- state) and resumes with `true, ...` or `false, kind, status, message`.
local function ask(self, what, name, payload)
    local id = check_self(self, what)
    if type(name) ~= "string" then
        error(format("ctx:%s(name, payload): the name must be a string", what), 3)
    end
    local ok, a, b, c = yield(INVOKE, what, id, name, payload)
    if not ok then error(make_error(a, b, c), 3) end
    return a, b
end
local context_methods = {
    -- Runs a service now; answers its payload and { status =, headers = }.
    invoke = function(self, name, payload) return ask(self, "invoke", name, payload) end,
    -- Hands a payload to a service to run in the background; answers the job id.
    invoke_async = function(self, name, payload)
        return (ask(self, "invoke_async", name, payload))
    end,
}
local context_fields = { cid = raw.cid, config = raw.config }
local context_mt = {
    __name = "inlet.context",
    __index = function(self, key)
        local get = context_fields[key]
        if get == nil then return context_methods[key] end
        local value = get(rawget(self, RAW))
        rawset(self, key, value)
        return value
    end,
}

local function on_error(e)
    if getmetatable(e) == error_mt then return e end
    return traceback(tostring(e), 2)
end

-- What Rust reads back: true, mode, status, headers, payload, content_type, where mode is
-- 0 (empty), 1 (JSON) or 2 (raw); or false, kind, status, message.
local function finish(ok, result)
    if not ok then
        if getmetatable(result) == error_mt then
            return false, result.kind, result.status, result.message
        end
        return false, "lua", 500, tostring(result)
    end
    if result == nil then return true, 0, 200 end
    if getmetatable(result) == response_mt then
        return true, result.mode, result.status, result.headers, result.payload, result.content_type
    end
    return true, 1, 200, nil, result
end

-- The body of the coroutines Inlet runs calls in: it runs one call, yields its outcome,
-- and waits for the next. Reusing a coroutine spares creating one, and growing its stack,
-- for every call.
--
-- Inlet builds `request` and `context` itself, in the pass that starts the call (see
-- `call.rs`): `{ [RAW] = id, payload = payload }` with `request_mt`, and `{ [RAW] = id }`
-- with `context_mt`. `payload` is there when Inlet hands it over with the call; when it is
-- absent, `req.payload` is read on first use instead.
local function worker(name, request, context)
    while true do
        local entry = services[name]
        if entry == nil then
            name, request, context = yield(false, "internal", 500,
                format("service %q is not defined in this Lua state", name))
        else
            local ok, result = rawxpcall(entry.handler, on_error, request, context)
            -- Most services return nothing: that answer is yielded without calling finish.
            if ok and result == nil then
                name, request, context = yield(true, 0, 200)
            else
                name, request, context = yield(finish(ok, result))
            end
        end
    end
end

return {
    load_file = load_file,
    worker = worker,
    raw_key = RAW,
    request_mt = request_mt,
    context_mt = context_mt,
}
