//! How fragile a verdict is (issue 12): the per-source diagnosis, the stability block from
//! further seeds (`--stability K`), and the recommendation that names the driving source —
//! on hand-made LOSO files where one source swings from seed to seed, and on a constructed
//! corpus where one source's scores are near-random.

mod common;
use camino::Utf8Path;
use common::*;
use ensemble_kit::learn::stability;
use predicates::str::contains;

/// The fold PLCC of the swinging source per seed: seeds 0–4 span 0.025 (a HOLD by spread),
/// while most five-seed sets from all ten span less than 0.02 and pass.
const SHAKY: [f64; 10] = [
    0.965, 0.97, 0.99, 0.975, 0.98, 0.97, 0.975, 0.972, 0.978, 0.974,
];

fn fragile_loso(dir: &Utf8Path, seeds: usize) {
    for (seed, &shaky) in SHAKY.iter().enumerate().take(seeds) {
        let steady = 0.99 + 0.0001 * seed as f64;
        seed_file(
            dir,
            seed as u64,
            &[
                ("calm_a", steady),
                ("calm_b", steady),
                ("calm_c", steady),
                ("shaky", shaky),
            ],
        );
    }
}

fn verdict(root: &Utf8Path) -> serde_json::Value {
    let out = kit()
        .current_dir(root)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["verdict", "--loso-dir", "loso"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(root.join("loso/HOLD.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_swinging_source_makes_the_verdict_not_robust_and_is_named() {
    let s = Scratch::new();
    fragile_loso(&s.join("loso"), 10);
    let doc = verdict(s.path());
    let stability = &doc["stability"];
    assert_eq!(stability["seeds"].as_array().unwrap().len(), 10);
    assert_eq!(stability["subsets"], 252);
    assert_eq!(stability["all_subsets"], true);
    let p = stability["p_promote"].as_f64().unwrap();
    assert!(0.05 < p && p < 0.95, "p_promote {p}");
    // 161 of 252 sets pass, but ten seeds leave P(pass) anywhere in about 0.27–0.96.
    assert_eq!(stability["label"], "undecided");
    let [lo, hi] = [0, 1].map(|i| stability["p_promote_interval"][i].as_f64().unwrap());
    assert!(lo < p && p < hi && lo > 0.05 && hi > 0.95, "{stability}");
    assert_eq!(stability["driving_sources"], serde_json::json!(["shaky"]));
    let recommendation = doc["recommendation"].as_str().unwrap();
    assert!(
        recommendation.contains("driven by shaky")
            && recommendation.contains("this HOLD is not robust: undecided: train more seeds"),
        "{recommendation}"
    );
    let shaky = doc["fold_diagnosis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["source"] == "shaky")
        .unwrap();
    assert_eq!(shaky["min_plcc"], 0.965);
    assert_eq!(shaky["max_plcc"], 0.99);
    assert!(shaky["spread_share"].as_f64().unwrap() > 0.9, "{shaky}");
    golden(
        "verdict-fragile.json",
        &std::fs::read_to_string(s.join("loso/HOLD.json")).unwrap(),
    );
}

#[test]
fn without_further_seeds_there_is_no_stability_block() {
    let s = Scratch::new();
    fragile_loso(&s.join("loso"), 5);
    let doc = verdict(s.path());
    assert!(doc.get("stability").is_none(), "{doc}");
    assert_eq!(doc["fold_diagnosis"].as_array().unwrap().len(), 4);
}

#[test]
fn seed_files_of_another_corpus_are_not_pooled() {
    let s = Scratch::new();
    fragile_loso(&s.join("loso"), 10);
    for seed in 5..10 {
        let path = s.join(&format!("loso/loso_seed{seed}.json"));
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        doc["corpus_sha256"] = "ff".into();
        rekey(&mut doc);
        std::fs::write(&path, doc.to_string()).unwrap();
    }
    let doc = verdict(s.path());
    assert!(doc.get("stability").is_none(), "{doc}");
}

/// Uniform draws in [0, 1) from a fixed-seed linear congruential generator (Knuth's MMIX
/// constants): test data that is the same on every machine.
fn uniform_from(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A corpus where VMAF follows one quality curve through the features for three sources, and
/// the fourth has features that contradict each other and noisy scores: near-random for a
/// model trained on the others, so its fold PLCC depends on the seed.
fn corpus_with_a_random_source(dir: &Utf8Path) -> camino::Utf8PathBuf {
    let mut text = String::new();
    let mut uniform = uniform_from(12345);
    for (s, src) in ["calm_a", "calm_b", "calm_c", "random"].iter().enumerate() {
        for cq in [20u32, 26, 32, 38, 44] {
            for frame in 0..8u64 {
                let q = 1.0 - f64::from(cq - 20) / 30.0 - 0.01 * frame as f64 - 0.02 * s as f64;
                let random = *src == "random";
                // Off the curve: VIF is noise, so the model's answer depends on how much each
                // seed leans on it rather than on ADM.
                let (adm, vif, vmaf) = if random {
                    (q, uniform(), 95.0 * q)
                } else {
                    (q, q, 95.0 * q)
                };
                text.push_str(&serde_json::json!({
                    "src": src, "src_sha256": format!("{s:064}"), "encoder": "libx264", "cq": cq,
                    "frame_index": frame, "enc_bytes": 1000 * (50 - cq), "enc_time_ms": 1,
                    "vmaf": vmaf, "adm2": adm, "vif_scale0": 0.6 * vif,
                    "vif_scale1": 0.8 * vif, "vif_scale2": 0.9 * vif,
                    "vif_scale3": vif, "motion2": 2.0 + frame as f64
                }).to_string());
                text.push('\n');
            }
        }
    }
    let path = dir.join("constructed.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn training_with_stability_seeds_names_the_near_random_source() {
    let s = Scratch::new();
    let shard = corpus_with_a_random_source(s.path());
    let loso = s.join("loso");
    kit()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["train", "--corpus", shard.as_str(), "--allow-missing-meta"])
        .args([
            "--out-dir",
            loso.as_str(),
            "--epochs",
            "100",
            "--stability",
            "3",
        ])
        .assert()
        .success()
        .stderr(contains("per source, over seeds [0, 1, 2, 3, 4, 5, 6, 7]"));
    for seed in 0..8 {
        assert!(loso.join(format!("loso_seed{seed}.json")).is_file());
    }
    let out = kit()
        .current_dir(s.path())
        .args(["verdict", "--loso-dir", "loso"])
        .output()
        .unwrap();
    let verdict = ["PROMOTE.json", "HOLD.json"]
        .iter()
        .map(|n| loso.join(n))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(verdict).unwrap()).unwrap();
    let stability = &doc["stability"];
    assert_eq!(stability["subsets"], 56, "{stability}");
    assert_eq!(
        stability["driving_sources"],
        serde_json::json!(["random"]),
        "{doc}"
    );
    let top = doc["fold_diagnosis"]
        .as_array()
        .unwrap()
        .iter()
        .max_by(|a, b| {
            a["spread_share"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["spread_share"].as_f64().unwrap())
        })
        .unwrap();
    assert_eq!(top["source"], "random", "{doc}");
}

/// The demo as a new user runs it: the default further seeds give a stability block, the demo
/// is a robust PROMOTE, the verdict, report and bundle bytes do not depend on `--jobs`, and the
/// last sentence says what is left after `full` exported and bundled (issue 21 item 28).
#[test]
fn the_demo_reports_a_robust_verdict_whatever_the_jobs() {
    let s = Scratch::new();
    let run = |out: &str, jobs: &str| {
        let run = kit()
            .current_dir(s.path())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["full", "--demo", "--out-dir", out, "--jobs", jobs, "-q"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        assert_eq!(run.status.code(), Some(0), "{stderr}");
        stderr
    };
    let told = run("two", "2");
    run("one", "1");
    assert!(
        !told.contains("export the ensemble (ensemble-kit export)"),
        "full exported and bundled already:\n{told}"
    );
    let last = told.lines().find(|l| l.contains("Gate passed")).unwrap();
    assert!(
        last.contains("what is left is to send two/") && last.contains("to the model owner"),
        "{last}"
    );
    assert!(
        told.contains("robust PROMOTE: P(a 5-seed set passes)"),
        "{told}"
    );
    let verdict = std::fs::read_to_string(s.join("two/PROMOTE.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&verdict).unwrap();
    let stability = &doc["stability"];
    assert_eq!(
        stability["seeds"],
        serde_json::json!([0, 1, 2, 3, 4, 5, 6, 7])
    );
    assert!(
        stability["p_promote"].as_f64().unwrap() >= 0.95,
        "{stability}"
    );
    assert_eq!(stability["label"], "robust_promote");
    let bundle = |out: &str| {
        let name = s
            .join(out)
            .read_dir_utf8()
            .unwrap()
            .flatten()
            .find(|e| e.file_name().ends_with(".tar.gz"))
            .unwrap()
            .file_name()
            .to_owned();
        format!("{out}/{name}")
    };
    assert_eq!(bundle("one")[4..], bundle("two")[4..]);
    for file in ["PROMOTE.json", "report.html", &bundle("one")[4..]] {
        assert_eq!(
            std::fs::read(s.join("one").join(file)).unwrap(),
            std::fs::read(s.join("two").join(file)).unwrap(),
            "{file} depends on --jobs"
        );
    }
}

#[test]
fn a_seed_file_whose_summary_disagrees_with_its_folds_is_refused() {
    let s = Scratch::new();
    fragile_loso(&s.join("loso"), 5);
    let path = s.join("loso/loso_seed2.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["mean_plcc"] = 0.999.into();
    std::fs::write(&path, doc.to_string()).unwrap();
    kit()
        .current_dir(s.path())
        .args(["verdict", "--loso-dir", "loso"])
        .assert()
        .code(2)
        .stderr(contains(
            "loso_seed2.json: /mean_plcc: says Some(0.999) but its folds give",
        ));
}

#[test]
fn judged_seeds_from_different_runs_are_refused() {
    let s = Scratch::new();
    fragile_loso(&s.join("loso"), 5);
    let path = s.join("loso/loso_seed3.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["epochs"] = 1.into();
    rekey(&mut doc);
    std::fs::write(&path, doc.to_string()).unwrap();
    kit()
        .current_dir(s.path())
        .args(["verdict", "--loso-dir", "loso"])
        .assert()
        .code(2)
        .stderr(contains("seed 3 was not trained like seed 0"));
}

/// Judges `results/loso` into `results/` (a HOLD) and returns the verdict's path and document.
fn hold_in_results(s: &Scratch) -> (camino::Utf8PathBuf, serde_json::Value) {
    kit()
        .current_dir(s.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args([
            "verdict",
            "--loso-dir",
            "results/loso",
            "--out-dir",
            "results",
        ])
        .assert()
        .code(1);
    let path = s.join("results/HOLD.json");
    let doc = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (path, doc)
}

/// Writes SHAKY's verdict (a HOLD) into `results/`, passes its stability block through `edit`,
/// and bundles it: the exit code and stderr of `bundle`.
fn bundle_with_stability(
    edit: impl Fn(&mut serde_json::Map<String, serde_json::Value>),
) -> (Option<i32>, String) {
    let s = Scratch::new();
    fragile_loso(&s.join("results/loso"), 10);
    let (path, mut doc) = hold_in_results(&s);
    edit(doc["stability"].as_object_mut().unwrap());
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let out = kit()
        .current_dir(s.path())
        .args(["bundle", "--out-dir", "results"])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bundle_whose_stability_block_was_edited_is_refused() {
    let (code, stderr) = bundle_with_stability(|block| {
        block["label"] = "robust_hold".into();
        block["p_promote"] = 0.0.into();
    });
    assert!(
        code == Some(2) && stderr.contains("is stale"),
        "{code:?} {stderr}"
    );
}

/// Issue 29: the interval's model changed, and a verdict is judged again by the model that drew
/// it. A verdict naming no model (every verdict before the change) must hold the normal model's
/// interval, bit for bit; one naming the three models must hold theirs. Relabelling either way,
/// or naming a model this kit does not know, is refused.
#[test]
fn a_stability_block_is_judged_again_by_the_interval_model_that_drew_it() {
    // The lower end of SHAKY's interval by the normal model alone (b3ec481's golden) and by the
    // three models (see verdict-fragile.json); the upper ends agree.
    const NORMAL_LOW: f64 = 0.2693552540591315;
    const THREE_LOW: f64 = 0.26935525228762025;
    let relabelled = |model: Option<&str>, low: f64| {
        bundle_with_stability(|block| {
            assert_eq!(block["interval_model"], "normal_fragile_bootstrap");
            assert_eq!(block["p_promote_interval"][0], THREE_LOW);
            match model {
                Some(model) => block.insert("interval_model".into(), model.into()),
                None => block.remove("interval_model"),
            };
            block["p_promote_interval"][0] = low.into();
        })
    };
    for (model, low) in [(None, NORMAL_LOW), (Some("normal"), NORMAL_LOW)] {
        let (code, stderr) = relabelled(model, low);
        assert!(
            matches!(code, Some(0 | 1)) && !stderr.contains("stale"),
            "{model:?} with the normal model's interval: {code:?} {stderr}"
        );
    }
    for (model, low) in [
        (None, THREE_LOW),
        (Some("normal"), THREE_LOW),
        (Some("normal_fragile_bootstrap"), NORMAL_LOW),
    ] {
        let (code, stderr) = relabelled(model, low);
        assert!(
            code == Some(2) && stderr.contains("is stale"),
            "{model:?} relabelled: {code:?} {stderr}"
        );
    }
    let (code, stderr) = relabelled(Some("bootstrap_only"), THREE_LOW);
    assert!(
        code == Some(2) && stderr.contains("/stability") && stderr.contains("bootstrap_only"),
        "an unknown model: {code:?} {stderr}"
    );
}

/// Per-seed mean PLCCs of one block of the field report's shape (a fragile fold sinks about
/// half the seeds under the line): the normal model alone calls it robust HOLD, this kit's
/// three models undecided.
const FIELD_BLOCK: [f64; 8] = [
    0.9437095074736452,
    0.9536563550980912,
    0.9532661533270692,
    0.9533029717812962,
    0.9446540584844133,
    0.942874233791757,
    0.9543583634249797,
    0.9429930788321237,
];

/// Issue 29, a hostile review: a new verdict whose block is relabelled as an older kit's (the
/// normal model's narrower interval, honestly computed) still verifies — an older kit wrote
/// exactly that — but wherever the seeds are at hand, verify and compare show and reason with
/// this kit's label, naming the older one as the older kit's.
#[test]
fn an_older_kits_block_is_shown_beside_this_kits_label() {
    use ensemble_kit::learn::gate;
    use ensemble_kit::schema::IntervalModel;
    let s = Scratch::new();
    let loso = s.join("results/loso");
    loso_of_means(&loso, &FIELD_BLOCK);
    let (path, mut doc) = hold_in_results(&s);
    assert_eq!(doc["stability"]["label"], "undecided");
    let judged: Vec<_> = (0..5)
        .map(|seed| gate::read_seed(&loso, seed).unwrap())
        .collect();
    let others = gate::other_seeds(&loso, &[0, 1, 2, 3, 4]).unwrap();
    let older = gate::judgement(&judged, others, IntervalModel::Normal).unwrap();
    doc["stability"] = serde_json::to_value(&older.stability).unwrap();
    doc["recommendation"] = older.recommendation.into();
    assert_eq!(doc["stability"]["label"], "robust_hold");
    assert!(doc["stability"].get("interval_model").is_none());
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let out = kit()
        .current_dir(s.path())
        .args(["bundle", "--out-dir", "results"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let bundle = s.join(String::from_utf8(out.stdout).unwrap().trim());
    kit()
        .args(["verify", bundle.as_str()])
        .assert()
        .success()
        .stdout(contains(
        "its stability interval from a normal model of the per-seed mean PLCC (an older kit's, \
             robust HOLD; this kit's three models of the per-seed mean PLCC: undecided 0.00–",
    ));
    for b in [bundle.as_str(), "results/HOLD.json"] {
        let out = kit()
            .current_dir(s.path())
            .args(["compare", bundle.as_str(), b])
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            stdout
                .matches("(undecided (an older kit's block said robust HOLD))")
                .count()
                == 2,
            "{b}: {stdout}"
        );
    }
}

/// A hostile review: a verdict file without its experiment was read as the reference kit's,
/// whose stability block nothing re-derived; with its LOSO folder beside it, compare then
/// reasoned with a made-up robust label and said it rested on derived seeds.
#[test]
fn a_stability_block_without_an_experiment_is_judged_again_too() {
    let s = Scratch::new();
    fragile_loso(&s.join("loso"), 10);
    let honest = verdict(s.path());
    let compare_with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut doc = honest.clone();
        doc.as_object_mut().unwrap().remove("experiment");
        edit(&mut doc);
        std::fs::write(
            s.join("loso/HOLD.json"),
            serde_json::to_string_pretty(&doc).unwrap(),
        )
        .unwrap();
        kit()
            .current_dir(s.path())
            .args(["compare", "loso/HOLD.json", "loso"])
            .output()
            .unwrap()
    };
    let out = compare_with(&|_| {});
    assert_ne!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = compare_with(&|doc| {
        doc["stability"]["p_promote_interval"] = serde_json::json!([0.0, 0.01]);
        doc["stability"]["p_promote"] = 0.0.into();
        doc["stability"]["label"] = "robust_hold".into();
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(2)
            && stderr.contains("contradicted")
            && stderr.contains("/stability"),
        "{stderr}"
    );
}

#[test]
fn an_absurd_number_of_further_seeds_is_refused() {
    let s = Scratch::new();
    let shard = corpus_with_a_random_source(s.path());
    kit()
        .args(["train", "--corpus", shard.as_str(), "--allow-missing-meta"])
        .args([
            "--out-dir",
            s.join("loso").as_str(),
            "--stability",
            "100000000000",
        ])
        .assert()
        .code(2)
        .stderr(contains("--stability 100000000000 is more than 1000"));
    kit()
        .args(["train", "--corpus", shard.as_str(), "--allow-missing-meta"])
        .args(["--out-dir", s.join("loso").as_str(), "--stability", "1"])
        .args(["--seeds", "18446744073709551615"])
        .assert()
        .code(2)
        .stderr(contains("no room for further seed numbers"));
}

/// Writes one seed file per value, each value the seed's mean PLCC (two folds alike).
fn loso_of_means(dir: &Utf8Path, means: &[f64]) {
    for (seed, &m) in means.iter().enumerate() {
        seed_file(dir, seed as u64, &[("a", m), ("b", m)]);
    }
}

/// Runs `verdict` on `loso/` and returns its stability block (either verdict).
fn stability_of(root: &Utf8Path) -> serde_json::Value {
    let out = kit()
        .current_dir(root)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["verdict", "--loso-dir", "loso"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let file = ["PROMOTE.json", "HOLD.json"]
        .iter()
        .map(|n| root.join("loso").join(n))
        .find(|p| p.exists())
        .unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    doc["stability"].clone()
}

/// Issue 22: eight borderline seeds where one or none of the 56 five-seed sets passes. The
/// point estimate is at most 0.05, but eight seeds cannot tell 0.02 from 0.10: undecided, and
/// the verdict text says to train more seeds.
#[test]
fn eight_borderline_seeds_with_a_low_share_are_undecided_not_robust() {
    for (name, means, share) in [
        (
            "one set in 56",
            [0.949, 0.951, 0.953, 0.954, 0.955, 0.952, 0.948, 0.947],
            1.0 / 56.0,
        ),
        (
            "no set",
            [0.949, 0.951, 0.956, 0.953, 0.948, 0.957, 0.9505, 0.946],
            0.0,
        ),
    ] {
        let s = Scratch::new();
        loso_of_means(&s.join("loso"), &means);
        let stability = stability_of(s.path());
        let p = stability["p_promote"].as_f64().unwrap();
        assert!(
            (p - share).abs() < 1e-12 && p <= 0.05,
            "{name}: {stability}"
        );
        let hi = stability["p_promote_interval"][1].as_f64().unwrap();
        assert!(
            hi > 0.05,
            "{name}: the interval reaches past 0.05: {stability}"
        );
        assert_eq!(stability["label"], "undecided", "{name}: {stability}");
        assert_eq!(stability["confidence"], 0.9);
        let out = kit()
            .current_dir(s.path())
            .args(["verdict", "--loso-dir", "loso"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("undecided: train more seeds (`--stability K`")
                && !text.contains("exact")
                && !text.contains("robust HOLD"),
            "{name}: {text}"
        );
    }
}

/// Issue 22: forty seeds far from the gate's lines decide it robustly either way.
#[test]
fn forty_clearly_separated_seeds_are_robust() {
    let around = |centre: f64| -> Vec<f64> {
        (0..40)
            .map(|i| centre + 0.0002 * f64::from(i % 5) - 0.0004)
            .collect()
    };
    for (centre, label) in [(0.975, "robust_promote"), (0.92, "robust_hold")] {
        let s = Scratch::new();
        loso_of_means(&s.join("loso"), &around(centre));
        let stability = stability_of(s.path());
        assert_eq!(stability["label"], label, "{stability}");
        assert_eq!(stability["seeds"].as_array().unwrap().len(), 40);
        assert_eq!(stability["all_subsets"], false, "C(40, 5) sets are sampled");
    }
}

/// Issue 29 item 7, the field report: 40 seeds on ten clips whose P(a 5-seed set passes) is
/// 0.045, judged in five disjoint blocks of 8. Each seed's nine steady folds sit at 0.953 ± 0.001
/// and its fragile fold drops 0.1 below them in 46 % of seeds, pulling the seed's mean under the
/// line: so P(pass) = 0.54⁵ × P(five steady seeds within 0.005) = 0.045 (a simulation of the
/// gate agrees, see `interval::coverage`). Honest 90 % intervals hold it in at least four of
/// five blocks 92 % of the time. The normal model alone (b3ec481) held it in one: upper ends
/// 0.005–0.022 and 0.107, four "robust HOLD"s; now all five hold it, undecided.
#[test]
fn blocks_of_eight_seeds_with_a_fragile_fold_hold_the_true_probability() {
    const TRUE_P: f64 = 0.045;
    let mut uniform = uniform_from(29);
    let clips: Vec<String> = (0..10).map(|c| format!("clip{c}")).collect();
    let mut held = Vec::new();
    for _ in 0..5 {
        let s = Scratch::new();
        for seed in 0..8u64 {
            // Box–Muller for the steady level, then the fragile fold.
            let (u, v) = (uniform(), uniform());
            let z = (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos();
            let steady = 0.953 + 0.001 * z;
            let fragile = if uniform() < 0.46 {
                steady - 0.1
            } else {
                steady
            };
            let folds: Vec<(&str, f64)> = clips
                .iter()
                .enumerate()
                .map(|(c, name)| (name.as_str(), if c == 9 { fragile } else { steady }))
                .collect();
            seed_file(&s.join("loso"), seed, &folds);
        }
        let stability = stability_of(s.path());
        let [lo, hi] = [0, 1].map(|i| stability["p_promote_interval"][i].as_f64().unwrap());
        held.push((lo <= TRUE_P && TRUE_P <= hi, format!("{lo:.3}–{hi:.3}")));
    }
    assert!(
        held.iter().filter(|(held, _)| *held).count() >= 4,
        "fewer than four of five 90 % intervals hold P {TRUE_P}: {held:?}"
    );
}

/// `--stability auto` trains further seeds in batches until the label is decided or the cap is
/// reached, says which, and leaves exactly the seed files it judged by.
#[test]
fn stability_auto_trains_until_the_label_is_decided_or_the_cap() {
    let s = Scratch::new();
    let shard = corpus_with_a_random_source(s.path());
    let loso = s.join("loso");
    let out = kit()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["train", "--corpus", shard.as_str(), "--allow-missing-meta"])
        .args(["--out-dir", loso.as_str(), "--epochs", "30"])
        .args(["--stability", "auto"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let last = stderr
        .lines()
        .rfind(|l| l.contains("--stability auto"))
        .unwrap_or_else(|| panic!("no auto progress:\n{stderr}"));
    let trained = loso
        .read_dir_utf8()
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().starts_with("loso_seed"))
        .count();
    if last.contains("decided after") {
        assert!(last.contains(&format!("after {trained} seeds")), "{last}");
        assert!(!last.contains("undecided"), "{last}");
    } else {
        assert!(last.contains("still undecided at its cap"), "{last}");
        assert_eq!(trained, 45, "{last}");
    }
    let stability = stability_of(s.path());
    assert_eq!(stability["seeds"].as_array().unwrap().len(), trained);
    kit()
        .args(["train", "--corpus", shard.as_str(), "--allow-missing-meta"])
        .args(["--out-dir", loso.as_str(), "--stability", "many"])
        .assert()
        .code(2)
        .stderr(contains(
            "`many` is neither a number of further seeds nor `auto`",
        ));
}

/// Issue 21 item 28: a source that moves against the others used to get a negative share
/// ("−5.3 %"); shares are now readable: within 0–100 %, summing to 100 %.
#[test]
fn shares_of_spread_are_never_negative_and_sum_to_one() {
    let dir = camino::Utf8PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reference/loso"
    ));
    let template = ensemble_kit::learn::gate::read_seed(&dir, 0).unwrap();
    let seeds: Vec<ensemble_kit::schema::LosoSeed> = [0.90, 0.95, 0.99, 0.93, 0.97]
        .iter()
        .enumerate()
        .map(|(n, &swing)| {
            let against = 0.99 - 0.2 * (swing - 0.95);
            let steady = 0.98 + 0.0001 * n as f64;
            let mut seed = template.clone();
            seed.seed = n as u64;
            seed.folds.truncate(3);
            for (fold, (name, plcc)) in seed.folds.iter_mut().zip([
                ("swing", swing),
                ("against", against),
                ("steady", steady),
            ]) {
                fold.held_out = name.into();
                fold.plcc = Some(plcc);
            }
            seed.mean_plcc = Some((swing + against + steady) / 3.0);
            seed
        })
        .collect();
    let diagnosis = stability::diagnose(&seeds);
    let share = |name: &str| {
        diagnosis
            .iter()
            .find(|d| d.source == name)
            .unwrap()
            .spread_share
    };
    assert_eq!(share("against"), 0.0);
    assert!(share("swing") > 0.9 && share("steady") >= 0.0);
    let total: f64 = diagnosis.iter().map(|d| d.spread_share).sum();
    assert!((total - 1.0).abs() < 1e-12, "{diagnosis:?}");
    let table = stability::render_diagnosis(&diagnosis);
    assert!(!table.contains('-') && !table.contains('−'), "{table}");
    assert_eq!(stability::driving_sources(&diagnosis), ["swing"]);
}
