//! Workflow commands cannot be injected (issue 30, Deliver 4): a GitHub runner obeys `::cmd` at
//! the start of a line and `##[cmd]` anywhere in one, in stdout and stderr alike. Source names,
//! signature namespaces and principals that carry them — and line breaks, which would start a
//! line of their own — reach neither the log nor the step summary as commands. Each test was
//! seen failing on b3ec481.

mod common;
use camino::Utf8Path;
use common::*;

/// Source names a collaborator's shard may carry (no control characters: those are refused).
const NAMES: [&str; 4] = [
    "##[error]zero",
    "::error::one",
    "two ##[add-mask]secret",
    "  ::stop-commands::token",
];

/// Every line of `text` a runner would take as a workflow command.
fn commands(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("##[") || l.trim_start().starts_with("::"))
        .collect()
}

/// The learnable shard with its four sources renamed to [`NAMES`].
fn hostile_shard(path: &Utf8Path) {
    learnable_shard(path, 8);
    let text = std::fs::read_to_string(path).unwrap();
    let renamed: String = text
        .lines()
        .map(|l| {
            let mut row: serde_json::Value = serde_json::from_str(l).unwrap();
            let s: usize = row["src"].as_str().unwrap()[1..].parse().unwrap();
            row["src"] = NAMES[s].into();
            row.to_string() + "\n"
        })
        .collect();
    std::fs::write(path, renamed).unwrap();
}

#[test]
fn source_names_cannot_act_in_the_log_or_the_step_summary() {
    let s = Scratch::new();
    let shard = s.join("shard.jsonl");
    hostile_shard(&shard);
    let summary = s.join("step_summary");
    let outputs = s.join("github_output");
    let out = std::process::Command::new("bash")
        .arg(format!(
            "{}/scripts/action-run.sh",
            env!("CARGO_MANIFEST_DIR")
        ))
        .current_dir(s.path())
        .env("KIT_CORPUS", shard.as_str())
        .env("KIT_SEEDS", "0,1")
        .env("KIT_USE_NIX", "false")
        .env(
            "KIT_ARGS",
            "--allow-missing-meta\n--epochs\n30\n--stability\n2",
        )
        .env(
            "ENSEMBLE_KIT_BIN",
            assert_cmd::cargo::cargo_bin("ensemble-kit"),
        )
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{log}");
    // The names did reach the log (in the per-fold progress and the per-source table)…
    assert!(log.contains("#\\#[error]zero"), "{log}");
    assert!(
        log.contains("> ::error::one") || log.contains("held-out > ::error::one"),
        "{log}"
    );
    // … and none of them as a command.
    assert_eq!(commands(&log), Vec::<&str>::new(), "{log}");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains("ensemble-kit verdict"), "{summary}");
    assert_eq!(commands(&summary), Vec::<&str>::new(), "{summary}");
    let markdown = kit()
        .args([
            "report",
            "--out-dir",
            s.join("ensemble-results").as_str(),
            "--format",
            "markdown",
        ])
        .output()
        .unwrap();
    assert_eq!(
        commands(&String::from_utf8_lossy(&markdown.stdout)),
        Vec::<&str>::new()
    );
}

#[test]
fn a_line_break_in_a_source_name_never_starts_a_line() {
    let s = Scratch::new();
    let loso = s.join("loso");
    for seed in [0, 1] {
        let doc = seed_doc(
            seed,
            &[
                ("a\n::error::nl", Some(0.99)),
                ("b\r##[error]cr", Some(0.98)),
                ("plain", Some(0.985)),
            ],
        );
        write_seed(&loso, &doc);
    }
    for args in [
        vec!["verdict", "--loso-dir", loso.as_str(), "--seeds", "0,1"],
        vec!["compare", loso.as_str(), loso.as_str()],
    ] {
        let out = kit().args(&args).output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {log}");
        assert!(log.contains("/folds/0/held_out"), "{log}");
        assert!(log.contains("holds a control character"), "{log}");
        assert_eq!(commands(&log), Vec::<&str>::new(), "{log}");
    }
}

#[test]
fn namespaces_and_principals_cannot_act_in_the_log() {
    let s = copy_of_promoted();
    let key = ssh_keygen(s.path(), "alice", &["-t", "ed25519"]);
    let results = s.join("results");
    let hostile = "##[error]ns\n::error::x";
    let sign = |m: &[u8]| openssh_signature(&key, hostile, m);
    let bundle = forge_bundle(&results, &s.join("hostile.tar.gz"), Some(&sign));
    let out = kit().arg("verify").arg(&bundle).output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{log}");
    assert!(
        log.contains("made for namespace `#\\#[error]ns\\n::error::x`"),
        "{log}"
    );
    assert_eq!(commands(&log), Vec::<&str>::new(), "{log}");

    let sign = |m: &[u8]| openssh_signature(&key, "ensemble-kit", m);
    let bundle = forge_bundle(&results, &s.join("signed.tar.gz"), Some(&sign));
    let public = std::fs::read_to_string(format!("{key}.pub")).unwrap();
    let fields: Vec<&str> = public.split_whitespace().collect();
    let signers = s.join("allowed_signers");
    std::fs::write(
        &signers,
        format!(
            "alice,##[error]mallory,::warning::bob {} {}\n",
            fields[0], fields[1]
        ),
    )
    .unwrap();
    let out = kit()
        .args([
            "verify",
            bundle.as_str(),
            "--allowed-signers",
            signers.as_str(),
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{out:?}");
    assert!(
        log.contains("signed by alice,#\\#[error]mallory,::warning::bob"),
        "{log}"
    );
    assert_eq!(commands(&log), Vec::<&str>::new(), "{log}");
}

#[test]
fn the_actions_own_messages_are_neutralised_too() {
    let s = Scratch::new();
    let out = std::process::Command::new("bash")
        .arg(format!(
            "{}/scripts/action-run.sh",
            env!("CARGO_MANIFEST_DIR")
        ))
        .current_dir(s.path())
        .env("KIT_CORPUS", "nothing-##[add-mask]here*.jsonl")
        .env("KIT_USE_NIX", "false")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{log}");
    assert!(log.contains("nothing-#\\#[add-mask]here"), "{log}");
    assert!(!log.contains("##["), "{log}");
}
