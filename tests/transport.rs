//! `extract-corpus` against hostile or unlucky archives: duplicate names, files of the
//! operator's in the way, an archive that can be read only once, sizes beyond what the
//! manifest declares, and a member that is not the Matroska file it claims to be.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use predicates::str::contains;

const NOISE: &str = "noise_160x90_25fps.yuv";
const FRACTAL: &str = "fractal_128x72_30fps.yuv";

/// Two small references packed with `pack-corpus`: (reference folder, archive).
fn packed(s: &Scratch) -> (Utf8PathBuf, Utf8PathBuf) {
    let refs = s.join("refs");
    std::fs::create_dir_all(&refs).unwrap();
    render_raw(
        &refs,
        NOISE,
        "testsrc2=s=160x90:r=25,noise=alls=20:allf=t",
        5,
    );
    render_raw(&refs, FRACTAL, "mandelbrot=s=128x72:r=30", 4);
    let archive = s.join("refs.tar");
    kit()
        .args([
            "pack-corpus",
            "--ref-dir",
            refs.as_str(),
            "--out",
            archive.as_str(),
        ])
        .assert()
        .success();
    (refs, archive)
}

/// Rewrites `archive` into `out` with its manifest changed by `edit` (manifest first).
fn with_manifest(archive: &Utf8Path, out: &Utf8Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut members = read_archive(archive);
    let at = members
        .iter()
        .position(|(n, _)| n == "transport-manifest.json")
        .unwrap();
    let (name, bytes) = members.remove(at);
    let mut manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    edit(&mut manifest);
    let mut rebuilt = vec![member(&name, serde_json::to_vec(&manifest).unwrap())];
    rebuilt.extend(members.into_iter().map(|(n, b)| member(&n, b)));
    write_archive(out, rebuilt);
}

/// Runs `extract-corpus ARCHIVE --to TO ARGS…`.
fn extract(archive: &Utf8Path, to: &Utf8Path, args: &[&str]) -> assert_cmd::assert::Assert {
    kit()
        .args(["extract-corpus", archive.as_str(), "--to", to.as_str()])
        .args(args)
        .timeout(std::time::Duration::from_secs(120))
        .assert()
}

#[test]
fn duplicate_names_are_refused_and_other_files_are_replaced_only_with_force() {
    let s = Scratch::new();
    let (refs, archive) = packed(&s);
    let to = s.join("restored");
    let twice = s.join("twice.tar");
    with_manifest(&archive, &twice, |m| {
        m["rows"][1]["yuv"] = m["rows"][0]["yuv"].clone()
    });
    extract(&twice, &to, &[]).code(2).stderr(contains("twice"));
    assert!(!to.exists());

    std::fs::create_dir_all(&to).unwrap();
    std::fs::write(to.join(NOISE), b"mine").unwrap();
    extract(&archive, &to, &[])
        .code(2)
        .stderr(contains(format!("{to}/{NOISE} already exist(s)")))
        .stderr(contains("pass --force"));
    assert_eq!(std::fs::read(to.join(NOISE)).unwrap(), b"mine");
    assert!(
        !to.join(FRACTAL).exists(),
        "nothing is restored before the refusal"
    );

    extract(&archive, &to, &["--force"])
        .success()
        .stdout(contains("2 restored, 0 already present"));
    for name in [NOISE, FRACTAL] {
        assert_eq!(
            std::fs::read(to.join(name)).unwrap(),
            std::fs::read(refs.join(name)).unwrap()
        );
    }
    extract(&archive, &to, &[])
        .success()
        .stdout(contains("0 restored, 2 already present"));
}

#[test]
fn the_archive_is_read_once_so_a_pipe_works() {
    let s = Scratch::new();
    let (refs, archive) = packed(&s);
    // Laid out as earlier versions packed it, manifest last: the members wait for it.
    let mut members = read_archive(&archive);
    members.rotate_left(1);
    let manifest_last = s.join("manifest-last.tar");
    write_archive(
        &manifest_last,
        members.into_iter().map(|(n, b)| member(&n, b)).collect(),
    );
    let pipe = s.join("piped.tar");
    serve_once(&pipe, std::fs::read(&manifest_last).unwrap());
    let to = s.join("restored");
    extract(&pipe, &to, &[])
        .success()
        .stdout(contains("2 restored"));
    assert_eq!(
        std::fs::read(to.join(NOISE)).unwrap(),
        std::fs::read(refs.join(NOISE)).unwrap()
    );
}

#[test]
fn declared_sizes_and_the_total_cap_bound_what_is_written() {
    let s = Scratch::new();
    let (_, archive) = packed(&s);
    let to = s.join("restored");
    let refused = |archive: &Utf8Path, args: &[&str], why: &str| {
        extract(archive, &to, args).code(2).stderr(contains(why));
        assert!(
            !to.join(NOISE).exists(),
            "a refused archive restored {NOISE}"
        );
        assert_eq!(hidden_entries(s.path()), Vec::<String>::new());
    };
    // The reference decodes to more than its row declares: ffmpeg is stopped there.
    let short = s.join("short.tar");
    with_manifest(&archive, &short, |m| m["rows"][1]["in_bytes"] = 1000.into());
    refused(
        &short,
        &[],
        "passed the 1000 bytes expected, so it was stopped",
    );
    // The whole archive unpacks to more than the cap allows.
    refused(
        &archive,
        &["--max-total-size", "20K"],
        "past its 20 KiB cap",
    );
    extract(&archive, &to, &["--max-total-size", "1M"]).success();
}

#[test]
fn a_member_that_is_a_playlist_cannot_make_ffmpeg_read_other_files() {
    let s = Scratch::new();
    // A file elsewhere on the box, and the raw frames ffmpeg would make of it.
    let secret = s.join("secret.mkv");
    let status = std::process::Command::new(real_ffmpeg())
        .args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=25"])
        .args(["-frames:v", "3", "-c:v", "ffv1", "-f", "matroska"])
        .arg(&secret)
        .status()
        .unwrap();
    assert!(status.success());
    let raw = std::process::Command::new(real_ffmpeg())
        .args([
            "-v",
            "error",
            "-i",
            secret.as_str(),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-",
        ])
        .output()
        .unwrap()
        .stdout;
    let playlist =
        format!("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{secret}\n#EXT-X-ENDLIST\n");
    let manifest = serde_json::json!({
        "kind": "corpus-transport",
        "schema_version": ensemble_kit::schema::SCHEMA_VERSION,
        "rows": [{
            "corpus": "stolen", "yuv": "stolen_64x64.yuv", "mkv": "stolen.mkv",
            "pix_fmt": "yuv420p", "width": 64, "height": 64, "fps": "25",
            "in_bytes": raw.len(), "out_bytes": playlist.len(),
            "yuv_sha256": ensemble_kit::digest::sha256_bytes(&raw),
        }],
    });
    let evil = s.join("evil.tar");
    write_archive(
        &evil,
        vec![
            member(
                "transport-manifest.json",
                serde_json::to_vec(&manifest).unwrap(),
            ),
            member("stolen.mkv", playlist.into_bytes()),
        ],
    );
    let to = s.join("restored");
    extract(&evil, &to, &[])
        .code(2)
        .stderr(contains("restoring stolen_64x64.yuv failed"));
    assert!(!to.join("stolen_64x64.yuv").exists());
}
