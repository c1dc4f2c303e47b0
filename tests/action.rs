//! The composite GitHub Action: its metadata validates against SchemaStore's schema (shared/
//! beside the checkout; the project's own schema only as a fallback), and its step runs as a
//! runner would run it (simulated `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`) for PROMOTE, HOLD,
//! errors and the Nix paths.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use std::collections::BTreeMap;
use std::process::Output;

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &Utf8Path) -> serde_json::Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn action() -> serde_json::Value {
    yaml(&repo().join("action.yml"))
}

/// SchemaStore's schema NAME from shared/ beside the checkout (CI copies it there), if present.
fn shared_schema(name: &str) -> Option<Utf8PathBuf> {
    let path = repo().parent().unwrap().join("shared").join(name);
    path.exists().then_some(path)
}

fn assert_valid(schema_path: &Utf8Path, doc: &serde_json::Value, what: &str) {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} fails {schema_path}:\n{}",
        errors.join("\n")
    );
}

#[test]
fn metadata_validates() {
    let schema = shared_schema("github-action.json")
        .unwrap_or_else(|| repo().join("tests/action-metadata.schema.json"));
    assert_valid(&schema, &action(), "action.yml");
}

#[test]
fn inputs_reach_the_shell_only_through_env() {
    let action = action();
    for step in action["runs"]["steps"].as_array().unwrap() {
        if let Some(run) = step["run"].as_str() {
            assert!(
                !run.contains("${{"),
                "a run script splices an expression: {run}"
            );
        }
    }
    let inputs: Vec<&String> = action["inputs"].as_object().unwrap().keys().collect();
    let env = serde_json::to_string(&action["runs"]["steps"][0]["env"]).unwrap();
    for input in inputs {
        assert!(
            env.contains(&format!("${{{{ inputs.{input} }}}}")),
            "input {input} is not passed through env"
        );
    }
}

/// Replaces each `${{ expr }}` in `text` by `ctx[expr]`; an expression the test does not know
/// fails the test rather than passing through unresolved.
fn resolve(text: &str, ctx: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let end = start + rest[start..].find("}}").expect("closed expression");
        let expr = rest[start + 3..end].trim();
        out.push_str(&rest[..start]);
        out.push_str(
            ctx.get(expr)
                .unwrap_or_else(|| panic!("unknown expression `{expr}` in {text}")),
        );
        rest = &rest[end + 2..];
    }
    out + rest
}

/// `$GITHUB_OUTPUT` read as the runner reads it: `key=value` lines and `key<<DELIM` blocks. Every
/// value set, in order, so a test can see a key written twice.
fn parse_outputs(text: &str) -> Vec<(String, String)> {
    let mut values = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((key, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            values.push((key.to_owned(), value.join("\n")));
        } else if let Some((key, value)) = line.split_once('=') {
            values.push((key.to_owned(), value.to_owned()));
        }
    }
    values
}

/// What one run of the action's step left behind.
struct Run {
    out: Output,
    outputs: BTreeMap<String, String>,
    raw_outputs: Vec<(String, String)>,
    summary: String,
}

impl Run {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    fn code(&self) -> i32 {
        self.out.status.code().unwrap()
    }
}

