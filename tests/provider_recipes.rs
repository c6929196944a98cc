//! The identity provider recipes of `docs/providers.md`, each run as
//! written: its `env` block is read from the document, its hosts pointed at
//! a wiremock stub that answers as the provider documents, its
//! `/run/secrets/` paths at test keys and secrets, and the exact token
//! request it makes is checked (form fields in order, headers, the header
//! and claims of every signed JWT).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use axum_oauth2_client::{OAuth2Config, OAuth2Service, TokenExchangeOptions};
use base64::Engine as _;
use common::{assert_error_shows_no_secret, basic_credentials, capture_logs, form, header};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The sections of `docs/providers.md` that hold a recipe, each with its
/// test below.
const AUTH0: &str = "Auth0";
const ENTRA: &str = "Microsoft Entra ID";
const OKTA: &str = "Okta";
const KEYCLOAK: &str = "Keycloak";
const GOOGLE: &str = "Google service accounts";
const COGNITO: &str = "AWS Cognito";
const RECIPES: [&str; 6] = [AUTH0, ENTRA, OKTA, KEYCLOAK, GOOGLE, COGNITO];

/// `x5t#S256` of `rsa-2048.cert.pem` (openssl, see the fixtures' README).
const RSA_CERT_X5T_S256: &str = "LHhsQJ-I68-QjTOtRs6vhK8A1LeMGYSQnCqicnuWLFk";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const FORM: &str = "application/x-www-form-urlencoded";

// --- the document ----------------------------------------------------------

/// `docs/providers.md`, read when the test runs.
fn document() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/providers.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Each `## ` section's title with the `env` code blocks it holds.
fn sections(doc: &str) -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    let mut block: Option<(String, String)> = None;
    for line in doc.lines() {
        if let Some((info, text)) = &mut block {
            if line.trim_start().starts_with("```") {
                if info == "env" {
                    let text = std::mem::take(text);
                    sections
                        .last_mut()
                        .expect("an env block before the first section")
                        .1
                        .push(text);
                }
                block = None;
            } else {
                text.push_str(line);
                text.push('\n');
            }
        } else if let Some(info) = line.trim_start().strip_prefix("```") {
            block = Some((info.trim().to_owned(), String::new()));
        } else if let Some(title) = line.strip_prefix("## ") {
            sections.push((title.trim().to_owned(), Vec::new()));
        }
    }
    assert!(block.is_none(), "a code block is never closed");
    sections
}

/// The variables of the one `env` block of section `title`, in order, as a
/// dotenv file reads them (`NAME=value`, `NAME="value"`, `#` comments).
fn recipe(title: &str) -> Vec<(String, String)> {
    let doc = document();
    let sections = sections(&doc);
    let (_, blocks) = sections
        .iter()
        .find(|(t, _)| t == title)
        .unwrap_or_else(|| panic!("docs/providers.md has no section `## {title}`"));
    let [block] = blocks.as_slice() else {
        panic!("section `{title}` must hold exactly one env block");
    };
    let vars: Vec<(String, String)> = block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (name, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("`{title}`: not NAME=value: {line}"));
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            (name.to_owned(), value.to_owned())
        })
        .collect();
    assert!(!vars.is_empty(), "`{title}`: the env block is empty");
    vars
}

#[test]
fn every_recipe_in_the_document_has_a_test_and_every_test_a_recipe() {
    let doc = document();
    let with_env: BTreeSet<String> = sections(&doc)
        .into_iter()
        .filter(|(_, blocks)| !blocks.is_empty())
        .map(|(title, _)| title)
        .collect();
    let tested: BTreeSet<String> = RECIPES.iter().map(|t| (*t).to_owned()).collect();
    assert_eq!(with_env, tested, "docs/providers.md recipes vs the tests");
    for (title, blocks) in sections(&doc) {
        assert!(
            blocks.len() <= 1,
            "`{title}` holds {} env blocks",
            blocks.len()
        );
    }
}

