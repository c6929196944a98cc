//! The HTTP message that components are taken from (RFC 9421 §2): a
//! request's derived components (§2.2) or a response and the request it
//! answers (§2.4). [`ComponentValues`](super::component_values) reads the
//! values.

use http::HeaderMap;

use super::components::Derived;

/// Why a component value could not be produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueError {
    /// The message does not have the component (§2.5: the base cannot be built).
    Missing(String),
    /// The component exists but cannot be canonicalised.
    Invalid(String, &'static str),
}

impl ValueError {
    /// The message names the component (at most 64 characters of it: the
    /// identifier comes from a possibly hostile `Signature-Input`), never
    /// its value.
    pub(crate) fn describe(&self) -> String {
        let shown = |id: &str| id.chars().take(64).collect::<String>();
        match self {
            ValueError::Missing(id) => {
                format!("covered component {} is not in the message", shown(id))
            }
            ValueError::Invalid(id, why) => format!("covered component {}: {why}", shown(id)),
        }
    }
}

/// The request data components are derived from (§2.2).
#[derive(Debug, Clone)]
pub(crate) struct RequestParts<'a> {
    method: &'a str,
    scheme: String,
    authority: String,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Lowercases the host and drops user info and a default port (§2.2.3).
pub(crate) fn normalize_authority(scheme: &str, raw: &str) -> Option<String> {
    let raw = raw
        .rsplit_once('@')
        .map_or(raw, |(_, host)| host)
        .to_ascii_lowercase();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    // A port follows the last ':' unless that colon is inside an IPv6 literal.
    if let Some((host, port)) = raw.rsplit_once(':') {
        if !port.contains(']') {
            let port: u16 = port.parse().ok()?;
            if Some(port) == default_port(scheme) {
                return Some(host.to_owned());
            }
        }
    }
    Some(raw)
}

impl<'a> RequestParts<'a> {
    /// From an absolute URL, as an HTTP client holds it (reqwest).
    pub(crate) fn from_url(
        method: &'a http::Method,
        url: &'a url::Url,
        headers: &'a HeaderMap,
    ) -> Option<Self> {
        let host = url.host_str()?;
        let scheme = url.scheme().to_ascii_lowercase();
        let authority = match url.port() {
            Some(port) if Some(port) != default_port(&scheme) => format!("{host}:{port}"),
            _ => host.to_owned(),
        };
        Some(Self {
            method: method.as_str(),
            authority: authority.to_ascii_lowercase(),
            scheme,
            path: url.path(),
            query: url.query(),
            headers,
        })
    }

    /// From a request as a server sees it: the authority comes from the
    /// URI (HTTP/2 `:authority`) or else the `Host` header; the scheme from
    /// the URI or else `default_scheme` (a server behind a TLS terminator
    /// cannot see it).
    pub(crate) fn from_http<B>(
        request: &'a http::Request<B>,
        default_scheme: &str,
    ) -> Option<Self> {
        let uri = request.uri();
        let scheme = uri
            .scheme_str()
            .unwrap_or(default_scheme)
            .to_ascii_lowercase();
        let raw_authority = match uri.authority() {
            Some(authority) => authority.as_str(),
            None => {
                let mut hosts = request.headers().get_all(http::header::HOST).iter();
                let host = hosts.next()?;
                if hosts.next().is_some() {
                    return None;
                }
                host.to_str().ok()?
            }
        };
        Some(Self {
            method: request.method().as_str(),
            authority: normalize_authority(&scheme, raw_authority)?,
            scheme,
            path: uri.path(),
            query: uri.query(),
            headers: request.headers(),
        })
    }

    pub(crate) fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    pub(crate) fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The normalized authority (§2.2.3), as `@authority` covers it.
    pub(crate) fn authority(&self) -> &str {
        &self.authority
    }

    fn path(&self) -> &str {
        if self.path.is_empty() { "/" } else { self.path }
    }

    /// A derived component of this request (§2.2); `None` for
    /// `@query-param`, which has several values, and `@status`.
    pub(crate) fn derived_value(&self, derived: Derived) -> Option<String> {
        Some(match derived {
            Derived::Method => self.method.to_owned(),
            Derived::TargetUri => self.target_uri(),
            Derived::Authority => self.authority.clone(),
            Derived::Scheme => self.scheme.clone(),
            Derived::RequestTarget => match self.query {
                Some(query) => format!("{}?{query}", self.path()),
                None => self.path().to_owned(),
            },
            Derived::Path => self.path().to_owned(),
            Derived::Query => format!("?{}", self.query.unwrap_or("")),
            Derived::QueryParam | Derived::Status => return None,
        })
    }

    fn target_uri(&self) -> String {
        let mut uri = format!("{}://{}{}", self.scheme, self.authority, self.path());
        if let Some(query) = self.query {
            uri.push('?');
            uri.push_str(query);
        }
        uri
    }
}

/// A message that components are read from.
#[derive(Debug, Clone)]
pub(crate) enum MessageView<'a> {
    Request(RequestParts<'a>),
    Response {
        status: u16,
        headers: &'a HeaderMap,
        /// The request this response answers, for `;req` components (§2.4).
        request: Option<RequestParts<'a>>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_normalisation() {
        assert_eq!(
            normalize_authority("https", "Example.COM:443"),
            Some("example.com".into())
        );
        assert_eq!(
            normalize_authority("http", "example.com:8080"),
            Some("example.com:8080".into())
        );
        assert_eq!(
            normalize_authority("https", "[::1]:443"),
            Some("[::1]".into())
        );
        assert_eq!(normalize_authority("https", "[::1]"), Some("[::1]".into()));
        assert_eq!(normalize_authority("https", "host:notaport"), None);
        assert_eq!(normalize_authority("https", ""), None);
    }
}
