//! Signature parameters and the `Signature-Input` / `Signature` fields
//! (RFC 9421 §2.3, §4.1, §4.2).

use http::header::HeaderName;
use http::{HeaderMap, HeaderValue};
use sfv::{BareItem, FieldType as _, ListEntry, Parser, Version};

use super::components::{ComponentId, push_sf_string};

/// Most covered components accepted in one signature (bounds verifier work).
pub(crate) const MAX_COMPONENTS: usize = 64;
/// Longest `nonce` accepted (bounds the replay cache).
pub(crate) const MAX_NONCE_LEN: usize = 256;

/// The `Signature-Input` field name (§4.1).
pub(crate) static SIGNATURE_INPUT: HeaderName = HeaderName::from_static("signature-input");
/// The `Signature` field name (§4.2).
pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("signature");

/// Why a `Signature-Input` member is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParamsError {
    /// Structurally wrong (§4.1): not an inner list, wrong parameter types, ….
    Malformed(String),
    /// A component identifier is not valid (§2).
    Component(String),
}

/// One signature's covered components and parameters (§2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignatureInput {
    pub(crate) components: Vec<ComponentId>,
    pub(crate) created: Option<u64>,
    pub(crate) expires: Option<u64>,
    pub(crate) nonce: Option<String>,
    pub(crate) alg: Option<String>,
    pub(crate) keyid: Option<String>,
    pub(crate) tag: Option<String>,
    /// The `@signature-params` value: the serialized inner list (§2.3).
    pub(crate) serialized: String,
}

/// Parameters a signer sets (§2.3), in the order they are serialized.
#[derive(Debug, Clone, Default)]
pub(crate) struct SignerParams<'a> {
    pub(crate) created: Option<u64>,
    pub(crate) expires: Option<u64>,
    pub(crate) keyid: Option<&'a str>,
    pub(crate) alg: Option<&'a str>,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) tag: Option<&'a str>,
}

fn integer_param(name: &str, value: &BareItem) -> Result<u64, ParamsError> {
    value
        .as_integer()
        .and_then(|i| u64::try_from(i64::from(i)).ok())
        .ok_or_else(|| ParamsError::Malformed(format!("{name} must be a non-negative integer")))
}

fn string_param(name: &str, value: &BareItem) -> Result<String, ParamsError> {
    value
        .as_string()
        .map(|s| s.as_str().to_owned())
        .ok_or_else(|| ParamsError::Malformed(format!("{name} must be a string")))
}

impl SignatureInput {
    /// Reads one `Signature-Input` dictionary member (§4.1).
    pub(crate) fn from_entry(entry: &ListEntry) -> Result<Self, ParamsError> {
        let ListEntry::InnerList(list) = entry else {
            return Err(ParamsError::Malformed(
                "Signature-Input member is not an inner list".to_owned(),
            ));
        };
        if list.items.len() > MAX_COMPONENTS {
            return Err(ParamsError::Malformed(format!(
                "more than {MAX_COMPONENTS} covered components"
            )));
        }
        let mut components: Vec<ComponentId> = Vec::with_capacity(list.items.len());
        for item in &list.items {
            let id =
                ComponentId::from_item(item).map_err(|e| ParamsError::Component(e.to_string()))?;
            if components.contains(&id) {
                // §2.5: duplicates make the signature base ambiguous.
                return Err(ParamsError::Component(format!(
                    "component {id} is covered twice"
                )));
            }
            components.push(id);
        }
        let mut input = SignatureInput {
            components,
            created: None,
            expires: None,
            nonce: None,
            alg: None,
            keyid: None,
            tag: None,
            serialized: String::new(),
        };
        for (key, value) in &list.params {
            match key.as_str() {
                "created" => input.created = Some(integer_param("created", value)?),
                "expires" => input.expires = Some(integer_param("expires", value)?),
                "nonce" => {
                    let nonce = string_param("nonce", value)?;
                    if nonce.len() > MAX_NONCE_LEN {
                        return Err(ParamsError::Malformed(format!(
                            "nonce is longer than {MAX_NONCE_LEN} characters"
                        )));
                    }
                    input.nonce = Some(nonce);
                }
                "alg" => input.alg = Some(string_param("alg", value)?),
                "keyid" => input.keyid = Some(string_param("keyid", value)?),
                "tag" => input.tag = Some(string_param("tag", value)?),
                // Unknown parameters are covered as they are (§2.3).
                _ => {}
            }
        }
        let single: sfv::List = vec![entry.clone()];
        input.serialized = single.serialize().unwrap_or_default();
        Ok(input)
    }