#[test]
fn every_recipe_uses_only_variables_the_code_reads_for_one_provider() {
    let known: Vec<String> = OAuth2Config::variables().collect();
    for title in RECIPES {
        let vars = recipe(title);
        let mut names = BTreeSet::new();
        for (variable, _) in &vars {
            let setting = known
                .iter()
                .filter_map(|k| k.strip_prefix("OAUTH2_<NAME>_"))
                .filter(|setting| variable.ends_with(&format!("_{setting}")))
                .max_by_key(|setting| setting.len())
                .unwrap_or_else(|| {
                    panic!("`{title}`: {variable} is not a variable the code reads")
                });
            let name = variable
                .strip_prefix("OAUTH2_")
                .and_then(|v| v.strip_suffix(&format!("_{setting}")))
                .unwrap_or_else(|| panic!("`{title}`: {variable}"));
            names.insert(name.to_owned());
        }
        assert_eq!(
            names.len(),
            1,
            "`{title}` configures one provider: {names:?}"
        );
    }
}

// --- running a recipe --------------------------------------------------------

/// A directory of files a test writes, removed when it is dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "provider-recipes-{test}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jose")
        .join(name)
}

/// The recipe's variables with each fake origin replaced by the stub's and
/// each `/run/secrets/…` path by a real file. Every origin and every file
/// given must be used, and every secret path must be given: the document
/// and the test cannot drift apart unnoticed.
fn localize(
    title: &str,
    vars: Vec<(String, String)>,
    origins: &[(&str, &str)],
    files: &[(&str, &Path)],
) -> Vec<(String, String)> {
    let mut origins_used = BTreeSet::new();
    let mut files_used = BTreeSet::new();
    let vars = vars
        .into_iter()
        .map(|(name, mut value)| {
            if value.starts_with("/run/secrets/") {
                let (secret, file) = files
                    .iter()
                    .find(|(secret, _)| *secret == value)
                    .unwrap_or_else(|| panic!("`{title}`: no test file for {value}"));
                files_used.insert(*secret);
                value = file.to_str().expect("utf-8 path").to_owned();
            }
            for (fake, local) in origins {
                if value.contains(fake) {
                    origins_used.insert(*fake);
                    value = value.replace(fake, local);
                }
            }
            (name, value)
        })
        .collect();
    for (fake, _) in origins {
        assert!(origins_used.contains(fake), "`{title}` never uses {fake}");
    }
    for (secret, _) in files {
        assert!(
            files_used.contains(secret),
            "`{title}` never reads {secret}"
        );
    }
    vars
}

/// The service the recipe configures, and the name of its one provider.
fn service(vars: Vec<(String, String)>) -> (OAuth2Service, String) {
    let config = OAuth2Config::from_vars(vars).expect("the recipe is a valid configuration");
    let service = OAuth2Service::new(config).expect("service");
    let names: Vec<String> = service.providers().map(str::to_owned).collect();
    let [name] = names.as_slice() else {
        panic!("one provider expected, got {names:?}");
    };
    let name = name.clone();
    (service, name)
}

// --- the stub ------------------------------------------------------------------

/// A stub on its own server: POST `token_path` answers 200 with `body`.
async fn token_endpoint(server: &MockServer, token_path: &str, body: Value) {
    Mock::given(method("POST"))
        .and(path(token_path))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

/// GET `metadata_path` answers with `metadata`.
async fn metadata_at(server: &MockServer, metadata_path: &str, metadata: &Value) {
    Mock::given(method("GET"))
        .and(path(metadata_path))
        .respond_with(ResponseTemplate::new(200).set_body_json(metadata.clone()))
        .mount(server)
        .await;
}

/// The POSTs the stub received at `token_path`.
async fn token_requests(server: &MockServer, token_path: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("recording on")
        .into_iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == token_path)
        .collect()
}

