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

/// The template server's own variables in the README's configuration
/// table: the upper-case backticked names of the first cells that are not
/// `OAUTH2_*`.
fn readme_template_variables() -> std::collections::BTreeSet<String> {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let mut names = std::collections::BTreeSet::new();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let first = line.split('|').nth(1).unwrap_or_default();
        for name in first.split('`').skip(1).step_by(2) {
            let variable = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if variable && !name.starts_with("OAUTH2_") {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

#[test]
fn the_readme_documents_exactly_the_template_variables_the_server_reads() {
    let read: std::collections::BTreeSet<String> = axum_oauth2_template::AppConfig::variables()
        .map(str::to_owned)
        .collect();
    let documented = readme_template_variables();
    assert!(read.contains("METRICS_PORT"));
    assert_eq!(
        read, documented,
        "AppConfig::variables() against the README's table"
    );
}

#[test]
fn metrics_port_is_a_port_of_its_own() {
    use axum_oauth2_template::AppConfig;
    let config = |pairs: &[(&str, &str)]| {
        let vars: std::collections::BTreeMap<String, String> = vars(pairs).into_iter().collect();
        AppConfig::from_vars(&vars)
    };
    assert_eq!(config(&[]).expect("defaults").metrics_port, None);
    assert_eq!(
        config(&[("METRICS_PORT", "")]).expect("empty").metrics_port,
        None
    );
    assert_eq!(
        config(&[("METRICS_PORT", " 9090 ")])
            .expect("set")
            .metrics_port,
        Some(9090)
    );
    for (pairs, reason) in [
        (&[("METRICS_PORT", "http")][..], "a port number"),
        (&[("METRICS_PORT", "70000")][..], "a port number"),
        (
            &[("PORT", "9090"), ("METRICS_PORT", "9090")][..],
            "differ from PORT",
        ),
    ] {
        let error = config(pairs).expect_err("refused");
        assert_eq!(error.code(), "invalid_variable", "{pairs:?}");
        let shown = error.to_string();
        assert!(
            shown.contains("METRICS_PORT") && shown.contains(reason),
            "{shown}"
        );
    }
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

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/jose/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_client_key_file_makes_private_key_jwt_without_a_secret() {
    use axum_oauth2_client::jose::JwsAlgorithm;
    let config = OAuth2Config::from_vars(vars(&[
        (
            "OAUTH2_ENTRA_TOKEN_URL",
            "https://login.example.com/t/oauth2/v2.0/token",
        ),
        ("OAUTH2_ENTRA_CLIENT_ID", "app-id"),
        ("OAUTH2_ENTRA_CLIENT_KEY_FILE", &fixture("rsa-2048.pem")),
        ("OAUTH2_ENTRA_CLIENT_KEY_ALG", "PS256"),
        ("OAUTH2_ENTRA_CLIENT_KEY_ID", "cert-2026"),
        (
            "OAUTH2_ENTRA_CLIENT_CERT_FILE",
            &fixture("rsa-2048.cert.pem"),
        ),
    ]))
    .expect("valid");
    let entra = config.get("entra").expect("entra");
    assert_eq!(entra.method(), AuthMethod::PrivateKeyJwt);
    assert!(entra.secret().is_none(), "no secret needed");
    let key = entra.key().expect("key");
    assert_eq!(key.algorithm(), JwsAlgorithm::PS256);
    assert_eq!(key.kid(), Some("cert-2026"));
    let shown = format!("{config:?}");
    let pem = std::fs::read_to_string(fixture("rsa-2048.pem")).expect("pem");
    let body_line = pem.lines().nth(3).expect("a line of the key");
    assert!(!shown.contains(body_line), "{shown}");
}

#[test]
fn unusable_keys_and_certificates_name_the_variable_never_the_key() {
    let base = [
        ("OAUTH2_K_TOKEN_URL", "https://a/token"),
        ("OAUTH2_K_CLIENT_ID", "id"),
    ];
    let with = |extra: &[(&str, &str)]| {
        let mut all: Vec<(&str, &str)> = base.to_vec();
        all.extend_from_slice(extra);
        err(&all)
    };
    let rsa = fixture("rsa-2048.pem");
    let p256 = fixture("ec-p256.pem");
    let cert = fixture("rsa-2048.cert.pem");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("OAUTH2_K_CLIENT_KEY_FILE", "/nonexistent/key.pem")],
            "OAUTH2_K_CLIENT_KEY_FILE",
        ),
        (
            vec![
                ("OAUTH2_K_CLIENT_KEY_FILE", &p256),
                ("OAUTH2_K_CLIENT_KEY_ALG", "RS256"),
            ],
            "OAUTH2_K_CLIENT_KEY_FILE",
        ),
        (
            vec![
                ("OAUTH2_K_CLIENT_KEY_FILE", &rsa),
                ("OAUTH2_K_CLIENT_KEY_ALG", "RS1"),
            ],
            "OAUTH2_K_CLIENT_KEY_ALG",
        ),
        (
            vec![
                ("OAUTH2_K_CLIENT_KEY_FILE", &p256),
                ("OAUTH2_K_CLIENT_CERT_FILE", &cert),
            ],
            "OAUTH2_K_CLIENT_CERT_FILE",
        ),
        (
            vec![("OAUTH2_K_CLIENT_KEY_FILE", &cert)],
            "OAUTH2_K_CLIENT_KEY_FILE",
        ),
        (
            vec![("OAUTH2_K_CLIENT_KEY_ALG", "PS256")],
            "OAUTH2_K_CLIENT_KEY_FILE",
        ),
        (
            vec![("OAUTH2_K_AUTH_METHOD", "private_key_jwt")],
            "OAUTH2_K_CLIENT_KEY_FILE",
        ),
        (
            vec![("OAUTH2_K_GRANT", "jwt_bearer")],
            "OAUTH2_K_CLIENT_KEY_FILE",
        ),
        (vec![("OAUTH2_K_GRANT", "password")], "OAUTH2_K_GRANT"),
    ];
    let pem = std::fs::read_to_string(&rsa).expect("pem");
    let key_line = pem.lines().nth(2).expect("a line of the key");
    for (extra, variable) in cases {
        let e = with(&extra);
        assert_eq!(e.variable(), variable, "{extra:?}: {e}");
        assert!(!e.to_string().contains(key_line), "{e}");
    }
}

#[test]
fn a_service_account_file_configures_a_provider_on_its_own() {
    let config = OAuth2Config::from_vars(vars(&[
        (
            "OAUTH2_GCP_SERVICE_ACCOUNT_FILE",
            &fixture("service-account.json"),
        ),
        (
            "OAUTH2_GCP_SCOPE",
            "https://www.googleapis.com/auth/cloud-platform",
        ),
    ]))
    .expect("valid");
    let gcp = config.get("gcp").expect("gcp");
    assert_eq!(gcp.method(), AuthMethod::None);
    assert_eq!(gcp.grant_type(), axum_oauth2_client::GrantType::JwtBearer);
    let account: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("service-account.json")).expect("json"),
    )
    .expect("json");
    assert_eq!(gcp.client_id(), account["client_email"]);
    assert_eq!(
        gcp.token_url().map(|u| u.as_str()),
        account["token_uri"].as_str()
    );
    assert_eq!(
        gcp.key().and_then(|k| k.kid()),
        account["private_key_id"].as_str()
    );
    let e = err(&[
        (
            "OAUTH2_GCP_SERVICE_ACCOUNT_FILE",
            &fixture("service-account.json"),
        ),
        ("OAUTH2_GCP_CLIENT_KEY_FILE", &fixture("rsa-2048.pem")),
    ]);
    assert_eq!(e.code(), "conflicting_variables");
    let e = err(&[("OAUTH2_GCP_SERVICE_ACCOUNT_FILE", &fixture("rsa-2048.pem"))]);
    assert_eq!(e.variable(), "OAUTH2_GCP_SERVICE_ACCOUNT_FILE");
}

