//! The blocks of a PEM bundle (RFC 7468 §2): a certificate chain, a CA
//! bundle, a key file. Text between blocks (the `subject=` lines that
//! `openssl` writes, comments) is skipped.

use zeroize::Zeroizing;

use crate::http_signature::KeyError;
use crate::http_signature::keys::parse_pem;

/// One block of a bundle.
pub(super) struct Block<'a> {
    /// The label of its `-----BEGIN label-----` line.
    pub(super) label: &'a str,
    /// The decoded DER, zeroed on drop (a block may be a private key).
    pub(super) der: Zeroizing<Vec<u8>>,
    /// The block's own text, `BEGIN` to `END` line included.
    pub(super) text: &'a str,
}

/// Every block of `text`, in order; the first malformed one ends the
/// iteration with its error.
pub(super) fn blocks(text: &str) -> impl Iterator<Item = Result<Block<'_>, KeyError>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let start = rest.find("-----BEGIN ")?;
        let from = &rest[start..];
        let block = match parse_pem(from) {
            Ok((label, der)) => {
                let end_line = format!("-----END {label}-----");
                // parse_pem found this END line, so it is there.
                let end = from
                    .find(&end_line)
                    .map_or(from.len(), |i| i + end_line.len());
                let block = Block {
                    label,
                    der,
                    text: &from[..end],
                };
                rest = &from[end..];
                Ok(block)
            }
            Err(e) => {
                rest = "";
                Err(e)
            }
        };
        Some(block)
    })
}

/// Every block of `text`, each of which must be a certificate: a block
/// that does not decode, or of another kind (a key pasted into a chain or a
/// CA bundle), ends the iteration with an error naming the kind and
/// `what` holds it.
pub(super) fn certificate_blocks<'a>(
    text: &'a str,
    what: &'static str,
) -> impl Iterator<Item = Result<Block<'a>, super::error::TlsError>> {
    use super::error::TlsError;
    blocks(text).map(move |block| {
        let block = block.map_err(|e| TlsError::MalformedCertificate {
            reason: e.to_string(),
        })?;
        if block.label != "CERTIFICATE" {
            return Err(TlsError::MalformedCertificate {
                reason: format!(
                    "{what} holds a {:?} block; only CERTIFICATE blocks belong there",
                    block.label
                ),
            });
        }
        Ok(block)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_read_in_order_and_text_between_them_is_skipped() {
        let text = "subject=CN = a\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n\
                    # comment\n-----BEGIN PRIVATE KEY-----\nBAUG\n-----END PRIVATE KEY-----\ntrailer";
        let blocks: Vec<_> = blocks(text).collect::<Result<_, _>>().expect("valid");
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "CERTIFICATE");
        assert_eq!(&blocks[0].der[..], [1, 2, 3]);
        assert!(blocks[0].text.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(blocks[0].text.ends_with("-----END CERTIFICATE-----"));
        assert_eq!(blocks[1].label, "PRIVATE KEY");
        assert_eq!(&blocks[1].der[..], [4, 5, 6]);
    }

    #[test]
    fn a_truncated_block_is_an_error_that_ends_the_bundle() {
        let text = "-----BEGIN CERTIFICATE-----\nAQID\n";
        let all: Vec<_> = blocks(text).collect();
        assert_eq!(all.len(), 1);
        assert!(all[0].is_err());
        assert_eq!(blocks("no pem here").count(), 0);
    }
}
