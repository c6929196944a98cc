//! [`EncryptionKeys`]: the sealing of every value the shared store holds,
//! with XChaCha20-Poly1305 (the ChaCha20-Poly1305 AEAD of RFC 8439 §2.8
//! with a 24-byte nonce, draft-irtf-cfrg-xchacha).
//!
//! A sealed value is
//!
//! ```text
//! version (1 byte, 1) | key id (1 byte) | nonce (24 bytes) | ciphertext | tag (16 bytes)
//! ```
//!
//! The nonce is random for every value: 192 bits make a collision
//! negligible however many values one key seals. The associated data is
//! the value's store key (and the caller's other clear fields), so a value
//! copied under another key fails to open. The key id is the first byte of
//! a SHA-256 over the key: unlike a position in the file, it stays the same
//! when a rotation puts a new key first. Two keys may share an id; opening
//! tries each key that carries it.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::key_file::{self, KEY_LEN, KeyFileError};

/// The sealed format's version, the first byte of every value.
pub(crate) const FORMAT_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 2 + NONCE_LEN;

/// The keys that seal and open stored values: the first seals, every one
/// opens (key rotation).
///
/// Read from a key file with [`from_file`](Self::from_file): one key a
/// line, each 32 random bytes in standard base64, made with
/// `head -c 32 /dev/urandom | base64`. The key bytes are wiped when dropped
/// and `Debug` shows only how many keys there are.
#[derive(Clone)]
pub struct EncryptionKeys {
    keys: Vec<Key>,
}

#[derive(Clone)]
struct Key {
    id: u8,
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl Key {
    fn new(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"axum-oauth2-client store key id\0");
        hasher.update(bytes.as_slice());
        Self {
            id: hasher.finalize()[0],
            bytes,
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&(*self.bytes).into())
    }
}

/// Why a sealed value does not open. The store reports all of them as a
/// miss; the distinction is for its log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Shorter than a header and a tag.
    Truncated,
    /// A format version this build does not know.
    UnknownVersion(u8),
    /// No key carries the value's key id (sealed with a key not, or no
    /// longer, in the file).
    UnknownKey(u8),
    /// The tag does not verify: the value was altered, sealed for another
    /// store key, or sealed by another key that shares the id.
    Forged,
}

impl OpenError {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::UnknownVersion(_) => "unknown format version",
            Self::UnknownKey(_) => "sealed with a key not in the key file",
            Self::Forged => "authentication failed",
        }
    }
}

impl EncryptionKeys {
    /// Reads a key file: one key a line, each 32 bytes in standard base64;
    /// blank lines and `#` comments are skipped.
    pub fn from_file(path: &str) -> Result<Self, KeyFileError> {
        key_file::read_keys(path).map(Self::from_parsed)
    }

    /// Parses the text of a key file (see [`from_file`](Self::from_file)).
    pub fn parse(text: &str) -> Result<Self, KeyFileError> {
        key_file::parse_keys(text).map(Self::from_parsed)
    }

    /// Keys given as bytes, the first sealing. `None` for an empty list.
    #[must_use]
    pub fn from_bytes(keys: &[[u8; KEY_LEN]]) -> Option<Self> {
        (!keys.is_empty())
            .then(|| Self::from_parsed(keys.iter().map(|k| Zeroizing::new(*k)).collect()))
    }

    fn from_parsed(keys: Vec<Zeroizing<[u8; KEY_LEN]>>) -> Self {
        Self {
            keys: keys.into_iter().map(Key::new).collect(),
        }
    }

    /// How many keys there are (at least one).
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a key ring holds at least one key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Seals `plaintext` with the first key, binding `aad`.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let key = &self.keys[0];
        let nonce: [u8; NONCE_LEN] = rand::random();
        let ciphertext = key
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            // The AEAD refuses only messages of about 256 GiB.
            .unwrap_or_default();
        let mut sealed = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        sealed.push(FORMAT_VERSION);
        sealed.push(key.id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Opens a value sealed by [`seal`](Self::seal) with any of the keys,
    /// under the same `aad`.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        if sealed.len() < HEADER_LEN + TAG_LEN {
            return Err(OpenError::Truncated);
        }
        if sealed[0] != FORMAT_VERSION {
            return Err(OpenError::UnknownVersion(sealed[0]));
        }
        let id = sealed[1];
        let nonce = XNonce::try_from(&sealed[2..HEADER_LEN]).map_err(|_| OpenError::Truncated)?;
        let ciphertext = &sealed[HEADER_LEN..];
        let mut candidates = self.keys.iter().filter(|k| k.id == id).peekable();
        if candidates.peek().is_none() {
            return Err(OpenError::UnknownKey(id));
        }
        candidates
            .find_map(|key| {
                key.cipher()
                    .decrypt(
                        &nonce,
                        Payload {
                            msg: ciphertext,
                            aad,
                        },
                    )
                    .ok()
            })
            .map(Zeroizing::new)
            .ok_or(OpenError::Forged)
    }
}