#[test]
fn an_issuer_replaces_the_token_url_and_leaves_the_method_to_discovery() {
    let config = OAuth2Config::from_vars(vars(&[
        (
            "OAUTH2_OKTA_ISSUER",
            "https://example.okta.com/oauth2/default",
        ),
        ("OAUTH2_OKTA_CLIENT_ID", "id"),
        ("OAUTH2_OKTA_CLIENT_SECRET", "s"),
    ]))
    .expect("valid");
    let okta = config.get("okta").expect("okta");
    assert!(okta.token_url().is_none());
    assert_eq!(
        okta.issuer_id(),
        Some("https://example.okta.com/oauth2/default")
    );
    for (issuer, why) in [
        ("https://a.example/?tenant=1", "query"),
        ("http://a.example", "http off loopback"),
        ("not a url", "not a URL"),
    ] {
        let e = err(&[
            ("OAUTH2_OKTA_ISSUER", issuer),
            ("OAUTH2_OKTA_CLIENT_ID", "id"),
            ("OAUTH2_OKTA_CLIENT_SECRET", "s"),
        ]);
        assert_eq!(e.variable(), "OAUTH2_OKTA_ISSUER", "{why}: {e}");
    }
}

fn mtls_fixture(name: &str) -> String {
    format!("{}/tests/fixtures/mtls/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_tls_certificate_alone_makes_tls_client_auth_and_the_ca_file_is_read() {
    let config = OAuth2Config::from_vars(vars(&[
        ("OAUTH2_VAULT_TOKEN_URL", "https://127.0.0.1:8443/token"),
        ("OAUTH2_VAULT_CLIENT_ID", "orders-service"),
        ("OAUTH2_VAULT_TLS_CERT_FILE", &mtls_fixture("client.pem")),
        ("OAUTH2_VAULT_TLS_KEY_FILE", &mtls_fixture("client.key")),
        ("OAUTH2_VAULT_CA_FILE", &mtls_fixture("ca.pem")),
    ]))
    .expect("valid");
    let vault = config.get("vault").expect("vault");
    assert_eq!(vault.method(), AuthMethod::TlsClientAuth);
    assert!(vault.secret().is_none());
    let identity = vault.identity().expect("identity");
    assert_eq!(
        identity.x5t_s256(),
        "PDmQX_-1UeRMo2szgvTHLbWDKlRsfQnJ6-07h5iU-LE"
    );
    assert_eq!(identity.subject(), "CN=orders-service");
    let roots = vault.trusted_roots().expect("roots");
    assert_eq!(roots.subjects(), ["CN=mtls test CA"]);
    assert!(!roots.trusts_built_in_roots());

    // The key never shows, in the provider's Debug or the config's.
    let shown = format!("{config:?}");
    let key = std::fs::read_to_string(mtls_fixture("client.key")).expect("key");
    for line in key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!shown.contains(line), "{shown}");
    }
    assert!(shown.contains("CN=orders-service"), "{shown}");

    // A secret keeps its default method; the certificate still goes along.
    let config = OAuth2Config::from_vars(vars(&[
        ("OAUTH2_VAULT_TOKEN_URL", "https://127.0.0.1:8443/token"),
        ("OAUTH2_VAULT_CLIENT_ID", "orders-service"),
        ("OAUTH2_VAULT_CLIENT_SECRET", "s3cr3t"),
        ("OAUTH2_VAULT_TLS_CERT_FILE", &mtls_fixture("client.pem")),
        ("OAUTH2_VAULT_TLS_KEY_FILE", &mtls_fixture("client.key")),
    ]))
    .expect("valid");
    let vault = config.get("vault").expect("vault");
    assert_eq!(vault.method(), AuthMethod::ClientSecretBasic);
    assert!(vault.identity().is_some());

    let config = OAuth2Config::from_vars(vars(&[
        ("OAUTH2_VAULT_TOKEN_URL", "https://127.0.0.1:8443/token"),
        ("OAUTH2_VAULT_CLIENT_ID", "orders-service"),
        ("OAUTH2_VAULT_AUTH_METHOD", "self_signed_tls_client_auth"),
        (
            "OAUTH2_VAULT_TLS_CERT_FILE",
            &mtls_fixture("self-signed.pem"),
        ),
        (
            "OAUTH2_VAULT_TLS_KEY_FILE",
            &mtls_fixture("self-signed.key"),
        ),
    ]))
    .expect("valid");
    assert_eq!(
        config.get("vault").expect("vault").method(),
        AuthMethod::SelfSignedTlsClientAuth
    );
}