/// Runs the action's step as the runner would: `with:` over the defaults, expressions in `env:`
/// resolved, then the `run:` text with `bash -e`. `env` adds variables (e.g. a PATH).
fn run_action(work: &Utf8Path, with: &[(&str, &str)], env: &[(&str, &str)]) -> Run {
    let action = action();
    let mut ctx: BTreeMap<String, String> = action["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                format!("inputs.{k}"),
                v["default"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (k, v) in with {
        let key = format!("inputs.{k}");
        assert!(ctx.contains_key(&key), "the action has no input {k}");
        ctx.insert(key, (*v).into());
    }
    ctx.insert("github.action_path".into(), repo().to_string());
    let (outputs, summary) = (work.join("github_output"), work.join("step_summary"));
    let _ = std::fs::remove_file(&outputs);
    let _ = std::fs::remove_file(&summary);
    let step = &action["runs"]["steps"][0];
    assert_eq!(step["shell"], "bash");
    let mut cmd = std::process::Command::new("bash");
    cmd.current_dir(work)
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(step["run"].as_str().unwrap());
    for (name, value) in step["env"].as_object().unwrap() {
        cmd.env(name, resolve(value.as_str().unwrap(), &ctx));
    }
    cmd.env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("RUNNER_TOOL_CACHE", work.join("tool-cache"))
        .env(
            "ENSEMBLE_KIT_BIN",
            assert_cmd::cargo::cargo_bin("ensemble-kit"),
        )
        .env("SOURCE_DATE_EPOCH", "1700000000");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let read = |p: &Utf8Path| std::fs::read_to_string(p).unwrap_or_default();
    let raw_outputs = parse_outputs(&read(&outputs));
    Run {
        out,
        outputs: raw_outputs.iter().cloned().collect(),
        raw_outputs,
        summary: read(&summary),
    }
}

/// A PATH on which `nix` is the given script (and everything else is the host's).
fn path_with_nix(dir: &Utf8Path, body: &str) -> String {
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    script(&bin.join("nix"), body);
    format!("{bin}:{}", std::env::var("PATH").unwrap())
}

/// The host's PATH without Nix: each folder holding a `nix` is replaced by a folder (in `dir`) of
/// links to everything else in it.
fn path_without_nix(dir: &Utf8Path) -> String {
    let path = std::env::var_os("PATH").unwrap();
    std::env::split_paths(&path)
        .enumerate()
        .map(|(i, folder)| {
            if !folder.join("nix").exists() {
                return folder.to_string_lossy().into_owned();
            }
            let mirror = dir.join(format!("without-nix-{i}"));
            std::fs::create_dir_all(&mirror).unwrap();
            for entry in folder.read_dir().unwrap().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name != "nix" && !name.starts_with("nix-") {
                    let _ = std::os::unix::fs::symlink(entry.path(), mirror.join(&name));
                }
            }
            mirror.to_string()
        })
        .collect::<Vec<_>>()
        .join(":")
}

const QUICK: &str = "--frames\n8\n--epochs\n40";

#[test]
fn promote_writes_outputs_and_summary() {
    let s = Scratch::new();
    let run = run_action(
        s.path(),
        &[
            ("seeds", "0,1"),
            ("out-dir", "results"),
            ("args", "--frames\n8\n--epochs\n200\n"),
        ],
        &[("PATH", &path_without_nix(s.path()))],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let values = &run.outputs;
    assert_eq!(values["verdict"], "PROMOTE", "{:?}", run.raw_outputs);
    assert!(values["mean-plcc"].parse::<f64>().unwrap() >= 0.95);
    assert!(values["plcc-spread"].parse::<f64>().is_ok());
    assert_eq!(values["missing-boxes"], "");
    let bundle = s.join(&values["bundle"]);
    assert!(bundle.is_file(), "bundle output {bundle} exists");
    assert!(s.join(&values["verdict-file"]).is_file());
    kit().args(["verify", bundle.as_str()]).assert().success();
    assert!(
        run.summary.contains("ensemble-kit verdict: **PROMOTE**"),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("| 0 |") && run.summary.contains("| 1 |"),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("Ran the binary in ENSEMBLE_KIT_BIN"),
        "the summary says which path was taken: {}",
        run.summary
    );
    assert!(
        run.stderr().contains("not using Nix: no nix on PATH"),
        "{}",
        run.stderr()
    );
    // The cells went to the tool cache, outside the workspace checkout cleans.
    assert!(s.join("tool-cache/ensemble-kit/cells").is_dir());
}

#[test]
fn hold_with_fail_on_hold_exits_1_with_outputs() {
    let s = Scratch::new();
    let run = run_action(
        s.path(),
        &[
            ("seeds", "0,1,2"),
            ("fail-on-hold", "TRUE"),
            ("args", "--frames\n8\n--epochs\n1"),
        ],
        &[("PATH", &path_without_nix(s.path()))],
    );
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_eq!(run.outputs["verdict"], "HOLD");
    assert!(s.join(&run.outputs["verdict-file"]).is_file());
    assert!(run.summary.contains("**HOLD**"), "{}", run.summary);
    assert!(run.stderr().contains("the gate said HOLD"));
}

#[test]
fn errors_are_not_holds() {
    let s = Scratch::new();
    // A failing run (an unknown argument) is exit 2 with no outputs, not a HOLD.
    let run = run_action(
        s.path(),
        &[("args", "--no-such-flag")],
        &[("PATH", &path_without_nix(s.path()))],
    );
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.raw_outputs.is_empty(), "{:?}", run.raw_outputs);
    assert!(run.stderr().contains("ended with exit 2 and no verdict"));

    // `use-nix: true` without Nix says so.
    let run = run_action(
        s.path(),
        &[("use-nix", "true")],
        &[("PATH", &path_without_nix(s.path()))],
    );
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("use-nix is true but no nix on PATH"),
        "{}",
        run.stderr()
    );

    // A Nix that fails (exit 1, as nix does for an evaluation error) is not read as HOLD.
    let failing_nix = path_with_nix(
        s.path(),
        "[ \"$1\" = --version ] && { echo 'nix (Nix) 2.31.2'; exit 0; }\n\
         echo 'error: experimental Nix feature flakes is disabled' >&2; exit 1",
    );
    let run = run_action(s.path(), &[], &[("PATH", &failing_nix)]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.raw_outputs.is_empty());
    assert!(
        run.stderr()
            .contains("ended with exit 1 and no verdict (via Nix"),
        "{}",
        run.stderr()
    );

    // An old Nix is skipped by `auto` and refused by `true`.
    let old_nix = path_with_nix(s.path(), "echo 'nix (Nix) 2.8.0'");
    let run = run_action(s.path(), &[("use-nix", "True")], &[("PATH", &old_nix)]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("nix 2.8.0 is older than 2.31.2, the oldest the pinned crane supports"),
        "{}",
        run.stderr()
    );

    // Booleans are true/false in any case, nothing else.
    for (input, value) in [("use-nix", "yes"), ("fail-on-hold", "1")] {
        let run = run_action(s.path(), &[(input, value)], &[]);
        assert_eq!(run.code(), 2, "{input}={value}");
        assert!(
            run.stderr().contains(&format!("{input} must be")),
            "{}",
            run.stderr()
        );
    }
}

