//! The owner's request and a named signer (issue 30 items 1 and 2): `request` writes what the
//! owner asks for with a fresh nonce; `full --request` answers only with the requested bytes and
//! bundles the request under its signature; `verify`/`compare --request` refuse a bundle that
//! answers another request or none — the owner's own bundle re-signed by the collaborator among
//! them —; `--signer` requires one principal (OpenSSH's `-I`); `ENSEMBLE_KIT_ALLOWED_SIGNERS`
//! makes a signature required by every command that reads a bundle; and a key's validity is
//! judged at the request's time. Each test was seen failing on b3ec481.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use predicates::str::contains;
use std::sync::OnceLock;

const SCENES: &[(&str, &str)] = &[
    ("mandel", "mandelbrot=s=64x64:r=25"),
    ("life", "life=s=64x64:r=25:mold=10:ratio=0.5:seed=7"),
    ("test", "testsrc2=s=64x64:r=25"),
];

/// A small run: 4 frames, two CQs, libx264, seeds 0 and 1, 5 epochs.
const RUN: &[&str] = &[
    "--frames",
    "4",
    "--cqs",
    "19,37",
    "--encoders",
    "libx264",
    "--jobs",
    "1",
    "--seeds",
    "0,1",
    "--epochs",
    "5",
    "-q",
];

/// What every test shares, made once: the references, the keys of alice (the owner) and bob
/// (the collaborator), alice's own bundle (signed by her) and a bundle of bob's (signed by
/// him), neither answering a request.
struct World {
    root: Utf8PathBuf,
    refs: Utf8PathBuf,
    alice: Utf8PathBuf,
    bob: Utf8PathBuf,
    /// bob listed for bob, alice for alice@example.com.
    signers: Utf8PathBuf,
    owner: Utf8PathBuf,
    bobs: Utf8PathBuf,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let root = Utf8PathBuf::from_path_buf(tempfile::tempdir().unwrap().keep()).unwrap();
        let refs = root.join("refs");
        std::fs::create_dir_all(&refs).unwrap();
        for (name, graph) in SCENES {
            render_raw(&refs, &format!("{name}_64x64.yuv"), graph, 4);
        }
        let alice = ssh_keygen(&root, "alice", &["-t", "ed25519"]);
        let bob = ssh_keygen(&root, "bob", &["-t", "ed25519"]);
        let signers = root.join("allowed_signers");
        std::fs::write(
            &signers,
            signer_line("bob", "", &bob) + &signer_line("alice@example.com", "", &alice),
        )
        .unwrap();
        let owner = full(&root, &refs, "owner", &["--sign", alice.as_str()]);
        let bobs = full(&root, &refs, "bobs", &["--sign", bob.as_str()]);
        World {
            root,
            refs,
            alice,
            bob,
            signers,
            owner,
            bobs,
        }
    })
}

/// Two requests of alice's, and bob's answer to request A (signed by bob).
struct Requested {
    request_a: Utf8PathBuf,
    request_b: Utf8PathBuf,
    answer: Utf8PathBuf,
}

fn requested() -> &'static Requested {
    static REQUESTED: OnceLock<Requested> = OnceLock::new();
    REQUESTED.get_or_init(|| {
        let w = world();
        let request_a = make_request(&w.root, &w.refs, "A.json", &[]);
        let request_b = make_request(&w.root, &w.refs, "B.json", &[]);
        let answer = full(
            &w.root,
            &w.refs,
            "answer",
            &["--sign", w.bob.as_str(), "--request", request_a.as_str()],
        );
        Requested {
            request_a,
            request_b,
            answer,
        }
    })
}

/// The `allowed_signers` line listing `key`'s public half for `principal`.
fn signer_line(principal: &str, options: &str, key: &Utf8Path) -> String {
    let public = std::fs::read_to_string(format!("{key}.pub")).unwrap();
    let mut fields = public.split_whitespace();
    let (kind, base64) = (fields.next().unwrap(), fields.next().unwrap());
    format!("{principal} {options} {kind} {base64}\n").replace("  ", " ")
}

