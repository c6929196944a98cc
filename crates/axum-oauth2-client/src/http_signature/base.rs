//! The signature base (RFC 9421 §2.5): one line per covered component
//! value, then the `@signature-params` line, joined by LF with no trailing
//! newline.

use super::components::ComponentId;
use super::message::{MessageView, ValueError};

/// Builds the signature base for `components` of `message`;
/// `signature_params` is the serialized inner list (§2.3).
pub(crate) fn signature_base(
    message: &MessageView<'_>,
    components: &[ComponentId],
    signature_params: &str,
) -> Result<String, ValueError> {
    let mut base = String::with_capacity(64 * (components.len() + 1));
    for id in components {
        let identifier = id.serialize();
        for value in message.component_values(id)? {
            base.push_str(&identifier);
            base.push_str(": ");
            base.push_str(&value);
            base.push('\n');
        }
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(signature_params);
    Ok(base)
}
