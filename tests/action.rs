//! The composite GitHub Action: its metadata validates against the action-metadata schema, inputs
//! reach the shell only through `env:`, and its steps run the demo (`use-nix: false`) writing
//! `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY`.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use std::collections::BTreeMap;

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn action() -> serde_json::Value {
    let text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn assert_valid(schema_path: &Utf8Path) {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&action())
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "action.yml fails {schema_path}:\n{}",
        errors.join("\n")
    );
}

#[test]
fn metadata_validates() {
    assert_valid(&repo().join("tests/action-metadata.schema.json"));
    // The published SchemaStore schema, when the steering repo provides it in shared/.
    let published = repo().join("../shared/github-action.json");
    if published.exists() {
        assert_valid(&published);
    }
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

/// Runs the action's steps as the runner would: expressions in `env:` resolved, then `bash -c`.
fn run_action(work: &Utf8Path, with: &[(&str, &str)]) -> (std::process::Output, String, String) {
    let action = action();
    let mut inputs: BTreeMap<String, String> = action["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v["default"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (k, v) in with {
        inputs.insert((*k).into(), (*v).into());
    }
    let (outputs, summary) = (work.join("github_output"), work.join("step_summary"));
    let step = &action["runs"]["steps"][0];
    let mut cmd = std::process::Command::new("bash");
    cmd.current_dir(work)
        .arg("-c")
        .arg(step["run"].as_str().unwrap());
    for (name, value) in step["env"].as_object().unwrap() {
        let mut value = value
            .as_str()
            .unwrap()
            .replace("${{ github.action_path }}", repo().as_str());
        for (k, v) in &inputs {
            value = value.replace(&format!("${{{{ inputs.{k} }}}}"), v);
        }
        cmd.env(name, value);
    }
    cmd.env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary);
    cmd.env(
        "ENSEMBLE_KIT_BIN",
        assert_cmd::cargo::cargo_bin("ensemble-kit"),
    );
    cmd.env("SOURCE_DATE_EPOCH", "1700000000");
    let out = cmd.output().unwrap();
    let read = |p: &Utf8Path| std::fs::read_to_string(p).unwrap_or_default();
    (out, read(&outputs), read(&summary))
}

#[test]
fn steps_run_the_demo_and_write_outputs_and_summary() {
    let s = Scratch::new();
    let (out, outputs, summary) = run_action(
        s.path(),
        &[
            ("use-nix", "false"),
            ("seeds", "0,1"),
            ("out-dir", "results"),
            ("args", "--frames 8 --epochs 40"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let values: BTreeMap<&str, &str> = outputs.lines().filter_map(|l| l.split_once('=')).collect();
    assert!(matches!(values["verdict"], "PROMOTE" | "HOLD"), "{outputs}");
    assert!(values["mean-plcc"].parse::<f64>().unwrap() > 0.0);
    assert!(values["plcc-spread"].parse::<f64>().is_ok());
    let bundle = s.join(values["bundle"]);
    assert!(bundle.is_file(), "bundle output {bundle} exists");
    assert!(s.join(values["verdict-file"]).is_file());
    kit().args(["verify", bundle.as_str()]).assert().success();
    assert!(
        summary.contains(&format!("ensemble-kit verdict: **{}**", values["verdict"])),
        "{summary}"
    );
    assert!(
        summary.contains("| 0 |") && summary.contains("| 1 |"),
        "{summary}"
    );
}

#[test]
fn hostile_input_is_not_executed() {
    let s = Scratch::new();
    let (out, _, _) = run_action(
        s.path(),
        &[
            ("use-nix", "false"),
            ("args", "--frames 2; touch pwned $(touch pwned2)"),
        ],
    );
    assert!(
        !out.status.success(),
        "unknown arguments must fail the step"
    );
    assert!(
        !s.join("pwned").exists() && !s.join("pwned2").exists(),
        "input text was executed"
    );
}
