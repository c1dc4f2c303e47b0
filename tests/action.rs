//! The composite GitHub Action and the example workflows: metadata and workflows validate against
//! SchemaStore's schemas (shared/ beside the checkout; the project's own action schema only as a
//! fallback), the workflows follow the hygiene rules, and the action's step runs as a runner would
//! run it (simulated `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`) for PROMOTE, HOLD, errors, the Nix
//! paths and the shards example, whose jobs run as written against two real shards.

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

fn workflow(name: &str) -> serde_json::Value {
    yaml(&repo().join(".github/workflows").join(name))
}

const WORKFLOWS: [&str; 2] = ["shards.yml", "verify-on-box.yml"];

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
fn workflows_validate() {
    let Some(schema) = shared_schema("github-workflow.json") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide shared/github-workflow.json beside the checkout"
        );
        eprintln!("skipped: no shared/github-workflow.json beside the checkout");
        return;
    };
    for name in WORKFLOWS {
        assert_valid(&schema, &workflow(name), name);
    }
}

/// Least privilege, pinned third-party actions, re-runnable uploads, bounded jobs, and runner
/// labels that actionlint knows.
#[test]
fn workflows_follow_the_hygiene_rules() {
    let lint = yaml(&repo().join(".github/actionlint.yaml"));
    let labels: Vec<&str> = lint["self-hosted-runner"]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(labels, ["cuda", "sycl", "cpu", "macos"]);
    let raw_boxes = workflow("shards.yml")["on"]["workflow_dispatch"]["inputs"]["boxes"]["default"]
        .as_str()
        .unwrap()
        .to_owned();
    let boxes: Vec<String> = serde_json::from_str(&raw_boxes).unwrap();
    assert_eq!(boxes, labels, "the default boxes are the known labels");
    for name in WORKFLOWS {
        let text = std::fs::read_to_string(repo().join(".github/workflows").join(name)).unwrap();
        let wf = workflow(name);
        assert_eq!(
            wf["permissions"],
            serde_json::json!({ "contents": "read" }),
            "{name}: least privilege"
        );
        for (job_name, job) in wf["jobs"].as_object().unwrap() {
            assert!(
                job["timeout-minutes"].as_u64().is_some(),
                "{name}: job {job_name} has no timeout-minutes"
            );
            for label in job["runs-on"].as_array().unwrap() {
                let label = label.as_str().unwrap();
                assert!(
                    label == "self-hosted" || label.contains("${{") || labels.contains(&label),
                    "{name}: label {label} is not in .github/actionlint.yaml"
                );
            }
            for step in job["steps"].as_array().unwrap() {
                let Some(uses) = step["uses"].as_str() else {
                    continue;
                };
                if uses.starts_with("./") {
                    continue;
                }
                let line = text.lines().find(|l| l.contains(uses)).unwrap();
                assert!(pinned_by_sha(uses, line), "{name}: `{line}` is not pinned");
                if uses.starts_with("actions/upload-artifact@") {
                    assert_eq!(
                        step["with"]["overwrite"], true,
                        "{name}: a re-run must not fail with 409"
                    );
                }
            }
        }
    }
}

/// `attest: true` runs the official attestation action, pinned, on the bundle the kit made —
/// also after a HOLD with `fail-on-hold` — and every example job that asks for it has the
/// permissions it needs.
#[test]
fn attest_input_attests_the_bundle_with_a_pinned_official_action() {
    let action = action();
    assert_eq!(
        action["inputs"]["attest"]["default"], "false",
        "off by default"
    );
    let attest = &action["runs"]["steps"][1];
    let uses = attest["uses"].as_str().unwrap();
    assert!(
        uses.starts_with("actions/attest-build-provenance@"),
        "{uses}"
    );
    let text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    let line = text.lines().find(|l| l.contains(uses)).unwrap();
    assert!(pinned_by_sha(uses, line), "`{line}` is not pinned");
    assert_eq!(
        attest["with"]["subject-path"],
        "${{ steps.kit.outputs.bundle }}"
    );
    let condition = attest["if"].as_str().unwrap();
    for part in [
        "!cancelled()",
        "inputs.attest == 'true'",
        "steps.kit.outputs.bundle != ''",
    ] {
        assert!(condition.contains(part), "{condition} lacks {part}");
    }
    let mut attesting = 0;
    for name in WORKFLOWS {
        for (job_name, job) in workflow(name)["jobs"].as_object().unwrap() {
            let asks = job["steps"].as_array().unwrap().iter().any(|step| {
                step["uses"] == "./" && step["with"]["attest"].as_str() == Some("true")
            });
            if asks {
                attesting += 1;
                assert_eq!(
                    job["permissions"],
                    serde_json::json!({ "contents": "read", "id-token": "write", "attestations": "write" }),
                    "{name}: job {job_name} attests without the permissions it needs"
                );
            }
        }
    }
    assert_eq!(attesting, 2, "both example workflows attest their bundle");
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains("gh attestation verify"),
        "README shows the owner's check"
    );
}