impl fmt::Debug for EncryptionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKeys")
            .field("keys", &self.keys.len())
            .field("bytes", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> EncryptionKeys {
        let list: Vec<[u8; 32]> = bytes.iter().map(|b| [*b; 32]).collect();
        EncryptionKeys::from_bytes(&list).expect("keys")
    }

    #[test]
    fn a_sealed_value_opens_under_the_same_associated_data() {
        let ring = keys(&[1]);
        let sealed = ring.seal(b"ns:tok:ab", b"the plaintext");
        assert_eq!(sealed[0], FORMAT_VERSION);
        assert_eq!(sealed.len(), HEADER_LEN + b"the plaintext".len() + TAG_LEN);
        assert!(!sealed.windows(9).any(|w| w == b"plaintext"));
        let opened = ring.open(b"ns:tok:ab", &sealed).expect("opens");
        assert_eq!(opened.as_slice(), b"the plaintext");
    }

    #[test]
    fn every_value_gets_its_own_nonce() {
        let ring = keys(&[1]);
        let (a, b) = (ring.seal(b"k", b"same"), ring.seal(b"k", b"same"));
        assert_ne!(a[2..HEADER_LEN], b[2..HEADER_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn any_altered_byte_is_refused() {
        let ring = keys(&[1]);
        let sealed = ring.seal(b"k", b"value");
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            let err = ring.open(b"k", &tampered).expect_err("tampered");
            let expected = match i {
                0 => OpenError::UnknownVersion(FORMAT_VERSION ^ 1),
                1 => OpenError::UnknownKey(sealed[1] ^ 1),
                _ => OpenError::Forged,
            };
            // A flipped id may, by chance, name no key or the same key.
            if i == 1 {
                assert!(matches!(err, OpenError::UnknownKey(_) | OpenError::Forged));
            } else {
                assert_eq!(err, expected, "byte {i}");
            }
        }
        assert_eq!(ring.open(b"k", &sealed[..20]), Err(OpenError::Truncated));
    }

    #[test]
    fn another_associated_data_is_refused() {
        let ring = keys(&[1]);
        let sealed = ring.seal(b"ns:tok:aa", b"value");
        assert_eq!(ring.open(b"ns:tok:bb", &sealed), Err(OpenError::Forged));
    }

    #[test]
    fn an_unknown_version_is_refused_before_any_key_is_tried() {
        let ring = keys(&[1]);
        let mut sealed = ring.seal(b"k", b"value");
        sealed[0] = 2;
        assert_eq!(ring.open(b"k", &sealed), Err(OpenError::UnknownVersion(2)));
    }

    #[test]
    fn rotation_opens_old_values_and_seals_with_the_new_key() {
        let old = keys(&[1]);
        let sealed_old = old.seal(b"k", b"old value");
        let rotated = keys(&[2, 1]);
        assert_eq!(
            rotated.open(b"k", &sealed_old).expect("old key").as_slice(),
            b"old value"
        );
        let sealed_new = rotated.seal(b"k", b"new value");
        assert_ne!(sealed_new[1], sealed_old[1], "sealed with the first key");
        assert!(matches!(
            old.open(b"k", &sealed_new),
            Err(OpenError::UnknownKey(_))
        ));
    }

    #[test]
    fn a_wrong_key_index_is_refused() {
        let ring = keys(&[1]);
        let mut sealed = ring.seal(b"k", b"value");
        let unknown = (0..=u8::MAX).find(|id| *id != sealed[1]).expect("an id");
        sealed[1] = unknown;
        assert_eq!(
            ring.open(b"k", &sealed),
            Err(OpenError::UnknownKey(unknown))
        );
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let ring = keys(&[0x41]);
        let shown = format!("{ring:?} {ring:#?}");
        assert!(!shown.contains("65") && !shown.contains("AAAA"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
