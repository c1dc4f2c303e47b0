//! Benchmarks that measure speed as a ratio against a baseline run in the same process, never
//! as timed assertions in tests.
//!
//! `bench corpus` runs the same cells two ways: the reference producer's naive sequential way
//! (encode, decode to a `.yuv` file, `vmaf --threads 1` on it, one cell after another) and this
//! kit's pipeline (cells in parallel, decoded frames streamed through a pipe). It reports wall
//! times, the speed-up and the peak temporary disk of each.
//!
//! `bench train` runs the same LOSO fits with the fixed-order kernel and through ndarray's
//! `general_mat_mul`, in this process, and the ridge baseline on every fold, and measures the
//! machine's FMA peak on the same vector path, so the kernel's GFLOP/s read against the limit.

use crate::error::{Error, Result};
use crate::host::tools::{ffmpeg, vmaf, Toolset};
use crate::ingest::corpus::{self, CorpusRequest, Grid, References};
use crate::ingest::merge::Corpus;
use crate::learn::train::{self, kernel::Gemm, simd, Dataset, Recipe};
use crate::progress::Progress;
use crate::schema::Platform;
use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The folder of a corpus benchmark's work folder where the naive run encodes and decodes.
pub const NAIVE: &str = "naive";
/// The folder of a corpus benchmark's work folder where the kit's pipeline writes its shard.
pub const PIPELINE: &str = "pipeline";

/// A scratch folder: the one given, or a temporary one removed afterwards.
pub struct WorkDir {
    path: Utf8PathBuf,
    _temp: Option<crate::host::temporary::Folder>,
}

impl WorkDir {
    /// Uses `given`, or creates a temporary folder.
    pub fn new(given: Option<Utf8PathBuf>) -> Result<WorkDir> {
        match given {
            Some(path) => {
                std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
                Ok(WorkDir { path, _temp: None })
            }
            None => {
                let temp = crate::host::temporary::Folder::new("bench")?;
                Ok(WorkDir {
                    path: temp.path().to_owned(),
                    _temp: Some(temp),
                })
            }
        }
    }

    /// The folder.
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }
}

/// Samples a folder's total size every few milliseconds and keeps the peak.
struct DiskSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DiskSampler {
    fn start(dir: Utf8PathBuf) -> DiskSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || loop {
            p.fetch_max(dir_size(&dir), Ordering::SeqCst);
            if s.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        });
        DiskSampler {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak.load(Ordering::SeqCst)
    }
}

