//! Bounded against hostile input (issue 30, Deliver 3): a bundle, a models folder or a sidecar
//! written by an attacker — members edited, `manifest.json`'s hashes recomputed, re-bundled with
//! the kit itself — cannot crash the owner's checks, keep them running without end, leave files
//! behind in TMPDIR, or name files that are gone. Each test was seen failing on b3ec481.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use predicates::str::contains;
use prost::Message as _;
use serde_json::Value;
use tract_onnx::pb;

const MODEL0: &str = "results/models/fr_regressor_v2_ensemble_v1_seed0";

fn read_json(path: &Utf8Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Utf8Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

/// `bundle --out-dir results` in `root`, as an attacker re-bundles an edited results folder
/// (the kit recomputes the manifest's hashes); the bundle's path.
fn rebundle(root: &Utf8Path) -> Utf8PathBuf {
    let out = stage_ok(root, &["bundle", "--out-dir", "results"]);
    root.join(String::from_utf8(out.stdout).unwrap().trim())
}

// ---------------------------------------------------------------------------------------------
// ONNX models that would make the runtime allocate without bound.

fn ints(name: &str, values: &[i64]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: vec![values.len() as i64],
        data_type: 7,
        int64_data: values.to_vec(),
        ..Default::default()
    }
}

fn floats(name: &str, dims: &[i64], values: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        float_data: values,
        ..Default::default()
    }
}

fn node(op: &str, name: &str, inputs: &[&str], output: &str) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

fn with_axis(mut node: pb::NodeProto, axis: i64) -> pb::NodeProto {
    node.attribute.push(pb::AttributeProto {
        name: "axis".into(),
        i: axis,
        r#type: 2,
        ..Default::default()
    });
    node
}

