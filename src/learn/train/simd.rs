//! Which vector instructions the training arithmetic runs on — 16-lane AVX-512F, 8-lane AVX2 +
//! FMA, or portable code — chosen once per process from the CPU (or `ENSEMBLE_KIT_SIMD`). The
//! three paths compute the same bits (SPEC §11): every loop is vectorised across independent
//! outputs, never across a sum, so the lane count changes how many outputs advance together and
//! nothing else.

use std::sync::atomic::{AtomicU8, Ordering};

/// The environment variable that forces a path (`avx512`, `avx2` or `portable`), for tests that
/// compare the paths' bytes on one machine and for benchmarks. A path the CPU lacks is never
/// taken: the request is capped at what the CPU has.
pub const ENV: &str = "ENSEMBLE_KIT_SIMD";

/// A set of vector instructions the arithmetic is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Path {
    /// Plain Rust for any CPU: scalar code the compiler may vectorise with what the target
    /// always has (SSE2 on x86-64), `mul_add` through the C library's correctly rounded `fma`
    /// where the CPU has no FMA instruction.
    Portable = 1,
    /// x86-64 AVX2 + FMA: 8 lanes.
    Avx2 = 2,
    /// x86-64 AVX-512F (with AVX2 + FMA): 16 lanes.
    Avx512 = 3,
}

impl Path {
    /// Every path, narrowest first.
    pub const ALL: [Path; 3] = [Path::Portable, Path::Avx2, Path::Avx512];

    /// The name `ENSEMBLE_KIT_SIMD` takes and messages print.
    pub fn name(self) -> &'static str {
        match self {
            Path::Portable => "portable",
            Path::Avx2 => "avx2",
            Path::Avx512 => "avx512",
        }
    }

    /// f32 lanes per vector register on this path (1: scalar, as far as the kit is concerned).
    pub fn lanes(self) -> usize {
        match self {
            Path::Portable => 1,
            Path::Avx2 => 8,
            Path::Avx512 => 16,
        }
    }

    fn from_name(name: &str) -> Option<Path> {
        Path::ALL.into_iter().find(|p| p.name() == name)
    }

    fn from_u8(v: u8) -> Option<Path> {
        Path::ALL.into_iter().find(|&p| p as u8 == v)
    }
}

/// The widest path this CPU runs.
pub fn detected() -> Path {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") {
            return if has!("avx512f") {
                Path::Avx512
            } else {
                Path::Avx2
            };
        }
    }
    Path::Portable
}

/// The path of this process: the CPU's widest, or `ENSEMBLE_KIT_SIMD` when it names a path the
/// CPU has (a wider one is capped at the CPU's). Decided on first use, then fixed.
#[inline]
pub fn path() -> Path {
    #[cfg(test)]
    if let Some(p) = FORCED.get() {
        return p;
    }
    static CHOSEN: AtomicU8 = AtomicU8::new(0);
    if let Some(p) = Path::from_u8(CHOSEN.load(Ordering::Relaxed)) {
        return p;
    }
    let p = choose(std::env::var(ENV).ok().as_deref(), detected()).0;
    CHOSEN.store(p as u8, Ordering::Relaxed);
    p
}