/// The paths of the GETs the stub received, in order.
async fn metadata_requests(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .expect("recording on")
        .into_iter()
        .filter(|r| r.method.as_str() == "GET")
        .map(|r| r.url.path().to_owned())
        .collect()
}

// --- what was sent ---------------------------------------------------------------

/// The form fields in the order sent.
fn fields(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// Checks a token request's headers and its whole form: every field, in
/// order, with its value where one is given (`None`: a JWT or a secret,
/// checked by its caller).
fn assert_token_request(request: &Request, expected: &[(&str, Option<&str>)]) {
    assert_eq!(header(request, "content-type"), Some(FORM));
    assert_eq!(header(request, "accept"), Some("application/json"));
    let sent = fields(request);
    let names: Vec<&str> = sent.iter().map(|(n, _)| n.as_str()).collect();
    let want: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, want, "form fields, in order");
    for ((name, value), (_, want)) in sent.iter().zip(expected) {
        if let Some(want) = want {
            assert_eq!(value, want, "form field {name}");
        }
    }
}

fn decode(part: &str) -> Value {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&raw).expect("json")
}

/// What a signed JWT must say.
struct Jwt<'a> {
    alg: &'a str,
    kid: Option<&'a str>,
    x5t_s256: Option<&'a str>,
    iss: &'a str,
    sub: &'a str,
    aud: String,
    lifetime: u64,
    /// The claims besides the registered ones.
    extra: Value,
}

impl Jwt<'_> {
    /// Checks the header and the claims of the compact JWS `token` (the
    /// signature is checked by the jose tests and by the interop server).
    fn check(&self, token: &str) {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "a compact JWS");
        let (header, claims) = (decode(parts[0]), decode(parts[1]));
        let mut want_header = json!({"alg": self.alg, "typ": "JWT"});
        if let Some(kid) = self.kid {
            want_header["kid"] = json!(kid);
        }
        if let Some(x5t) = self.x5t_s256 {
            want_header["x5t#S256"] = json!(x5t);
        }
        assert_eq!(header, want_header, "JWT header");

        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let iat = claims["iat"].as_u64().expect("iat");
        assert!(iat.abs_diff(now) <= 5, "iat is now");
        assert_eq!(claims["nbf"].as_u64(), Some(iat), "nbf");
        assert_eq!(
            claims["exp"].as_u64(),
            Some(iat + self.lifetime),
            "exp - iat"
        );
        let jti = claims["jti"].as_str().expect("jti");
        assert!(jti.len() >= 16, "jti of 128 random bits");
        let mut want = json!({
            "iss": self.iss,
            "sub": self.sub,
            "aud": self.aud,
            "iat": iat,
            "nbf": iat,
            "exp": iat + self.lifetime,
            "jti": jti,
        });
        for (name, value) in self.extra.as_object().into_iter().flatten() {
            want[name] = value.clone();
        }
        assert_eq!(claims, want, "JWT claims");
    }
}

/// The value of form field `name`.
fn value(request: &Request, name: &str) -> String {
    form(request)
        .remove(name)
        .unwrap_or_else(|| panic!("no form field {name}"))
}

// --- the recipes -----------------------------------------------------------------

const AUTH0_ORIGIN: &str = "https://example-tenant.us.auth0.com";
const AUTH0_CLIENT_ID: &str = "kF3oExampleAuth0ClientId00000000";
const AUTH0_AUDIENCE: &str = "https://api.example.com/orders";

/// The Auth0 stub: OpenID Connect metadata appended to the issuer (which
/// ends with `/`), the methods Auth0 lists, and its token answer.
async fn auth0_stub(server: &MockServer, token_answer: Value) {
    let origin = server.uri();
    let metadata = json!({
        "issuer": format!("{origin}/"),
        "authorization_endpoint": format!("{origin}/authorize"),
        "token_endpoint": format!("{origin}/oauth/token"),
        "jwks_uri": format!("{origin}/.well-known/jwks.json"),
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt"
        ],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384", "PS256"],
        "grant_types_supported": [
            "authorization_code", "client_credentials", "refresh_token",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ],
    });
    metadata_at(server, "/.well-known/openid-configuration", &metadata).await;
    token_endpoint(server, "/oauth/token", token_answer).await;
}

