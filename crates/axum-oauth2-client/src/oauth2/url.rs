//! URL rules shared by the token endpoint and the upstreams: what a log may
//! show of a URL, what counts as this machine, and which token URLs are
//! usable.

use reqwest::Url;

/// A URL for logs: scheme, host, port and path; no user info, no query.
pub(crate) fn redacted_url(url: &Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    shown
}

/// Whether `url` names this machine: `localhost`, 127.0.0.0/8 or `::1`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Why a token URL is unusable, if it is: not http(s), user info, or plain
/// http to another machine without the explicit opt-in.
pub(crate) fn check_token_url(url: &Url, allow_insecure_http: bool) -> Result<(), &'static str> {
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure_http || is_loopback(url) => {}
        "http" => {
            return Err(
                "must be https unless the host is loopback or insecure http is explicitly allowed",
            );
        }
        _ => return Err("must be an http or https URL"),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry user info");
    }
    Ok(())
}
