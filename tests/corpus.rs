//! The corpus stage end to end with the real ffmpeg and the real libvmaf `vmaf`.

mod common;
use common::*;
use predicates::prelude::*;
use predicates::str::contains;

/// A small but complete demo run: every demo source, 4 cqs, 8 frames each.
fn demo_corpus(out: &camino::Utf8Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    kit()
        .args(["corpus", "--demo", "--frames", "8", "--out", out.as_str()])
        .args(extra)
        .assert()
}

#[test]
fn demo_corpus_is_complete_valid_and_monotone_in_cq() {
    let s = Scratch::new();
    let shard = s.join("demo/shard.jsonl");
    demo_corpus(&shard, &[]).success();
    kit()
        .args([
            "validate",
            shard.as_str(),
            s.join("demo/shard.meta.json").as_str(),
        ])
        .assert()
        .success();

    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("demo/shard.meta.json")).unwrap())
            .unwrap();
    let n_sources = meta["sources"].as_array().unwrap().len();
    assert!(n_sources >= 8, "demo has {n_sources} sources");
    let rows = rows(&shard);
    assert_eq!(
        rows.len(),
        n_sources * 4 * 8,
        "rows = sources × encoders × cqs × frames"
    );
    assert_eq!(meta["n_rows"].as_u64().unwrap() as usize, rows.len());
    assert_eq!(meta["tools"]["vmaf"]["version"], "2.3.1");
    assert!(meta["encoder_argv"]["libx264"]["25"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "-crf"));

    for row in &rows {
        let f = |k: &str| row[k].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&f("vmaf")), "{row}");
        for k in [
            "adm2",
            "vif_scale0",
            "vif_scale1",
            "vif_scale2",
            "vif_scale3",
        ] {
            assert!((0.0..=1.5).contains(&f(k)), "{k} out of range: {row}");
        }
        assert!(f("motion2") >= 0.0);
    }
    let sources: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r["src"].as_str().unwrap()).collect();
    for src in sources {
        let mean = |cq: u64| {
            let v: Vec<f64> = rows
                .iter()
                .filter(|r| r["src"] == src && r["cq"] == cq)
                .map(|r| r["vmaf"].as_f64().unwrap())
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let means = [19, 25, 31, 37].map(mean);
        assert!(
            means.windows(2).all(|w| w[0] > w[1]),
            "{src}: mean VMAF does not fall with cq: {means:?}"
        );
    }
}

#[test]
fn rerun_reuses_every_cell_and_rewrites_the_same_rows() {
    let s = Scratch::new();
    let shard = s.join("shard.jsonl");
    let args = ["--cqs", "25,37"];
    demo_corpus(&shard, &args).success();
    let first = std::fs::read(&shard).unwrap();
    demo_corpus(&shard, &args)
        .success()
        .stderr(contains("reused"))
        .stderr(contains("done:").not());
    assert_eq!(
        std::fs::read(&shard).unwrap(),
        first,
        "a full re-run must give the same shard bytes"
    );
}

