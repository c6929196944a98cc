//! Interoperability with an independent RFC 9421 implementation: the npm
//! package `http-message-signatures` (version pinned by
//! `tests/interop/package-lock.json`), run under Node.js.
//!
//! - this crate signs (through the `Signer` trait on `reqwest::Request`),
//!   the npm package verifies, for every algorithm;
//! - the npm package signs, this crate verifies, for every algorithm.
//!
//! The test installs the package with `npm ci` when it is missing and skips
//! (loudly) only when `node`/`npm` are not installed.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

use axum_oauth2_client::http_signature::{
    Algorithm, InMemoryKeyResolver, MessageSigner, Signer, VerificationKey, Verifier,
    VerifyErrorKind,
};
use bytes::Bytes;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn Error>>;

const PACKAGE: &str = "http-message-signatures";

struct KeySpec {
    alg: &'static str,
    keyid: &'static str,
    private: &'static str,
    public: &'static str,
}

const KEYS: [KeySpec; 6] = [
    KeySpec {
        alg: "rsa-pss-sha512",
        keyid: "test-key-rsa-pss",
        private: "rfc9421/test-key-rsa-pss.pem",
        public: "rfc9421/test-key-rsa-pss.pub.pem",
    },
    KeySpec {
        alg: "rsa-v1_5-sha256",
        keyid: "test-key-rsa",
        private: "rfc9421/test-key-rsa.pem",
        public: "rfc9421/test-key-rsa.pub.pem",
    },
    KeySpec {
        alg: "hmac-sha256",
        keyid: "test-shared-secret",
        private: "rfc9421/test-shared-secret.b64",
        public: "rfc9421/test-shared-secret.b64",
    },
    KeySpec {
        alg: "ecdsa-p256-sha256",
        keyid: "test-key-ecc-p256",
        private: "rfc9421/test-key-ecc-p256.pem",
        public: "rfc9421/test-key-ecc-p256.pub.pem",
    },
    KeySpec {
        alg: "ecdsa-p384-sha384",
        keyid: "interop-key-ecc-p384",
        private: "interop-keys/ecc-p384.pem",
        public: "interop-keys/ecc-p384.pub.pem",
    },
    KeySpec {
        alg: "ed25519",
        keyid: "test-key-ed25519",
        private: "rfc9421/test-key-ed25519.pem",
        public: "rfc9421/test-key-ed25519.pub.pem",
    },
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(relative: &str) -> PathBuf {
    root().join("tests/fixtures").join(relative)
}

fn tool_available(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// The installed package version, if any.
fn installed_version(interop: &Path) -> Option<String> {
    let manifest = std::fs::read_to_string(
        interop
            .join("node_modules")
            .join(PACKAGE)
            .join("package.json"),
    )
    .ok()?;
    let value: Value = serde_json::from_str(&manifest).ok()?;
    value["version"].as_str().map(str::to_owned)
}

/// Installs the locked dependencies unless they are already in place.
fn ensure_installed(interop: &Path) -> Result<String, Box<dyn Error>> {
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(interop.join("package-lock.json"))?)?;
    let wanted = lock["packages"][format!("node_modules/{PACKAGE}")]["version"]
        .as_str()
        .ok_or("package-lock.json does not pin http-message-signatures")?
        .to_owned();
    if installed_version(interop).as_deref() != Some(wanted.as_str()) {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(interop)
            .status()?;
        if !status.success() {
            return Err(format!("`npm ci --prefix {}` failed: {status}", interop.display()).into());
        }
    }
    let installed = installed_version(interop).ok_or("http-message-signatures is not installed")?;
    if installed != wanted {
        return Err(format!("installed {PACKAGE} {installed}, lock file pins {wanted}").into());
    }
    Ok(installed)
}

fn run_node(script: &Path, input: &Path) -> Result<Value, Box<dyn Error>> {
    let out = Command::new("node").arg(script).arg(input).output()?;
    if !out.status.success() {
        return Err(format!(
            "node {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn key_json(spec: &KeySpec) -> Value {
    let private = fixture(spec.private);
    let public = fixture(spec.public);
    json!({
        "alg": spec.alg,
        "keyid": spec.keyid,
        "private": private,
        "public": public,
        "secret": private,
    })
}

fn verification_key(spec: &KeySpec) -> Result<VerificationKey, Box<dyn Error>> {
    let alg: Algorithm = spec.alg.parse()?;
    Ok(VerificationKey::from_pem_or_jwk(
        alg,
        &std::fs::read_to_string(fixture(spec.public))?,
    )?)
}

/// Signs a request the way the token manager does: `Signer::sign` on a
/// `reqwest::Request` with the bearer token already set.
async fn signed_by_this_crate(spec: &KeySpec) -> Result<Value, Box<dyn Error>> {
    let private = std::fs::read_to_string(fixture(spec.private))?;
    let signer = MessageSigner::from_config(spec.alg, &private, Some(spec.keyid), None)?
        .expires_in(std::time::Duration::from_secs(120));
    let body = r#"{"amount": 100, "currency": "EUR"}"#;
    let mut request = reqwest::Request::new(
        reqwest::Method::POST,
        "https://api.example.com/v1/orders?id=7&note=a%20b".parse()?,
    );
    let headers = request.headers_mut();
    headers.insert("content-type", "application/json".parse()?);
    headers.insert("authorization", "Bearer interop-token".parse()?);
    *request.body_mut() = Some(reqwest::Body::from(body));
    Signer::sign(&signer, &mut request).await?;

    let mut headers = BTreeMap::new();
    for (name, value) in request.headers() {
        headers.insert(name.as_str().to_owned(), value.to_str()?.to_owned());
    }
    Ok(json!({
        "alg": spec.alg,
        "keyid": spec.keyid,
        "key": key_json(spec),
        "request": {
            "method": request.method().as_str(),
            "url": request.url().as_str(),
            "headers": headers,
            "body": body,
        },
    }))
}

fn to_http_request(signed: &Value) -> Result<http::Request<Bytes>, Box<dyn Error>> {
    let request = &signed["request"];
    let mut builder = http::Request::builder()
        .method(request["method"].as_str().ok_or("method")?)
        .uri(request["url"].as_str().ok_or("url")?);
    for (name, value) in request["headers"].as_object().ok_or("headers")? {
        let values: Vec<&str> = match value {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        for value in values {
            builder = builder.header(name.as_str(), value);
        }
    }
    let body = request["body"].as_str().ok_or("body")?.to_owned();
    Ok(builder.body(Bytes::from(body))?)
}

#[tokio::test]
async fn npm_http_message_signatures_interoperates_for_every_algorithm() -> TestResult {
    if !tool_available("node") || !tool_available("npm") {
        // CI installs Node.js: there a missing tool is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide node and npm for the RFC 9421 interoperability test"
        );
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPED: RFC 9421 interoperability test needs `node` and `npm`. !!!\n\
             !!! Install Node.js (>= 18) to run it; CI must have it.            !!!\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return Ok(());
    }
    let interop = root().join("tests/interop");
    let version = ensure_installed(&interop)?;
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("http-signature-interop");
    std::fs::create_dir_all(&scratch)?;
    let mut report = vec![format!("implementation: npm {PACKAGE} {version} (Node.js)")];

    // This crate signs, the npm package verifies.
    let mut cases = Vec::new();
    for spec in &KEYS {
        cases.push(signed_by_this_crate(spec).await?);
    }
    let cases_path = scratch.join("signed-by-rust.json");
    std::fs::write(&cases_path, serde_json::to_vec_pretty(&cases)?)?;
    let results = run_node(&interop.join("verify.js"), &cases_path)?;
    let results = results.as_array().ok_or("verify.js output is not a list")?;
    assert_eq!(results.len(), KEYS.len());
    for result in results {
        let alg = result["alg"].as_str().unwrap_or("?");
        assert_eq!(
            result["verified"], true,
            "npm failed to verify {alg}: {result}"
        );
        assert_eq!(
            result["digest"], true,
            "npm rejected the Content-Digest for {alg}: {result}"
        );
        report.push(format!("  rust signs -> npm verifies: {alg} ok"));
    }

    // The npm package signs, this crate verifies.
    let keys: Vec<Value> = KEYS.iter().map(key_json).collect();
    let keys_path = scratch.join("keys.json");
    std::fs::write(&keys_path, serde_json::to_vec_pretty(&keys)?)?;
    let signed = run_node(&interop.join("sign.js"), &keys_path)?;
    let mut resolver = InMemoryKeyResolver::new();
    for spec in &KEYS {
        resolver.insert(spec.keyid, verification_key(spec)?);
    }
    let verifier = Verifier::builder(resolver)
        .required_components(axum_oauth2_client::http_signature::ComponentId::parse_list(
            "@method @target-uri content-digest authorization",
        )?)
        // npm signs @authority and @target-uri: both must name this service.
        .authority("api.example.com")
        .build();
    let mut verified_algs = Vec::new();
    for case in signed.as_array().ok_or("sign.js output is not a list")? {
        let alg = case["alg"].as_str().unwrap_or("?");
        let variant = case["variant"].as_str().unwrap_or("?");
        let request = to_http_request(case)?;
        let result = verifier.verify(&request).await;
        if variant == "library-default-salt" {
            // The package's createSigner leaves OpenSSL's maximum PSS salt
            // length; RFC 9421 §3.3.1 requires 64 bytes, so this is refused.
            assert_eq!(
                result.as_ref().map_err(|e| e.kind()).err(),
                Some(VerifyErrorKind::InvalidSignature),
                "{alg} with the library's default salt length"
            );
            report.push(format!(
                "  npm signs -> rust verifies: {alg} via createSigner (max salt length) refused, as RFC 9421 §3.3.1 requires"
            ));
            continue;
        }
        let verified =
            result.map_err(|e| format!("this crate refused npm's {alg}: {e} ({})", e.code()))?;
        assert_eq!(verified.algorithm().as_str(), alg);
        verified_algs.push(alg.to_owned());
        report.push(format!("  npm signs -> rust verifies: {alg} ok"));
    }
    let all: Vec<String> = KEYS.iter().map(|k| k.alg.to_owned()).collect();
    assert_eq!(verified_algs, all);
    eprintln!("{}", report.join("\n"));
    Ok(())
}
