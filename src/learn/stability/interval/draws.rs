//! The fixed-seed random draws the interval's posteriors are made of (normal, exponential and
//! uniform), from ChaCha generators and `libm`, so a verdict's interval has the same bits on
//! every machine and every run.

use libm::{log, sqrt};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// Standard normal draws by Marsaglia's polar method (only `log` and `sqrt`, both from
/// `libm`), from the fixed-seed generator.
pub(super) struct Normal {
    rng: ChaCha8Rng,
    spare: Option<f64>,
}

impl Normal {
    pub(super) fn seeded(seed: u64) -> Self {
        Normal {
            rng: ChaCha8Rng::seed_from_u64(seed),
            spare: None,
        }
    }

    pub(super) fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An Exp(1) draw: −log of a uniform.
    pub(super) fn exponential(&mut self) -> f64 {
        -log(1.0 - self.uniform())
    }

    pub(super) fn next(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = sqrt(-2.0 * log(s) / s);
                self.spare = Some(v * f);
                return u * f;
            }
        }
    }
}
