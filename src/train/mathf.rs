//! Element-wise maths of the MLP in f32, written so the compiler can vectorise the loops:
//! `erf` as a rational approximation (accurate to 5e-7 on all of f32) and `exp` with a
//! polynomial and an exponent shift, instead of per-element calls into libm.

/// Defines a function twice — once for any x86-64 and once compiled for AVX2 + FMA — and picks
/// the fast one at run time when the CPU has those features. The loops are element-wise, so both
/// versions give bit-identical results (Rust never fuses a multiply and an add by itself).
macro_rules! with_avx2 {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn fast($($arg: $ty),*) $body
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the running CPU has the features `fast` was compiled for.
                    return unsafe { fast($($arg),*) };
                }
            }
            fn portable($($arg: $ty),*) $body
            portable($($arg),*)
        }
    };
}
pub(crate) use with_avx2;

/// 1/√2.
const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1/√(2π).
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// Error function; |error| < 5e-7 against the exact value (a few f32 ulps).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 + -2.101_024e-6;
    p = p * x2 + -5.692_506_4e-5;
    p = p * x2 + -7.349_906_3e-4;
    p = p * x2 + -2.954_600_1e-3;
    p = p * x2 + -1.609_603_3e-2;
    p *= x;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 + -2.133_740_6e-4;
    q = q * x2 + -1.682_827e-3;
    q = q * x2 + -7.373_329_4e-3;
    q = q * x2 + -1.426_473_9e-2;
    p / q
}

/// e^x for x ≤ 0 and moderate x > 0 (Cephes' single-precision scheme).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Round x·log2(e) to the nearest integer without a libm call.
    const MAGIC: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + MAGIC) - MAGIC;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut y = 1.987_569_1e-4_f32;
    y = y * r + 1.398_2e-3;
    y = y * r + 8.333_452e-3;
    y = y * r + 4.166_579_6e-2;
    y = y * r + 1.666_666_5e-1;
    y = y * r + 0.5;
    y = y * r * r + r + 1.0;
    // 2ⁿ built from its exponent bits. `n` is a whole number in [-126, 128), so `n + 127 + MAGIC`
    // is exact and its low mantissa bits are `n + 127`: the same value as `(n as i32 + 127)`,
    // without the saturating float-to-integer conversion that would keep the loop scalar.
    let biased = (n + (127.0 + MAGIC)).to_bits() - MAGIC.to_bits();
    y * f32::from_bits(biased << 23)
}

/// Φ(z), the standard normal distribution function.
#[inline(always)]
fn normal_cdf(z: f32) -> f32 {
    0.5 * (1.0 + erf(z * FRAC_1_SQRT_2))
}

with_avx2! {
    /// GELU (exact, erf form) of `z` into `out`. In training, `dropout` holds each unit's mask
    /// value and receives the unit's slope for the backward pass, `mask · GELU'(z)` with
    /// GELU'(z) = Φ(z) + z·φ(z), and the output is multiplied by the mask. Computing φ here, in
    /// the loop that computes Φ, lets the two long independent chains (`erf`, `exp`) overlap.
    pub fn gelu_forward(z: &[f32], out: &mut [f32], dropout: Option<(&[f32], &mut [f32])>) {
        match dropout {
            None => {
                for (&z, o) in z.iter().zip(out.iter_mut()) {
                    *o = z * normal_cdf(z);
                }
            }
            Some((mask, slope)) => {
                let units = z.iter().zip(out.iter_mut()).zip(mask).zip(slope.iter_mut());
                for (((&z, o), &m), s) in units {
                    let phi = normal_cdf(z);
                    let density = FRAC_1_SQRT_2PI * exp(-0.5 * z * z);
                    *o = z * phi * m;
                    *s = m * (phi + z * density);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_libm() {
        let mut worst = 0f64;
        for i in -60_000..=60_000 {
            let x = i as f32 * 1e-4;
            worst = worst.max((erf(x) as f64 - libm::erf(x as f64)).abs());
        }
        assert!(worst < 5e-7, "erf max error {worst}");
    }

    #[test]
    fn exponent_bits_are_the_power_of_two() {
        const MAGIC: f32 = 12_582_912.0;
        for n in -126..=127 {
            let biased = (n as f32 + (127.0 + MAGIC)).to_bits() - MAGIC.to_bits();
            assert_eq!(f32::from_bits(biased << 23), 2f32.powi(n), "2^{n}");
        }
    }

    #[test]
    fn exp_matches_libm_relatively() {
        let mut worst = 0f64;
        for i in -80_000..=20_000 {
            let x = i as f32 * 1e-3;
            let exact = libm::exp(x as f64);
            worst = worst.max(((exp(x) as f64) - exact).abs() / exact);
        }
        assert!(worst < 3e-7, "exp max relative error {worst}");
    }
}