fn value_info(name: &str, dims: &[Option<i64>]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value as D, Dimension};
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(d.map_or(D::DimParam("batch".into()), D::DimValue)),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An opset-17 model with the kit's inputs and output around `nodes` and `initializers`.
fn model(nodes: Vec<pb::NodeProto>, initializer: Vec<pb::TensorProto>) -> Vec<u8> {
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(pb::GraphProto {
            name: "hostile".into(),
            node: nodes,
            initializer,
            input: vec![
                value_info("features", &[None, Some(6)]),
                value_info("codec_onehot", &[None, Some(14)]),
            ],
            output: vec![value_info("score", &[None])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

/// The concatenated inputs `x` [batch, 20] and a `score` computed from `last` [batch, 1].
fn around(middle: Vec<pb::NodeProto>, last: &str) -> Vec<pb::NodeProto> {
    let mut nodes = vec![with_axis(
        node("Concat", "concat", &["features", "codec_onehot"], "x"),
        1,
    )];
    nodes.extend(middle);
    nodes.push(node("Reshape", "flatten", &[last, "score_shape"], "score"));
    nodes
}

/// Hostile models, each with the node, initializer or input its refusal must name.
fn bombs() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let shape = || ints("score_shape", &[-1]);
    let w = |cols: i64| floats("w", &[20, cols], vec![0.01; 20 * cols as usize]);
    // The probe's bomb: a constant of 10¹² elements, asked for in a few bytes.
    let constant_of_shape = model(
        around(
            vec![
                node("ConstantOfShape", "bomb", &["huge"], "big"),
                node("MatMul", "fc", &["x", "w"], "fc_out"),
                node("Add", "plus", &["fc_out", "big"], "sum"),
            ],
            "sum",
        ),
        vec![ints("huge", &[1_000_000, 1_000_000]), w(1), shape()],
    );
    // Only allowlisted operators, but each Concat doubles the row: 2⁴⁰ × 20 values per row.
    let mut doubling = Vec::new();
    let mut last = "x".to_owned();
    for i in 0..40 {
        let next = format!("d{i}");
        doubling.push(with_axis(
            node("Concat", &format!("double{i}"), &[&last, &last], &next),
            1,
        ));
        last = next;
    }
    doubling.push(node("MatMul", "fc", &[&last, "w"], "fc_out"));
    let doubling = model(around(doubling, "fc_out"), vec![w(1), shape()]);
    // A weight that claims 2⁴⁰ elements and holds none.
    let mut empty = floats("w", &[20, 1 << 40], Vec::new());
    empty.data_type = 1;
    let claimed = model(
        around(vec![node("MatMul", "fc", &["x", "w"], "fc_out")], "fc_out"),
        vec![empty, shape()],
    );
    // Constants the runtime would fold ahead of time: 2⁴⁰ elements from one small weight.
    let mut folding = Vec::new();
    let mut last = "c".to_owned();
    for i in 0..40 {
        let next = format!("c{i}");
        folding.push(with_axis(
            node("Concat", &format!("grow{i}"), &[&last, &last], &next),
            0,
        ));
        last = next;
    }
    folding.push(node("Add", "use", &["x", &last], "fc_out"));
    let folding = model(
        around(folding, "fc_out"),
        vec![floats("c", &[1, 20], vec![0.0; 20]), shape()],
    );
    vec![
        (
            "ConstantOfShape",
            constant_of_shape,
            "node `bomb` (ConstantOfShape)",
        ),
        ("doubling Concat", doubling, "node `double"),
        ("empty weight", claimed, "initializer `w`"),
        ("constant folding", folding, "node `grow0` (Concat)"),
    ]
}

/// Puts `onnx` in place of member seed 0's model in the results folder under `root`, with
/// its sidecar's hash updated.
fn swap_model(root: &Utf8Path, onnx: &[u8]) {
    std::fs::write(root.join(format!("{MODEL0}.onnx")), onnx).unwrap();
    let sidecar = root.join(format!("{MODEL0}.json"));
    let mut doc = read_json(&sidecar);
    doc["sha256"] = ensemble_kit::digest::sha256_bytes(onnx).into();
    write_json(&sidecar, &doc);
}

fn evaluate(models: &Utf8Path, corpus: &Utf8Path) -> assert_cmd::assert::Assert {
    kit()
        .args(["evaluate", "--models", models.as_str(), "--corpus"])
        .arg(corpus)
        .assert()
}

#[test]
fn hostile_onnx_models_are_refused_naming_the_node_on_every_route() {
    let s = copy_of_promoted();
    let shard = s.join("results/corpus/shard.jsonl");
    let good = rebundle(s.path());
    for (what, onnx, named) in bombs() {
        eprintln!("{what}: {} bytes", onnx.len());
        swap_model(s.path(), &onnx);
        // A folder of models (the reference kit's way of shipping them).
        evaluate(&s.join("results/models"), &shard)
            .code(2)
            .stderr(contains(named))
            .stderr(contains("seed0.onnx`"));
        // A bundle, verified first (the hashes all match: the kit bundled it).
        let bundle = rebundle(s.path());
        evaluate(&bundle, &shard)
            .code(2)
            .stderr(contains(named))
            .stderr(contains(format!(
                "{bundle}!models/fr_regressor_v2_ensemble_v1_seed0.onnx"
            )));
        // Both ways between two bundles.
        kit()
            .args(["compare", "--cross", good.as_str(), bundle.as_str()])
            .assert()
            .code(2)
            .stderr(contains(named));
        std::fs::remove_file(&bundle).unwrap();
    }
}

#[test]
fn a_model_with_other_inputs_or_output_is_refused_before_the_runtime() {
    let s = copy_of_promoted();
    let shard = s.join("results/corpus/shard.jsonl");
    let shape = ints("score_shape", &[-1]);
    let w = floats("w", &[20, 1], vec![0.01; 20]);
    let mut wide = pb::ModelProto::decode(
        &model(
            around(vec![node("MatMul", "fc", &["x", "w"], "fc_out")], "fc_out"),
            vec![w.clone(), shape.clone()],
        )[..],
    )
    .unwrap();
    // The kit's own graph passes the screen and runs (then its figures are not the sidecar's
    // recorded fit: it is not the model that was fitted); only the declared width of
    // `features` changes.
    swap_model(s.path(), &wide.encode_to_vec());
    evaluate(&s.join("results/models"), &shard)
        .code(2)
        .stderr(contains("records its full-corpus fit"));
    wide.graph.as_mut().unwrap().input[0] = value_info("features", &[None, Some(600_000)]);
    swap_model(s.path(), &wide.encode_to_vec());
    evaluate(&s.join("results/models"), &shard)
        .code(2)
        .stderr(contains("input `features` is [batch, 600000]"));
    let two_scores = model(
        around(vec![node("MatMul", "fc", &["x", "w2"], "fc_out")], "fc_out"),
        vec![floats("w2", &[20, 2], vec![0.01; 40]), shape],
    );
    swap_model(s.path(), &two_scores);
    evaluate(&s.join("results/models"), &shard)
        .code(2)
        .stderr(contains("node `flatten` (Reshape)"));
}

// ---------------------------------------------------------------------------------------------
// Recipes read from a bundle are held to the kit's ranges before they size anything.

/// `verify --retrain BUNDLE ARGS` in `root`, given at most `limit` (a retrain that would run
/// for ever is killed: `None`).
fn retrain(root: &Utf8Path, bundle: &Utf8Path, args: &[&str], secs: u64) -> (Option<i32>, String) {
    let mut cmd = kit_process();
    cmd.current_dir(root)
        .args(["verify", "--retrain", bundle.as_str()])
        .args(args);
    let (code, _, stderr) = run_for(cmd, std::time::Duration::from_secs(secs));
    (code, stderr)
}

#[test]
fn sidecar_recipes_out_of_range_are_refused_before_any_training() {
    for (field, value, shown) in [
        (
            "batch_size",
            serde_json::json!(1_000_000_000_000_000u64),
            "recipe batch_size 1000000000000000 is outside 1..=4096",
        ),
        (
            "batch_size",
            serde_json::json!(1u64 << 62),
            "recipe batch_size 4611686018427387904 is outside 1..=4096",
        ),
        (
            "epochs",
            serde_json::json!(1_000_000_000_000u64),
            "recipe epochs 1000000000000 is outside 1..=10000",
        ),
    ] {
        let s = copy_of_promoted();
        let sidecar = s.join(&format!("{MODEL0}.json"));
        let mut doc = read_json(&sidecar);
        doc["training_recipe"][field] = value;
        write_json(&sidecar, &doc);
        let bundle = rebundle(s.path());
        let started = std::time::Instant::now();
        let (code, stderr) = retrain(s.path(), &bundle, &[], 120);
        assert_eq!(code, Some(2), "{field}: {stderr}");
        assert!(stderr.contains(shown), "{stderr}");
        // Named as the bundle's member, never by the temporary folder it was read from.
        assert!(
            stderr.contains(&format!(
                "{bundle}!models/fr_regressor_v2_ensemble_v1_seed0.json"
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("retraining"), "it trained first: {stderr}");
        assert!(started.elapsed().as_secs() < 60);
    }
}

#[test]
fn loso_files_claiming_a_billion_epochs_with_a_recomputed_key_are_refused() {
    let s = copy_of_promoted();
    let results = s.join("results");
    for seed in [0, 1] {
        let path = results.join(format!("loso/loso_seed{seed}.json"));
        let mut doc = read_json(&path);
        doc["epochs"] = 1_000_000_000u64.into();
        rekey(&mut doc);
        write_json(&path, &doc);
    }
    // The verdict's experiment says the same (it is derived from the LOSO files and checked).
    let verdict = results.join("PROMOTE.json");
    let mut doc = read_json(&verdict);
    doc["experiment"]["recipe"]["epochs"] = 1_000_000_000u64.into();
    write_json(&verdict, &doc);
    let bundle = forge_bundle(&results, &s.join("forged.tar.gz"), None);
    let (code, stderr) = retrain(s.path(), &bundle, &[], 120);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("loso/loso_seed0.json: /epochs: 1000000000 is outside 1..=10000"),
        "{stderr}"
    );
}

#[test]
fn retrain_says_what_it_will_cost_and_needs_leave_past_the_limit() {
    let s = copy_of_promoted();
    let results = s.join("results");
    // Within range, but 50 times the training: a few CPU minutes on the demo corpus.
    for seed in [0, 1] {
        let path = results.join(format!("loso/loso_seed{seed}.json"));
        let mut doc = read_json(&path);
        doc["epochs"] = 10_000u64.into();
        rekey(&mut doc);
        write_json(&path, &doc);
    }
    let verdict = results.join("PROMOTE.json");
    let mut doc = read_json(&verdict);
    doc["experiment"]["recipe"]["epochs"] = 10_000u64.into();
    write_json(&verdict, &doc);
    let bundle = forge_bundle(&results, &s.join("forged.tar.gz"), None);
    let (code, stderr) = retrain(s.path(), &bundle, &["--max-retrain-minutes", "1"], 60);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("row-epochs per second one core trains here"),
        "{stderr}"
    );
    assert!(
        stderr.contains("more than --max-retrain-minutes 1 allows; nothing was trained"),
        "{stderr}"
    );
    // The shipped bundle: the estimate is printed before the training, which then runs.
    let shipped = copy_of_promoted();
    let good = rebundle(shipped.path());
    let (code, stderr) = retrain(s.path(), &good, &[], 600);
    assert_eq!(code, Some(0), "{stderr}");
    let estimate = stderr.find("CPU time").expect("an estimate");
    let training = stderr.find("retraining 2 seed file(s)").expect("training");
    assert!(estimate < training, "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// A stopped run leaves nothing in TMPDIR.

/// The entries of `dir`.
fn entries(dir: &Utf8Path) -> Vec<String> {
    let mut names: Vec<String> = dir
        .read_dir_utf8()
        .unwrap()
        .map(|e| e.unwrap().file_name().to_owned())
        .collect();
    names.sort();
    names
}

/// Starts `verify --retrain BUNDLE` with its own TMPDIR and waits until it is training.
fn retraining(bundle: &Utf8Path, tmp: &Utf8Path, log: &Utf8Path) -> std::process::Child {
    let mut child = kit_process()
        .args(["verify", "--retrain", bundle.as_str()])
        .env("TMPDIR", tmp)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if std::fs::read_to_string(log)
            .unwrap()
            .contains("seed file(s)")
        {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "it never started training: {}",
        std::fs::read_to_string(log).unwrap()
    );
}

fn signal(child: &std::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_stopped_retrain_leaves_nothing_in_tmpdir() {
    let s = copy_of_promoted();
    let bundle = rebundle(s.path());
    let tmp = s.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let log = s.join("log");
    for stop in ["TERM", "INT"] {
        let mut child = retraining(&bundle, &tmp, &log);
        assert!(!entries(&tmp).is_empty(), "the extraction is in TMPDIR");
        signal(&child, stop);
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert_eq!(entries(&tmp), Vec::<String>::new(), "SIG{stop} left these");
    }
    // SIGKILL runs no code: what it leaves is removed by the next run that needs TMPDIR.
    let mut child = retraining(&bundle, &tmp, &log);
    signal(&child, "KILL");
    child.wait().unwrap();
    let left = entries(&tmp);
    assert!(!left.is_empty());
    kit()
        .args(["evaluate", "--models", bundle.as_str(), "--corpus"])
        .arg(s.join("results/corpus/shard.jsonl"))
        .env("TMPDIR", &tmp)
        .assert()
        .success();
    assert_eq!(
        entries(&tmp),
        Vec::<String>::new(),
        "the SIGKILL's {left:?} are still there"
    );
}

// ---------------------------------------------------------------------------------------------
// Refusals name bundle members, never the temporary folder they were read from.

#[test]
fn an_audit_refusal_names_the_bundle_member_not_a_staging_file() {
    let s = Scratch::new();
    let out = kit()
        .current_dir(s.path())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["full", "--demo", "--frames", "6", "--encoders", "libx264"])
        .args(["--cqs", "25,37", "--seeds", "0,1", "--epochs", "40"])
        .args(["--stability", "0", "--out-dir", "results", "-q"])
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let results = s.join("results");
    let meta_path = results.join("corpus/shard.meta.json");
    let mut meta = read_json(&meta_path);
    let refs = Utf8PathBuf::from(meta["ref_dir"].as_str().unwrap());
    let refs = if refs.is_absolute() {
        refs
    } else {
        s.join(refs.as_str())
    };
    // Metadata `verify` reads leniently and the audit reads strictly.
    meta["settings"]["audit_cells"] = "three".into();
    write_json(&meta_path, &meta);
    let bundle = forge_bundle(&results, &s.join("forged.tar.gz"), None);
    let tmp = s.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = kit()
        .args([
            "verify",
            "--audit",
            "--ref-dir",
            refs.as_str(),
            bundle.as_str(),
        ])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{bundle}!corpus/shard.meta.json: /settings/audit_cells"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(tmp.as_str()), "a staging path: {stderr}");
}
