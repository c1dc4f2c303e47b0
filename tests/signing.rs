//! Signed bundles (issue 20): `bundle --sign` / `--signature`, `verify --allowed-signers`,
//! interoperating both ways with OpenSSH's `ssh-keygen -Y` and the ssh-agent, and refusing
//! wrong signers, altered manifests, other namespaces and hostile signature or
//! `allowed_signers` files with exit 2.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use predicates::str::contains;
use std::process::Command as Std;

/// A scratch folder holding a copy of the shared PROMOTE results folder at `results/`.
fn scratch() -> Scratch {
    copy_of_promoted()
}

/// Runs a host tool (ssh-keygen, ssh-add) and asserts it succeeded.
fn host(cmd: &mut Std) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A new key pair `dir/name` (and `.pub`) of `kind` without a passphrase.
fn keygen(dir: &Utf8Path, name: &str, kind: &str) -> Utf8PathBuf {
    let key = dir.join(name);
    host(Std::new("ssh-keygen").args(["-q", "-t", kind, "-N", "", "-C", name, "-f", key.as_str()]));
    key
}

/// The `allowed_signers` line for `key`'s public half.
fn signer_line(principal: &str, options: &str, key: &Utf8Path) -> String {
    let public = std::fs::read_to_string(format!("{key}.pub")).unwrap();
    let mut fields = public.split_whitespace();
    let (kind, base64) = (fields.next().unwrap(), fields.next().unwrap());
    format!("{principal} {options} {kind} {base64}\n").replace("  ", " ")
}

/// Writes an `allowed_signers` file.
fn allowed(dir: &Utf8Path, name: &str, lines: &[String]) -> Utf8PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.concat()).unwrap();
    path
}

