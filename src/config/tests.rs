use super::*;

fn parse(source: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("inlet.toml"), source)
}

fn problems(source: &str) -> Vec<String> {
    parse(source)
        .unwrap_err()
        .to_string()
        .lines()
        .map(str::to_string)
        .collect()
}

const MINIMAL: &str = r#"
[[channel]]
name = "jira"
path = "/webhooks/jira"
service = "webhooks.jira.receive"
"#;

#[test]
fn minimal_channel_gets_defaults() {
    let config = parse(MINIMAL).unwrap();
    assert_eq!(config.server.listen.to_string(), DEFAULT_LISTEN);
    let channel = &config.channels[0];
    assert_eq!(channel.methods, vec![Method::POST]);
    assert_eq!(channel.data_format, DataFormat::Json);
    assert_eq!(channel.max_body, DEFAULT_MAX_BODY);
}

#[test]
fn unknown_key_names_key_and_line() {
    let text = format!("{MINIMAL}bogus = 1\n");
    let lines = problems(&text);
    assert!(lines[0].starts_with("inlet.toml:6:"), "{lines:?}");
    assert!(lines[0].contains("unknown field `bogus`"), "{lines:?}");
}

#[test]
fn undefined_security_is_reported_with_line() {
    let text = format!("{MINIMAL}security = [\"github\"]\n");
    let lines = problems(&text);
    assert!(lines[0].starts_with("inlet.toml:6:"), "{lines:?}");
    assert!(lines[0].contains("`github` is not defined"), "{lines:?}");
}

#[test]
fn duplicate_method_and_path_is_reported() {
    let text = format!(
        "{MINIMAL}\n[[channel]]\nname = \"other\"\npath = \"/webhooks/jira\"\nservice = \"x\"\n"
    );
    let lines = problems(&text);
    assert!(
        lines[0].contains("POST /webhooks/jira is already served by channel `jira`"),
        "{lines:?}"
    );
    assert!(
        lines[0].starts_with("inlet.toml:9: `channel[1].path`"),
        "{lines:?}"
    );
}

#[test]
fn bad_cidr_is_reported_at_its_table() {
    let text = "[security.office]\ntype = \"ip_allow\"\ncidrs = [\"10.0.0.0/99\"]\n";
    let lines = problems(text);
    assert!(
        lines[0].starts_with("inlet.toml:1: `security.office`"),
        "{lines:?}"
    );
    assert!(lines[0].contains("10.0.0.0/99"), "{lines:?}");
}

#[test]
fn several_problems_are_all_reported() {
    let text = r#"
[server]
listen = "nowhere"

[[channel]]
name = "a"
path = "/a"
methods = ["FETCH NOW"]
service = "s"
"#;
    let err = parse(text).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(err.to_string().contains("`server.listen`"));
    assert!(err.to_string().contains("is not an HTTP method"));
}

#[test]
fn unknown_service_is_reported_by_check_services() {
    let config = parse(MINIMAL).unwrap();
    let err = config
        .check_services(|name| name == "inlet.ping", &["inlet.ping"])
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("inlet.toml:5: `channel[0].service`"),
        "{text}"
    );
    assert!(text.contains("webhooks.jira.receive"), "{text}");
    assert!(text.contains("(known: `inlet.ping`)"), "{text}");
}

#[test]
fn user_config_expands_env_defaults_and_hides_values() {
    let text = "[config.salesforce]\nwebhook_secret = \"${env:INLET_TEST_SURELY_UNSET:-dev-secret}\"\nretries = 3\n";
    let config = parse(text).unwrap();
    assert_eq!(
        config.user.str("salesforce.webhook_secret").unwrap(),
        "dev-secret"
    );
    assert_eq!(config.user.get("salesforce.retries").unwrap(), 3);
    assert!(!format!("{config:?}").contains("dev-secret"));
}

