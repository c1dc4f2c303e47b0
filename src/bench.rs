//! Benchmarks that measure speed as a ratio against a baseline run in the same process, never
//! as timed assertions in tests.
//!
//! `bench corpus` runs the same cells two ways: the reference producer's naive sequential way
//! (encode, decode to a `.yuv` file, `vmaf --threads 1` on it, one cell after another) and this
//! kit's pipeline (cells in parallel, decoded frames streamed through a pipe). It reports wall
//! times, the speed-up and the peak temporary disk of each.

use crate::corpus::{self, CorpusRequest, Grid, References};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::schema::Platform;
use crate::tools::{ffmpeg, vmaf, Toolset};
use camino::{Utf8Path, Utf8PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A scratch folder: the one given, or a temporary one removed afterwards.
pub struct WorkDir {
    path: Utf8PathBuf,
    _temp: Option<tempfile::TempDir>,
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
                let temp = tempfile::tempdir().map_err(|e| Error::io("(temporary folder)", e))?;
                let path = Utf8PathBuf::from_path_buf(temp.path().to_owned()).map_err(|p| {
                    Error::Environment(format!("temporary folder {} is not UTF-8", p.display()))
                })?;
                Ok(WorkDir {
                    path,
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
    let naive_dir = work.join("naive");
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
    let pipeline_dir = work.join("pipeline");
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
    /// Corpus shard(s).
    pub corpus: Vec<Utf8PathBuf>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Epochs per fold.
    pub epochs: usize,
    /// Folds at once, for both sides.
    pub jobs: usize,
    /// Python with torch.
    pub python: String,
    /// `torch_loso.py`.
    pub torch_script: Utf8PathBuf,
}

/// Runs a child to completion, timing it and sampling its peak resident memory (Linux).
fn timed_child(
    mut command: std::process::Command,
    what: &str,
) -> Result<(f64, Option<u64>, Vec<u8>)> {
    let started = Instant::now();
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::Environment(format!("{what}: could not start: {e}")))?;
    let status_file = format!("/proc/{}/status", child.id());
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if let Some(kib) = std::fs::read_to_string(&status_file)
                    .ok()
                    .and_then(|s| high_water_kib(&s))
                {
                    peak.fetch_max(kib, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let output = child
        .wait_with_output()
        .map_err(|e| Error::Environment(format!("{what}: {e}")))?;
    stop.store(true, Ordering::SeqCst);
    let _ = sampler.join();
    if !output.status.success() {
        return Err(Error::Tool {
            what: what.into(),
            command: format!("{command:?}"),
            status: output.status.to_string(),
            stderr_tail: crate::tools::process::stderr_tail(&output.stderr),
        });
    }
    let kib = peak.load(Ordering::SeqCst);
    Ok((
        started.elapsed().as_secs_f64(),
        (kib > 0).then_some(kib * 1024),
        output.stdout,
    ))
}

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

/// Runs both trainers and returns the report to print.
pub fn train(request: &TrainBench, work: &Utf8Path, progress: &Progress) -> Result<String> {
    let corpus_list = request
        .corpus
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let seeds = request
        .seeds
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let kit_dir = work.join("kit");
    let torch_dir = work.join("torch");

    progress.info(&format!(
        "kit: train, {} seed(s), {} epochs, {} jobs",
        request.seeds.len(),
        request.epochs,
        request.jobs
    ));
    let exe = std::env::current_exe()
        .map_err(|e| Error::Environment(format!("cannot find this program: {e}")))?;
    let mut kit = std::process::Command::new(exe);
    kit.args([
        "-q",
        "train",
        "--corpus",
        &corpus_list,
        "--out-dir",
        kit_dir.as_str(),
        "--seeds",
        &seeds,
    ])
    .args([
        "--epochs",
        &request.epochs.to_string(),
        "--jobs",
        &request.jobs.to_string(),
    ]);
    let (kit_secs, kit_peak, _) = timed_child(kit, "kit train")?;

    progress.info("torch: scripts/reference/torch_loso.py, same corpus, seeds and jobs");
    let mut torch = std::process::Command::new(&request.python);
    torch
        .arg(request.torch_script.as_str())
        .arg("--corpus")
        .args(request.corpus.iter().map(|c| c.as_str()));
    torch
        .args(["--out-dir", torch_dir.as_str(), "--seeds", &seeds])
        .args([
            "--epochs",
            &request.epochs.to_string(),
            "--jobs",
            &request.jobs.to_string(),
        ]);
    let (torch_secs, torch_peak, stdout) = timed_child(torch, "torch_loso.py")?;
    let torch_summary: serde_json::Value = serde_json::from_slice(&stdout)
        .map_err(|e| Error::Environment(format!("torch_loso.py printed no JSON summary: {e}")))?;
    let torch_mean = torch_summary["mean_plcc"].as_f64().unwrap_or(f64::NAN);

    let kit_seeds: Vec<f64> = request
        .seeds
        .iter()
        .map(|&s| {
            crate::gate::read_seed(&kit_dir, s).map(|l| l.mean_plcc.expect("checked by read_seed"))
        })
        .collect::<Result<_>>()?;
    let kit_mean = kit_seeds.iter().sum::<f64>() / kit_seeds.len() as f64;
    let mib = |b: Option<u64>| {
        b.map_or("n/a".to_owned(), |b| {
            format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
        })
    };
    Ok(format!(
        "bench train: {corpus_list}, seeds {seeds}, {} epochs, {} jobs each, {} core(s)\n\
         kit train        : {kit_secs:8.2} s   peak memory {}\n\
         torch_loso.py    : {torch_secs:8.2} s   peak memory {} (main process)\n\
         speed-up         : {:.1}x\n\
         mean PLCC        : kit {kit_mean:.5}   torch {torch_mean:.5}   difference {:+.5}\n",
        request.epochs,
        request.jobs,
        crate::budget::cores(),
        mib(kit_peak),
        mib(torch_peak),
        torch_secs / kit_secs,
        kit_mean - torch_mean,
    ))
}