/// `bundle --out-dir results ARGS` in `root`; the bundle's path.
fn bundle(root: &Utf8Path, args: &[&str]) -> Utf8PathBuf {
    let out = kit()
        .current_dir(root)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["bundle", "--out-dir", "results", "-q"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    root.join(String::from_utf8(out.stdout).unwrap().trim())
}

/// `verify BUNDLE ARGS`.
fn verify(bundle: &Utf8Path, args: &[&str]) -> assert_cmd::assert::Assert {
    kit().arg("verify").arg(bundle).args(args).assert()
}

/// The bytes of member `name` of `bundle`.
fn member_of(bundle: &Utf8Path, name: &str) -> Vec<u8> {
    read_archive(bundle)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{bundle} has no {name}"))
        .1
}

/// A copy of `bundle` at `out` whose member `name` is `bytes` (added last when absent).
fn with_member(bundle: &Utf8Path, out: &Utf8Path, name: &str, bytes: Vec<u8>) -> Utf8PathBuf {
    let mut members: Vec<(String, Vec<u8>)> = read_archive(bundle);
    match members.iter_mut().find(|(n, _)| n == name) {
        Some(found) => found.1 = bytes,
        None => members.push((name.to_owned(), bytes)),
    }
    write_archive(
        out,
        members.iter().map(|(n, b)| member(n, b.clone())).collect(),
    );
    out.to_owned()
}

/// `ssh-keygen -Y sign -n NAMESPACE` of `file` with `key`; returns `FILE.sig`.
fn openssh_sign(key: &Utf8Path, namespace: &str, file: &Utf8Path) -> Utf8PathBuf {
    let sig = Utf8PathBuf::from(format!("{file}.sig"));
    let _ = std::fs::remove_file(&sig);
    host(Std::new("ssh-keygen").args([
        "-q",
        "-Y",
        "sign",
        "-f",
        key.as_str(),
        "-n",
        namespace,
        file.as_str(),
    ]));
    sig
}

#[test]
fn signed_bundle_round_trips_and_openssh_verifies_it() {
    let s = scratch();
    let key = keygen(s.path(), "alice", "ed25519");
    let bundle_path = bundle(s.path(), &["--sign", key.as_str()]);
    let first = std::fs::read(&bundle_path).unwrap();
    assert_eq!(
        bundle(s.path(), &["--sign", key.as_str()]),
        bundle_path,
        "same stamp"
    );
    assert_eq!(
        std::fs::read(&bundle_path).unwrap(),
        first,
        "a signed bundle is byte-identical"
    );
    verify(&bundle_path, &[])
        .success()
        .stdout(contains("signed with ssh-ed25519 SHA256:"))
        .stdout(contains("signer not checked"));
    let signers = allowed(
        s.path(),
        "allowed_signers",
        &[signer_line("alice@example.com", "", &key)],
    );
    verify(&bundle_path, &["--allowed-signers", signers.as_str()])
        .success()
        .stdout(contains("signed by alice@example.com (ssh-ed25519 SHA256:"));

    // OpenSSH verifies the kit's signature over the bundled manifest.
    let manifest = s.join("manifest.json");
    let sig = s.join("manifest.json.sig");
    std::fs::write(&manifest, member_of(&bundle_path, "manifest.json")).unwrap();
    std::fs::write(&sig, member_of(&bundle_path, "manifest.json.sig")).unwrap();
    let out = host(
        Std::new("ssh-keygen")
            .args([
                "-Y",
                "verify",
                "-f",
                signers.as_str(),
                "-I",
                "alice@example.com",
            ])
            .args(["-n", "ensemble-kit", "-s", sig.as_str()])
            .stdin(std::fs::File::open(&manifest).unwrap()),
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("Good \"ensemble-kit\" signature for alice@example.com"),
        "{out:?}"
    );
    // Extraction keeps the signature beside the manifest.
    let dest = s.join("extracted");
    verify(&bundle_path, &["--extract", dest.as_str()]).success();
    assert_eq!(
        std::fs::read(dest.join("manifest.json.sig")).unwrap(),
        std::fs::read(&sig).unwrap()
    );
}

#[test]
fn unsigned_bundle_says_so_and_fails_when_a_signer_is_required() {
    let s = scratch();
    let key = keygen(s.path(), "alice", "ed25519");
    // A signature left by an earlier signed run does not travel with an unsigned bundle.
    bundle(s.path(), &["--sign", key.as_str()]);
    assert!(s.join("results/manifest.json.sig").exists());
    let bundle_path = bundle(s.path(), &[]);
    assert!(!s.join("results/manifest.json.sig").exists());
    verify(&bundle_path, &[])
        .success()
        .stdout(contains("; unsigned)"));
    let signers = allowed(s.path(), "allowed", &[signer_line("alice", "", &key)]);
    let dest = s.join("extracted");
    verify(
        &bundle_path,
        &[
            "--allowed-signers",
            signers.as_str(),
            "--extract",
            dest.as_str(),
        ],
    )
    .code(2)
    .stderr(contains("is unsigned"));
    assert!(!dest.exists(), "a refused bundle is not extracted");
}

#[test]
fn openssh_signatures_attach_with_signature_and_verify_in_the_kit() {
    let s = scratch();
    let manifest = s.join("results/manifest.json");
    bundle(s.path(), &[]);
    for (kind, name) in [("ed25519", "token"), ("ecdsa", "ecdsa"), ("rsa", "rsa")] {
        let key = keygen(s.path(), name, kind);
        let sig = openssh_sign(&key, "ensemble-kit", &manifest);
        let bundle_path = bundle(s.path(), &["--signature", sig.as_str()]);
        let signers = allowed(
            s.path(),
            &format!("{name}.allowed"),
            &[signer_line("ops@example.com", "", &key)],
        );
        verify(&bundle_path, &["--allowed-signers", signers.as_str()])
            .success()
            .stdout(contains("signed by ops@example.com"));
    }
    // The kit itself signs only with ed25519 (deterministic signatures).
    let rsa = s.join("rsa");
    kit()
        .current_dir(s.path())
        .args(["bundle", "--out-dir", "results", "--sign", rsa.as_str()])
        .assert()
        .code(2)
        .stderr(contains("ed25519 keys only"));
    // A signature of the manifest before a result file changed is refused when bundling.
    let key = s.join("token");
    let sig = openssh_sign(&key, "ensemble-kit", &manifest);
    std::fs::write(s.join("results/report.html"), "changed").unwrap();
    kit()
        .current_dir(s.path())
        .args([
            "bundle",
            "--out-dir",
            "results",
            "--signature",
            sig.as_str(),
        ])
        .assert()
        .code(2)
        .stderr(contains("does not sign the manifest.json written now"));
}

#[test]
fn wrong_signer_altered_manifest_and_other_namespace_are_refused() {
    let s = scratch();
    let alice = keygen(s.path(), "alice", "ed25519");
    let mallory = keygen(s.path(), "mallory", "ed25519");
    let signers = allowed(s.path(), "allowed", &[signer_line("alice", "", &alice)]);
    let signers_arg = ["--allowed-signers", signers.as_str()];
    let by_mallory = bundle(s.path(), &["--sign", mallory.as_str()]);
    let kept = s.join("by-mallory.tar.gz");
    std::fs::rename(&by_mallory, &kept).unwrap();
    verify(&kept, &signers_arg)
        .code(2)
        .stderr(contains("does not allow"))
        .stderr(contains("no line lists that key"));

    let signed = bundle(s.path(), &["--sign", alice.as_str()]);
    verify(&signed, &signers_arg).success();
    // The manifest altered (every file still matches it): only the signature can tell.
    let manifest = String::from_utf8(member_of(&signed, "manifest.json")).unwrap();
    let altered = manifest.replace("2023-11-14T22:13:20Z", "2023-11-14T22:13:21Z");
    assert_ne!(altered, manifest);
    let bad = with_member(
        &signed,
        &s.join("altered.tar.gz"),
        "manifest.json",
        altered.into(),
    );
    verify(&bad, &[])
        .code(2)
        .stderr(contains("manifest.json.sig is refused"))
        .stderr(contains("does not verify"));

    // A signature by the right key made for another namespace.
    let manifest_file = s.join("results/manifest.json");
    let other = openssh_sign(&alice, "file", &manifest_file);
    let swapped = with_member(
        &signed,
        &s.join("namespace.tar.gz"),
        "manifest.json.sig",
        std::fs::read(&other).unwrap(),
    );
    verify(&swapped, &signers_arg)
        .code(2)
        .stderr(contains("namespace `file`"));
    kit()
        .current_dir(s.path())
        .args([
            "bundle",
            "--out-dir",
            "results",
            "--signature",
            other.as_str(),
        ])
        .assert()
        .code(2)
        .stderr(contains("namespace `file`"));

    // The allowed_signers `namespaces` option is honoured both ways.
    for (list, ok) in [
        ("git,ensemble-kit", true),
        ("git", false),
        ("*,!ensemble-kit", false),
    ] {
        let option = format!("namespaces=\"{list}\"");
        let file = allowed(s.path(), "ns", &[signer_line("alice", &option, &alice)]);
        let assert = verify(&signed, &["--allowed-signers", file.as_str()]);
        if ok {
            assert.success().stdout(contains("signed by alice"));
        } else {
            assert.code(2).stderr(contains("allows namespaces="));
        }
    }
}

#[test]
fn hostile_signatures_and_allowed_signers_files_are_refused() {
    let s = scratch();
    let alice = keygen(s.path(), "alice", "ed25519");
    let signed = bundle(s.path(), &["--sign", alice.as_str()]);
    let sig = member_of(&signed, "manifest.json.sig");
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("huge", vec![b'A'; 100 << 10], "an SSH signature is at most"),
        (
            "truncated",
            sig[..sig.len() / 2].to_vec(),
            "not a readable SSH signature",
        ),
        (
            "garbage",
            b"-----BEGIN SSH SIGNATURE-----\n!!!\n-----END SSH SIGNATURE-----\n".to_vec(),
            "not a readable SSH signature",
        ),
    ];
    for (name, bytes, why) in cases {
        let bad = with_member(
            &signed,
            &s.join(&format!("{name}.tar.gz")),
            "manifest.json.sig",
            bytes.clone(),
        );
        verify(&bad, &[]).code(2).stderr(contains(why));
        let file = s.join(name);
        std::fs::write(&file, bytes).unwrap();
        kit()
            .current_dir(s.path())
            .args([
                "bundle",
                "--out-dir",
                "results",
                "--signature",
                file.as_str(),
            ])
            .assert()
            .code(2);
    }
    let line = signer_line("alice", "", &alice);
    let bad_base64 = line.replacen("AAAA", "AA!A", 1);
    let hostile: [(&str, String, &str); 4] = [
        (
            "base64",
            format!("# team\n\n{bad_base64}"),
            "allowed-base64:3: the key",
        ),
        (
            "option",
            signer_line("alice", "no-touch-required", &alice),
            "unsupported option",
        ),
        (
            "ca",
            signer_line("alice", "cert-authority", &alice),
            "cert-authority",
        ),
        (
            "expired",
            signer_line("alice", "valid-before=\"20200101\"", &alice),
            "expired",
        ),
    ];
    for (name, text, why) in hostile {
        let file = allowed(s.path(), &format!("allowed-{name}"), &[text]);
        verify(&signed, &["--allowed-signers", file.as_str()])
            .code(2)
            .stderr(contains(why));
    }
    let huge = s.join("allowed-huge");
    std::fs::write(&huge, line.repeat(20_000)).unwrap();
    verify(&signed, &["--allowed-signers", huge.as_str()])
        .code(2)
        .stderr(contains("larger than"));
    // Keys the kit cannot use are refused before any work.
    let locked = s.join("locked");
    host(Std::new("ssh-keygen").args([
        "-q",
        "-t",
        "ed25519",
        "-N",
        "secret",
        "-f",
        locked.as_str(),
    ]));
    for (key, why) in [
        (locked.as_str(), "passphrase-protected"),
        (
            "results/loso/loso_seed0.json",
            "neither an OpenSSH private key",
        ),
    ] {
        kit()
            .current_dir(s.path())
            .args(["bundle", "--out-dir", "results", "--sign", key])
            .assert()
            .code(2)
            .stderr(contains(why));
    }
    kit()
        .current_dir(s.path())
        .args([
            "full",
            "--demo",
            "--out-dir",
            "fresh",
            "--sign",
            locked.as_str(),
        ])
        .assert()
        .code(2)
        .stderr(contains("passphrase-protected"));
    assert!(
        !s.join("fresh").exists(),
        "full checks the key before any work"
    );
}

