//! The engine's one source of randomness: certificate keys, the TLS-ALPN-01 certificates'
//! keys and serials, and the moment picked inside an ARI window all draw from a client's
//! [`Random`]. By default that is the platform's (getrandom: the OS natively, `wasi:random`
//! in the component, `crypto.getRandomValues` in JS). Seeded, it is a deterministic stream,
//! so that a run with a fixed clock and seed repeats byte for byte (signatures are already
//! deterministic, RFC 6979): for tests and recorded transcripts, never for real keys.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::Error;

/// Where random bytes come from.
pub struct Random {
    source: Source,
}

/// The two sources.
enum Source {
    /// The platform's random source.
    Platform,
    /// HMAC-SHA256 of a counter under the seed: the same seed gives the same bytes.
    Seeded {
        /// The seed.
        key: Zeroizing<[u8; 32]>,
        /// The next block's number.
        block: u64,
    },
}

impl Random {
    /// The platform's random source (the default of every client).
    pub fn platform() -> Self {
        Self {
            source: Source::Platform,
        }
    }

    /// A deterministic stream from `seed`, for reproducible runs (tests, transcripts).
    pub fn seeded(seed: [u8; 32]) -> Self {
        Self {
            source: Source::Seeded {
                key: Zeroizing::new(seed),
                block: 0,
            },
        }
    }

    /// Fills `dest` with random bytes.
    pub fn fill(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        match &mut self.source {
            Source::Platform => getrandom::fill(dest)
                .map_err(|e| Error::crypto(format!("the platform gave no randomness ({e})"))),
            Source::Seeded { key, block } => {
                for chunk in dest.chunks_mut(32) {
                    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_slice())
                        .map_err(|_| Error::crypto("the seed is not an HMAC key"))?;
                    mac.update(b"certsmith random block ");
                    mac.update(&block.to_be_bytes());
                    let bytes = mac.finalize().into_bytes();
                    chunk.copy_from_slice(&bytes[..chunk.len()]);
                    *block += 1;
                }
                Ok(())
            }
        }
    }

    /// A random `u64`.
    pub fn next_u64(&mut self) -> Result<u64, Error> {
        let mut bytes = [0u8; 8];
        self.fill(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    /// `bytes` as a seed for [`Random::seeded`] or
    /// [`ClientConfig::seed`](crate::ClientConfig::seed) (bindings take seeds as byte lists):
    /// exactly 32 bytes, or an error naming the length.
    pub fn seed_from_bytes(bytes: &[u8]) -> Result<[u8; 32], Error> {
        <[u8; 32]>::try_from(bytes)
            .map_err(|_| Error::invalid_input(format!("seed of {} bytes", bytes.len()), "32 bytes"))
    }
}

impl core::fmt::Debug for Random {
    /// Says which source, never the seed.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.source {
            Source::Platform => f.write_str("Random::platform()"),
            Source::Seeded { .. } => f.write_str("Random::seeded(…)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_gives_one_stream_and_another_seed_another() {
        let draw = |seed: [u8; 32]| {
            let mut random = Random::seeded(seed);
            let mut first = [0u8; 45];
            let mut second = [0u8; 7];
            random.fill(&mut first).expect("fill");
            random.fill(&mut second).expect("fill");
            (first, second)
        };
        assert_eq!(draw([1; 32]), draw([1; 32]));
        assert_ne!(draw([1; 32]), draw([2; 32]));
        let (first, second) = draw([1; 32]);
        assert_ne!(first[..7], second, "the stream moves on");
        assert_eq!(
            format!("{:?}", Random::seeded([9; 32])),
            "Random::seeded(…)"
        );
        assert_eq!(
            Random::seed_from_bytes(&[3; 32]).expect("32 bytes"),
            [3; 32]
        );
        let err = Random::seed_from_bytes(&[3; 31]).expect_err("31 bytes");
        assert!(err.to_string().contains("seed of 31 bytes"), "{err}");
    }

    #[test]
    fn the_platform_source_differs_every_time() {
        let mut random = Random::platform();
        assert_ne!(
            random.next_u64().expect("u64"),
            random.next_u64().expect("u64")
        );
    }
}