#[test]
fn unset_env_without_default_names_the_line() {
    let text = "[config.x]\n\nkey = \"${env:INLET_TEST_SURELY_UNSET}\"\n";
    let lines = problems(text);
    assert!(lines[0].starts_with("inlet.toml:3: `key`"), "{lines:?}");
    assert!(
        lines[0].contains("INLET_TEST_SURELY_UNSET is not set"),
        "{lines:?}"
    );
}

#[test]
fn secrets_never_show_in_debug() {
    let text = "[security.gh]\ntype = \"hmac\"\nheader = \"X-Sig\"\nsecrets = [\"hunter2\"]\n";
    let config = parse(text).unwrap();
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn bad_sizes_and_durations_are_errors() {
    assert!(problems("[server]\nmax_body = \"ten\"\n")[0].contains("invalid size"));
    assert!(problems("[server]\nbody_read_timeout = \"soon\"\n")[0].contains("invalid duration"));
}

#[test]
fn presets_are_security_kinds_with_secrets() {
    let text = "[security.gh]\ntype = \"github\"\nsecrets = [\"old\", \"new\"]\n\n[security.stripe]\ntype = \"stripe\"\nsecrets = [\"whsec_x\"]\ntolerance = \"10m\"\n";
    let config = parse(text).unwrap();
    assert_eq!(config.security.len(), 2);
    assert!(!format!("{config:?}").contains("whsec_x"));
}

#[test]
fn preset_problems_name_the_table_and_line() {
    let lines = problems("\n[security.tw]\ntype = \"twilio\"\nsecrets = [\"t\"]\n");
    assert!(
        lines[0].starts_with("inlet.toml:2: `security.tw`"),
        "{lines:?}"
    );
    assert!(lines[0].contains("set `url`"), "{lines:?}");
    let lines = problems("[security.d]\ntype = \"discord\"\nsecrets = [\"xyz\"]\n");
    assert!(lines[0].contains("secret #1"), "{lines:?}");
    let lines = problems("[security.g]\ntype = \"githb\"\nsecrets = [\"x\"]\n");
    assert!(lines[0].contains("githb"), "{lines:?}");
    let lines = problems("[security.g]\ntype = \"github\"\nsecrets = [\"x\"]\nheader = \"x\"\n");
    assert!(lines[0].contains("unknown field `header`"), "{lines:?}");
}

#[test]
fn the_example_config_in_the_repository_is_valid() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/inlet.example.toml"));
    let config = Config::load(path).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(config.channels.len(), 2);
    assert_eq!(config.security.len(), 5);
    assert_eq!(config.channels[1].mode, Mode::Async);
}

#[test]
fn missing_services_dir_is_reported_with_line() {
    let text = format!("services_dir = \"no/such/folder\"\n{MINIMAL}");
    let lines = problems(&text);
    assert!(
        lines[0].starts_with("inlet.toml:1: `services_dir`"),
        "{lines:?}"
    );
    assert!(lines[0].contains("does not exist"), "{lines:?}");
}

#[test]
fn services_dir_resolves_against_the_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("services")).unwrap();
    let file = dir.path().join("inlet.toml");
    let config = Config::parse(&file, &format!("services_dir = \"services\"\n{MINIMAL}")).unwrap();
    assert_eq!(config.services_dir, Some(dir.path().join("services")));
}

#[test]
fn lua_limits_and_grants_are_checked() {
    let text = format!("{MINIMAL}\n[lua]\nstates = 0\ngrant = [\"os\", \"net\"]\n");
    let err = parse(&text).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(
        err.to_string().contains("`lua.states`: must be at least 1"),
        "{err}"
    );
    assert!(
        err.to_string().contains("\"net\" cannot be granted"),
        "{err}"
    );

    let text = format!("{MINIMAL}\n[lua]\ngrant = [\"native\"]\nmemory_limit = \"16MiB\"\n");
    let config = parse(&text).unwrap();
    assert!(config.lua.grants.native && config.lua.grants.package && !config.lua.grants.os);
    assert_eq!(config.lua.memory_limit, 16 << 20);
}