/// `request --ref-dir refs --out root/NAME --owner alice@example.com EXTRA`.
fn make_request(root: &Utf8Path, refs: &Utf8Path, name: &str, extra: &[&str]) -> Utf8PathBuf {
    let out = root.join(name);
    kit()
        .current_dir(root)
        .args(["request", "--ref-dir", refs.as_str(), "--out", out.as_str()])
        .args(["--owner", "alice@example.com", "-q"])
        .args(extra)
        .assert()
        .success();
    out
}

/// `full` over `refs` into `root/out` with the small run and `extra`; returns the bundle.
fn full(root: &Utf8Path, refs: &Utf8Path, out: &str, extra: &[&str]) -> Utf8PathBuf {
    let done = kit()
        .current_dir(root)
        .args(["full", "--ref-dir", refs.as_str(), "--out-dir", out])
        .args(RUN)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        matches!(done.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    root.join(String::from_utf8(done.stdout).unwrap().trim())
}

/// The kit in the shared world's folder: (exit code, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = kit();
    cmd.current_dir(&world().root).args(args);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(path: &Utf8Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `bundle` re-signed: its manifest signed again by `key` with OpenSSH, the old signature
/// replaced — what a collaborator does to pass the owner's bundle off as his own.
fn resigned(bundle: &Utf8Path, key: &Utf8Path, out: &Utf8Path) -> Utf8PathBuf {
    let members = read_archive(bundle);
    let manifest = &members
        .iter()
        .find(|(n, _)| n == "manifest.json")
        .unwrap()
        .1;
    let signature = openssh_signature(key, "ensemble-kit", manifest);
    let archive = members
        .iter()
        .map(|(name, bytes)| match name.as_str() {
            "manifest.json.sig" => member(name, signature.clone()),
            _ => member(name, bytes.clone()),
        })
        .collect();
    write_archive(out, archive);
    out.to_owned()
}

#[test]
fn a_request_lists_the_references_by_sha256_with_a_fresh_nonce() {
    let (w, r) = (world(), requested());
    let (a, b) = (json(&r.request_a), json(&r.request_b));
    assert_eq!(a["kind"], "request");
    assert_eq!(a["owner"], "alice@example.com");
    let nonce = a["nonce"].as_str().unwrap();
    assert!(nonce.len() == 32 && nonce.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a["nonce"], b["nonce"], "two requests share a nonce");
    let references = a["references"].as_array().unwrap();
    assert_eq!(references.len(), SCENES.len());
    for reference in references {
        let file = w.refs.join(reference["file"].as_str().unwrap());
        assert_eq!(
            reference["sha256"],
            ensemble_kit::digest::sha256_file(&file).unwrap()
        );
        assert_eq!(reference["geometry"]["width"], 64);
    }
    // The recipe and encoders go in when asked for; the file passes its own schema.
    let asked = make_request(
        &w.root,
        &w.refs,
        "asked.json",
        &["--encoders", "libx264", "--epochs", "5", "--seeds", "0,1"],
    );
    let asked_doc = json(&asked);
    assert_eq!(asked_doc["encoders"], serde_json::json!(["libx264"]));
    assert_eq!(
        asked_doc["recipe"],
        serde_json::json!({"epochs": 5, "seeds": [0, 1]})
    );
    // A damaged request is refused naming its file and field.
    let mut bad = a.clone();
    bad["nonce"] = "not-a-nonce".into();
    let bad_path = w.root.join("bad-request.json");
    std::fs::write(&bad_path, serde_json::to_vec_pretty(&bad).unwrap()).unwrap();
    let (code, _, err) = run(
        &["verify", r.answer.as_str(), "--request", bad_path.as_str()],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad-request.json") && err.contains("/nonce"),
        "{err}"
    );
}

#[test]
fn full_refuses_references_other_than_the_requested_bytes_before_encoding() {
    let (w, r) = (world(), requested());
    let s = Scratch::new();
    let refs = s.join("refs");
    std::fs::create_dir_all(&refs).unwrap();
    for entry in w.refs.read_dir_utf8().unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "life_64x64.yuv" {
            std::fs::copy(entry.path(), refs.join(entry.file_name())).unwrap();
        }
    }
    // One reference with other bytes (same size), one missing, one not asked for.
    let mut bytes = std::fs::read(refs.join("mandel_64x64.yuv")).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(refs.join("mandel_64x64.yuv"), bytes).unwrap();
    render_raw(&refs, "extra_64x64.yuv", "testsrc=s=64x64:r=25", 4);
    kit()
        .current_dir(s.path())
        .args(["full", "--ref-dir", refs.as_str(), "--out-dir", "out"])
        .args(RUN)
        .args(["--request", r.request_a.as_str()])
        .assert()
        .code(2)
        .stderr(contains("do not answer the request"))
        .stderr(contains("`mandel_64x64` has other bytes"))
        .stderr(contains("`life_64x64` is asked for but missing"))
        .stderr(contains(
            "`extra_64x64` is not one of the requested references",
        ));
    assert!(!s.join("out/corpus").exists(), "something was encoded");
}

#[test]
fn the_answer_carries_its_request_under_the_signature_and_answers_no_other() {
    let (w, r) = (world(), requested());
    let members = read_archive(&r.answer);
    let carried = &members.iter().find(|(n, _)| n == "request.json").unwrap().1;
    assert_eq!(carried, &std::fs::read(&r.request_a).unwrap());
    let manifest = json(&w.root.join("answer/manifest.json"));
    assert!(manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"] == "request.json"));
    let nonce = json(&r.request_a)["nonce"].as_str().unwrap().to_owned();
    let (code, out, err) = run(
        &[
            "verify",
            r.answer.as_str(),
            "--request",
            r.request_a.as_str(),
            "--allowed-signers",
            w.signers.as_str(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("answers request {nonce}")), "{out}");
    assert!(out.contains("signed by bob"), "{out}");
    // Made for request A, refused against request B, by verify and by compare.
    for args in [
        vec!["verify", r.answer.as_str()],
        vec!["compare", w.owner.as_str(), r.answer.as_str()],
    ] {
        let mut args = args.clone();
        args.extend(["--request", r.request_b.as_str()]);
        let (code, _, err) = run(&args, &[]);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("does not answer the request")
                && err.contains(&format!("it answers request {nonce}")),
            "{args:?}: {err}"
        );
    }
    // A request.json edited after signing is an altered member.
    let mut forged = json(&r.request_a);
    forged["owner"] = "mallory".into();
    let tampered = w.root.join("tampered.tar.gz");
    let archive = members
        .iter()
        .map(|(name, bytes)| match name.as_str() {
            "request.json" => member(name, serde_json::to_vec_pretty(&forged).unwrap()),
            _ => member(name, bytes.clone()),
        })
        .collect();
    write_archive(&tampered, archive);
    let (code, _, err) = run(&["verify", tampered.as_str()], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("request.json"), "{err}");
}

/// A request for the world's references written by hand, as the schema describes it (so the
/// replay test needs no `request` command).
fn hand_made_request(path: &Utf8Path) -> Utf8PathBuf {
    let w = world();
    let references: Vec<serde_json::Value> = SCENES
        .iter()
        .map(|(name, _)| {
            let file = format!("{name}_64x64.yuv");
            let bytes = std::fs::read(w.refs.join(&file)).unwrap();
            serde_json::json!({"name": format!("{name}_64x64"), "file": file, "format": "raw",
                "geometry": {"width": 64, "height": 64, "fps": {"num": 25, "den": 1}},
                "frames": 4, "bytes": bytes.len(),
                "sha256": ensemble_kit::digest::sha256_bytes(&bytes)})
        })
        .collect();
    let request = serde_json::json!({"kind": "request", "schema_version": 1,
        "nonce": "00112233445566778899aabbccddeeff", "created_at_utc": "2030-01-01T00:00:00Z",
        "owner": "alice@example.com", "references": references, "encoders": null, "recipe": null});
    std::fs::write(path, serde_json::to_vec_pretty(&request).unwrap()).unwrap();
    path.to_owned()
}

#[test]
fn replay_of_the_owners_bundle_resigned_by_the_collaborator_is_refused() {
    let w = world();
    let request = hand_made_request(&w.root.join("hand-made.json"));
    let replay = resigned(&w.owner, &w.bob, &w.root.join("replay.tar.gz"));
    // Bob's signature is valid, and bob is listed: only the request tells the replay.
    let listed = ["--allowed-signers", w.signers.as_str()];
    let (code, out, err) = run(&[&["verify", replay.as_str()][..], &listed].concat(), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("signed by bob"), "{out}");
    for args in [
        vec!["verify", replay.as_str()],
        vec!["compare", w.owner.as_str(), replay.as_str()],
    ] {
        let args = [&args[..], &listed, &["--request", request.as_str()]].concat();
        let (code, _, err) = run(&args, &[]);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("answers no request"), "{args:?}: {err}");
    }
}

#[test]
fn a_key_listed_for_bob_only_does_not_sign_for_alice() {
    let w = world();
    let bob_only = w.root.join("bob_only");
    std::fs::write(&bob_only, signer_line("bob", "", &w.bob)).unwrap();
    let verify = |principal: &str| {
        run(
            &[
                "verify",
                w.bobs.as_str(),
                "--allowed-signers",
                bob_only.as_str(),
                "--signer",
                principal,
            ],
            &[],
        )
    };
    let (code, out, err) = verify("bob");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("signed by bob ("), "{out}");
    let (code, _, err) = verify("alice");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("does not allow to sign as `alice`")
            && err.contains("for `bob`, not for `alice`"),
        "{err}"
    );
    // compare names who must have signed B the same way.
    let (code, _, err) = run(
        &[
            "compare",
            w.owner.as_str(),
            w.bobs.as_str(),
            "--allowed-signers",
            w.signers.as_str(),
            "--signer",
            "alice@example.com",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not for `alice@example.com`"), "{err}");
}

#[test]
fn compare_prints_who_signed_each_side() {
    let w = world();
    let (code, out, err) = run(
        &[
            "compare",
            w.owner.as_str(),
            w.bobs.as_str(),
            "--allowed-signers",
            w.signers.as_str(),
            "--signer",
            "bob",
        ],
        &[],
    );
    assert_ne!(code, 2, "{err}");
    let a = out.lines().find(|l| l.starts_with("A: ")).unwrap();
    let b = out.lines().find(|l| l.starts_with("B: ")).unwrap();
    assert!(a.contains("signed by alice@example.com ("), "{a}");
    assert!(b.contains("signed by bob ("), "{b}");
    let (_, json_out, _) = run(
        &[
            "compare",
            w.owner.as_str(),
            w.bobs.as_str(),
            "--allowed-signers",
            w.signers.as_str(),
            "--json",
        ],
        &[],
    );
    let report: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    assert!(report["a"]["signed"]
        .as_str()
        .unwrap()
        .starts_with("signed by alice@example.com"));
    assert!(report["b"]["signed"]
        .as_str()
        .unwrap()
        .starts_with("signed by bob"));
}

/// The shared PROMOTE results folder's bundle, unsigned and signed by alice, and its shard.
fn promoted_bundles() -> &'static (Utf8PathBuf, Utf8PathBuf, Utf8PathBuf) {
    static BUNDLES: OnceLock<(Utf8PathBuf, Utf8PathBuf, Utf8PathBuf)> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        let s = copy_of_promoted();
        let root = s.path().to_owned();
        std::mem::forget(s);
        let bundle = |extra: &[&str], name: &str| {
            let out = stage_ok(
                &root,
                &[&["bundle", "--out-dir", "results"][..], extra].concat(),
            );
            let made = root.join(String::from_utf8(out.stdout).unwrap().trim());
            let kept = root.join(name);
            std::fs::rename(made, &kept).unwrap();
            kept
        };
        let unsigned = bundle(&[], "unsigned.tar.gz");
        let signed = bundle(&["--sign", world().alice.as_str()], "signed.tar.gz");
        (unsigned, signed, root.join("results/corpus/shard.jsonl"))
    })
}