fn dir_size(dir: &Utf8Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => Utf8PathBuf::from_path_buf(e.path())
                .map(|p| dir_size(&p))
                .unwrap_or(0),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Runs both ways on the request's cells and returns the report to print.
pub fn corpus(
    request: &CorpusRequest,
    tools: &Toolset,
    platform: &Platform,
    work: &Utf8Path,
    progress: &Progress,
) -> Result<String> {
    let plan = request.grid.plan(&tools.ffmpeg.path, platform, progress)?;
    let cells = plan.cells(crate::schema::ScoringBackend::Cpu);
    let n_cells = cells.len();

    progress.info(&format!(
        "naive: {n_cells} cells one after another (encode, decode to .yuv, vmaf --threads 1)"
    ));
    let naive_dir = work.join(NAIVE);
    std::fs::create_dir_all(&naive_dir).map_err(|e| Error::io(&naive_dir, e))?;
    let sampler = DiskSampler::start(naive_dir.clone());
    let started = Instant::now();
    let mut naive_encoded = 0u64;
    for cell in &cells {
        let source = cell.source;
        let encoded = naive_dir.join("cell.mkv");
        let decoded = naive_dir.join(if source.format == crate::schema::SourceFormat::Y4m {
            "cell.y4m"
        } else {
            "cell.yuv"
        });
        ffmpeg::encode(
            &tools.ffmpeg.path,
            source,
            cell.source_path.as_str(),
            cell.encode_settings(0),
            encoded.as_str(),
        )?
        .output("naive encode")?;
        naive_encoded += std::fs::metadata(&encoded)
            .map_err(|e| Error::io(&encoded, e))?
            .len();
        ffmpeg::decode(
            &tools.ffmpeg.path,
            source,
            encoded.as_str(),
            cell.frames,
            decoded.as_str(),
        )
        .output("naive decode")?;
        let out = vmaf::score(
            &tools.vmaf.path,
            source,
            cell.source_path.as_str(),
            decoded.as_str(),
            vmaf::ScoreSettings {
                frames: cell.frames,
                threads: 1,
                backend: cell.backend,
            },
        )
        .output("naive vmaf")?;
        vmaf::parse_report(&out.stdout).map_err(Error::Environment)?;
        for f in [&encoded, &decoded] {
            std::fs::remove_file(f).map_err(|e| Error::io(f, e))?;
        }
    }
    let naive_secs = started.elapsed().as_secs_f64();
    let naive_peak = sampler.finish();

    progress.info("pipeline: the same cells through `corpus` (parallel cells, streamed scoring)");
    let pipeline_dir = work.join(PIPELINE);
    std::fs::create_dir_all(&pipeline_dir).map_err(|e| Error::io(&pipeline_dir, e))?;
    let store = pipeline_dir.join("shard.cells");
    if store.exists() {
        std::fs::remove_dir_all(&store).map_err(|e| Error::io(&store, e))?;
    }
    let sampler = DiskSampler::start(store.join("scratch"));
    let started = Instant::now();
    let request = CorpusRequest {
        grid: Grid {
            references: References::Dir(plan.ref_dir.clone()),
            ..request.grid.clone()
        },
        ..request.clone()
    };
    let meta = corpus::run(&request, tools, platform, progress)?;
    let pipeline_secs = started.elapsed().as_secs_f64();
    let pipeline_peak = sampler.finish();
    let pipeline_encoded: u64 = meta.cells.iter().map(|c| c.enc_bytes).sum();

    let largest_cell = meta.cells.iter().map(|c| c.enc_bytes).max().unwrap_or(0);
    Ok(format!(
        "bench corpus: {n_cells} cells, {} rows, {} core(s), ffmpeg {}, libvmaf {}\n\
         naive sequential : {naive_secs:8.2} s   peak temp disk {:>10} bytes (encoded total {naive_encoded})\n\
         kit pipeline     : {pipeline_secs:8.2} s   peak temp disk {:>10} bytes (encoded total {pipeline_encoded}, {} jobs)\n\
         speed-up         : {:.2}x\n\
         pipeline peak temp disk / all encoded files: {:.3} (largest single encode {largest_cell} bytes)\n",
        meta.n_rows,
        crate::budget::cores(),
        tools.ffmpeg.version,
        tools.vmaf.version,
        naive_peak,
        pipeline_peak,
        crate::budget::split(request.jobs, request.threads)?.0,
        naive_secs / pipeline_secs,
        pipeline_peak as f64 / pipeline_encoded.max(1) as f64,
    ))
}

/// What `bench train` compares.
#[derive(Debug, Clone)]
pub struct TrainBench {
    /// Seeds.
    pub seeds: Vec<u64>,
    /// The recipe of every fit.
    pub recipe: Recipe,
    /// Fits at once, for both sides.
    pub jobs: usize,
    /// Resample the corpus to this many rows (its rows repeated cyclically).
    pub rows: Option<usize>,
}

/// Multiply-adds of the matrix products of one training row's forward and backward pass:
/// 20·64 + 64·64 + 64 forward, 64 + 64·64 + 64·64 + 20·64 backward.
const FMAS_PER_ROW: f64 = (2 * (20 * 64 + 64 * 64 + 64) + 64 * 64) as f64;

/// `VmHWM` (peak resident set) from a /proc status file, in KiB.
fn high_water_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// This process's peak resident memory so far (Linux), for the report.
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| high_water_kib(&s))
        .map_or("n/a".into(), |kib| {
            format!("{:.1} MiB", kib as f64 / 1024.0)
        })
}

/// The machine's limit for the training arithmetic on this process's path, in GFLOP/s of one
/// thread: a short loop of independent fused multiply-adds (twelve vector registers of chains
/// on the 8-lane path, twenty-four on the 16-lane one, enough to hide the FMA latency), run for
/// about `seconds`. `bench train` runs it on every job's thread at once and prints the trainer's
/// GFLOP/s beside it.
fn fma_peak(seconds: f64) -> f64 {
    let mut rounds = 1_000u64;
    loop {
        let started = std::time::Instant::now();
        let fmas = fma_rounds(rounds);
        let elapsed = started.elapsed().as_secs_f64();
        if elapsed >= seconds || rounds >= 1 << 40 {
            return 2.0 * fmas as f64 / elapsed / 1e9;
        }
        let grow = (seconds / elapsed.max(1e-6)).clamp(2.0, 100.0);
        rounds = (rounds as f64 * grow) as u64;
    }
}

simd::per_path! {
    /// `rounds` rounds of multiply-adds on chains as wide as this path's registers allow;
    /// returns how many multiply-adds ran.
    fn fma_rounds(rounds: u64) -> u64 {
        match simd::path() {
            simd::Path::Avx512 => independent_fmas::<384>(rounds),
            simd::Path::Avx2 => independent_fmas::<96>(rounds),
            simd::Path::Portable => independent_fmas::<12>(rounds),
        }
    }
}

