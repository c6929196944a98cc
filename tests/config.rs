//! Provider discovery from environment variables, and its errors.

use axum_oauth2_client::{AuthMethod, ConfigError, OAuth2Config};

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn err(pairs: &[(&str, &str)]) -> ConfigError {
    OAuth2Config::from_vars(vars(pairs)).expect_err("invalid configuration")
}

const BASE: &[(&str, &str)] = &[
    (
        "OAUTH2_PAYMENTS_API_TOKEN_URL",
        "https://auth.example.com/token",
    ),
    ("OAUTH2_PAYMENTS_API_CLIENT_ID", "orders"),
    ("OAUTH2_PAYMENTS_API_CLIENT_SECRET", "top-secret-value"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    BASE.iter().copied().chain(extra.iter().copied()).collect()
}

#[test]
fn discovers_providers_with_defaults_and_lower_case_names() {
    let config = OAuth2Config::from_vars(vars(&with(&[
        ("OAUTH2_LEDGER_TOKEN_URL", "http://127.0.0.1:9000/token"),
        ("OAUTH2_LEDGER_CLIENT_ID", "ledger-client"),
        ("OAUTH2_LEDGER_CLIENT_SECRET", "s"),
        ("OAUTH2_LEDGER_SCOPE", "ledger:read ledger:write"),
        ("OAUTH2_LEDGER_AUTH_METHOD", "client_secret_post"),
        ("OAUTH2_LEDGER_DEFAULT_LIFETIME_SECONDS", "120"),
        ("OAUTH2_LEDGER_TIMEOUT_SECONDS", "3"),
        ("OAUTH2_LEDGER_CONNECT_TIMEOUT_SECONDS", "1"),
        ("PATH", "/usr/bin"),
        ("UNRELATED", "x"),
    ])))
    .expect("valid");
    assert_eq!(
        config.provider_names().collect::<Vec<_>>(),
        ["ledger", "payments_api"]
    );
    assert!(
        format!("{config:?}").contains("refresh_buffer: 60s"),
        "{config:?}"
    );

    let payments = config.get("payments_api").expect("payments_api");
    assert_eq!(
        payments.token_url().map(|u| u.as_str()),
        Some("https://auth.example.com/token")
    );
    assert_eq!(payments.client_id(), "orders");
    assert_eq!(
        payments.secret().expect("secret").expose_secret(),
        "top-secret-value"
    );
    assert_eq!(payments.method(), AuthMethod::ClientSecretBasic);
    assert_eq!(payments.scopes(), None);

    let ledger = config.get("ledger").expect("ledger");
    assert_eq!(ledger.method(), AuthMethod::ClientSecretPost);
    assert_eq!(ledger.scopes(), Some("ledger:read ledger:write"));
    let debug = format!("{ledger:?}");
    assert!(
        debug.contains("default_lifetime: 120s")
            && debug.contains("timeout: 3s")
            && debug.contains("connect_timeout: 1s"),
        "{debug}"
    );
}

#[test]
fn refresh_buffer_is_read() {
    let config = OAuth2Config::from_vars(vars(&with(&[("OAUTH2_REFRESH_BUFFER_SECONDS", "15")])))
        .expect("valid");
    assert!(
        format!("{config:?}").contains("refresh_buffer: 15s"),
        "{config:?}"
    );
    let e = err(&with(&[("OAUTH2_REFRESH_BUFFER_SECONDS", "soon")]));
    assert_eq!(e.variable(), "OAUTH2_REFRESH_BUFFER_SECONDS");
    assert_eq!(e.code(), "invalid_variable");
}

#[test]
fn no_variables_means_no_providers() {
    let config = OAuth2Config::from_vars(Vec::<(String, String)>::new()).expect("valid");
    assert_eq!(config.provider_names().count(), 0);
}

#[test]
fn secret_file_is_read_and_trimmed() {
    let dir = std::env::temp_dir().join(format!("oauth2-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("secret");
    std::fs::write(&file, "from-a-file\n").expect("write");
    let path = file.to_str().expect("utf8 path");
    let config = OAuth2Config::from_vars(vars(&[
        ("OAUTH2_X_TOKEN_URL", "https://a/token"),
        ("OAUTH2_X_CLIENT_ID", "id"),
        ("OAUTH2_X_CLIENT_SECRET_FILE", path),
    ]))
    .expect("valid");
    assert_eq!(
        config
            .get("x")
            .expect("x")
            .secret()
            .expect("secret")
            .expose_secret(),
        "from-a-file"
    );

    let missing = dir.join("missing");
    let e = err(&[
        ("OAUTH2_X_TOKEN_URL", "https://a/token"),
        ("OAUTH2_X_CLIENT_ID", "id"),
        (
            "OAUTH2_X_CLIENT_SECRET_FILE",
            missing.to_str().expect("utf8"),
        ),
    ]);
    assert_eq!(e.code(), "unreadable_file");
    assert_eq!(e.variable(), "OAUTH2_X_CLIENT_SECRET_FILE");
    // The path is named on purpose: it is not a secret and it is what the
    // operator has to fix.
    assert!(
        e.to_string().contains(missing.to_str().expect("utf8")),
        "{e}"
    );
    for not_a_file in ["/dev/zero", dir.to_str().expect("utf8")] {
        let e = err(&[
            ("OAUTH2_X_TOKEN_URL", "https://a/token"),
            ("OAUTH2_X_CLIENT_ID", "id"),
            ("OAUTH2_X_CLIENT_SECRET_FILE", not_a_file),
        ]);
        assert_eq!(e.code(), "unreadable_file", "{not_a_file}: {e}");
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_error_names_the_variable_and_never_the_value() {
    // (variables, the variable the error must name, its code)
    type Case = (
        Vec<(&'static str, &'static str)>,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            vec![
                ("OAUTH2_X_CLIENT_ID", "id"),
                ("OAUTH2_X_CLIENT_SECRET", "top-secret-value"),
            ],
            "OAUTH2_X_TOKEN_URL",
            "missing_variable",
        ),
        (
            vec![
                ("OAUTH2_X_TOKEN_URL", "https://a/t"),
                ("OAUTH2_X_CLIENT_SECRET", "top-secret-value"),
            ],
            "OAUTH2_X_CLIENT_ID",
            "missing_variable",
        ),
        (
            vec![
                ("OAUTH2_X_TOKEN_URL", "https://a/t"),
                ("OAUTH2_X_CLIENT_ID", "id"),
            ],
            "OAUTH2_X_CLIENT_SECRET",
            "missing_variable",
        ),
        (
            vec![
                ("OAUTH2_X_TOKEN_URL", "https://a/t"),
                ("OAUTH2_X_CLIENT_ID", "id"),
                ("OAUTH2_X_CLIENT_SECRET", "top-secret-value"),
                ("OAUTH2_X_CLIENT_SECRET_FILE", "/run/secrets/x"),
            ],
            "OAUTH2_X_CLIENT_SECRET",
            "conflicting_variables",
        ),
        (
            vec![
                ("OAUTH2_X_TOKEN_URL", "not a url top-secret-value"),
                ("OAUTH2_X_CLIENT_ID", "id"),
                ("OAUTH2_X_CLIENT_SECRET", "top-secret-value"),
            ],
            "OAUTH2_X_TOKEN_URL",
            "invalid_variable",
        ),
        (
            vec![
                ("OAUTH2_X_TOKEN_URL", "ftp://a/t"),
                ("OAUTH2_X_CLIENT_ID", "id"),
                ("OAUTH2_X_CLIENT_SECRET", "top-secret-value"),
            ],
            "OAUTH2_X_TOKEN_URL",
            "invalid_variable",
        ),
        (
            vec![
                ("OAUTH2_X_TOKEN_URL", "https://a/t"),
                ("OAUTH2_X_CLIENT_ID", "id"),
                ("OAUTH2_X_CLIENT_SECRET", "top-secret-value"),
                ("OAUTH2_X_AUTH_METHOD", "top-secret-value"),
            ],
            "OAUTH2_X_AUTH_METHOD",
            "invalid_variable",
        ),
        (
            vec![
                ("OAUTH2_X_TOKEN_URL", "https://a/t"),
                ("OAUTH2_X_CLIENT_ID", "id"),
                ("OAUTH2_X_CLIENT_SECRET", "top-secret-value"),
                ("OAUTH2_X_TIMEOUT_SECONDS", "0"),
            ],
            "OAUTH2_X_TIMEOUT_SECONDS",
            "invalid_variable",
        ),
        (
            vec![
                ("OAUTH2_X_TOKEN_URL", "https://a/t"),
                ("OAUTH2_X_CLIENT_ID", "id"),
                ("OAUTH2_X_CLIENT_SECRET", "top-secret-value"),
                ("OAUTH2_X_SCOPES", "a"),
            ],
            "OAUTH2_X_SCOPES",
            "unknown_variable",
        ),
        (
            vec![
                ("OAUTH2_X_TOKEN_URL", "https://user:top-secret-value@a/t"),
                ("OAUTH2_X_CLIENT_ID", "id"),
                ("OAUTH2_X_CLIENT_SECRET", "s"),
            ],
            "OAUTH2_X_TOKEN_URL",
            "invalid_variable",
        ),
        (
            vec![("OAUTH2_TOKEN_URL", "https://a/t")],
            "OAUTH2_TOKEN_URL",
            "unknown_variable",
        ),
        (
            vec![("OAUTH2_my-api_TOKEN_URL", "https://a/t")],
            "OAUTH2_my-api_TOKEN_URL",
            "invalid_variable",
        ),
    ];
    for (pairs, variable, code) in cases {
        let e = err(&pairs);
        let shown = format!("{e} {e:?}");
        assert_eq!(e.variable(), variable, "{shown}");
        assert_eq!(e.code(), code, "{shown}");
        assert!(shown.contains(variable), "{shown}");
        assert!(
            !shown.contains("top-secret-value"),
            "a value leaked: {shown}"
        );
    }
}

#[test]
fn debug_of_a_config_redacts_the_secret() {
    let config = OAuth2Config::from_vars(vars(BASE)).expect("valid");
    let shown = format!("{config:?} {config:#?}");
    assert!(!shown.contains("top-secret-value"), "{shown}");
    assert!(shown.contains("Secret([redacted])"));
}

#[test]
fn the_development_file_configures_the_demo_provider() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/development.env");
    let pairs: Vec<(String, String)> = dotenvy::from_path_iter(path)
        .expect("file")
        .map(|item| item.expect("line"))
        .collect();
    let config = OAuth2Config::from_vars(pairs).expect("development configuration is valid");
    let demo = config.get("demo").expect("demo provider");
    assert_eq!(demo.token_url().map(|u| u.path()), Some("/dev/oauth/token"));
    assert_eq!(
        demo.token_url().and_then(|u| u.host_str()),
        Some("127.0.0.1")
    );
}

/// The `OAUTH2_*` variables the README's configuration table documents:
/// the backticked names of each row's first cell, `..._X` standing for
/// `OAUTH2_<NAME>_X`.
fn readme_variables() -> std::collections::BTreeSet<String> {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let mut names = std::collections::BTreeSet::new();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let first = line.split('|').nth(1).unwrap_or_default();
        for name in first.split('`').skip(1).step_by(2) {
            if let Some(rest) = name.strip_prefix("..._") {
                names.insert(format!("OAUTH2_<NAME>_{rest}"));
            } else if name.starts_with("OAUTH2_") {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

#[test]
fn the_readme_documents_exactly_the_variables_the_code_reads() {
    let read: std::collections::BTreeSet<String> = OAuth2Config::variables().collect();
    let documented = readme_variables();
    let undocumented: Vec<_> = read.difference(&documented).collect();
    let unread: Vec<_> = documented.difference(&read).collect();
    assert!(
        undocumented.is_empty(),
        "read but not in the README's table: {undocumented:?}"
    );
    assert!(
        unread.is_empty(),
        "in the README's table but never read: {unread:?}"
    );
}

#[test]
fn the_example_configuration_uses_only_variables_the_code_reads() {
    let example = std::fs::read_to_string("config/example.env").expect("example.env");
    let read: Vec<String> = OAuth2Config::variables().collect();
    for line in example.lines().map(str::trim) {
        let line = line.trim_start_matches("# ");
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        if !name.starts_with("OAUTH2_") || name.contains(' ') {
            continue;
        }
        let known = read
            .iter()
            .any(|pattern| match pattern.split_once("<NAME>") {
                Some((prefix, suffix)) => {
                    name.starts_with(prefix)
                        && name.ends_with(suffix)
                        && name.len() > prefix.len() + suffix.len()
                }
                None => pattern == name,
            });
        assert!(
            known,
            "config/example.env sets {name}, which the code never reads"
        );
    }
}

#[test]
fn audience_resource_and_token_params_are_read_as_lists_and_a_form() {
    let config = OAuth2Config::from_vars(vars(&with(&[
        (
            "OAUTH2_PAYMENTS_API_AUDIENCE",
            "https://api.example.com/, urn:orders",
        ),
        (
            "OAUTH2_PAYMENTS_API_RESOURCE",
            "https://api.example.com/orders,https://api.example.com/refunds",
        ),
        (
            "OAUTH2_PAYMENTS_API_TOKEN_PARAMS",
            "organization=org_1&requested_token_use=on_behalf_of&note=a%26b",
        ),
    ])))
    .expect("valid");
    let params = config.get("payments_api").expect("provider").params();
    assert_eq!(
        params.audiences(),
        ["https://api.example.com/", "urn:orders"]
    );
    assert_eq!(
        params.resources(),
        [
            "https://api.example.com/orders",
            "https://api.example.com/refunds"
        ]
    );
    assert_eq!(
        params.params(),
        [
            ("organization".to_owned(), "org_1".to_owned()),
            ("requested_token_use".to_owned(), "on_behalf_of".to_owned()),
            ("note".to_owned(), "a&b".to_owned()),
        ]
    );
}

#[test]
fn token_params_refuse_names_the_grant_sends_naming_the_variable_not_the_value() {
    let e = err(&with(&[(
        "OAUTH2_PAYMENTS_API_TOKEN_PARAMS",
        "client_secret=hunter2-value",
    )]));
    let shown = e.to_string();
    assert!(
        shown.contains("OAUTH2_PAYMENTS_API_TOKEN_PARAMS"),
        "{shown}"
    );
    assert!(shown.contains("client_secret"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    let e = err(&with(&[("OAUTH2_PAYMENTS_API_TOKEN_PARAMS", "justaword")]));
    assert!(e.to_string().contains("name=value"), "{e}");
}