fn auth0_service(server: &MockServer) -> (OAuth2Service, String) {
    let origin = server.uri();
    service(localize(
        AUTH0,
        recipe(AUTH0),
        &[(AUTH0_ORIGIN, &origin)],
        &[(
            "/run/secrets/auth0_client_key.pem",
            &fixture("rsa-2048.pem"),
        )],
    ))
}

/// The client assertion Auth0 wants: `aud` is the tenant URL with its
/// slash (here the stub's), RS256 from the RSA key, no `kid`.
fn auth0_assertion(server: &MockServer) -> Jwt<'static> {
    Jwt {
        alg: "RS256",
        kid: None,
        x5t_s256: None,
        iss: AUTH0_CLIENT_ID,
        sub: AUTH0_CLIENT_ID,
        aud: format!("{}/", server.uri()),
        lifetime: 60,
        extra: json!({}),
    }
}

#[tokio::test]
async fn auth0_discovers_private_key_jwt_and_sends_the_audience_and_the_tenant_url_as_aud() {
    let server = MockServer::start().await;
    auth0_stub(
        &server,
        json!({
            "access_token": "auth0-access-token",
            "scope": "read:orders",
            "expires_in": 86400,
            "token_type": "Bearer",
        }),
    )
    .await;
    let (oauth2, name) = auth0_service(&server);
    let token = oauth2.get_token(&name, None).await.expect("token");
    assert_eq!(token.secret(), "auth0-access-token");
    assert_eq!(token.scope(), Some("read:orders"));

    assert_eq!(
        metadata_requests(&server).await,
        [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration"
        ]
    );
    let requests = token_requests(&server, "/oauth/token").await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(header(request, "authorization"), None, "no Basic");
    assert_token_request(
        request,
        &[
            ("grant_type", Some("client_credentials")),
            ("audience", Some(AUTH0_AUDIENCE)),
            ("client_id", Some(AUTH0_CLIENT_ID)),
            ("client_assertion_type", Some(ASSERTION_TYPE)),
            ("client_assertion", None),
        ],
    );
    auth0_assertion(&server).check(&value(request, "client_assertion"));
}

const ENTRA_TENANT: &str = "00000000-0000-0000-0000-000000000000";
const ENTRA_CLIENT_ID: &str = "11111111-1111-1111-1111-111111111111";
const ENTRA_SCOPE: &str = "api://22222222-2222-2222-2222-222222222222/.default";

fn entra_token_path() -> String {
    format!("/{ENTRA_TENANT}/oauth2/v2.0/token")
}

#[tokio::test]
async fn entra_id_sends_the_default_scope_and_a_ps256_certificate_assertion_with_x5t_s256() {
    let server = MockServer::start().await;
    token_endpoint(
        &server,
        &entra_token_path(),
        json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": "entra-access-token",
        }),
    )
    .await;
    let origin = server.uri();
    let (oauth2, name) = service(localize(
        ENTRA,
        recipe(ENTRA),
        &[("https://login.microsoftonline.com", &origin)],
        &[
            (
                "/run/secrets/entra_client_key.pem",
                &fixture("rsa-2048.pem"),
            ),
            (
                "/run/secrets/entra_client_cert.pem",
                &fixture("rsa-2048.cert.pem"),
            ),
        ],
    ));
    let token = oauth2.get_token(&name, None).await.expect("token");
    assert_eq!(token.secret(), "entra-access-token");

    let requests = token_requests(&server, &entra_token_path()).await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(header(request, "authorization"), None, "no Basic");
    assert_token_request(
        request,
        &[
            ("grant_type", Some("client_credentials")),
            ("scope", Some(ENTRA_SCOPE)),
            ("client_id", Some(ENTRA_CLIENT_ID)),
            ("client_assertion_type", Some(ASSERTION_TYPE)),
            ("client_assertion", None),
        ],
    );
    let token_url = format!("{origin}{}", entra_token_path());
    Jwt {
        alg: "PS256",
        kid: None,
        x5t_s256: Some(RSA_CERT_X5T_S256),
        iss: ENTRA_CLIENT_ID,
        sub: ENTRA_CLIENT_ID,
        aud: token_url.clone(),
        lifetime: 60,
        extra: json!({}),
    }
    .check(&value(request, "client_assertion"));
}

