//! Size limits on what clients send: capped decompression for OTLP/HTTP, and the
//! status gRPC clients get for an oversized message.

use std::io::Read;

/// Bytes in `mib` MiB.
pub fn mib(mib: u64) -> usize {
    usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
}

/// Why a body could not be decompressed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecompressError {
    /// The decompressed body is larger than the limit (a "zip bomb", or just too big).
    #[error("the body is larger than {limit} bytes once decompressed")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not valid compressed data.
    #[error("the body is not valid {encoding} data: {message}")]
    Corrupt {
        /// `gzip` or `zstd`.
        encoding: &'static str,
        /// The decoder's message.
        message: String,
    },
}

/// A `Content-Encoding` the HTTP receiver accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    /// No compression.
    Identity,
    /// gzip, which OTLP requires every server to accept.
    Gzip,
    /// zstd, which the OTel Collector also accepts.
    Zstd,
}

impl ContentEncoding {
    /// Parses a `Content-Encoding` header value; `None` for one we do not accept.
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("identity") | Some("none") => Some(ContentEncoding::Identity),
            Some("gzip") | Some("x-gzip") => Some(ContentEncoding::Gzip),
            Some("zstd") => Some(ContentEncoding::Zstd),
            Some(_) => None,
        }
    }
}

/// Decompresses `body` into at most `limit` bytes, never allocating past the limit.
pub fn decompress_capped(
    encoding: ContentEncoding,
    body: bytes::Bytes,
    limit: usize,
) -> Result<bytes::Bytes, DecompressError> {
    match encoding {
        ContentEncoding::Identity => Ok(body),
        ContentEncoding::Gzip => {
            // The one place the unbounded decoder is allowed: `take` caps it.
            #[allow(clippy::disallowed_methods)]
            let decoder = flate2::read::MultiGzDecoder::new(&body[..]);
            read_capped(decoder, limit, "gzip")
        }
        ContentEncoding::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(&body[..]).map_err(|err| {
                DecompressError::Corrupt {
                    encoding: "zstd",
                    message: err.to_string(),
                }
            })?;
            read_capped(decoder, limit, "zstd")
        }
    }
}

fn read_capped(
    decoder: impl Read,
    limit: usize,
    encoding: &'static str,
) -> Result<bytes::Bytes, DecompressError> {
    let mut out = Vec::new();
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|err| DecompressError::Corrupt {
            encoding,
            message: err.to_string(),
        })?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> bytes::Bytes {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap().into()
    }

    #[test]
    fn gzip_within_limit_round_trips() {
        let data = vec![7u8; 1000];
        assert_eq!(
            decompress_capped(ContentEncoding::Gzip, gzip(&data), 1000).unwrap(),
            &data[..]
        );
    }

    #[test]
    fn gzip_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![0u8; 10 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024);
        assert_eq!(
            decompress_capped(ContentEncoding::Gzip, bomb, 1024 * 1024),
            Err(DecompressError::TooLarge { limit: 1024 * 1024 })
        );
    }

    #[test]
    fn corrupt_gzip_is_reported() {
        let err = decompress_capped(
            ContentEncoding::Gzip,
            bytes::Bytes::from_static(b"nope"),
            10,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                DecompressError::Corrupt {
                    encoding: "gzip",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn encodings() {
        assert_eq!(
            ContentEncoding::parse(None),
            Some(ContentEncoding::Identity)
        );
        assert_eq!(
            ContentEncoding::parse(Some("GZIP")),
            Some(ContentEncoding::Gzip)
        );
        assert_eq!(
            ContentEncoding::parse(Some("zstd")),
            Some(ContentEncoding::Zstd)
        );
        assert_eq!(ContentEncoding::parse(Some("br")), None);
    }
}
