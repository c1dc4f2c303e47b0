//! Element-wise maths of the MLP in f32, written so the compiler can vectorise the loops:
//! `erf` as a rational approximation (accurate to 5e-7 on all of f32) and `exp` with a
//! polynomial and an exponent shift, instead of per-element calls into libm.

use super::simd::per_path;

/// 1/√2.
const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1/√(2π).
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// Units evaluated together. Each function below runs one operation at a time across the
/// whole group ("level by level") instead of one unit at a time: the `erf` and `exp` polynomials
/// are long serial chains, and a unit at a time leaves the CPU's scheduler full of operations
/// waiting on their predecessor, while 64 independent units at each step keep every pipe busy
/// (1.5× faster here). Each unit still sees the same operations in the same order, so every
/// value is unchanged. A hidden-layer row is one group.
pub const GROUP: usize = 64;

/// One group of values.
type Group = [f32; GROUP];

/// Horner's scheme on each value, level by level: `acc = acc · x + c` for each coefficient `c`
/// in turn (a multiply, then an add: two roundings, as written).
#[inline(always)]
fn horner<const N: usize>(acc: &mut Group, x: &Group, coefficients: [f32; N]) {
    for c in coefficients {
        for (a, &v) in acc.iter_mut().zip(x) {
            *a = *a * v + c;
        }
    }
}

/// Error function of each value; |error| < 5e-7 against the exact value (a few f32 ulps).
#[inline(always)]
fn erf(x: &Group) -> Group {
    let mut x = *x;
    for v in x.iter_mut() {
        *v = v.clamp(-4.0, 4.0);
    }
    let mut x2 = [0f32; GROUP];
    for (s, &v) in x2.iter_mut().zip(&x) {
        *s = v * v;
    }
    // p = x·P(x²), q = Q(x²), erf = p / q.
    let mut p = [-2.726_142_3e-10_f32; GROUP];
    horner(
        &mut p,
        &x2,
        [
            2.770_681_4e-8,
            -2.101_024e-6,
            -5.692_506_4e-5,
            -7.349_906_3e-4,
            -2.954_600_1e-3,
            -1.609_603_3e-2,
        ],
    );
    for (p, &v) in p.iter_mut().zip(&x) {
        *p *= v;
    }
    let mut q = [-1.456_607_2e-5_f32; GROUP];
    horner(
        &mut q,
        &x2,
        [
            -2.133_740_6e-4,
            -1.682_827e-3,
            -7.373_329_4e-3,
            -1.426_473_9e-2,
        ],
    );
    for (p, &q) in p.iter_mut().zip(&q) {
        *p /= q;
    }
    p
}

/// e^x of each value, for x ≤ 0 and moderate x > 0 (Cephes' single-precision scheme).
#[inline(always)]
fn exp(x: &Group) -> Group {
    // Round x·log2(e) to the nearest integer without a libm call.
    const MAGIC: f32 = 12_582_912.0;
    let mut x = *x;
    for v in x.iter_mut() {
        *v = v.clamp(-87.0, 88.0);
    }
    let mut n = [0f32; GROUP];
    for (n, &v) in n.iter_mut().zip(&x) {
        *n = (v * std::f32::consts::LOG2_E + MAGIC) - MAGIC;
    }
    let mut r = [0f32; GROUP];
    for ((r, &v), &n) in r.iter_mut().zip(&x).zip(&n) {
        *r = v - n * 0.693_359_4 - n * -2.121_944_4e-4;
    }
    let mut y = [1.987_569_1e-4_f32; GROUP];
    horner(
        &mut y,
        &r,
        [
            1.398_2e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            1.666_666_5e-1,
            0.5,
        ],
    );
    for ((y, &r), &n) in y.iter_mut().zip(&r).zip(&n) {
        let poly = *y * r * r + r + 1.0;
        // 2ⁿ built from its exponent bits. `n` is a whole number in [-126, 128), so
        // `n + 127 + MAGIC` is exact and its low mantissa bits are `n + 127`: the same value as
        // `(n as i32 + 127)`, without a saturating float-to-integer conversion (scalar code).
        let biased = (n + (127.0 + MAGIC)).to_bits() - MAGIC.to_bits();
        *y = poly * f32::from_bits(biased << 23);
    }
    y
}

