//! [`FetchOptions`]: how [`OAuth2Service::fetch`](crate::OAuth2Service::fetch)
//! builds an upstream request.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use super::exchange_options::TokenExchangeOptions;
use super::token_params::TokenParams;
use crate::http_signature::Signer;

/// How [`OAuth2Service::fetch`](crate::OAuth2Service::fetch) builds the
/// upstream request.
///
/// Defaults: `GET`, no headers, no body, the provider's client credentials
/// token, the provider's signer (if configured), the HTTP client's timeout.
/// The body is [`Bytes`], so the request can be replayed after a 401.
///
/// ```
/// use axum_oauth2_client::{FetchOptions, TokenExchangeOptions};
/// use reqwest::Method;
///
/// let options = FetchOptions::default()
///     .method(Method::POST)
///     .header("x-request-id", "42")
///     .json(&serde_json::json!({ "amount": 10 }))
///     .token_exchange(TokenExchangeOptions::new("user-token"));
/// ```
#[derive(Clone, Default)]
pub struct FetchOptions {
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    /// A body that can be sent once (taken by the first attempt).
    pub(crate) stream: Option<Arc<std::sync::Mutex<Option<reqwest::Body>>>>,
    pub(crate) token_exchange: Option<TokenExchangeOptions>,
    pub(crate) token_params: Option<TokenParams>,
    pub(crate) signer: Option<Arc<dyn Signer>>,
    pub(crate) timeout: Option<Duration>,
    /// Form-encoded pairs appended to the URL's query.
    pub(crate) query: Option<String>,
    pub(crate) version: Option<reqwest::Version>,
    /// The first error a builder method met; `fetch` reports it.
    pub(crate) invalid: Option<String>,
}