#[tokio::test]
async fn entra_id_invalid_client_answer_keeps_its_error_codes_and_never_shows_the_secret() {
    const SECRET: &str = "Qx8~entra.Secret_value-0123456789abcdef";
    let server = MockServer::start().await;
    let description = "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID. Trace ID: 0b1c2d3e-0000-4000-8000-000000000001 Correlation ID: 0b1c2d3e-0000-4000-8000-000000000002 Timestamp: 2026-06-01 12:00:00Z";
    Mock::given(method("POST"))
        .and(path(entra_token_path()))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": description,
            "error_codes": [7000215],
            "timestamp": "2026-06-01 12:00:00Z",
            "trace_id": "0b1c2d3e-0000-4000-8000-000000000001",
            "correlation_id": "0b1c2d3e-0000-4000-8000-000000000002",
        })))
        .mount(&server)
        .await;
    let scratch = Scratch::new("entra-error");
    let secret_file = scratch.write("entra_client_secret", SECRET);
    // The Entra recipe with a secret in the body in place of the certificate.
    let mut vars: Vec<(String, String)> = recipe(ENTRA)
        .into_iter()
        .filter(|(name, _)| !name.contains("_CLIENT_KEY_") && !name.contains("_CLIENT_CERT_"))
        .map(|(name, value)| match name.as_str() {
            "OAUTH2_ENTRA_AUTH_METHOD" => (name, "client_secret_post".to_owned()),
            _ => (name, value),
        })
        .collect();
    vars.push((
        "OAUTH2_ENTRA_CLIENT_SECRET_FILE".to_owned(),
        "/run/secrets/entra_client_secret".to_owned(),
    ));
    let origin = server.uri();
    let (oauth2, name) = service(localize(
        ENTRA,
        vars,
        &[("https://login.microsoftonline.com", &origin)],
        &[("/run/secrets/entra_client_secret", &secret_file)],
    ));

    let err = oauth2.get_token(&name, None).await.expect_err("refused");
    assert_eq!(err.code(), "token_endpoint_error");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(err.oauth_error(), Some("invalid_client"));
    assert!(!err.is_retryable(), "a 401 is final");
    let body = err.error_body().expect("the error body");
    assert_eq!(body.error_codes, [7000215]);
    assert!(
        body.error_description
            .as_deref()
            .is_some_and(|d| d.starts_with("AADSTS7000215: Invalid client secret provided.")),
        "{:?}",
        body.error_description
    );
    assert_error_shows_no_secret(&err, &[SECRET]);

    let requests = token_requests(&server, &entra_token_path()).await;
    assert_eq!(requests.len(), 1, "not retried");
    assert_eq!(header(&requests[0], "authorization"), None);
    assert_token_request(
        &requests[0],
        &[
            ("grant_type", Some("client_credentials")),
            ("scope", Some(ENTRA_SCOPE)),
            ("client_id", Some(ENTRA_CLIENT_ID)),
            ("client_secret", Some(SECRET)),
        ],
    );
}

const OKTA_CLIENT_ID: &str = "0oa1example2client3id";