/// `rounds` rounds of `N` independent multiply-adds (each value its own chain), kept from being
/// optimised away; returns `N · rounds`.
#[inline(always)]
fn independent_fmas<const N: usize>(rounds: u64) -> u64 {
    let (m, a) = (
        std::hint::black_box(0.999_999f32),
        std::hint::black_box(1e-7f32),
    );
    let mut acc: [f32; N] = std::hint::black_box([1.0; N]);
    for _ in 0..rounds {
        for v in acc.iter_mut() {
            *v = v.mul_add(m, a);
        }
    }
    std::hint::black_box(acc);
    N as u64 * rounds
}

/// Runs every (seed, fold) fit of `train` twice in this process — with the fixed-order kernel,
/// then with ndarray's `general_mat_mul` as the baseline — and the ridge baseline once, and
/// returns the report: wall times, the ratio, GFLOP/s of the products and peak memory.
pub fn train(request: &TrainBench, corpus: &Corpus, progress: &Progress) -> Result<String> {
    let data = Dataset::new(corpus)?;
    let data = match request.rows {
        Some(n) => data.repeated(n),
        None => data,
    };
    let n_folds = data.sources.len();
    let pool = crate::budget::pool(request.jobs)?;
    let tasks: Vec<(u64, usize)> = request
        .seeds
        .iter()
        .flat_map(|&s| (0..n_folds).map(move |f| (s, f)))
        .collect();
    let fmas: f64 = tasks
        .iter()
        .map(|&(_, f)| data.fold_rows(f).0.len() as f64)
        .sum::<f64>()
        * request.recipe.epochs as f64
        * FMAS_PER_ROW;

    progress.info(&format!(
        "ridge baseline: {n_folds} folds on {} rows",
        data.len()
    ));
    let started = Instant::now();
    pool.install(|| {
        (0..n_folds).into_par_iter().for_each(|f| {
            train::baseline_fold(&data, f);
        })
    });
    let ridge_secs = started.elapsed().as_secs_f64();
    let ridge_memory = peak_memory();

    let fits = |gemm: Gemm| {
        progress.info(&format!(
            "{gemm:?}: {} fits × {} epochs on {} rows, {} at a time",
            tasks.len(),
            request.recipe.epochs,
            data.len(),
            request.jobs
        ));
        let started = Instant::now();
        let plccs: Vec<Option<f64>> = pool.install(|| {
            tasks
                .par_iter()
                .map(|&(seed, fold)| {
                    train::run_fold(&data, fold, seed, &request.recipe, None, gemm).plcc
                })
                .collect()
        });
        let mean = crate::stats::mean(plccs.iter().flatten().copied()).unwrap_or(f64::NAN);
        (started.elapsed().as_secs_f64(), mean)
    };
    let (fixed_secs, fixed_plcc) = fits(Gemm::Fixed);
    let fixed_memory = peak_memory();
    let (ndarray_secs, ndarray_plcc) = fits(Gemm::Ndarray);
    let gflops = |secs: f64| 2.0 * fmas / secs / 1e9;
    let peak: f64 = pool.install(|| {
        (0..request.jobs)
            .into_par_iter()
            .map(|_| fma_peak(0.25))
            .sum()
    });
    Ok(format!(
        "bench train: {} rows, {n_folds} folds, seeds {:?}, {} epochs, {} jobs, {} core(s)\n\
         ridge baseline   : {ridge_secs:8.3} s   all folds (normal equations)   peak memory {ridge_memory}\n\
         fixed kernel     : {fixed_secs:8.2} s   {:6.2} GFLOP/s   mean PLCC {fixed_plcc:.5}   peak memory {fixed_memory}\n\
         ndarray baseline : {ndarray_secs:8.2} s   {:6.2} GFLOP/s   mean PLCC {ndarray_plcc:.5}\n\
         speed-up         : {:.2}x (GFLOP/s count the {:.3e} multiply-adds of the matrix products, 2 flops each)\n\
         FMA peak         : {peak:8.2} GFLOP/s measured ({} job(s) of independent FMAs on the {} path); the fixed kernel reaches {:.0}% of it\n",
        data.len(),
        request.seeds,
        request.recipe.epochs,
        request.jobs,
        crate::budget::cores(),
        gflops(fixed_secs),
        gflops(ndarray_secs),
        ndarray_secs / fixed_secs,
        fmas,
        request.jobs,
        simd::path().name(),
        100.0 * gflops(fixed_secs) / peak,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fma_peak_is_a_positive_rate() {
        assert!(super::fma_peak(0.001) > 0.0);
    }
}