#[test]
fn killed_run_resumes_without_recomputing_or_duplicating() {
    let s = Scratch::new();
    let shard = s.join("killed/shard.jsonl");
    let cells = s.join("killed/shard.cells");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ensemble-kit"))
        .args([
            "corpus",
            "--demo",
            "--frames",
            "8",
            "--jobs",
            "1",
            "--out",
            shard.as_str(),
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let finished_cells = |dir: &camino::Utf8Path| -> Vec<(String, std::time::SystemTime)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .map(|it| it.flatten().collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().modified().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while finished_cells(&cells).len() < 4 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be killed"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no cells finished in time"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = finished_cells(&cells);
    assert!(
        !shard.exists(),
        "a killed run must not leave a shard looking complete"
    );

    let resumed = demo_corpus(&shard, &[]).success();
    let stderr = String::from_utf8_lossy(&resumed.get_output().stderr).into_owned();
    assert!(
        stderr.matches(" reused:").count() >= before.len(),
        "{stderr}"
    );
    let after = finished_cells(&cells);
    for cell in &before {
        assert!(
            after.contains(cell),
            "finished cell {} was recomputed",
            cell.0
        );
    }

    let clean = s.join("clean/shard.jsonl");
    demo_corpus(&clean, &[]).success();
    let (resumed_rows, clean_rows) = (rows_without_timings(&shard), rows_without_timings(&clean));
    assert_eq!(
        resumed_rows.len(),
        rows(&shard).len(),
        "duplicate rows after resume"
    );
    assert_eq!(
        resumed_rows, clean_rows,
        "resumed shard differs from an uninterrupted run"
    );
}

/// An ffmpeg that truncates every encoded cell to a third of its size after encoding it.
fn truncating_ffmpeg(dir: &camino::Utf8Path) -> camino::Utf8PathBuf {
    script(
        &dir.join("ffmpeg"),
        &format!(
            r#""{}" "$@" || exit $?
for last; do :; done
case "$*" in *"-c:v"*) case "$last" in *.mkv) size=$(wc -c < "$last"); truncate -s $((size / 3)) "$last";; esac;; esac"#,
            real_ffmpeg()
        ),
    )
}

#[test]
fn truncated_distorted_stream_is_caught_by_frame_count() {
    let s = Scratch::new();
    let ffmpeg = truncating_ffmpeg(s.path());
    let shard = s.join("t/shard.jsonl");
    kit()
        .args([
            "corpus",
            "--demo",
            "--frames",
            "40",
            "--cqs",
            "19",
            "--out",
            shard.as_str(),
            "--ffmpeg",
            ffmpeg.as_str(),
        ])
        .assert()
        .code(2)
        .stderr(contains("expected 40"))
        .stderr(contains("truncated"))
        .stderr(contains("cell(s) failed"));
    assert!(!shard.exists());
}

/// An ffmpeg whose encodes of one source fail with a message on stderr.
fn failing_ffmpeg(dir: &camino::Utf8Path, source: &str) -> camino::Utf8PathBuf {
    script(
        &dir.join("ffmpeg"),
        &format!(
            r#"case "$*" in *"-c:v"*{source}*|*{source}*"-c:v"*) echo "simulated encoder crash on {source}" >&2; exit 187;; esac
exec "{}" "$@""#,
            real_ffmpeg()
        ),
    )
}

#[test]
fn failed_cell_fails_the_run_unless_allowed() {
    let s = Scratch::new();
    let ffmpeg = failing_ffmpeg(s.path(), "demo_plasma");
    let shard = s.join("f/shard.jsonl");
    let args = [
        "corpus",
        "--demo",
        "--frames",
        "4",
        "--cqs",
        "25",
        "--out",
        shard.as_str(),
        "--ffmpeg",
        ffmpeg.as_str(),
    ];
    kit()
        .args(args)
        .assert()
        .code(2)
        .stderr(contains("1 cell(s) failed"))
        .stderr(contains("demo_plasma_320x180_25fps/libx264/cq25"))
        .stderr(contains("simulated encoder crash on demo_plasma"));
    assert!(!shard.exists());
    let cells_kept = std::fs::read_dir(s.join("f/shard.cells"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .count();
    assert_eq!(cells_kept, 8, "every finished cell is kept");

    kit()
        .args(args)
        .arg("--allow-failed-cells")
        .assert()
        .success()
        .stderr(contains("FAILED"));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("f/shard.meta.json")).unwrap())
            .unwrap();
    let failed = meta["failed_cells"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["src"], "demo_plasma_320x180_25fps");
    assert!(failed[0]["error"]
        .as_str()
        .unwrap()
        .contains("simulated encoder crash"));
    assert_eq!(rows(&shard).len(), 8 * 4);
}

#[test]
fn y4m_references_are_scored_too() {
    let s = Scratch::new();
    let refs = s.join("refs");
    std::fs::create_dir_all(&refs).unwrap();
    let status = std::process::Command::new(real_ffmpeg())
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=176x144:r=30",
            "-frames:v",
            "6",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(refs.join("clip.y4m"))
        .status()
        .unwrap();
    assert!(status.success());
    render_raw(
        &refs,
        "other_176x144_30fps.yuv",
        "mandelbrot=s=176x144:r=30",
        6,
    );
    let shard = s.join("y/shard.jsonl");
    kit()
        .args([
            "corpus",
            "--ref-dir",
            refs.as_str(),
            "--cqs",
            "25",
            "--out",
            shard.as_str(),
        ])
        .assert()
        .success();
    let rows = rows(&shard);
    assert_eq!(rows.len(), 12);
    assert!(rows.iter().any(|r| r["src"] == "clip"));
}

/// `bench corpus` runs the naive baseline on exactly the cells the pipeline runs (the grid is
/// resolved once: cqs sorted and distinct, --frames checked) and reports both.
#[test]
fn bench_corpus_compares_the_same_cells_both_ways() {
    let s = Scratch::new();
    let report = kit()
        .args(["bench", "corpus", "--demo", "--frames", "2", "--jobs", "1"])
        .args(["--encoders", "libx264", "--cqs", "51,51"])
        .args(["--work-dir", s.join("work").as_str()])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report = String::from_utf8(report).unwrap();
    assert!(
        report.starts_with("bench corpus: 9 cells, 18 rows,"),
        "{report}"
    );
    for line in [
        "naive sequential :",
        "kit pipeline     :",
        "speed-up         :",
    ] {
        assert!(report.contains(line), "{report}");
    }
    kit()
        .args(["bench", "corpus", "--demo", "--frames", "0"])
        .args(["--work-dir", s.join("work0").as_str()])
        .assert()
        .code(2)
        .stderr(contains("--frames must be at least 1"));
}

/// Whether process `pid` has ended (gone, or a zombie waiting for a reaper).
fn ended(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Issue 21 item 16: a `kill` of the kit ends the ffmpeg it started, and the next run clears
/// what that ffmpeg left in scratch/.
#[test]
fn a_terminated_run_ends_its_ffmpeg_and_the_next_run_clears_scratch() {
    let s = Scratch::new();
    let pids = s.join("encoder.pids");
    let ffmpeg = script(
        &s.join("ffmpeg"),
        &format!(
            r#"for last; do :; done
case "$last" in */scratch/*.mkv) printf partial > "$last"; echo $$ >> "{pids}"; exec sleep 300;; esac
exec "{}" "$@""#,
            real_ffmpeg()
        ),
    );
    let shard = s.join("t/shard.jsonl");
    let args = [
        "corpus",
        "--demo",
        "--frames",
        "8",
        "--cqs",
        "19",
        "--jobs",
        "1",
        "--out",
        shard.as_str(),
    ];
    let mut kit_process = std::process::Command::new(assert_cmd::cargo::cargo_bin("ensemble-kit"))
        .args(args)
        .args(["--ffmpeg", ffmpeg.as_str()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let encoder = loop {
        if let Some(pid) = std::fs::read_to_string(&pids)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_owned))
        {
            break pid;
        }
        assert!(std::time::Instant::now() < deadline, "no encode started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &kit_process.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = kit_process.wait().unwrap();
    assert!(!status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ended(&encoder) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let survived = !ended(&encoder);
    if survived {
        let _ = std::process::Command::new("kill").arg(&encoder).status();
    }
    assert!(!survived, "the kit's ffmpeg outlived it");

    let scratch = s.join("t/shard.cells/scratch");
    assert!(
        std::fs::read_dir(&scratch).unwrap().next().is_some(),
        "the partial encode is there"
    );
    kit().args(args).assert().success();
    assert_eq!(
        std::fs::read_dir(&scratch).map_or(0, |d| d.count()),
        0,
        "scratch is cleared"
    );
}

// Issue 21 item 1: a cell store is the kit's own — a non-empty folder without its marker is
// refused and left exactly as it was.
#[test]
fn a_foreign_cell_dir_is_refused_and_left_alone() {
    let s = Scratch::new();
    let mine = s.join("mine");
    std::fs::create_dir_all(mine.join("scratch")).unwrap();
    std::fs::write(mine.join("scratch/keep.txt"), "mine").unwrap();
    std::fs::write(mine.join("lock"), "my notes").unwrap();
    demo_corpus(&s.join("shard.jsonl"), &["--cell-dir", mine.as_str()])
        .code(2)
        .stderr(contains("--cell-dir"))
        .stderr(contains(
            "already holds files that ensemble-kit did not write",
        ));
    assert_eq!(
        std::fs::read_to_string(mine.join("lock")).unwrap(),
        "my notes"
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("scratch/keep.txt")).unwrap(),
        "mine"
    );
    assert!(!s.join("shard.jsonl").exists());
}
