//! One results folder, one writer (issue 30, Deliver 5): every command that writes a results
//! folder holds its lock, a second writer is refused naming the holder's pid, and a lock whose
//! holder died is taken over with a message. Each test was seen failing on b3ec481.

mod common;
use camino::Utf8Path;
use common::*;

/// Waits until `dir`'s lock names `pid` (the run holds the folder).
fn holds(dir: &Utf8Path, pid: u32) {
    let lock = dir.join(".ensemble-kit-results.lock");
    for _ in 0..600 {
        if std::fs::read_to_string(&lock).is_ok_and(|t| t.trim() == pid.to_string()) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("pid {pid} never held {lock}");
}

/// `full --corpus SHARD --out-dir out` in `root`, slow enough to be caught running.
fn full(root: &Utf8Path) -> std::process::Command {
    let mut cmd = kit_process();
    cmd.current_dir(root)
        .args(["full", "--corpus", "shard.jsonl", "--allow-missing-meta"])
        .args(["--out-dir", "out", "--seeds", "0,1", "--epochs", "400"])
        .args(["--stability", "0", "-q"]);
    cmd
}

#[test]
fn two_full_runs_on_one_results_folder_cannot_both_write_it() {
    let s = Scratch::new();
    learnable_shard(&s.join("shard.jsonl"), 8);
    // Both at once on a new folder: exactly one writes it, the other is refused naming it.
    let a = full(s.path())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let b = full(s.path())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (a_pid, b_pid) = (a.id(), b.id());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (winner, loser, winner_pid) = if b.status.code() == Some(2) {
        (a, b, a_pid)
    } else {
        (b, a, b_pid)
    };
    let refusal = String::from_utf8_lossy(&loser.stderr);
    assert_eq!(loser.status.code(), Some(2), "{refusal}");
    assert!(
        refusal.contains("another ensemble-kit run is using the results folder `out`"),
        "{refusal}"
    );
    assert!(
        refusal.contains(&format!("held by pid {winner_pid}")),
        "{refusal}"
    );
    assert!(matches!(winner.status.code(), Some(0 | 1)), "{winner:?}");
    let announced = String::from_utf8(winner.stdout).unwrap();
    assert!(
        s.join(announced.trim()).is_file(),
        "the announced bundle {announced} is gone"
    );
    let _ = b_pid;

    // One running, one arriving: the same.
    let running = full(s.path()).spawn().unwrap();
    holds(&s.join("out"), running.id());
    let late = full(s.path()).output().unwrap();
    let refusal = String::from_utf8_lossy(&late.stderr);
    assert_eq!(late.status.code(), Some(2), "{refusal}");
    assert!(
        refusal.contains(&format!("held by pid {}", running.id())),
        "{refusal}"
    );
    let out = running.wait_with_output().unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)));
}

#[test]
fn bundle_is_refused_while_train_writes_its_loso_folder() {
    let s = copy_of_promoted();
    let shard = s.join("results/corpus/shard.jsonl");
    // More seeds into the results folder's LOSO folder, while the folder is bundled.
    let mut train = kit_process()
        .current_dir(s.path())
        .args([
            "train",
            "--corpus",
            shard.as_str(),
            "--out-dir",
            "results/loso",
        ])
        .args(["--seeds", "0,1,2,3", "-q"])
        .spawn()
        .unwrap();
    holds(&s.join("results/loso"), train.id());
    let out = stage(s.path(), &["bundle", "--out-dir", "results"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is using the results folder `results"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("held by pid {}", train.id())),
        "{stderr}"
    );
    assert!(train.wait().unwrap().success());
}

#[test]
fn a_lock_left_by_a_run_that_died_is_taken_over_with_a_message() {
    let s = copy_of_promoted();
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    std::fs::write(
        s.join("results/.ensemble-kit-results.lock"),
        format!("{pid}\n"),
    )
    .unwrap();
    let out = kit()
        .current_dir(s.path())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["bundle", "--out-dir", "results"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "took over the results folder `results` from pid {pid}"
        )),
        "{stderr}"
    );
    // Released on exit: the next writer finds nothing to take over.
    let again = stage(s.path(), &["bundle", "--out-dir", "results"]);
    assert!(!String::from_utf8_lossy(&again.stderr).contains("took over"));
}
