//! Reading an answer's body with a size cap, shared by the token endpoint
//! and metadata discovery: a hostile or broken server cannot make the
//! client buffer more than the cap.

use zeroize::Zeroizing;

/// Why a capped body could not be read.
pub(crate) enum ReadError {
    /// The connection failed while the body was read.
    Transport(reqwest::Error),
    /// The body is longer than the cap.
    TooLarge,
}

/// Reads a body, giving up as soon as it passes `limit` bytes.
///
/// A token endpoint's body holds the access token: it is read into a
/// buffer zeroed on drop, and when the buffer must grow the old one is zeroed too.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(ReadError::TooLarge);
    }
    let expected = response.content_length().map_or(4096, |len| len as usize);
    let mut body = Zeroizing::new(Vec::with_capacity(expected));
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        append_zeroizing(&mut body, &chunk);
    }
    Ok(body)
}

/// Appends `chunk`; when `body` is full, moves it into a buffer twice as
/// large and zeroes the old one (a plain `Vec` would leave it behind).
fn append_zeroizing(body: &mut Zeroizing<Vec<u8>>, chunk: &[u8]) {
    if body.capacity() - body.len() < chunk.len() {
        let mut grown = Zeroizing::new(Vec::with_capacity(
            (body.len() + chunk.len()).max(2 * body.capacity()),
        ));
        grown.extend_from_slice(body);
        *body = grown;
    }
    body.extend_from_slice(chunk);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_growing_body_buffer_keeps_its_bytes_and_leaves_no_copy_behind() {
        let mut body = Zeroizing::new(Vec::with_capacity(4));
        for chunk in [&b"{\"access"[..], b"_token\":", b"\"tok\"}"] {
            append_zeroizing(&mut body, chunk);
        }
        assert_eq!(&body[..], br#"{"access_token":"tok"}"#);
        // Grown by doubling into fresh buffers: 4 -> 8 -> 16 -> 32.
        assert_eq!(body.capacity(), 32);
    }
}