/// `owner/repo@<40 hex>` followed on its line by `# vN…`.
fn pinned_by_sha(uses: &str, line: &str) -> bool {
    let Some((_, sha)) = uses.split_once('@') else {
        return false;
    };
    let comment = line.split_once(" # ").map(|(_, c)| c.trim());
    sha.len() == 40
        && sha
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && comment
            .is_some_and(|c| c.starts_with('v') && c[1..].starts_with(|c: char| c.is_ascii_digit()))
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
            // 24 frames: with min-max crf_norm, 8-frame demo clips give a spread over 0.005.
            ("args", "--frames\n24\n--epochs\n200\n"),
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
    for (input, value) in [("use-nix", "yes"), ("fail-on-hold", "1"), ("attest", "on")] {
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

/// Runs one `run:` step of a workflow job as the runner would, in `work`, with `ctx` resolving
/// its expressions; returns the outputs it set.
fn run_workflow_step(
    work: &Utf8Path,
    step: &serde_json::Value,
    ctx: &BTreeMap<String, String>,
    env: &[(&str, String)],
) -> BTreeMap<String, String> {
    let outputs = work.join(format!("output-{}", step["id"].as_str().unwrap_or("step")));
    let _ = std::fs::remove_file(&outputs);
    assert_eq!(step["shell"], "bash");
    let mut cmd = std::process::Command::new("bash");
    cmd.current_dir(work)
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(step["run"].as_str().unwrap());
    for (name, value) in step["env"].as_object().into_iter().flatten() {
        cmd.env(name, resolve(value.as_str().unwrap(), ctx));
    }
    cmd.env("GITHUB_OUTPUT", &outputs);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "step `{}` failed: {}",
        step["name"],
        String::from_utf8_lossy(&out.stderr)
    );
    parse_outputs(&std::fs::read_to_string(&outputs).unwrap_or_default())
        .into_iter()
        .collect()
}

/// The shards example as written: the `shard` job's steps on two boxes (real `corpus` runs),
/// the artifacts handed over as upload/download-artifact would, then the `train` job's steps —
/// with two of the four default boxes missing — ending in a verdict and a bundle to upload.
#[test]
fn shards_workflow_trains_on_the_shards_that_arrived() {
    let s = Scratch::new();
    let refs = s.join("refs");
    std::fs::create_dir_all(&refs).unwrap();
    for (name, graph) in [
        ("mandel_64x64.yuv", "mandelbrot=size=64x64:rate=25"),
        ("life_64x64.yuv", "life=size=64x64:rate=25:mold=10"),
        ("noise_64x64.yuv", "cellauto=size=64x64:rate=25:rule=110"),
    ] {
        render_raw(&refs, name, graph, 6);
    }
    let wf = workflow("shards.yml");
    let inputs = &wf["on"]["workflow_dispatch"]["inputs"];
    let boxes_json = inputs["boxes"]["default"].as_str().unwrap().to_owned();
    let boxes: Vec<String> = serde_json::from_str(&boxes_json).unwrap();
    let tool_cache = s.join("tool-cache");
    let kit_bin = assert_cmd::cargo::cargo_bin("ensemble-kit")
        .to_string_lossy()
        .into_owned();
    let runner_env = [
        ("RUNNER_TOOL_CACHE", tool_cache.to_string()),
        ("ENSEMBLE_KIT_BIN", kit_bin),
        ("PATH", path_without_nix(s.path())),
        ("SOURCE_DATE_EPOCH", "1700000000".into()),
    ];
    let mut ctx = BTreeMap::from([
        ("inputs.ref-dir".to_owned(), refs.to_string()),
        ("inputs.boxes".to_owned(), boxes_json.clone()),
        (
            "join(fromJSON(inputs.boxes), ' ')".to_owned(),
            boxes.join(" "),
        ),
    ]);

    // A checkout: the repository's files in the job's workspace.
    let checkout = |work: &Utf8Path| {
        std::fs::create_dir_all(work).unwrap();
        for entry in ["scripts", "action.yml", "Cargo.toml", "flake.nix"] {
            std::os::unix::fs::symlink(repo().join(entry), work.join(entry)).unwrap();
        }
    };

    // The shard job, on the two boxes that are online; their uploads land in `arrived`.
    let shard_job = &wf["jobs"]["shard"];
    assert_eq!(
        shard_job["strategy"]["matrix"]["box"],
        "${{ fromJSON(inputs.boxes) }}"
    );
    let arrived = s.join("artifacts");
    for online in ["cpu", "cuda"] {
        let work = s.join(&format!("shard-{online}"));
        checkout(&work);
        ctx.insert("matrix.box".into(), online.into());
        for step in shard_job["steps"].as_array().unwrap() {
            let uses = step["uses"].as_str().unwrap_or_default();
            if uses.starts_with("actions/checkout@") {
                continue;
            }
            if uses.starts_with("actions/upload-artifact@") {
                // upload-artifact stores `path` relative to itself; download with
                // merge-multiple puts every artifact's files into one folder.
                let path = resolve(step["with"]["path"].as_str().unwrap(), &ctx);
                assert_eq!(path, "shards/");
                std::fs::create_dir_all(&arrived).unwrap();
                let status = std::process::Command::new("cp")
                    .arg("-R")
                    .arg(work.join(&path).join("."))
                    .arg(&arrived)
                    .status()
                    .unwrap();
                assert!(status.success());
                continue;
            }
            assert!(uses.is_empty(), "unexpected step {uses}");
            run_workflow_step(&work, step, &ctx, &runner_env);
        }
        assert!(
            tool_cache
                .join(format!("ensemble-kit/cells/{online}"))
                .is_dir(),
            "cells are kept outside the workspace"
        );
    }

    // The train job.
    let train = &wf["jobs"]["train"];
    assert!(train["if"].as_str().unwrap().contains("!cancelled()"));
    let work = s.join("train");
    checkout(&work);
    let mut run = None;
    for step in train["steps"].as_array().unwrap() {
        let uses = step["uses"].as_str().unwrap_or_default();
        if uses.starts_with("actions/checkout@") {
            continue;
        }
        if uses.starts_with("actions/download-artifact@") {
            assert_eq!(step["with"]["merge-multiple"], true);
            let to = work.join(step["with"]["path"].as_str().unwrap());
            std::fs::rename(&arrived, &to).unwrap();
            continue;
        }
        if uses == "./" {
            let with: Vec<(String, String)> = step["with"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), resolve(v.as_str().unwrap(), &ctx)))
                .collect();
            let with: Vec<(&str, &str)> =
                with.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let env: Vec<(&str, &str)> = runner_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let done = run_action(&work, &with, &env);
            assert_eq!(done.code(), 0, "{}", done.stderr());
            for (k, v) in &done.outputs {
                ctx.insert(format!("steps.kit.outputs.{k}"), v.clone());
            }
            run = Some(done);
            continue;
        }
        if uses.starts_with("actions/upload-artifact@") {
            let path = resolve(step["with"]["path"].as_str().unwrap(), &ctx);
            assert!(work.join(&path).is_file(), "the bundle {path} to upload");
            continue;
        }
        assert!(uses.is_empty(), "unexpected step {uses}");
        let outputs = run_workflow_step(&work, step, &ctx, &runner_env);
        for (k, v) in outputs {
            ctx.insert(
                format!("steps.{}.outputs.{k}", step["id"].as_str().unwrap()),
                v,
            );
        }
    }
    let run = run.expect("the train job runs the action");
    assert!(matches!(
        run.outputs["verdict"].as_str(),
        "PROMOTE" | "HOLD"
    ));
    assert_eq!(run.outputs["missing-boxes"], "sycl macos");
    assert!(
        run.summary
            .contains("**Boxes that did not report** (trained without them): sycl macos"),
        "{}",
        run.summary
    );
    let verdict: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(work.join(&run.outputs["verdict-file"])).unwrap(),
    )
    .unwrap();
    assert_eq!(
        verdict["missing_boxes"],
        serde_json::json!(["sycl", "macos"])
    );
    let bundle = work.join(&run.outputs["bundle"]);
    kit().args(["verify", bundle.as_str()]).assert().code(0);
}
