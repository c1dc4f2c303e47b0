//! The fits' random numbers — initial weights, shuffles and above all the dropout masks (8 KiB of
//! random bits per batch of 32) — on the AVX-512 path: the ChaCha8 keystream of the fold's
//! [`ChaCha8Rng`], sixteen blocks at a time in vector registers ([`simd::chacha8_blocks`]), where
//! rand_chacha computes four with AVX2. The other paths read the `ChaCha8Rng` itself.
//!
//! [`Keystream`] takes over a `ChaCha8Rng` at its word position and hands it back where it
//! stopped, and reads the stream exactly as rand_core's `BlockRng` does: `next_u32` takes one
//! word, `next_u64` two (the first is the low half), `fill_bytes(n)` the next ⌈n/4⌉ words as
//! little-endian bytes. The words are the same, so every bit of training is unchanged; the test
//! compares it with rand_chacha call by call.

use super::simd::{self, Path};
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;

/// Words of keystream computed at once: sixteen blocks of sixteen words.
const BUFFER: usize = simd::CHACHA_WORDS;
/// Words in one ChaCha block.
const BLOCK_WORDS: u128 = 16;

/// A ChaCha8 keystream read as rand_chacha's `ChaCha8Rng` reads its own.
pub struct Keystream {
    key: [u32; 8],
    stream: u64,
    /// The block at the start of `buffer`.
    block: u64,
    buffer: [u32; BUFFER],
    /// The next unread word of `buffer`.
    index: usize,
}

impl Keystream {
    /// Runs `f` on the random numbers of `rng` from where `rng` stands — through a
    /// [`Keystream`] on the AVX-512 path, `rng` itself elsewhere — and leaves `rng` past every
    /// word `f` read.
    pub fn run<R>(rng: &mut ChaCha8Rng, f: impl FnOnce(&mut dyn RngCore) -> R) -> R {
        if simd::path() != Path::Avx512 {
            return f(rng);
        }
        let seed = rng.get_seed();
        let key = std::array::from_fn(|i| {
            u32::from_le_bytes(seed[4 * i..4 * i + 4].try_into().expect("4 bytes"))
        });
        let position = rng.get_word_pos();
        let mut keystream = Keystream {
            key,
            stream: rng.get_stream(),
            block: (position / BLOCK_WORDS) as u64,
            buffer: [0; BUFFER],
            index: (position % BLOCK_WORDS) as usize,
        };
        keystream.refill();
        let result = f(&mut keystream);
        let read = u128::from(keystream.block) * BLOCK_WORDS + keystream.index as u128;
        rng.set_word_pos(read);
        result
    }

    fn refill(&mut self) {
        simd::chacha8_blocks(&self.key, self.stream, self.block, &mut self.buffer);
    }

    /// Makes sure at least one word is unread, computing the next blocks when none is.
    #[inline]
    fn ensure(&mut self) {
        if self.index == BUFFER {
            self.block = self
                .block
                .wrapping_add((BUFFER as u128 / BLOCK_WORDS) as u64);
            self.refill();
            self.index = 0;
        }
    }

    #[inline]
    fn word(&mut self) -> u32 {
        self.ensure();
        self.index += 1;
        self.buffer[self.index - 1]
    }
}

impl RngCore for Keystream {
    fn next_u32(&mut self) -> u32 {
        self.word()
    }

    fn next_u64(&mut self) -> u64 {
        let low = u64::from(self.word());
        (u64::from(self.word()) << 32) | low
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let mut dest = dest;
        while dest.len() >= 4 {
            self.ensure();
            let words = (dest.len() / 4).min(BUFFER - self.index);
            let (now, rest) = dest.split_at_mut(4 * words);
            for (bytes, word) in now
                .chunks_exact_mut(4)
                .zip(&self.buffer[self.index..self.index + words])
            {
                bytes.copy_from_slice(&word.to_le_bytes());
            }
            self.index += words;
            dest = rest;
        }
        if !dest.is_empty() {
            // A partial word at the end is consumed whole, as rand_core's BlockRng does.
            let word = self.word().to_le_bytes();
            dest.copy_from_slice(&word[..dest.len()]);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    /// A mix of every read, at every alignment, across many buffer refills.
    fn reads(rng: &mut dyn RngCore) -> Vec<u64> {
        let mut out = Vec::new();
        for i in 0..700usize {
            match i % 5 {
                0 => out.push(u64::from(rng.next_u32())),
                1 => out.push(rng.next_u64()),
                _ => {
                    let mut bytes = vec![0u8; (i * 37) % 1500];
                    rng.fill_bytes(&mut bytes);
                    out.extend(bytes.iter().map(|&b| u64::from(b)));
                }
            }
        }
        out
    }

    /// `rng` seeded by `seed` on `stream`, `skip` words in.
    fn at(seed: u64, stream: u64, skip: usize) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        for _ in 0..skip {
            rng.next_u32();
        }
        rng
    }

    #[test]
    fn reads_the_words_rand_chacha_reads_and_leaves_it_where_it_stopped() {
        for (seed, stream, skip) in [(0, 0, 0), (7, 3, 5), (42, 9, 17), (u64::MAX, 1, 255)] {
            let mut reference = at(seed, stream, skip);
            let expected = (reads(&mut reference), reference.next_u64());
            let runs = simd::on_each(|_| {
                let mut rng = at(seed, stream, skip);
                let fast = Keystream::run(&mut rng, reads);
                (fast, rng.next_u64())
            });
            for (path, run) in &runs {
                assert!(
                    *run == expected,
                    "{path:?}: seed {seed} stream {stream} skip {skip}"
                );
            }
        }
    }
}
