//! Whether a server asks for a nonce: a resource server's `DPoP` challenge
//! with `error="use_dpop_nonce"` (RFC 9449 §9), or an authorization
//! server's `use_dpop_nonce` error response (RFC 9449 §8).

use http::HeaderMap;
use http::header::WWW_AUTHENTICATE;
use serde::Deserialize;

/// The error code both servers use to ask for a nonce (RFC 9449 §8, §9).
const USE_DPOP_NONCE: &str = "use_dpop_nonce";

/// `WWW-Authenticate` fields read, and bytes read of each: a challenge
/// list longer than this is not one a resource server sends.
const MAX_FIELDS: usize = 16;
const MAX_FIELD_LEN: usize = 8 * 1024;

/// Whether a `WWW-Authenticate` field of `headers` holds a `DPoP` challenge
/// with `error="use_dpop_nonce"` (RFC 9449 §9).
///
/// Reads every field (a response may send several, each a list of
/// challenges, RFC 9110 §11.6.1): the scheme and parameter names are
/// case-insensitive (RFC 9110 §11.1, §11.2), the value may be a token or a
/// quoted-string with backslash escapes (RFC 9110 §5.6.4). The parser runs
/// in one pass over at most 16 fields of 8 KiB each, allocates nothing and
/// stops at the first byte it cannot read; a malformed challenge list
/// never panics and is `false` unless the nonce request came before the
/// damage.
pub(crate) fn asks_for_nonce(headers: &HeaderMap) -> bool {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .take(MAX_FIELDS)
        .any(|value| {
            let bytes = value.as_bytes();
            challenges_ask_for_nonce(&bytes[..bytes.len().min(MAX_FIELD_LEN)])
        })
}

/// Whether a token endpoint's error body is `{"error":"use_dpop_nonce"}`
/// (RFC 9449 §8; RFC 6749 §5.2 error response), whatever else it holds.
pub(crate) fn is_use_dpop_nonce(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct ErrorBody<'a> {
        #[serde(borrow, default)]
        error: Option<std::borrow::Cow<'a, str>>,
    }
    // serde reads a struct from a JSON array too (by position); the body
    // must be an object.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return false;
    }
    serde_json::from_slice::<ErrorBody<'_>>(body)
        .ok()
        .and_then(|body| body.error)
        .is_some_and(|error| error == USE_DPOP_NONCE)
}

/// One `WWW-Authenticate` field value:
///
/// ```text
/// WWW-Authenticate = #challenge
/// challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
/// auth-param       = token BWS "=" BWS ( token / quoted-string )
/// ```
///
/// Commas separate challenges and parameters alike; an element that is a
/// name followed by `=` is a parameter of the challenge before it, any other
/// one starts a new challenge (its first word is the scheme). A token68
/// (`Basic dXNlcg==`) reads as a word of its own or a parameter with an
/// empty value; either way it is not part of a `DPoP` challenge.
fn challenges_ask_for_nonce(field: &[u8]) -> bool {
    let mut input = Cursor {
        bytes: field,
        at: 0,
    };
    let mut in_dpop = false;
    loop {
        input.skip(|b| b == b',' || is_ows(b));
        if input.at_end() {
            return false;
        }
        let Some(word) = input.word() else {
            return false;
        };
        input.skip(is_ows);
        if input.eat(b'=') {
            input.skip(is_ows);
            let value = match input.peek() {
                Some(b'"') => match input.quoted_string() {
                    Some(raw) => Value::Quoted(raw),
                    None => return false,
                },
                _ => Value::Token(input.word().unwrap_or_default()),
            };
            if in_dpop && word.eq_ignore_ascii_case(b"error") && value.is(USE_DPOP_NONCE) {
                return true;
            }
            // token68 padding (`abc==`) and stray `=`s end the element.
            input.skip(|b| b == b'=');
        } else {
            in_dpop = word.eq_ignore_ascii_case(b"DPoP");
        }
        // What follows an element is a comma, the end, or (after a scheme)
        // the first parameter or token68; anything else is garbage.
        match input.peek() {
            None | Some(b',') => {}
            Some(b) if is_word_byte(b) => {}
            Some(_) => return false,
        }
    }
}

