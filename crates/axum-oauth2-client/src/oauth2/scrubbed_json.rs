//! [`ScrubbedJson`]: a parsed JSON document whose strings are zeroed when
//! it is dropped, for documents that hold secrets (a token response, a
//! JWK with its private members, a service account key file).

use serde_json::{Map, Value};

/// A JSON document that zeroes every string it holds when dropped.
pub(crate) struct ScrubbedJson(pub(crate) Value);

impl ScrubbedJson {
    /// Parses `text`; `None` when it is not JSON (the parser's message,
    /// which can quote the text, is dropped).
    pub(crate) fn parse(text: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(text).map(Self)
    }

    /// The document's members, when it is an object.
    pub(crate) fn object(&self) -> Option<&Map<String, Value>> {
        self.0.as_object()
    }
}

impl Drop for ScrubbedJson {
    fn drop(&mut self) {
        scrub(&mut self.0);
    }
}

/// Zeroes every string in `value`.
fn scrub(value: &mut Value) {
    match value {
        Value::String(s) => zeroize::Zeroize::zeroize(s),
        Value::Array(items) => items.iter_mut().for_each(scrub),
        Value::Object(map) => map.values_mut().for_each(scrub),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_zeroes_every_string_of_a_document() {
        let mut value: Value = serde_json::from_str(
            r#"{"access_token":"s3cr3t-a","nested":{"refresh_token":"s3cr3t-r","list":["s3cr3t-i",1,null]}}"#,
        )
        .expect("json");
        scrub(&mut value);
        let text = value.to_string();
        for secret in ["s3cr3t-a", "s3cr3t-r", "s3cr3t-i"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(value["access_token"], "", "zeroize clears the string");
    }
}
