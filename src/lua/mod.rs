//! Services written in Lua, deployed by dropping `*.lua` files into `services_dir`.
//!
//! # Writing a service
//!
//! ```lua
//! -- services/jira.lua
//! service("webhooks.jira.receive", function(req, ctx)
//!     local event = req.payload
//!     log.info("Received Jira event: %s", event.webhookEvent or "None")
//!     if event.webhookEvent == "jira:issue_created" then
//!         log.info("New issue created: %s", event.issue and event.issue.key or "None")
//!     end
//! end)
//! ```
//!
//! A file may define several services with `service(name, handler)`, or return a table of
//! `name = handler`. Names must be unique across files and may not shadow a compiled-in
//! service. A handler gets `req` and `ctx` and returns:
//! - nothing: an empty 200;
//! - `inlet.response(status, payload?, headers?)` or
//!   `inlet.raw_response(status, body, content_type?, headers?)`;
//! - any other value: a 200 with that value as JSON.
//!
//! `req`: `payload` (the body parsed per the channel's data format; JSON `null` fields are
//! absent), `body` (the raw bytes, for signatures), `headers` (case-insensitive), `method`,
//! `path`, `params` (the `{param}` segments), `query` (first value of each parameter),
//! `query_string`, `peer`, `req:header(name)`, and `req:payload_as{"field", "n:number",
//! "note:string?"}`, which raises a 422 naming the first missing or mistyped field.
//!
//! `ctx`: `cid`, `config` (the `[config.*]` sections), `ctx:invoke(name, payload)` (returns the
//! callee's payload and `{status, headers}`; its error is raised, so an uncaught 422 from
//! the callee fails this call with 422 too, and `pcall` catches it as a table with `status`,
//! `message` and `kind`), `ctx:invoke_async(name, payload)` (returns the job id). Both work
//! from inside a script's own coroutines too. While they wait, the VM is free (the state
//! stays reserved for this call chain).
//!
//! `inlet` (and `log`, each script's own copy of `inlet.log`): `log.debug/info/warn/error(fmt,
//! ...)` (the cid is attached), `json.encode/decode/null/array`, `hmac(alg, key, msg,
//! "hex"|"base64"|"raw")`,
//! `hmac_verify(alg, encoding, key, msg, signature)`, `secrets_equal(a, b)`,
//! `base64.encode/decode/url_encode/url_decode`, `hex.encode/decode`,
//! `time.now/now_ms/rfc3339/parse_rfc3339`, `expect(value, fields)`, and the errors
//! `bad_request(msg)`, `unprocessable(msg)`, `client_error(status, msg)`, `permanent(msg)`,
//! raised with `error(inlet.bad_request("..."))`. Any other error is a 500 whose
//! traceback goes to the log.
//!
//! # What a script may keep between calls
//!
//! Each file runs once per Lua state, and there are several states (`[lua] states`), each
//! serving one call at a time. File-level locals and globals therefore persist between the
//! calls that one state serves, and nowhere else: use them for constants, lookup tables and
//! caches that any state may rebuild. Never keep per-request data in them (a nested call
//! may run in the same state), never count on seeing a value another call stored (it may
//! have run in another state), and expect them to be rebuilt at any time: a reload, or a
//! call that hit a limit, replaces the state. Durable data belongs in a service that
//! stores it.
//!
//! # Sandbox and limits
//!
//! Each file runs in an environment of its own, which starts as a copy of the sandbox's
//! globals: a script may change or unset its globals (an unset one reads the sandbox's
//! again) without touching another script's. The library tables (`string`, ...) are shared.
//!
//! Scripts get the base functions, `string`, `table`, `math`, `utf8` and `coroutine`; `os`,
//! `io`, `package`/`require`, `debug` and C modules only through `[lua] grant`. Each call
//! has an instruction and a running-time budget (`max_instructions`, `time_limit`), enforced
//! by a VM hook that `pcall` cannot swallow, and each state a memory limit
//! (`memory_limit`). A call that runs out answers 504 (budget) or 500 (memory), and its
//! state is replaced.
//!
//! # Layout
//!
//! [`deploy`] loads the folder into a generation and swaps it into the registry; `watch`
//! triggers it; `pool` holds a generation's states; `state` builds one sandboxed state;
//! `call` runs one service call; `api` and `prelude.lua` are the Lua API; `convert` maps
//! JSON to Lua and back, and `tape` a JSON body straight to Lua; `budget` is the per-call
//! allowance.

mod api;
mod bridge;
mod budget;
mod call;
mod convert;
pub mod deploy;
mod pool;
mod state;
mod tape;
pub(crate) mod watch;

pub(crate) use self::call::HeldState;
pub use self::deploy::Deployment;