/// A parameter value as written: a token, or the inside of a
/// quoted-string, escapes included.
enum Value<'a> {
    Token(&'a [u8]),
    Quoted(&'a [u8]),
}

impl Value<'_> {
    /// Whether the value, unescaped, is `expected`.
    fn is(&self, expected: &str) -> bool {
        match self {
            Value::Token(token) => *token == expected.as_bytes(),
            Value::Quoted(raw) => {
                let mut unescaped = Unescaped { raw, at: 0 };
                expected.bytes().all(|want| unescaped.next() == Some(want))
                    && unescaped.next().is_none()
            }
        }
    }
}

/// The bytes of a quoted-string's inside with each `\x` read as `x`
/// (quoted-pair, RFC 9110 §5.6.4).
struct Unescaped<'a> {
    raw: &'a [u8],
    at: usize,
}

impl Iterator for Unescaped<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let mut byte = *self.raw.get(self.at)?;
        self.at += 1;
        if byte == b'\\' {
            byte = *self.raw.get(self.at)?;
            self.at += 1;
        }
        Some(byte)
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn at_end(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn skip(&mut self, what: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&what) {
            self.at += 1;
        }
    }

    /// One or more token (or token68) characters.
    fn word(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        self.skip(is_word_byte);
        (self.at > start).then(|| &self.bytes[start..self.at])
    }

    /// A quoted-string starting at the cursor; its inside, escapes kept.
    /// `None` when it does not end, or holds a byte it may not.
    fn quoted_string(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        loop {
            match self.peek()? {
                b'"' => {
                    let inside = &self.bytes[start..self.at];
                    self.at += 1;
                    return Some(inside);
                }
                b'\\' => {
                    self.at += 1;
                    // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                    let escaped = self.peek()?;
                    if !(escaped == b'\t' || escaped >= 0x20) || escaped == 0x7f {
                        return None;
                    }
                    self.at += 1;
                }
                // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
                b if b == b'\t' || (b >= 0x20 && b != 0x7f) => self.at += 1,
                _ => return None,
            }
        }
    }
}

