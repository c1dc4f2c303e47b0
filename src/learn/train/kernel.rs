//! The matrix products of training, written so every CPU gives the same bits (SPEC §6).
//!
//! Each output element is one sum taken in a fixed order — the reduction index increasing from
//! the initial value — with one fused multiply-add (`mul_add`, a single rounding) per term. The
//! loops are vectorised across *outputs* (independent lanes), never across the reduction, so the
//! vector width does not matter. On x86-64 with AVX-512F the kernel runs as 16-lane `vfmadd`,
//! with AVX2 + FMA as 8-lane `vfmadd`; elsewhere `mul_add` is the C library's `fma`, which is
//! correctly rounded too (IEEE 754 `fusedMultiplyAdd`), so the slow path gives the same bits.
//! aarch64 always has FMA. [`super::simd`] picks the path once per process.
//!
//! [`Gemm::Ndarray`] routes the same products through `ndarray::linalg::general_mat_mul`
//! (matrixmultiply, which picks its kernel at run time): only `bench train` uses it, as the
//! baseline the fixed kernel is measured against.

use super::shape::HIDDEN;
use super::simd::{self, per_path};
use ndarray::{linalg::general_mat_mul, ArrayView2, ArrayViewMut2, ShapeBuilder};

/// Output columns per register block of the 8-lane and portable paths (two AVX vectors).
const COLS: usize = 16;

/// Output columns per register block of the 16-lane path (four AVX-512 vectors).
const WIDE_COLS: usize = 64;

/// Which implementation computes the products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gemm {
    /// The fixed-order kernel of this module: identical bits on every CPU.
    #[default]
    Fixed,
    /// ndarray's `general_mat_mul`: the CPU-dependent baseline of `bench train`.
    Ndarray,
}

/// A left operand read as `a(i, k) = data[i * row_stride + k * depth_stride]`, so a matrix and
/// its transpose are the same slice with the strides swapped.
#[derive(Debug, Clone, Copy)]
pub struct Operand<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Distance between consecutive output rows.
    pub row_stride: usize,
    /// Distance between consecutive reduction steps.
    pub depth_stride: usize,
}

