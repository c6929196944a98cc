//! The signature base (RFC 9421 §2.5): one line per covered component
//! value, then the `@signature-params` line, joined by LF with no trailing
//! newline.
//!
//! A verifier builds one base per candidate signature from components an
//! untrusted sender chose, so the bytes it builds for one message are
//! capped ([`BaseBudget`], an application requirement in the sense of
//! §3.2.1).

use super::component_values::ComponentValues;
use super::components::ComponentId;
use super::message::ValueError;

const SIGNATURE_PARAMS: &str = "\"@signature-params\": ";

/// Why a signature base was not built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BaseError {
    /// A covered component cannot be produced (§2.5).
    Value(ValueError),
    /// The bases of this message would exceed `limit` bytes in total.
    TooLarge { limit: usize },
}

impl From<ValueError> for BaseError {
    fn from(err: ValueError) -> Self {
        BaseError::Value(err)
    }
}

/// The bytes of signature base one message may still build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BaseBudget {
    limit: usize,
    used: usize,
}

impl BaseBudget {
    /// At most `limit` bytes in all the bases of one message.
    pub(crate) fn new(limit: usize) -> Self {
        Self { limit, used: 0 }
    }

    /// No cap: the signer builds one base from its own configuration.
    pub(crate) fn unlimited() -> Self {
        Self::new(usize::MAX)
    }

    /// The bytes built so far.
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    fn take(&mut self, bytes: usize) -> Result<(), BaseError> {
        let used = self.used.saturating_add(bytes);
        if used > self.limit {
            return Err(BaseError::TooLarge { limit: self.limit });
        }
        self.used = used;
        Ok(())
    }
}

/// Builds the signature base for `components` from `values`;
/// `signature_params` is the serialized inner list (§2.3). Each line is
/// charged to `budget` before it is added.
pub(crate) fn signature_base(
    values: &mut ComponentValues<'_>,
    components: &[ComponentId],
    signature_params: &str,
    budget: &mut BaseBudget,
) -> Result<String, BaseError> {
    let mut base = String::with_capacity(64 * (components.len() + 1));
    for id in components {
        let identifier = id.serialize();
        for value in values.values(id)? {
            budget.take(identifier.len() + value.len() + 3)?;
            base.push_str(&identifier);
            base.push_str(": ");
            base.push_str(&value);
            base.push('\n');
        }
    }
    budget.take(SIGNATURE_PARAMS.len() + signature_params.len())?;
    base.push_str(SIGNATURE_PARAMS);
    base.push_str(signature_params);
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::super::message::{MessageView, RequestParts};
    use super::*;

    #[test]
    fn the_budget_counts_every_byte_and_refuses_past_its_limit() -> Result<(), BaseError> {
        let request = http::Request::get("https://example.com/a")
            .header("x-a", "0123456789")
            .body(())
            .map_err(|_| BaseError::TooLarge { limit: 0 })?;
        let Some(parts) = RequestParts::from_http(&request, "https") else {
            panic!("request parts");
        };
        let view = MessageView::Request(parts);
        let mut values = ComponentValues::new(&view);
        let ids =
            ComponentId::parse_list("@method x-a").map_err(|_| BaseError::TooLarge { limit: 0 })?;
        let params = r#"("@method" "x-a")"#;
        let mut budget = BaseBudget::unlimited();
        let base = signature_base(&mut values, &ids, params, &mut budget)?;
        assert_eq!(budget.used(), base.len());

        let mut exact = BaseBudget::new(base.len());
        assert_eq!(
            signature_base(&mut values, &ids, params, &mut exact),
            Ok(base.clone())
        );
        let mut short = BaseBudget::new(2 * base.len() - 1);
        signature_base(&mut values, &ids, params, &mut short)?;
        assert_eq!(
            signature_base(&mut values, &ids, params, &mut short),
            Err(BaseError::TooLarge {
                limit: 2 * base.len() - 1
            })
        );
        assert!(short.used() < 2 * base.len());
        Ok(())
    }
}