#[tokio::test]
async fn okta_discovers_its_token_endpoint_and_signs_es256_for_it_with_the_kid() {
    let server = MockServer::start().await;
    let origin = server.uri();
    let issuer = format!("{origin}/oauth2/default");
    let metadata = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/v1/authorize"),
        "token_endpoint": format!("{issuer}/v1/token"),
        "jwks_uri": format!("{issuer}/v1/keys"),
        "grant_types_supported": [
            "authorization_code", "implicit", "refresh_token", "password", "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "client_secret_jwt",
            "private_key_jwt", "none"
        ],
        "token_endpoint_auth_signing_alg_values_supported": [
            "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"
        ],
    });
    // Where Okta publishes it: appended to the issuer, for RFC 8414 and
    // OpenID Connect alike.
    metadata_at(
        &server,
        "/oauth2/default/.well-known/oauth-authorization-server",
        &metadata,
    )
    .await;
    metadata_at(
        &server,
        "/oauth2/default/.well-known/openid-configuration",
        &metadata,
    )
    .await;
    token_endpoint(
        &server,
        "/oauth2/default/v1/token",
        json!({
            "token_type": "Bearer",
            "expires_in": 3600,
            "access_token": "okta-access-token",
            "scope": "orders:read",
        }),
    )
    .await;
    let (oauth2, name) = service(localize(
        OKTA,
        recipe(OKTA),
        &[("https://example.okta.com", &origin)],
        &[("/run/secrets/okta_client_key.pem", &fixture("ec-p256.pem"))],
    ));
    let token = oauth2.get_token(&name, None).await.expect("token");
    assert_eq!(token.secret(), "okta-access-token");

    assert_eq!(
        metadata_requests(&server).await,
        [
            "/.well-known/oauth-authorization-server/oauth2/default",
            "/oauth2/default/.well-known/openid-configuration"
        ],
        "RFC 8414's inserted URL first, then OpenID Connect's"
    );
    let requests = token_requests(&server, "/oauth2/default/v1/token").await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(header(request, "authorization"), None, "no Basic");
    assert_token_request(
        request,
        &[
            ("grant_type", Some("client_credentials")),
            ("scope", Some("orders:read")),
            ("client_id", Some(OKTA_CLIENT_ID)),
            ("client_assertion_type", Some(ASSERTION_TYPE)),
            ("client_assertion", None),
        ],
    );
    let token_url = format!("{issuer}/v1/token");
    Jwt {
        alg: "ES256",
        kid: Some("okta-2026-06"),
        x5t_s256: None,
        iss: OKTA_CLIENT_ID,
        sub: OKTA_CLIENT_ID,
        aud: token_url.clone(),
        lifetime: 60,
        extra: json!({}),
    }
    .check(&value(request, "client_assertion"));
}