impl<'a> Operand<'a> {
    /// A row-major matrix of width `depth`.
    pub fn rows(data: &'a [f32], depth: usize) -> Operand<'a> {
        Operand {
            data,
            row_stride: depth,
            depth_stride: 1,
        }
    }

    /// The transpose of a row-major matrix of width `width`: its columns become output rows and
    /// its rows the reduction.
    pub fn transposed(data: &'a [f32], width: usize) -> Operand<'a> {
        Operand {
            data,
            row_stride: 1,
            depth_stride: width,
        }
    }
}

impl Gemm {
    /// `out[i, j] = init[j] + Σ_k a(i, k) · b[k, j]` for `i < rows`, `j < HIDDEN`, with `b`
    /// row-major `depth × HIDDEN` and `init` zero when `None`.
    pub fn product(
        self,
        rows: usize,
        depth: usize,
        a: Operand<'_>,
        b: &[f32],
        init: Option<&[f32]>,
        out: &mut [f32],
    ) {
        assert!(
            rows == 0
                || (rows - 1) * a.row_stride + (depth.max(1) - 1) * a.depth_stride < a.data.len()
        );
        assert!(b.len() >= depth * HIDDEN && out.len() >= rows * HIDDEN);
        assert!(init.is_none_or(|v| v.len() == HIDDEN));
        match self {
            Gemm::Fixed => fixed_product(rows, depth, a, b, init, out),
            Gemm::Ndarray => ndarray_product(rows, depth, a, b, init, out),
        }
    }
}

per_path! {
    /// The fixed-order product (see the module documentation): the output columns in groups of
    /// [`WIDE_COLS`] (four vectors) on the 16-lane path, of [`COLS`] (two) otherwise.
    fn fixed_product(
        rows: usize,
        depth: usize,
        a: Operand<'_>,
        b: &[f32],
        init: Option<&[f32]>,
        out: &mut [f32],
    ) {
        if simd::path().lanes() >= WIDE_COLS / 4 {
            column_groups::<WIDE_COLS>(rows, depth, a, b, init, out);
        } else {
            column_groups::<COLS>(rows, depth, a, b, init, out);
        }
    }
}

/// For each group of `C` columns, blocks of six output rows (six times `C / 8` or `C / 16`
/// chains of FMAs in flight: twelve on the 8-lane path, twenty-four on the 16-lane one), then
/// the rows left over in blocks of four, two and one.
#[inline(always)]
fn column_groups<const C: usize>(
    rows: usize,
    depth: usize,
    a: Operand<'_>,
    b: &[f32],
    init: Option<&[f32]>,
    out: &mut [f32],
) {
    for c0 in (0..HIDDEN).step_by(C) {
        let mut i = 0;
        while i < rows {
            i += match rows - i {
                // Eight rows as 4 + 4, not 6 + 2: a two-row block has only four chains of
                // FMAs in flight, too few to hide their latency.
                8 => block::<4, C>(i, c0, depth, a, b, init, out),
                6.. => block::<6, C>(i, c0, depth, a, b, init, out),
                4 | 5 => block::<4, C>(i, c0, depth, a, b, init, out),
                2 | 3 => block::<2, C>(i, c0, depth, a, b, init, out),
                _ => block::<1, C>(i, c0, depth, a, b, init, out),
            };
        }
    }
}

/// `R` output rows starting at `i0`, the [`COLS`] columns starting at `c0`; returns `R`. The
/// block's sums are held in registers (`2R` vectors) across the whole reduction, starting from
/// `init`, and the left values are read in place (no packing: a row-major operand and a
/// transposed one are both a strided read). A column group's slice of `b` (depth × COLS) stays in
/// the L1 cache while every row block uses it.
#[inline(always)]
fn block<const R: usize, const C: usize>(
    i0: usize,
    c0: usize,
    depth: usize,
    a: Operand<'_>,
    b: &[f32],
    init: Option<&[f32]>,
    out: &mut [f32],
) -> usize {
    let out = &mut out[i0 * HIDDEN..(i0 + R) * HIDDEN];
    let b = &b[..depth * HIDDEN];
    let left = |r: usize, k: usize| {
        let at = (i0 + r) * a.row_stride + k * a.depth_stride;
        debug_assert!(at < a.data.len());
        // SAFETY: `Gemm::product` asserted that the last element of every (row < rows,
        // k < depth) lies in `a.data`, and `i0 + r < rows`, `k < depth` here.
        unsafe { *a.data.get_unchecked(at) }
    };
    let start: [f32; C] = match init {
        Some(init) => init[c0..c0 + C].try_into().expect("C wide"),
        None => [0.0; C],
    };
    let mut acc = [start; R];
    for (k, b_row) in b.chunks_exact(HIDDEN).enumerate() {
        let b_cols: &[f32; C] = b_row[c0..c0 + C].try_into().expect("C wide");
        for (r, acc) in acc.iter_mut().enumerate() {
            let av = left(r, k);
            for (acc, &bv) in acc.iter_mut().zip(b_cols) {
                *acc = av.mul_add(bv, *acc);
            }
        }
    }
    for (row, acc) in out.chunks_exact_mut(HIDDEN).zip(&acc) {
        row[c0..c0 + C].copy_from_slice(acc);
    }
    R
}

/// The same product through ndarray (matrixmultiply).
fn ndarray_product(
    rows: usize,
    depth: usize,
    a: Operand<'_>,
    b: &[f32],
    init: Option<&[f32]>,
    out: &mut [f32],
) {
    let a = ArrayView2::from_shape(
        (rows, depth).strides((a.row_stride, a.depth_stride)),
        a.data,
    )
    .expect("operand fits its slice");
    let b = ArrayView2::from_shape((depth, HIDDEN), &b[..depth * HIDDEN]).expect("b fits");
    let out = &mut out[..rows * HIDDEN];
    let beta = match init {
        Some(init) => {
            for row in out.chunks_exact_mut(HIDDEN) {
                row.copy_from_slice(init);
            }
            1.0
        }
        None => 0.0,
    };
    let mut c = ArrayViewMut2::from_shape((rows, HIDDEN), out).expect("out fits");
    general_mat_mul(1.0, &a, &b, beta, &mut c);
}

per_path! {
    /// `out[r] = bias + Σ_k h[r, k] · w[k]` for the `n` rows of a matrix `h` of width HIDDEN,
    /// given as its transpose `ht` (HIDDEN rows of width `n`, see [`transpose`]) so that the sums
    /// of [`DOT_BLOCK`] rows advance together in vectors. Each sum runs in increasing `k` with
    /// fused multiply-adds.
    pub fn dot_rows(ht: &[f32], n: usize, w: &[f32], bias: f32, out: &mut [f32]) {
        assert!(ht.len() >= n * w.len() && out.len() >= n);
        for r0 in (0..n).step_by(DOT_BLOCK) {
            let len = DOT_BLOCK.min(n - r0);
            let mut acc = [bias; DOT_BLOCK];
            for (k, &wk) in w.iter().enumerate() {
                let column = &ht[k * n + r0..][..len];
                match <&[f32; DOT_BLOCK]>::try_from(column) {
                    Ok(column) => multiply_add(&mut acc, column, wk),
                    Err(_) => multiply_add(&mut acc[..len], column, wk),
                }
            }
            out[r0..r0 + len].copy_from_slice(&acc[..len]);
        }
    }
}

/// Rows whose output sums [`dot_rows`] keeps in registers together.
const DOT_BLOCK: usize = 32;

/// `acc[i] = column[i] · w + acc[i]`, each with one rounding.
#[inline(always)]
fn multiply_add(acc: &mut [f32], column: &[f32], w: f32) {
    for (a, &h) in acc.iter_mut().zip(column) {
        *a = h.mul_add(w, *a);
    }
}

/// `dst = srcᵀ`, with `src` a row-major `rows × width` matrix and `dst` becoming `width × rows`.
/// Pure data movement, so any order gives the same bits: whole 8×8 tiles go through AVX
/// shuffles when the CPU has AVX ([`simd::transpose_tiles`], four times faster than element by
/// element), the edges and other CPUs element by element.
pub fn transpose(src: &[f32], rows: usize, width: usize, dst: &mut [f32]) {
    assert!(src.len() >= rows * width && dst.len() >= rows * width);
    let tiled = simd::transpose_tiles(src, rows, width, dst);
    for i in 0..rows {
        // Columns the tiles did not cover: all of them in the rows below the tiles.
        let from = if i < tiled.0 { tiled.1 } else { 0 };
        for j in from..width {
            dst[j * rows + i] = src[i * width + j];
        }
    }
}

per_path! {
    /// `out[j] = Σ_r h[r, j] · g[r]` (rows of width HIDDEN), each sum in increasing `r` from 0
    /// with fused multiply-adds.
    pub fn weighted_column_sums(h: &[f32], g: &[f32], out: &mut [f32]) {
        out.fill(0.0);
        for (row, &g) in h.chunks_exact(HIDDEN).zip(g) {
            for (o, &v) in out.iter_mut().zip(row) {
                *o = v.mul_add(g, *o);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random matrix with values of mixed magnitude and sign.
    fn values(n: usize, salt: u32) -> Vec<f32> {
        (0..n as u32)
            .map(|i| {
                let h = (i.wrapping_mul(2_654_435_761) ^ salt).wrapping_mul(40_503);
                (h >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 2.0
            })
            .collect()
    }

    /// The definition, one output at a time, in the documented order.
    fn reference(
        rows: usize,
        depth: usize,
        a: Operand,
        b: &[f32],
        init: Option<&[f32]>,
    ) -> Vec<f32> {
        let mut out = vec![0f32; rows * HIDDEN];
        for i in 0..rows {
            for j in 0..HIDDEN {
                let mut acc = init.map_or(0.0, |v| v[j]);
                for k in 0..depth {
                    acc = a.data[i * a.row_stride + k * a.depth_stride]
                        .mul_add(b[k * HIDDEN + j], acc);
                }
                out[i * HIDDEN + j] = acc;
            }
        }
        out
    }

    #[test]
    fn fixed_kernel_is_the_documented_sum_bit_for_bit_on_every_path() {
        let bias = values(HIDDEN, 7);
        let shapes = [
            (32, 20),
            (31, 64),
            (64, 32),
            (20, 32),
            (7, 5),
            (3, 64),
            (1, 20),
            (0, 20),
        ];
        let paths = crate::learn::train::simd::on_each(|path| {
            for (rows, depth) in shapes {
                let x = values(rows * depth, 1);
                let b = values(depth * HIDDEN, 2);
                for (a, init) in [
                    (Operand::rows(&x, depth), Some(&bias[..])),
                    (Operand::rows(&x, depth), None),
                ] {
                    let mut out = vec![0f32; rows * HIDDEN];
                    Gemm::Fixed.product(rows, depth, a, &b, init, &mut out);
                    let expected = reference(rows, depth, a, &b, init);
                    assert_eq!(out, expected, "{path:?} {rows}x{depth}");
                }
                // The transposed operand: depth rows of width `rows` read column-wise.
                let t = values(depth * rows, 3);
                let a = Operand::transposed(&t, rows);
                let mut out = vec![0f32; rows * HIDDEN];
                Gemm::Fixed.product(rows, depth, a, &b, None, &mut out);
                assert_eq!(out, reference(rows, depth, a, &b, None), "{path:?}");
            }
        });
        assert!(!paths.is_empty());
    }

    #[test]
    fn ndarray_baseline_computes_the_same_product_to_rounding() {
        let (rows, depth) = (32, 64);
        let (x, b, bias) = (
            values(rows * depth, 4),
            values(depth * HIDDEN, 5),
            values(HIDDEN, 6),
        );
        let mut fixed = vec![0f32; rows * HIDDEN];
        let mut baseline = vec![0f32; rows * HIDDEN];
        let a = Operand::rows(&x, depth);
        Gemm::Fixed.product(rows, depth, a, &b, Some(&bias), &mut fixed);
        Gemm::Ndarray.product(rows, depth, a, &b, Some(&bias), &mut baseline);
        for (f, n) in fixed.iter().zip(&baseline) {
            assert!((f - n).abs() < 1e-4, "{f} vs {n}");
        }
    }

    #[test]
    fn transpose_matches_the_definition_for_tiles_and_edges() {
        for (rows, width) in [(32, 64), (64, 64), (20, 64), (13, 11), (1, 64), (0, 8)] {
            let src = values(rows * width, 8);
            let mut dst = vec![0f32; rows * width];
            transpose(&src, rows, width, &mut dst);
            for i in 0..rows {
                for j in 0..width {
                    assert_eq!(
                        dst[j * rows + i],
                        src[i * width + j],
                        "{rows}x{width} ({i},{j})"
                    );
                }
            }
        }
    }

    #[test]
    fn dot_rows_is_each_rows_ordered_sum_on_every_path() {
        crate::learn::train::simd::on_each(|_| dot_rows_is_each_rows_ordered_sum());
    }

    fn dot_rows_is_each_rows_ordered_sum() {
        for n in [32, 45, 3] {
            let (h, w) = (values(n * HIDDEN, 9), values(HIDDEN, 10));
            let mut ht = vec![0f32; n * HIDDEN];
            transpose(&h, n, HIDDEN, &mut ht);
            let mut out = vec![0f32; n];
            dot_rows(&ht, n, &w, 0.25, &mut out);
            for (r, &o) in out.iter().enumerate() {
                let sum = (0..HIDDEN).fold(0.25f32, |acc, k| h[r * HIDDEN + k].mul_add(w[k], acc));
                assert_eq!(o, sum, "row {r} of {n}");
            }
        }
    }

    #[test]
    fn fused_multiply_add_rounds_once() {
        // 1 + 2⁻²³ squared is 1 + 2⁻²² + 2⁻⁴⁶: a multiply then add loses the 2⁻⁴⁶.
        let x = 1.0 + f32::EPSILON;
        let mut out = [0f32];
        let h: Vec<f32> = std::iter::once(x).chain([0.0; HIDDEN - 1]).collect();
        let w: Vec<f32> = std::iter::once(x).chain([0.0; HIDDEN - 1]).collect();
        // One row: its transpose is the same 64 values.
        dot_rows(&h, 1, &w, -1.0 - 2.0 * f32::EPSILON, &mut out);
        assert_eq!(out[0], f32::EPSILON * f32::EPSILON);
    }
}
