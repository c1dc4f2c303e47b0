//! `allowed_signers` and signatures from hostile or unusual hands (issue 30, round four): a
//! namespace pattern of many `*` answers at once, an option given twice is refused as
//! `ssh-keygen -Y verify` refuses it, and a signature by a key the kit cannot verify with
//! (RSA below 2048 bits, DSA — which OpenSSH verifies) is refused by that key's type and size,
//! not as a changed file. Each was checked against OpenSSH's own answer and seen failing on
//! b3ec481.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use std::time::Duration;

/// A copy of the shared PROMOTE results folder and the unsigned bundle of it.
fn bundled() -> (Scratch, Utf8PathBuf) {
    let s = copy_of_promoted();
    let out = stage_ok(s.path(), &["bundle", "--out-dir", "results"]);
    let bundle = s.join(String::from_utf8(out.stdout).unwrap().trim());
    (s, bundle)
}

/// The `allowed_signers` line for `key`'s public half.
fn line(principal: &str, options: &str, key: &Utf8Path) -> String {
    let public = std::fs::read_to_string(format!("{key}.pub")).unwrap();
    let mut fields = public.split_whitespace();
    let (kind, base64) = (fields.next().unwrap(), fields.next().unwrap());
    format!("{principal} {options} {kind} {base64}\n").replace("  ", " ")
}

/// `verify BUNDLE --allowed-signers FILE`, given at most ten seconds.
fn verify_signed(bundle: &Utf8Path, signers: &Utf8Path) -> (Option<i32>, String, String) {
    let mut cmd = kit_process();
    cmd.args([
        "verify",
        bundle.as_str(),
        "--allowed-signers",
        signers.as_str(),
    ]);
    run_for(cmd, Duration::from_secs(10))
}

/// `ssh-keygen -Y verify` of `manifest` signed `signature` by `principal` against `signers`:
/// (success, stderr).
fn openssh_verify(
    dir: &Utf8Path,
    signers: &Utf8Path,
    principal: &str,
    manifest: &[u8],
    signature: &[u8],
) -> (bool, String) {
    let sig = dir.join("openssh.sig");
    std::fs::write(&sig, signature).unwrap();
    let mut child = std::process::Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f", signers.as_str(), "-I", principal])
        .args(["-n", "ensemble-kit", "-s", sig.as_str()])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(manifest).unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    (out.status.success(), text)
}

#[test]
fn a_namespace_pattern_of_many_stars_answers_at_once_as_openssh_does() {
    let s = copy_of_promoted();
    let key = ssh_keygen(s.path(), "alice", &["-t", "ed25519"]);
    let sign = |m: &[u8]| openssh_signature(&key, "ensemble-kit", m);
    let bundle = forge_bundle(&s.join("results"), &s.join("signed.tar.gz"), Some(&sign));
    let stars = "*".repeat(40);
    for (pattern, allowed) in [
        (format!("{stars}x"), false),
        (format!("{stars}!"), false),
        (format!("{stars}ensemble-kit{stars}"), true),
        ("*a".repeat(40), false),
    ] {
        let signers = s.join("allowed_signers");
        std::fs::write(
            &signers,
            line("alice", &format!("namespaces=\"{pattern}\""), &key),
        )
        .unwrap();
        let (code, stdout, stderr) = verify_signed(&bundle, &signers);
        assert_eq!(
            code,
            Some(if allowed { 0 } else { 2 }),
            "{pattern}: {stdout}{stderr}"
        );
        if allowed {
            assert!(stdout.contains("signed by alice"), "{stdout}");
        } else {
            assert!(stderr.contains("only"), "{stderr}");
        }
    }
}

#[test]
fn an_option_given_twice_is_refused_as_ssh_keygen_refuses_it() {
    let s = copy_of_promoted();
    let key = ssh_keygen(s.path(), "alice", &["-t", "ed25519"]);
    let results = s.join("results");
    let sign = |m: &[u8]| openssh_signature(&key, "ensemble-kit", m);
    let bundle = forge_bundle(&results, &s.join("signed.tar.gz"), Some(&sign));
    let manifest = &read_archive(&bundle)[0].1;
    let signature = &read_archive(&bundle)[1].1;
    for (options, clause) in [
        (
            "namespaces=\"git\",namespaces=\"ensemble-kit\"",
            "namespaces",
        ),
        (
            "namespaces=\"ensemble-kit\",valid-after=\"20200101\",valid-after=\"20300101\"",
            "valid-after",
        ),
        (
            "valid-before=\"20990101\",valid-before=\"20200101\"",
            "valid-before",
        ),
    ] {
        let signers = s.join("allowed_signers");
        std::fs::write(&signers, line("alice", options, &key)).unwrap();
        let (ok, said) = openssh_verify(s.path(), &signers, "alice", manifest, signature);
        assert!(
            !ok && said.contains(&format!("multiple \"{clause}\" clauses")),
            "{said}"
        );
        let (code, _, stderr) = verify_signed(&bundle, &signers);
        assert_eq!(code, Some(2), "{options}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "allowed_signers:1: bad options: multiple \"{clause}\" clauses"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn signatures_by_keys_the_kit_cannot_verify_are_refused_by_type_and_size() {
    let (s, _) = bundled();
    let results = s.join("results");
    for (name, args, said) in [
        (
            "rsa1024",
            &["-t", "rsa", "-b", "1024"][..],
            "a 1024-bit RSA key",
        ),
        ("dsa", &["-t", "dsa"][..], "a 1024-bit DSA key"),
    ] {
        let key = ssh_keygen(s.path(), name, args);
        // OpenSSH verifies it.
        let manifest = std::fs::read(results.join("manifest.json")).unwrap();
        let signature = openssh_signature(&key, "ensemble-kit", &manifest);
        let signers = s.join("allowed_signers");
        std::fs::write(&signers, line("alice", "", &key)).unwrap();
        let (ok, openssh) = openssh_verify(s.path(), &signers, "alice", &manifest, &signature);
        assert!(ok, "{openssh}");
        // Attached to a bundle with `bundle --signature`: refused for the key, not a change.
        let sig = results.join("manifest.json.sig");
        std::fs::write(&sig, &signature).unwrap();
        let out = stage(
            s.path(),
            &[
                "bundle",
                "--out-dir",
                "results",
                "--signature",
                sig.as_str(),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "is signed with {said}, which this kit does not accept"
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("changed since"), "{stderr}");
        std::fs::remove_file(&sig).unwrap();
        // In a bundle: `verify` says the same, naming the member.
        let sign = |m: &[u8]| openssh_signature(&key, "ensemble-kit", m);
        let bundle = forge_bundle(&results, &s.join(&format!("{name}.tar.gz")), Some(&sign));
        let (code, _, stderr) = verify_signed(&bundle, &signers);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("{bundle}!manifest.json.sig is signed with {said}")),
            "{stderr}"
        );
    }
}
