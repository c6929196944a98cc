//! The encryption key file (`OAUTH2_CACHE_ENCRYPTION_KEY_FILE`): one key a
//! line, each 32 random bytes in standard base64 (`head -c 32 /dev/urandom
//! | base64`).
//!
//! The first key encrypts; every key decrypts. To rotate, put the new key
//! on the first line and keep the old one below it until every replica
//! runs with the new file and the values sealed with the old key have
//! expired (at most a token's lifetime), then remove it. Blank lines and
//! lines starting with `#` are skipped; errors name the line, never a key.

use base64::Engine as _;
use zeroize::Zeroizing;

/// A key's length: XChaCha20-Poly1305 takes 256-bit keys.
pub(crate) const KEY_LEN: usize = 32;

/// Why an encryption key file cannot be used. No variant shows a key or a
/// part of one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file cannot be read (missing, not a regular file, over 64 KiB,
    /// not UTF-8).
    #[error("{path} cannot be read: {source}")]
    Unreadable {
        /// The file's path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no key.
    #[error("the key file holds no key")]
    Empty,
    /// A line is not standard base64 (RFC 4648 §4, with padding).
    #[error("line {line} of the key file is not standard base64")]
    NotBase64 {
        /// The line, counted from 1.
        line: usize,
    },
    /// A line decodes to something other than 32 bytes.
    #[error("line {line} of the key file decodes to {bytes} bytes; a key is 32")]
    WrongLength {
        /// The line, counted from 1.
        line: usize,
        /// How many bytes it decodes to.
        bytes: usize,
    },
}

/// The keys of a key file's text, in order.
pub(crate) fn parse_keys(text: &str) -> Result<Vec<Zeroizing<[u8; KEY_LEN]>>, KeyFileError> {
    let mut keys = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(line)
                .map_err(|_| KeyFileError::NotBase64 { line: line_number })?,
        );
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if decoded.len() != KEY_LEN {
            return Err(KeyFileError::WrongLength {
                line: line_number,
                bytes: decoded.len(),
            });
        }
        key.copy_from_slice(&decoded);
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(KeyFileError::Empty);
    }
    Ok(keys)
}

/// Reads and parses a key file (a regular file of at most 64 KiB).
pub(crate) fn read_keys(path: &str) -> Result<Vec<Zeroizing<[u8; KEY_LEN]>>, KeyFileError> {
    let text = Zeroizing::new(crate::env::read_secret_file(path).map_err(|source| {
        KeyFileError::Unreadable {
            path: path.to_owned(),
            source,
        }
    })?);
    parse_keys(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(byte: u8, len: usize) -> String {
        base64::engine::general_purpose::STANDARD.encode(vec![byte; len])
    }

    #[test]
    fn keys_are_read_in_order_skipping_blanks_and_comments() {
        let text = format!("# current\n{}\n\n  {}  \n", line(1, 32), line(2, 32));
        let keys = parse_keys(&text).expect("valid");
        assert_eq!(keys.len(), 2);
        assert_eq!(*keys[0], [1; 32]);
        assert_eq!(*keys[1], [2; 32]);
    }

    #[test]
    fn a_bad_line_is_named_by_number_and_never_shown() {
        let secretish = "c2VjcmV0LWtleS1ub3QtYmFzZTY0!!";
        let text = format!("{}\n{secretish}\n", line(1, 32));
        let err = parse_keys(&text).expect_err("not base64");
        assert!(
            matches!(err, KeyFileError::NotBase64 { line: 2 }),
            "{err:?}"
        );
        assert!(!err.to_string().contains(secretish));

        let short = line(7, 16);
        let err = parse_keys(&format!("\n{short}")).expect_err("short");
        assert!(
            matches!(err, KeyFileError::WrongLength { line: 2, bytes: 16 }),
            "{err:?}"
        );
        assert!(!format!("{err} {err:?}").contains(&short));
    }

    #[test]
    fn a_file_without_keys_is_refused() {
        assert!(matches!(parse_keys(""), Err(KeyFileError::Empty)));
        assert!(matches!(
            parse_keys("# nothing yet\n\n"),
            Err(KeyFileError::Empty)
        ));
    }

    #[test]
    fn an_unreadable_file_names_its_path() {
        let err = read_keys("/nonexistent/oauth2-cache.keys").expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/oauth2-cache.keys"));
    }
}