impl FetchOptions {
    /// The HTTP method (default `GET`).
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Adds a header. An invalid name or value makes `fetch` fail with
    /// `invalid_request` (the value is not repeated in the message), and
    /// so does a header the client sets itself: `Host`, `Authorization`
    /// (the managed token), `DPoP` (its proof) and the hop-by-hop headers of RFC 9110 §7.6.1
    /// (`Connection`, `Keep-Alive`, `Transfer-Encoding`, `TE`, `Trailer`,
    /// `Upgrade`, `Proxy-*`), which would let a caller reshape the request
    /// on the wire.
    #[must_use]
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                if self.allowed(&name) {
                    self.headers.append(name, value);
                }
            }
            (Err(_), _) => self.fail("a header name is not a valid HTTP header name"),
            (Ok(name), Err(_)) => self.fail(format!(
                "the value of header `{name}` is not a valid HTTP header value"
            )),
        }
        self
    }

    /// Adds every header of `headers`, refusing the same names as
    /// [`header`](Self::header).
    #[must_use]
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        if let Some(name) = headers.keys().find(|name| !is_allowed(name)) {
            let name = name.clone();
            self.allowed(&name);
            return self;
        }
        self.headers.extend(headers);
        self
    }

    /// Sets the body. It is kept, so the request can be sent again after
    /// a 401.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self.stream = None;
        self
    }

    /// Sets a body that can be sent only once, such as a stream. A request
    /// with such a body is not retried after a 401: the 401 response is
    /// returned to the caller. The options can be used for one request.
    #[must_use]
    pub fn body_stream(mut self, body: impl Into<reqwest::Body>) -> Self {
        self.stream = Some(Arc::new(std::sync::Mutex::new(Some(body.into()))));
        self.body = None;
        self
    }

    /// Appends `query` (serialized as `application/x-www-form-urlencoded`
    /// pairs, like reqwest's `RequestBuilder::query`) to the URL's query.
    /// Called twice, both are appended.
    #[must_use]
    pub fn query<T: serde::Serialize + ?Sized>(mut self, query: &T) -> Self {
        match serde_urlencoded::to_string(query) {
            Ok(pairs) if pairs.is_empty() => {}
            Ok(pairs) => match &mut self.query {
                Some(existing) => {
                    existing.push('&');
                    existing.push_str(&pairs);
                }
                None => self.query = Some(pairs),
            },
            Err(e) => self.fail(format!("the query cannot be serialized: {e}")),
        }
        self
    }

    /// Sets a form body (`application/x-www-form-urlencoded`, replayable
    /// like [`body`](Self::body)) and its `Content-Type`.
    #[must_use]
    pub fn form<T: serde::Serialize + ?Sized>(mut self, form: &T) -> Self {
        match serde_urlencoded::to_string(form) {
            Ok(body) => {
                self.body = Some(Bytes::from(body));
                self.stream = None;
                self.headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
            }
            Err(e) => self.fail(format!("the form body cannot be serialized: {e}")),
        }
        self
    }

    /// The HTTP version to ask for (default: what the client negotiates).
    #[must_use]
    pub fn version(mut self, version: reqwest::Version) -> Self {
        self.version = Some(version);
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    #[must_use]
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.body = Some(Bytes::from(body));
                self.stream = None;
                self.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            Err(e) => self.fail(format!("the JSON body cannot be serialized: {e}")),
        }
        self
    }

    /// Uses a token obtained by exchanging the caller's subject token
    /// (RFC 8693) instead of the provider's client credentials token.
    #[must_use]
    pub fn token_exchange(mut self, exchange: TokenExchangeOptions) -> Self {
        self.token_exchange = Some(exchange);
        self
    }

    /// Uses the provider's own grant with `params` over its configured
    /// ones (this call's `audience`, `resource` or `scope`); the token is
    /// cached under every parameter sent. With
    /// [`token_exchange`](Self::token_exchange) as well, `fetch` fails with
    /// `invalid_request`: an exchange carries its own parameters.
    #[must_use]
    pub fn token_params(mut self, params: TokenParams) -> Self {
        self.token_params = Some(params);
        self
    }

    /// Signs this request with `signer` (overrides the provider's signer).
    #[must_use]
    pub fn signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Bounds this request (each attempt) to `timeout`.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether the caller may set header `name`; records why not.
    fn allowed(&mut self, name: &HeaderName) -> bool {
        let allowed = is_allowed(name);
        if !allowed {
            self.fail(format!(
                "header `{name}` is set by the client and cannot be given"
            ));
        }
        allowed
    }

    fn fail(&mut self, reason: impl Into<String>) {
        if self.invalid.is_none() {
            self.invalid = Some(reason.into());
        }
    }
}

/// Whether a caller may set header `name` on an upstream request: not one
/// the client owns (`Host`, `Authorization`) nor a hop-by-hop header
/// (RFC 9110 §7.6.1).
pub(crate) fn is_allowed(name: &HeaderName) -> bool {
    use reqwest::header::{
        AUTHORIZATION, CONNECTION, HOST, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
    };
    let owned = [
        AUTHORIZATION,
        HOST,
        CONNECTION,
        TE,
        TRAILER,
        TRANSFER_ENCODING,
        UPGRADE,
    ];
    // Names are lower case in a HeaderName. `DPoP` carries the client's
    // own proof (RFC 9449 §4.1).
    !(owned.contains(name)
        || name == "keep-alive"
        || name == "dpop"
        || name.as_str().starts_with("proxy-"))
}

impl fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values and the body may carry caller secrets: names and sizes only.
        let header_names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("FetchOptions")
            .field("method", &self.method)
            .field("headers", &header_names)
            .field("body_len", &self.body.as_ref().map(Bytes::len))
            .field("streaming_body", &self.stream.is_some())
            .field("token_exchange", &self.token_exchange)
            .field("token_params", &self.token_params)
            .field("signer", &self.signer)
            .field("timeout", &self.timeout)
            .field("query_len", &self.query.as_ref().map(String::len))
            .field("version", &self.version)
            .finish()
    }
}