per_path! {
    /// GELU (exact, erf form) of `z` into `out`. In training, `dropout` holds each unit's mask
    /// value and receives the unit's slope for the backward pass, `mask · GELU'(z)` with
    /// GELU'(z) = Φ(z) + z·φ(z), and the output is multiplied by the mask.
    pub fn gelu_forward(z: &[f32], out: &mut [f32], dropout: Option<(&[f32], &mut [f32])>) {
        let (mut mask, mut slope) = dropout.unzip();
        for start in (0..z.len()).step_by(GROUP) {
            let len = GROUP.min(z.len() - start);
            let mut zg = [0f32; GROUP];
            zg[..len].copy_from_slice(&z[start..start + len]);
            let mut scaled = zg;
            for v in scaled.iter_mut() {
                *v *= FRAC_1_SQRT_2;
            }
            let mut phi = erf(&scaled);
            for p in phi.iter_mut() {
                *p = 0.5 * (1.0 + *p);
            }
            let out = &mut out[start..start + len];
            match (&mut mask, &mut slope) {
                (Some(mask), Some(slope)) => {
                    let mut exponent = zg;
                    for v in exponent.iter_mut() {
                        *v = -0.5 * *v * *v;
                    }
                    let e = exp(&exponent);
                    let mask = &mask[start..start + len];
                    let slope = &mut slope[start..start + len];
                    let inputs = mask.iter().zip(&zg).zip(phi.iter().zip(&e));
                    for ((o, s), ((&m, &z), (&p, &e))) in out.iter_mut().zip(slope).zip(inputs) {
                        let density = FRAC_1_SQRT_2PI * e;
                        *o = z * p * m;
                        *s = m * (p + z * density);
                    }
                }
                _ => {
                    for (o, (&z, &p)) in out.iter_mut().zip(zg.iter().zip(&phi)) {
                        *o = z * p;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f` of each value, a group at a time.
    fn grouped(values: impl Iterator<Item = f32>, f: fn(&Group) -> Group) -> Vec<(f32, f32)> {
        let values: Vec<f32> = values.collect();
        let mut pairs = Vec::new();
        for chunk in values.chunks(GROUP) {
            let mut group = [0f32; GROUP];
            group[..chunk.len()].copy_from_slice(chunk);
            pairs.extend(chunk.iter().copied().zip(f(&group)));
        }
        pairs
    }

    /// GELU and its slope give the same bits on every vector path, over ordinary, huge, tiny,
    /// subnormal and non-finite inputs, with the tail of a partial group.
    #[test]
    fn gelu_is_bit_identical_on_every_path() {
        let mut z: Vec<f32> = (-120_000..=120_000).map(|i| i as f32 * 1e-4).collect();
        z.extend([
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            -1e-40,
            1e30,
            -1e30,
            f32::MAX,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            87.5,
            -90.0,
        ]);
        let mask: Vec<f32> = (0..z.len()).map(|i| [0.0, 1.0 / 0.9][i % 7 / 6]).collect();
        let runs = crate::learn::train::simd::on_each(|_| {
            let mut out = vec![0f32; z.len()];
            let mut slope = vec![0f32; z.len()];
            gelu_forward(&z, &mut out, Some((&mask, &mut slope)));
            let mut plain = vec![0f32; z.len()];
            gelu_forward(&z, &mut plain, None);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            (bits(&out), bits(&slope), bits(&plain))
        });
        for (path, run) in &runs {
            assert!(*run == runs[0].1, "{path:?} differs from {:?}", runs[0].0);
        }
    }

    #[test]
    fn erf_matches_libm() {
        let mut worst = 0f64;
        for (x, y) in grouped((-60_000..=60_000).map(|i| i as f32 * 1e-4), erf) {
            worst = worst.max((y as f64 - libm::erf(x as f64)).abs());
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
        for (x, y) in grouped((-80_000..=20_000).map(|i| i as f32 * 1e-3), exp) {
            let exact = libm::exp(x as f64);
            worst = worst.max(((y as f64) - exact).abs() / exact);
        }
        assert!(worst < 3e-7, "exp max relative error {worst}");
    }
}