/// OWS: spaces and horizontal tabs (RFC 9110 §5.6.3).
fn is_ows(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// tchar (RFC 9110 §5.6.2), plus `/`, the one token68 character that is
/// not a tchar (RFC 9110 §11.2).
fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/".contains(&byte)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            if let Ok(value) = HeaderValue::from_str(value) {
                map.append(WWW_AUTHENTICATE, value);
            }
        }
        map
    }

    fn asks(values: &[&str]) -> bool {
        asks_for_nonce(&headers(values))
    }

    #[test]
    fn a_dpop_challenge_among_others_asks_for_a_nonce() {
        assert!(asks(&[
            r#"Bearer realm="x", DPoP error="use_dpop_nonce", algs="ES256""#
        ]));
        assert!(asks(&[
            r#"DPoP algs="ES256 PS256", error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#
        ]));
        assert!(asks(&[
            r#"Basic realm="a""#,
            r#"DPoP error="use_dpop_nonce""#
        ]));
        assert!(asks(&[r#"Newauth, DPoP error=use_dpop_nonce"#]));
        assert!(asks(&[
            r#"Basic dXNlcjpwYXNz==, DPoP error="use_dpop_nonce""#
        ]));
        assert!(asks(&[
            r#"Basic dXNlcjpwYXNz, DPoP error="use_dpop_nonce""#
        ]));
    }

    #[test]
    fn scheme_and_parameter_names_are_case_insensitive() {
        assert!(asks(&[r#"dpop error="use_dpop_nonce""#]));
        assert!(asks(&[r#"DPOP ERROR = "use_dpop_nonce""#]));
        assert!(asks(&["dPoP\tError=\"use_dpop_nonce\""]));
    }

    #[test]
    fn quoted_string_escapes_are_read() {
        assert!(asks(&[r#"DPoP error="use\_dpop\_nonce""#]));
        assert!(asks(&[
            r#"DPoP error_description="a \"quoted\", value", error="use_dpop_nonce""#
        ]));
        assert!(!asks(&[r#"DPoP error="use_dpop_nonce\"""#]));
    }

    #[test]
    fn other_errors_schemes_and_values_do_not() {
        for value in [
            r#"DPoP error="invalid_dpop_proof""#,
            r#"Bearer error="use_dpop_nonce""#,
            r#"DPoP error="USE_DPOP_NONCE""#,
            r#"DPoP error="use_dpop_nonce_x""#,
            r#"DPoP xerror="use_dpop_nonce""#,
            r#"DPoP realm="error=\"use_dpop_nonce\"""#,
            r#"DPoP algs="ES256", Bearer error="use_dpop_nonce""#,
            r#"DPoPx error="use_dpop_nonce""#,
            "DPoP",
            "",
        ] {
            assert!(!asks(&[value]), "{value}");
        }
        assert!(!asks(&[]));
    }

    #[test]
    fn garbage_is_false_and_never_panics() {
        for value in [
            r#"DPoP error="use_dpop_nonce"#,
            r#"DPoP error=""#,
            r#"DPoP ="use_dpop_nonce""#,
            r#"DPoP error=="use_dpop_nonce""#,
            r#"DPoP error="x"junk, "#,
            r#"DPoP error="\"#,
            "(((((",
            ",,,,",
            "= = =",
            "DPoP error=\"caf\u{e9}\"",
        ] {
            assert!(!asks(&[value]), "{value}");
        }
        // Garbage after the nonce request does not hide it.
        assert!(asks(&[r#"DPoP error="use_dpop_nonce", ((("#]));
    }

    #[test]
    fn long_fields_are_read_only_up_to_the_bound() {
        let padding = format!(r#"DPoP realm="{}", "#, "r".repeat(MAX_FIELD_LEN));
        assert!(!asks(&[&format!(r#"{padding}error="use_dpop_nonce""#)]));
        let early = format!(
            r#"DPoP error="use_dpop_nonce", realm="{}""#,
            "r".repeat(MAX_FIELD_LEN)
        );
        assert!(asks(&[&early]));
    }

    #[test]
    fn token_endpoint_use_dpop_nonce_body() {
        assert!(is_use_dpop_nonce(br#"{"error":"use_dpop_nonce"}"#));
        assert!(is_use_dpop_nonce(
            br#"{"error": "use_dpop_nonce", "error_description": "Authorization server requires nonce in DPoP proof"}"#
        ));
        assert!(is_use_dpop_nonce(br#"{"error":"use_dpop\u005fnonce"}"#));
        assert!(is_use_dpop_nonce(b"\n {\"error\":\"use_dpop_nonce\"}"));
        for body in [
            &br#"{"error":"invalid_dpop_proof"}"#[..],
            br#"{"error":null}"#,
            br#"{"error":1}"#,
            br#"{}"#,
            br#"["use_dpop_nonce"]"#,
            br#" ["use_dpop_nonce"]"#,
            br#""use_dpop_nonce""#,
            b"error=use_dpop_nonce",
            b"",
            b"\xff\xfe",
        ] {
            assert!(
                !is_use_dpop_nonce(body),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = challenges_ask_for_nonce(&bytes);
            let _ = is_use_dpop_nonce(&bytes);
        }

        #[test]
        fn a_nonce_request_is_found_after_any_other_challenge(
            scheme in "[A-Za-z][A-Za-z0-9-]{0,10}",
            name in "[a-z_]{1,8}",
            value in "[ -~]{0,16}",
        ) {
            prop_assume!(!scheme.eq_ignore_ascii_case("dpop"));
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            let field = format!(r#"{scheme} {name}="{escaped}", DPoP error="use_dpop_nonce""#);
            prop_assert!(challenges_ask_for_nonce(field.as_bytes()), "{}", field);
        }
    }
}