#[test]
fn unusable_tls_files_name_the_variable_never_the_key() {
    // A secret, so that each case fails for its TLS variable alone.
    let base = [
        ("OAUTH2_V_TOKEN_URL", "https://a/token"),
        ("OAUTH2_V_CLIENT_ID", "id"),
        ("OAUTH2_V_CLIENT_SECRET", "s"),
    ];
    let with = |extra: &[(&str, &str)]| {
        let mut all: Vec<(&str, &str)> = base.to_vec();
        all.extend_from_slice(extra);
        err(&all)
    };
    let cert = mtls_fixture("client.pem");
    let key = mtls_fixture("client.key");
    let other_key = mtls_fixture("untrusted.key");
    // (variables, the variable the error names, its code)
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![("OAUTH2_V_TLS_CERT_FILE", &cert)],
            "OAUTH2_V_TLS_KEY_FILE",
            "missing_variable",
        ),
        (
            vec![("OAUTH2_V_TLS_KEY_FILE", &key)],
            "OAUTH2_V_TLS_CERT_FILE",
            "missing_variable",
        ),
        (
            vec![("OAUTH2_V_AUTH_METHOD", "tls_client_auth")],
            "OAUTH2_V_TLS_CERT_FILE",
            "missing_variable",
        ),
        (
            // The certificate is not for this key.
            vec![
                ("OAUTH2_V_TLS_CERT_FILE", &cert),
                ("OAUTH2_V_TLS_KEY_FILE", &other_key),
            ],
            "OAUTH2_V_TLS_CERT_FILE",
            "invalid_variable",
        ),
        (
            // Swapped: a key where the chain goes.
            vec![
                ("OAUTH2_V_TLS_CERT_FILE", &key),
                ("OAUTH2_V_TLS_KEY_FILE", &key),
            ],
            "OAUTH2_V_TLS_CERT_FILE",
            "invalid_variable",
        ),
        (
            vec![
                ("OAUTH2_V_TLS_CERT_FILE", &cert),
                ("OAUTH2_V_TLS_KEY_FILE", &cert),
            ],
            "OAUTH2_V_TLS_KEY_FILE",
            "invalid_variable",
        ),
        (
            vec![
                ("OAUTH2_V_TLS_CERT_FILE", &cert),
                ("OAUTH2_V_TLS_KEY_FILE", "/nonexistent/client.key"),
            ],
            "OAUTH2_V_TLS_KEY_FILE",
            "unreadable_file",
        ),
        (
            vec![("OAUTH2_V_CA_FILE", &key)],
            "OAUTH2_V_CA_FILE",
            "invalid_variable",
        ),
        (
            vec![("OAUTH2_V_CA_FILE", "/nonexistent/ca.pem")],
            "OAUTH2_V_CA_FILE",
            "unreadable_file",
        ),
    ];
    let mut key_lines = Vec::new();
    for file in [&key, &other_key] {
        let text = std::fs::read_to_string(file).expect("key");
        key_lines.extend(
            text.lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_owned),
        );
    }
    for (extra, variable, code) in cases {
        let e = with(&extra);
        assert_eq!(e.variable(), variable, "{extra:?}: {e}");
        assert_eq!(e.code(), code, "{extra:?}: {e}");
        let shown = format!("{e} {e:?}");
        for line in &key_lines {
            assert!(!shown.contains(line.as_str()), "{shown}");
        }
    }
    let mismatch = with(&[
        ("OAUTH2_V_TLS_CERT_FILE", &cert),
        ("OAUTH2_V_TLS_KEY_FILE", &other_key),
    ]);
    assert!(
        mismatch.to_string().contains("OAUTH2_V_TLS_KEY_FILE"),
        "names the key's variable too: {mismatch}"
    );
}