#[tokio::test]
async fn keycloak_discovers_client_secret_basic_and_form_encodes_the_credentials() {
    const SECRET: &str = "kc+secret/with%chars";
    let logs = capture_logs();
    let server = MockServer::start().await;
    let origin = server.uri();
    let issuer = format!("{origin}/realms/orders");
    let token_url = format!("{issuer}/protocol/openid-connect/token");
    let metadata = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/protocol/openid-connect/auth"),
        "token_endpoint": token_url,
        "jwks_uri": format!("{issuer}/protocol/openid-connect/certs"),
        "grant_types_supported": [
            "authorization_code", "implicit", "refresh_token", "password", "client_credentials",
            "urn:openid:params:grant-type:ciba", "urn:ietf:params:oauth:grant-type:device_code"
        ],
        "token_endpoint_auth_methods_supported": [
            "private_key_jwt", "client_secret_basic", "client_secret_post",
            "tls_client_auth", "client_secret_jwt"
        ],
        "token_endpoint_auth_signing_alg_values_supported": [
            "PS384", "RS384", "EdDSA", "ES384", "HS256", "HS512", "ES256", "RS256",
            "HS384", "ES512", "PS256", "PS512", "RS512"
        ],
        "mtls_endpoint_aliases": {
            "token_endpoint": token_url,
            "revocation_endpoint": format!("{issuer}/protocol/openid-connect/revoke"),
            "introspection_endpoint": format!("{issuer}/protocol/openid-connect/token/introspect"),
        },
    });
    metadata_at(
        &server,
        "/realms/orders/.well-known/openid-configuration",
        &metadata,
    )
    .await;
    token_endpoint(
        &server,
        "/realms/orders/protocol/openid-connect/token",
        json!({
            "access_token": "keycloak-access-token",
            "expires_in": 300,
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": "profile email",
        }),
    )
    .await;
    let scratch = Scratch::new("keycloak");
    let secret_file = scratch.write("keycloak_client_secret", &format!("{SECRET}\n"));
    let (oauth2, name) = service(localize(
        KEYCLOAK,
        recipe(KEYCLOAK),
        &[("https://keycloak.example.com", &origin)],
        &[("/run/secrets/keycloak_client_secret", &secret_file)],
    ));

    // What the template server does at start-up.
    let discovered = oauth2
        .metadata(&name)
        .await
        .expect("metadata")
        .expect("an issuer's metadata");
    assert_eq!(discovered.issuer(), issuer);
    assert_eq!(
        discovered.mtls_token_endpoint().map(|u| u.as_str()),
        Some(token_url.as_str())
    );
    let line = logs
        .text()
        .lines()
        .find(|l| l.contains("token endpoint discovered") && l.contains(&issuer))
        .map(str::to_owned)
        .expect("the discovery is logged");
    assert!(line.contains("client_secret_basic"), "{line}");
    assert!(line.contains("chosen=true"), "{line}");

    let token = oauth2.get_token(&name, None).await.expect("token");
    assert_eq!(token.secret(), "keycloak-access-token");
    let requests = token_requests(&server, "/realms/orders/protocol/openid-connect/token").await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode("orders-service:kc%2Bsecret%2Fwith%25chars")
    );
    assert_eq!(header(request, "authorization"), Some(expected.as_str()));
    assert_eq!(
        basic_credentials(request),
        Some(("orders-service".to_owned(), SECRET.to_owned()))
    );
    assert_token_request(request, &[("grant_type", Some("client_credentials"))]);
}

#[tokio::test]
async fn google_service_account_sends_a_jwt_bearer_grant_with_the_scope_inside_and_no_client_auth()
{
    let server = MockServer::start().await;
    token_endpoint(
        &server,
        "/token",
        json!({
            "access_token": "ya29.google-access-token",
            "expires_in": 3599,
            "token_type": "Bearer",
        }),
    )
    .await;
    let mut account: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("service-account.json")).expect("fixture"),
    )
    .expect("json");
    let token_url = format!("{}/token", server.uri());
    account["token_uri"] = json!(token_url);
    let scratch = Scratch::new("google");
    let account_file = scratch.write("gcp_service_account.json", &account.to_string());
    let (oauth2, name) = service(localize(
        GOOGLE,
        recipe(GOOGLE),
        &[],
        &[("/run/secrets/gcp_service_account.json", &account_file)],
    ));
    let token = oauth2.get_token(&name, None).await.expect("token");
    assert_eq!(token.secret(), "ya29.google-access-token");

    let requests = token_requests(&server, "/token").await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        header(request, "authorization"),
        None,
        "no client authentication"
    );
    assert_token_request(
        request,
        &[
            (
                "grant_type",
                Some("urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ),
            ("assertion", None),
        ],
    );
    let email = account["client_email"].as_str().expect("client_email");
    Jwt {
        alg: "RS256",
        kid: account["private_key_id"].as_str(),
        x5t_s256: None,
        iss: email,
        sub: email,
        aud: token_url.clone(),
        lifetime: 60,
        extra: json!({"scope": "https://www.googleapis.com/auth/cloud-platform"}),
    }
    .check(&value(request, "assertion"));
}

#[tokio::test]
async fn cognito_sends_basic_credentials_and_resource_server_scopes_once_for_many_calls() {
    const SECRET: &str = "1cognito0secret0example0value0abcdefghijklmnopqrs";
    let server = MockServer::start().await;
    token_endpoint(
        &server,
        "/oauth2/token",
        json!({
            "access_token": "cognito-access-token",
            "expires_in": 3600,
            "token_type": "Bearer",
        }),
    )
    .await;
    let scratch = Scratch::new("cognito");
    let secret_file = scratch.write("cognito_client_secret", SECRET);
    let origin = server.uri();
    let (oauth2, name) = service(localize(
        COGNITO,
        recipe(COGNITO),
        &[("https://example.auth.eu-west-1.amazoncognito.com", &origin)],
        &[("/run/secrets/cognito_client_secret", &secret_file)],
    ));
    for _ in 0..3 {
        let token = oauth2.get_token(&name, None).await.expect("token");
        assert_eq!(token.secret(), "cognito-access-token");
    }

    let requests = token_requests(&server, "/oauth2/token").await;
    assert_eq!(requests.len(), 1, "billed once: the cache answers the rest");
    let request = &requests[0];
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("1example23client45id6789ab:{SECRET}"))
    );
    assert_eq!(header(request, "authorization"), Some(expected.as_str()));
    assert_token_request(
        request,
        &[
            ("grant_type", Some("client_credentials")),
            (
                "scope",
                Some("orders-api/orders.read orders-api/orders.write"),
            ),
        ],
    );
}