/// Kills the agent started by the test when it ends, however it ends.
struct AgentProcess(std::process::Child);

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_ssh_agent_signs_with_the_identity_of_a_public_key() {
    if Std::new("ssh-agent").arg("-h").output().is_err() {
        eprintln!("skipped: ssh-agent is not installed (Debian: openssh-client)");
        return;
    }
    let s = scratch();
    let key = keygen(s.path(), "alice", "ed25519");
    let public = format!("{key}.pub");
    let sock = s.join("agent.sock");
    let _agent = AgentProcess(
        Std::new("ssh-agent")
            .args(["-D", "-a", sock.as_str()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let sign_with_agent = || {
        let mut cmd = kit();
        cmd.current_dir(s.path())
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env("SSH_AUTH_SOCK", &sock)
            .args(["bundle", "--out-dir", "results", "--sign", &public]);
        cmd.assert()
    };
    sign_with_agent()
        .code(2)
        .stderr(contains("does not hold the key"));
    host(Std::new("ssh-add").arg(&key).env("SSH_AUTH_SOCK", &sock));
    let printed = sign_with_agent().success().get_output().stdout.clone();
    let by_agent = member_of(
        &s.join(String::from_utf8(printed).unwrap().trim()),
        "manifest.json.sig",
    );
    let by_file = bundle(s.path(), &["--sign", key.as_str()]);
    assert_eq!(
        by_agent,
        member_of(&by_file, "manifest.json.sig"),
        "ed25519 is deterministic: the agent and the key file sign alike"
    );
    kit()
        .current_dir(s.path())
        .env_remove("SSH_AUTH_SOCK")
        .args(["bundle", "--out-dir", "results", "--sign", &public])
        .assert()
        .code(2)
        .stderr(contains("SSH_AUTH_SOCK is not set"));
}