#[test]
fn auto_takes_nix_when_it_is_new_enough_and_falls_back_otherwise() {
    let s = Scratch::new();
    // A Nix ≥ 2.31.2 runs the flake: this stand-in logs its arguments and runs the kit after `--`.
    let log = s.join("nix.log");
    let nix = path_with_nix(
        s.path(),
        &format!(
            "[ \"$1\" = --version ] && {{ echo 'nix (Nix) 2.31.2'; exit 0; }}\n\
             echo \"$@\" >>{log}\n\
             while [ \"$1\" != -- ]; do shift; done; shift\n\
             exec \"$ENSEMBLE_KIT_BIN\" \"$@\""
        ),
    );
    let run = run_action(
        s.path(),
        &[("seeds", "0,1"), ("args", QUICK)],
        &[("PATH", &nix)],
    );
    assert!(matches!(run.code(), 0 | 1), "{}", run.stderr());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.starts_with(&format!(
            "--extra-experimental-features nix-command flakes run {}#default -- full",
            repo()
        )),
        "{logged}"
    );
    assert!(run.summary.contains("Ran Nix (flake at"), "{}", run.summary);

    // An older one is passed over for the binary, and the log says why.
    let old = Scratch::new();
    let old_nix = path_with_nix(old.path(), "echo 'nix (Nix) 2.8.0'; exit 1");
    let run = run_action(
        old.path(),
        &[("seeds", "0,1"), ("args", QUICK)],
        &[("PATH", &old_nix)],
    );
    assert!(matches!(run.code(), 0 | 1), "{}", run.stderr());
    assert!(run.stderr().contains("not using Nix: nix 2.8.0 is older"));
}

#[test]
fn args_are_one_per_line_and_may_hold_spaces() {
    let s = Scratch::new();
    let tools = s.join("my tools");
    std::fs::create_dir_all(&tools).unwrap();
    let log = s.join("ffmpeg.log");
    let ffmpeg = script(
        &tools.join("ffmpeg"),
        &format!("echo x >>'{log}'\nexec '{}' \"$@\"", real_ffmpeg()),
    );
    let run = run_action(
        s.path(),
        &[
            ("seeds", "0,1"),
            (
                "args",
                &format!("--frames\n8\n\n--epochs\n40\r\n--ffmpeg\n{ffmpeg}\n"),
            ),
        ],
        &[("PATH", &path_without_nix(s.path()))],
    );
    assert!(matches!(run.code(), 0 | 1), "{}", run.stderr());
    assert!(log.exists(), "the ffmpeg at a path with a space was used");
}

#[test]
fn hostile_input_is_not_executed() {
    let s = Scratch::new();
    let run = run_action(
        s.path(),
        &[("args", "--frames 2; touch pwned $(touch pwned2)")],
        &[("PATH", &path_without_nix(s.path()))],
    );
    assert_eq!(run.code(), 2, "unknown arguments must fail the step");
    assert!(
        !s.join("pwned").exists() && !s.join("pwned2").exists(),
        "input text was executed"
    );
}

/// Issue 11 item 14: an `out-dir` carrying `\nverdict=PROMOTE\n` must not put a second
/// `verdict` into `$GITHUB_OUTPUT` (GitHub keeps the last one).
#[test]
fn no_input_can_inject_an_output() {
    let s = Scratch::new();
    let run = run_action(
        s.path(),
        &[
            ("seeds", "0,1"),
            ("out-dir", "results\nverdict=PROMOTE\n"),
            // `--frames=8` alone on the first line also reaches the kit through older scripts
            // that read only one line, so the same run shows the injection there.
            ("args", "--frames=8\n--epochs=1"),
            ("use-nix", "false"),
        ],
        &[("PATH", &path_without_nix(s.path()))],
    );
    let verdicts: Vec<&String> = run
        .raw_outputs
        .iter()
        .filter(|(k, _)| k == "verdict")
        .map(|(_, v)| v)
        .collect();
    assert!(verdicts.len() <= 1, "verdict written twice: {verdicts:?}");
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("input OUT_DIR must be a single line"));
    assert!(run.raw_outputs.is_empty());
}