// --- token exchange --------------------------------------------------------------

const LEGACY_TOKEN_TYPE: &str = "urn:example-corp:legacy-session";
const LEGACY_TOKEN: &str = "legacy-session-7f3a9c";

/// The exchange of the "Token exchange with Auth0" section, on the Auth0
/// recipe; `answer` is the stub's body.
async fn auth0_exchange(answer: Value) -> (MockServer, Result<String, String>) {
    let server = MockServer::start().await;
    auth0_stub(&server, answer).await;
    let (oauth2, name) = auth0_service(&server);
    let exchange = TokenExchangeOptions::new(LEGACY_TOKEN).subject_token_type(LEGACY_TOKEN_TYPE);
    let result = oauth2
        .get_token(&name, Some(&exchange))
        .await
        .map(|t| t.secret().to_owned())
        .map_err(|e| e.to_string());
    (server, result)
}

#[tokio::test]
async fn auth0_token_exchange_sends_the_custom_subject_token_type_with_the_audience() {
    let (server, result) = auth0_exchange(json!({
        "access_token": "auth0-exchanged-token",
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "expires_in": 86400,
        "token_type": "Bearer",
    }))
    .await;
    assert_eq!(result.as_deref(), Ok("auth0-exchanged-token"));

    let requests = token_requests(&server, "/oauth/token").await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(header(request, "authorization"), None, "no Basic");
    assert_token_request(
        request,
        &[
            (
                "grant_type",
                Some("urn:ietf:params:oauth:grant-type:token-exchange"),
            ),
            ("subject_token", Some(LEGACY_TOKEN)),
            ("subject_token_type", Some(LEGACY_TOKEN_TYPE)),
            ("audience", Some(AUTH0_AUDIENCE)),
            ("client_id", Some(AUTH0_CLIENT_ID)),
            ("client_assertion_type", Some(ASSERTION_TYPE)),
            ("client_assertion", None),
        ],
    );
    auth0_assertion(&server).check(&value(request, "client_assertion"));
}

/// Auth0 documents its exchange answer as its usual token answer, without
/// the `issued_token_type` RFC 8693 §2.2.1 requires: with no requested
/// token type, it is taken as an access token.
#[tokio::test]
async fn auth0_token_exchange_accepts_its_documented_answer_without_issued_token_type() {
    let (_server, result) = auth0_exchange(json!({
        "access_token": "auth0-exchanged-token",
        "expires_in": 86400,
        "token_type": "Bearer",
        "scope": "read:orders",
    }))
    .await;
    assert_eq!(result.as_deref(), Ok("auth0-exchanged-token"));
}