#[test]
fn dedup_and_retry_need_an_async_channel() {
    let text = format!(
        "{MINIMAL}dedup = {{ header = \"X-GitHub-Delivery\" }}\nretry = {{ max_attempts = 2 }}\n"
    );
    let err = parse(&text).unwrap_err().to_string();
    assert!(
        err.contains("inlet.toml:6: `channel[0].dedup`: dedup needs `mode = \"async\"`"),
        "{err}"
    );
    assert!(
        err.contains("inlet.toml:7: `channel[0].retry`: retry needs `mode = \"async\"`"),
        "{err}"
    );
}

#[test]
fn async_channel_settings_are_checked() {
    let config = parse(&format!(
        "{MINIMAL}mode = \"async\"\ndedup = {{ json = \"/id\", window = \"1h\" }}\nretry = {{ max_attempts = 2, base = \"1s\", cap = \"1m\" }}\n"
    ))
    .unwrap();
    let channel = &config.channels[0];
    assert_eq!(channel.mode, Mode::Async);
    let dedup = channel.dedup.as_ref().unwrap();
    assert_eq!(dedup.source, DedupSource::Json("/id".to_string()));
    assert_eq!(dedup.window, std::time::Duration::from_secs(3600));
    assert_eq!(config.retry.channels["jira"].retry.max_attempts, 2);

    for (extra, message) in [
        ("dedup = { json = \"id\" }", "not a JSON pointer"),
        (
            "dedup = { header = \"a\", body = \"sha256\" }",
            "only one key source",
        ),
        ("dedup = { body = \"md5\" }", "only \"sha256\""),
        ("dedup = true", "ambiguous"),
        ("retry = { max_attempts = 0 }", "at least 1"),
        (
            "retry = { base = \"1m\", cap = \"1s\" }",
            "shorter than `base`",
        ),
        ("mode = \"later\"", "unknown variant `later`"),
    ] {
        let text = format!(
            "{MINIMAL}{}{extra}\n",
            if extra.starts_with("mode") {
                ""
            } else {
                "mode = \"async\"\n"
            }
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains(message), "{extra}: {err}");
    }
}

#[test]
fn an_async_channel_behind_a_preset_dedups_on_the_delivery_id_by_default() {
    let text = format!(
        "[security.gh]\ntype = \"github\"\nsecrets = [\"s\"]\n{MINIMAL}mode = \"async\"\nsecurity = [\"gh\"]\n"
    );
    let config = parse(&text).unwrap();
    assert_eq!(
        config.channels[0].dedup.as_ref().unwrap().source,
        DedupSource::Provider
    );
    let off = parse(&format!("{text}dedup = false\n")).unwrap();
    assert!(off.channels[0].dedup.is_none());
}

#[test]
fn store_and_workers_are_checked() {
    let lines = problems("[store]\nurl = \"postgres://x\"\nsynchronous = \"sometimes\"\n");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("`store.url`") && l.contains("sqlite://PATH")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("`store.synchronous`")),
        "{lines:?}"
    );
    assert!(problems("[workers]\nconcurrency = 0\n")[0].contains("at least 1"));

    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(&dir.path().join("inlet.toml"), MINIMAL).unwrap();
    assert_eq!(
        config.store.url,
        format!("sqlite://{}", dir.path().join("inlet.db").display())
    );
}

#[test]
fn retry_settings_for_an_unknown_service_are_reported() {
    let text = format!("{MINIMAL}\n[service.\"no.such\"]\nmax_attempts = 3\n");
    let config = parse(&text).unwrap();
    let err = config
        .check_services(
            |name| name == "webhooks.jira.receive",
            &["webhooks.jira.receive"],
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("inlet.toml:7: `service.\"no.such\"`"), "{err}");
}