    /// Builds the input a signer will send.
    pub(crate) fn for_signing(components: Vec<ComponentId>, params: &SignerParams<'_>) -> Self {
        let mut serialized = String::from("(");
        for (i, id) in components.iter().enumerate() {
            if i > 0 {
                serialized.push(' ');
            }
            serialized.push_str(&id.serialize());
        }
        serialized.push(')');
        let mut push_int = |name: &str, value: Option<u64>| {
            if let Some(value) = value {
                serialized.push_str(&format!(";{name}={value}"));
            }
        };
        push_int("created", params.created);
        push_int("expires", params.expires);
        for (name, value) in [
            ("keyid", params.keyid),
            ("alg", params.alg),
            ("nonce", params.nonce),
            ("tag", params.tag),
        ] {
            if let Some(value) = value {
                serialized.push(';');
                serialized.push_str(name);
                serialized.push('=');
                push_sf_string(&mut serialized, value);
            }
        }
        SignatureInput {
            components,
            created: params.created,
            expires: params.expires,
            nonce: params.nonce.map(str::to_owned),
            alg: params.alg.map(str::to_owned),
            keyid: params.keyid.map(str::to_owned),
            tag: params.tag.map(str::to_owned),
            serialized,
        }
    }
}

/// Whether `text` can be an sf-string (printable ASCII, RFC 8941 §3.3.3).
pub(crate) fn is_sf_string(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Parses every line of a dictionary field as one dictionary (RFC 8941
/// §4.2: lines are combined with commas). `Ok(None)` when the field is absent.
pub(crate) fn parse_dictionary(
    headers: &HeaderMap,
    name: &HeaderName,
) -> Result<Option<sfv::Dictionary>, String> {
    let mut combined = String::new();
    let mut any = false;
    for value in headers.get_all(name) {
        let text = value.to_str().map_err(|_| format!("{name} is not ASCII"))?;
        if any {
            combined.push_str(", ");
        }
        combined.push_str(text);
        any = true;
    }
    if !any {
        return Ok(None);
    }
    Parser::new(&combined)
        .with_version(Version::Rfc8941)
        .parse::<sfv::Dictionary>()
        .map(Some)
        .map_err(|_| format!("{name} is not a structured dictionary"))
}

/// Sets member `label` of dictionary field `name` to `member` (already
/// serialized), keeping other members (§4.3: several signatures per message).
pub(crate) fn put_member(
    headers: &mut HeaderMap,
    name: &HeaderName,
    label: &str,
    member: &str,
) -> Result<(), String> {
    let mut out = String::new();
    if let Some(dict) = parse_dictionary(headers, name)? {
        let others: sfv::Dictionary = dict
            .into_iter()
            .filter(|(key, _)| key.as_str() != label)
            .collect();
        if let Some(serialized) = others.serialize() {
            out.push_str(&serialized);
            out.push_str(", ");
        }
    }
    out.push_str(label);
    out.push('=');
    out.push_str(member);
    let value = HeaderValue::from_str(&out).map_err(|_| format!("{name} value is not valid"))?;
    headers.remove(name);
    headers.insert(name.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_input(text: &str) -> Result<Vec<Result<SignatureInput, ParamsError>>, String> {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(text).map_err(|e| e.to_string())?;
        headers.insert(SIGNATURE_INPUT.clone(), value);
        let dict = parse_dictionary(&headers, &SIGNATURE_INPUT)?.unwrap_or_default();
        Ok(dict.values().map(SignatureInput::from_entry).collect())
    }

    #[test]
    fn signer_serialization_matches_sfv_reserialization() -> Result<(), String> {
        let components =
            ComponentId::parse_list(r#"@method "@query-param";name="a\"b" content-digest"#)
                .map_err(|e| e.to_string())?;
        let built = SignatureInput::for_signing(
            components,
            &SignerParams {
                created: Some(1),
                expires: Some(2),
                keyid: Some("k\\1"),
                alg: Some("ed25519"),
                nonce: Some("n"),
                tag: Some("t"),
            },
        );
        let parsed = parse_input(&format!("sig={}", built.serialized))?;
        assert_eq!(parsed, vec![Ok(built)]);
        Ok(())
    }

    #[test]
    fn parameter_types_are_checked() -> Result<(), String> {
        for text in [
            r#"s=("@method");created="1""#,
            r#"s=("@method");expires=-5"#,
            r#"s=("@method");keyid=abc"#,
            r#"s=("@method");alg=1"#,
            r#"s="@method""#,
            r#"s=(@method)"#,
            r#"s=("@method" "@method")"#,
        ] {
            // Either the dictionary does not parse or the member is refused.
            if let Ok(results) = parse_input(text) {
                assert!(results.iter().all(Result::is_err), "{text}");
            }
        }
        Ok(())
    }

    #[test]
    fn put_member_keeps_other_signatures() {
        let mut headers = HeaderMap::new();
        headers.insert(
            SIGNATURE.clone(),
            HeaderValue::from_static("a=:AAAA:, b=:BBBB:"),
        );
        let result = put_member(&mut headers, &SIGNATURE, "a", ":CCCC:");
        assert_eq!(result, Ok(()));
        assert_eq!(
            headers.get(&SIGNATURE).map(HeaderValue::as_bytes),
            Some(&b"b=:BBBB:, a=:CCCC:"[..])
        );
    }

    proptest! {
        #[test]
        fn arbitrary_signature_input_never_panics(text in "\\PC{0,200}") {
            let _ = parse_input(&text);
        }

        #[test]
        fn structured_looking_input_never_panics(
            text in r#"[a-z0-9=();:"@\- ,*.?]{0,120}"#
        ) {
            let _ = parse_input(&text);
        }
    }
}