#[test]
fn the_policy_variable_requires_a_signature_of_every_command_that_reads_a_bundle() {
    let w = world();
    let (unsigned, signed, shard) = promoted_bundles();
    let policy = [("ENSEMBLE_KIT_ALLOWED_SIGNERS", w.signers.as_str())];
    let model_dir = w.root.join("model-tree");
    std::fs::create_dir_all(&model_dir).unwrap();
    for args in [
        vec!["verify", unsigned.as_str()],
        vec!["compare", unsigned.as_str(), w.bobs.as_str()],
        vec![
            "evaluate",
            "--models",
            unsigned.as_str(),
            "--corpus",
            shard.as_str(),
        ],
        vec![
            "install",
            unsigned.as_str(),
            "--into",
            model_dir.as_str(),
            "--new-registry",
        ],
    ] {
        let (code, _, err) = run(&args, &policy);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("is unsigned"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_dir(&model_dir).unwrap().count(), 0);
    // Signed by a listed key, each names the signer.
    let (code, out, err) = run(
        &[
            "evaluate",
            "--models",
            signed.as_str(),
            "--corpus",
            shard.as_str(),
        ],
        &policy,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("signed by alice@example.com ("), "{out}");
    let (code, out, err) = run(
        &[
            "install",
            signed.as_str(),
            "--into",
            model_dir.as_str(),
            "--new-registry",
            "--dry-run",
            "--signer",
            "alice@example.com",
        ],
        &policy,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("signed by alice@example.com ("), "{out}");
    let (code, _, err) = run(
        &[
            "evaluate",
            "--models",
            signed.as_str(),
            "--corpus",
            shard.as_str(),
            "--signer",
            "bob",
        ],
        &policy,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not for `bob`"), "{err}");
}

#[test]
fn a_keys_validity_is_judged_at_the_requests_time() {
    let w = world();
    let s = Scratch::new();
    // A request made on 2023-11-14, answered by bob, whose key the owner listed until 2024.
    let old = s.join("old.json");
    kit()
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args([
            "request",
            "--ref-dir",
            w.refs.as_str(),
            "--out",
            old.as_str(),
        ])
        .args(["--owner", "alice@example.com", "-q"])
        .assert()
        .success();
    assert_eq!(json(&old)["created_at_utc"], "2023-11-14T22:13:20Z");
    let answer = full(
        s.path(),
        &w.refs,
        "out",
        &["--sign", w.bob.as_str(), "--request", old.as_str()],
    );
    let expired = s.join("expired_signers");
    std::fs::write(
        &expired,
        signer_line("bob", "valid-before=\"20240101\"", &w.bob),
    )
    .unwrap();
    let verify = |extra: &[&str]| {
        let args = [
            &[
                "verify",
                answer.as_str(),
                "--allowed-signers",
                expired.as_str(),
            ][..],
            extra,
        ]
        .concat();
        run(&args, &[])
    };
    let (code, _, err) = verify(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("had expired (valid-before)"), "{err}");
    let (code, out, err) = verify(&["--request", old.as_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("signed by bob ("), "{out}");
    // Not yet valid at the request's time: refused although valid now.
    let later = s.join("later_signers");
    std::fs::write(
        &later,
        signer_line("bob", "valid-after=\"20240101\"", &w.bob),
    )
    .unwrap();
    let (code, _, err) = run(
        &[
            "verify",
            answer.as_str(),
            "--allowed-signers",
            later.as_str(),
            "--request",
            old.as_str(),
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not valid yet at the request's time"), "{err}");
}