#[cfg(test)]
thread_local! {
    /// The path [`on`] runs its closure on, in this thread (unit tests only).
    static FORCED: std::cell::Cell<Option<Path>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` on path `p` in this thread, or returns `None` when the CPU lacks `p`: the unit
/// tests compare every path's bits in one process.
#[cfg(test)]
pub fn on<R>(p: Path, f: impl FnOnce() -> R) -> Option<R> {
    if p > detected() {
        return None;
    }
    let before = FORCED.replace(Some(p));
    let result = f();
    FORCED.set(before);
    Some(result)
}

/// `f` on every path this CPU runs, widest first, with the path.
#[cfg(test)]
pub fn on_each<R>(mut f: impl FnMut(Path) -> R) -> Vec<(Path, R)> {
    Path::ALL
        .into_iter()
        .rev()
        .filter_map(|p| on(p, || (p, f(p))))
        .collect()
}

/// The path for an `ENSEMBLE_KIT_SIMD` value on a CPU whose widest path is `cpu`, and a note
/// when the value was not taken as given.
fn choose(request: Option<&str>, cpu: Path) -> (Path, Option<String>) {
    match request.map(str::trim).filter(|r| !r.is_empty()) {
        None => (cpu, None),
        Some(r) => match Path::from_name(&r.to_ascii_lowercase()) {
            Some(p) if p <= cpu => (p, Some(format!("{ENV}={r}"))),
            Some(_) => (
                cpu,
                Some(format!(
                    "{ENV}={r} asked, but this CPU has only {}",
                    cpu.name()
                )),
            ),
            None => (
                cpu,
                Some(format!(
                    "{ENV}={r} not understood (avx512, avx2 or portable); the CPU's widest is used"
                )),
            ),
        },
    }
}

/// One line for `-v` and benchmarks: the path, its width, and why it was chosen.
pub fn describe() -> String {
    let p = path();
    let (_, note) = choose(std::env::var(ENV).ok().as_deref(), detected());
    let why = note.unwrap_or_else(|| "the CPU's widest".into());
    format!(
        "{} ({} f32 lane{}; {why}; same bits on every path)",
        p.name(),
        p.lanes(),
        if p.lanes() == 1 { "" } else { "s" }
    )
}

/// Asks the CPU to bring the cache line at `at` into the nearest cache: only a hint, which
/// changes no value the program can see (a no-op off x86-64).
#[inline]
pub fn prefetch(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address, and changes no state the program
    // can observe; SSE (which has it) is part of every x86-64.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// Transposes the whole 8×8 tiles of `src` (a row-major `rows × width` matrix) into `dst`
/// (`width × rows`) with AVX shuffles when the CPU has AVX, and returns the rows and columns the
/// tiles covered ((0, 0) without AVX): [`super::kernel::transpose`] moves the rest. Data
/// movement only, so it changes no value.
pub fn transpose_tiles(src: &[f32], rows: usize, width: usize, dst: &mut [f32]) -> (usize, usize) {
    assert!(src.len() >= rows * width && dst.len() >= rows * width);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        let tiled = (rows / 8 * 8, width / 8 * 8);
        // SAFETY: the CPU has AVX, and every tile's rows (< tiled.0 <= rows) and columns
        // (< tiled.1 <= width) lie inside both slices (asserted above).
        unsafe { avx_tiles(src, width, dst, rows, tiled) };
        return tiled;
    }
    (0, 0)
}

/// Transposes the 8×8 tiles of `src` (row stride `width`) that lie in its first `tiled.0` rows
/// and `tiled.1` columns into `dst` (row stride `rows`), each with unpack/shuffle/permute, the
/// classic eight-register transpose.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn avx_tiles(
    src: &[f32],
    width: usize,
    dst: &mut [f32],
    rows: usize,
    tiled: (usize, usize),
) {
    for i in (0..tiled.0).step_by(8) {
        for j in (0..tiled.1).step_by(8) {
            transpose_tile(src, width, dst, rows, i, j);
        }
    }
}

/// One 8×8 tile of [`transpose_tiles`], at row `i` and column `j` of `src`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
unsafe fn transpose_tile(
    src: &[f32],
    width: usize,
    dst: &mut [f32],
    rows: usize,
    i: usize,
    j: usize,
) {
    use std::arch::x86_64::*;
    let from = src.as_ptr().add(i * width + j);
    let r: [__m256; 8] = std::array::from_fn(|k| _mm256_loadu_ps(from.add(k * width)));
    let (t0, t1) = (
        _mm256_unpacklo_ps(r[0], r[1]),
        _mm256_unpackhi_ps(r[0], r[1]),
    );
    let (t2, t3) = (
        _mm256_unpacklo_ps(r[2], r[3]),
        _mm256_unpackhi_ps(r[2], r[3]),
    );
    let (t4, t5) = (
        _mm256_unpacklo_ps(r[4], r[5]),
        _mm256_unpackhi_ps(r[4], r[5]),
    );
    let (t6, t7) = (
        _mm256_unpacklo_ps(r[6], r[7]),
        _mm256_unpackhi_ps(r[6], r[7]),
    );
    let (s0, s1) = (
        _mm256_shuffle_ps::<0x44>(t0, t2),
        _mm256_shuffle_ps::<0xEE>(t0, t2),
    );
    let (s2, s3) = (
        _mm256_shuffle_ps::<0x44>(t1, t3),
        _mm256_shuffle_ps::<0xEE>(t1, t3),
    );
    let (s4, s5) = (
        _mm256_shuffle_ps::<0x44>(t4, t6),
        _mm256_shuffle_ps::<0xEE>(t4, t6),
    );
    let (s6, s7) = (
        _mm256_shuffle_ps::<0x44>(t5, t7),
        _mm256_shuffle_ps::<0xEE>(t5, t7),
    );
    let columns = [
        _mm256_permute2f128_ps::<0x20>(s0, s4),
        _mm256_permute2f128_ps::<0x20>(s1, s5),
        _mm256_permute2f128_ps::<0x20>(s2, s6),
        _mm256_permute2f128_ps::<0x20>(s3, s7),
        _mm256_permute2f128_ps::<0x31>(s0, s4),
        _mm256_permute2f128_ps::<0x31>(s1, s5),
        _mm256_permute2f128_ps::<0x31>(s2, s6),
        _mm256_permute2f128_ps::<0x31>(s3, s7),
    ];
    let to = dst.as_mut_ptr().add(j * rows + i);
    for (k, column) in columns.into_iter().enumerate() {
        _mm256_storeu_ps(to.add(k * rows), column);
    }
}

/// Words of ChaCha keystream [`chacha8_blocks`] computes at once: sixteen blocks of sixteen.
pub const CHACHA_WORDS: usize = 256;

/// ChaCha8 blocks `block`, `block + 1`, … `block + 15` of `key` on `stream` (the original
/// layout rand_chacha uses: constants, key, 64-bit block counter, 64-bit stream), one after
/// another into `out`: one block per lane of sixteen AVX-512 registers, then a 16×16 transpose.
/// Integer arithmetic only, so it is the keystream bit for bit. AVX-512 path only.
pub fn chacha8_blocks(key: &[u32; 8], stream: u64, block: u64, out: &mut [u32; CHACHA_WORDS]) {
    assert_eq!(
        path(),
        Path::Avx512,
        "chacha8_blocks runs on the AVX-512 path only"
    );
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `path()` is `Avx512` only on a CPU with AVX-512F.
    unsafe {
        chacha8_avx512(key, stream, block, out);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (key, stream, block, out);
}

/// [`chacha8_blocks`] in AVX-512F instructions.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn chacha8_avx512(key: &[u32; 8], stream: u64, block: u64, out: &mut [u32; CHACHA_WORDS]) {
    use std::arch::x86_64::*;
    let mut low = [0u32; 16];
    let mut high = [0u32; 16];
    for lane in 0..16 {
        let counter = block.wrapping_add(lane as u64);
        low[lane] = counter as u32;
        high[lane] = (counter >> 32) as u32;
    }
    let words: [u32; 16] = [
        0x6170_7865,
        0x3320_646e,
        0x7962_2d32,
        0x6b20_6574,
        key[0],
        key[1],
        key[2],
        key[3],
        key[4],
        key[5],
        key[6],
        key[7],
        0,
        0,
        stream as u32,
        (stream >> 32) as u32,
    ];
    let mut init = [_mm512_setzero_si512(); 16];
    for (v, &w) in init.iter_mut().zip(&words) {
        *v = _mm512_set1_epi32(w as i32);
    }
    init[12] = _mm512_loadu_si512(low.as_ptr().cast());
    init[13] = _mm512_loadu_si512(high.as_ptr().cast());
    let mut x = init;
    // The quarter round on words a, b, c, d, written out so that every index is a constant and
    // the sixteen words stay in registers.
    macro_rules! quarter_round {
        ($a:literal, $b:literal, $c:literal, $d:literal) => {
            x[$a] = _mm512_add_epi32(x[$a], x[$b]);
            x[$d] = _mm512_rol_epi32::<16>(_mm512_xor_si512(x[$d], x[$a]));
            x[$c] = _mm512_add_epi32(x[$c], x[$d]);
            x[$b] = _mm512_rol_epi32::<12>(_mm512_xor_si512(x[$b], x[$c]));
            x[$a] = _mm512_add_epi32(x[$a], x[$b]);
            x[$d] = _mm512_rol_epi32::<8>(_mm512_xor_si512(x[$d], x[$a]));
            x[$c] = _mm512_add_epi32(x[$c], x[$d]);
            x[$b] = _mm512_rol_epi32::<7>(_mm512_xor_si512(x[$b], x[$c]));
        };
    }
    for _ in 0..4 {
        quarter_round!(0, 4, 8, 12);
        quarter_round!(1, 5, 9, 13);
        quarter_round!(2, 6, 10, 14);
        quarter_round!(3, 7, 11, 15);
        quarter_round!(0, 5, 10, 15);
        quarter_round!(1, 6, 11, 12);
        quarter_round!(2, 7, 8, 13);
        quarter_round!(3, 4, 9, 14);
    }
    for (x, init) in x.iter_mut().zip(&init) {
        *x = _mm512_add_epi32(*x, *init);
    }
    // x[w] holds word w of the sixteen blocks; transpose so that row b is block b. Within each
    // 128-bit lane first (32-bit, then 64-bit interleaves), then across lanes.
    let mut t = x;
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_epi32(x[2 * i], x[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(x[2 * i], x[2 * i + 1]);
    }
    let mut u = t;
    for j in 0..4 {
        u[4 * j] = _mm512_unpacklo_epi64(t[4 * j], t[4 * j + 2]);
        u[4 * j + 1] = _mm512_unpackhi_epi64(t[4 * j], t[4 * j + 2]);
        u[4 * j + 2] = _mm512_unpacklo_epi64(t[4 * j + 1], t[4 * j + 3]);
        u[4 * j + 3] = _mm512_unpackhi_epi64(t[4 * j + 1], t[4 * j + 3]);
    }
    // u[4j + m], lane k: word 4k + m of rows 4j..4j + 3, i.e. a quarter of block 4k + m.
    let to = out.as_mut_ptr();
    for m in 0..4 {
        let even = _mm512_shuffle_i32x4::<0x88>(u[m], u[4 + m]);
        let odd = _mm512_shuffle_i32x4::<0xdd>(u[m], u[4 + m]);
        let even_high = _mm512_shuffle_i32x4::<0x88>(u[8 + m], u[12 + m]);
        let odd_high = _mm512_shuffle_i32x4::<0xdd>(u[8 + m], u[12 + m]);
        for (k, row) in [
            _mm512_shuffle_i32x4::<0x88>(even, even_high),
            _mm512_shuffle_i32x4::<0x88>(odd, odd_high),
            _mm512_shuffle_i32x4::<0xdd>(even, even_high),
            _mm512_shuffle_i32x4::<0xdd>(odd, odd_high),
        ]
        .into_iter()
        .enumerate()
        {
            _mm512_storeu_si512(to.add(16 * (4 * k + m)).cast(), row);
        }
    }
}

/// Defines a function three times from one body — compiled for AVX-512F, for AVX2 + FMA and for
/// any CPU — and calls the one of this process's [`path`]. The bodies are the same source, and
/// Rust never fuses a multiply and an add by itself nor reorders float operations, so every
/// version computes the same values; the wider ones only advance more independent outputs per
/// instruction.
macro_rules! per_path {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? $body
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? $body
                match $crate::learn::train::simd::path() {
                    // SAFETY: `path()` never names a path the running CPU lacks.
                    $crate::learn::train::simd::Path::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::learn::train::simd::Path::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::learn::train::simd::Path::Portable => {}
                }
            }
            fn portable($($arg: $ty),*) $(-> $ret)? $body
            portable($($arg),*)
        }
    };
}
pub(crate) use per_path;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_capped_at_the_cpu_and_explained() {
        assert_eq!(choose(None, Path::Avx512), (Path::Avx512, None));
        assert_eq!(choose(Some(" "), Path::Avx2), (Path::Avx2, None));
        assert_eq!(choose(Some("AVX2"), Path::Avx512).0, Path::Avx2);
        assert_eq!(choose(Some("portable"), Path::Avx2).0, Path::Portable);
        let (p, note) = choose(Some("avx512"), Path::Avx2);
        assert_eq!(p, Path::Avx2);
        assert!(note.unwrap().contains("has only avx2"));
        let (p, note) = choose(Some("sse9"), Path::Portable);
        assert_eq!(p, Path::Portable);
        assert!(note.unwrap().contains("not understood"));
    }

    #[test]
    fn the_process_path_is_one_the_cpu_runs() {
        assert!(path() <= detected());
        assert!(describe().starts_with(path().name()));
    }
}
