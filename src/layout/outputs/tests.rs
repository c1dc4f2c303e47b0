//! The outputs rule against every spelling of an input and every file it must not replace.

use super::*;

fn scratch() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8Path::from_path(dir.path()).unwrap().to_owned();
    (dir, path)
}

#[test]
fn an_input_is_caught_under_every_name() {
    let (_keep, root) = scratch();
    let input = root.join("a/in.jsonl");
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::write(&input, "x").unwrap();
    std::os::unix::fs::symlink(&input, root.join("link")).unwrap();
    std::fs::hard_link(&input, root.join("hard")).unwrap();
    let inputs = || Inputs::new().file("--corpus", &input);
    for (spelling, how) in [
        (input.clone(), "`: writing"),
        (root.join("a/../a/in.jsonl"), "(spelt another way)"),
        (root.join("link"), "(through a symbolic link)"),
        (root.join("hard"), "(a hard link to it)"),
    ] {
        let out = [Output::new("--out", &spelling, Written::Kind("evaluation"))];
        let err = check(&out, &inputs(), true).unwrap_err().to_string();
        assert!(
            err.contains(&format!("--out `{spelling}` is --corpus")),
            "{err}"
        );
        assert!(err.contains(how), "{err}");
        assert!(err.contains("Nothing was written"), "{err}");
    }
    let out = [Output::new(
        "--out",
        root.join("new.json"),
        Written::Kind("evaluation"),
    )];
    check(&out, &inputs(), false).unwrap();
}

#[test]
fn inside_an_input_folder_only_what_it_reads_is_refused() {
    let (_keep, root) = scratch();
    std::fs::create_dir_all(root.join("models")).unwrap();
    std::fs::write(root.join("models/m.json"), "{}").unwrap();
    std::fs::hard_link(root.join("models/m.json"), root.join("twin.json")).unwrap();
    let inputs = || {
        Inputs::new().folder("--models", &root.join("models"), |rel| {
            rel.components().count() == 1 && rel.extension() == Some("json")
        })
    };
    let refused = |path: Utf8PathBuf| {
        let out = [Output::new("--out", path, Written::Kind("evaluation"))];
        check(&out, &inputs(), true).unwrap_err().to_string()
    };
    assert!(refused(root.join("models/new.json")).contains("lies inside --models"));
    assert!(refused(root.join("models")).contains("is --models"));
    assert!(refused(root.join("twin.json")).contains("a hard link to it"));
    let out = [Output::new(
        "--out",
        root.join("models/sub/x.json"),
        Written::Kind("evaluation"),
    )];
    check(&out, &inputs(), false).unwrap();
}

#[test]
fn an_existing_output_must_be_the_kits_unless_forced() {
    let (_keep, root) = scratch();
    let out = root.join("eval.json");
    std::fs::write(&out, "notes").unwrap();
    let outputs = [Output::new("--out", &out, Written::Kind("evaluation"))];
    let err = check(&outputs, &Inputs::new(), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("did not write (it is not a JSON object)"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    check(&outputs, &Inputs::new(), true).unwrap();
    std::fs::write(&out, r#"{"kind": "evaluation"}"#).unwrap();
    check(&outputs, &Inputs::new(), false).unwrap();
    std::fs::write(&out, r#"{"kind": "verdict"}"#).unwrap();
    let err = check(&outputs, &Inputs::new(), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(r#"its `kind` is "verdict", not "evaluation""#),
        "{err}"
    );
    std::fs::create_dir(root.join("dir")).unwrap();
    let folder = [Output::new(
        "--out",
        root.join("dir"),
        Written::Kind("evaluation"),
    )];
    let err = check(&folder, &Inputs::new(), true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is a folder"), "{err}");
}

#[test]
fn an_output_folder_may_not_hold_an_input_it_would_replace() {
    let (_keep, root) = scratch();
    std::fs::create_dir_all(root.join("to")).unwrap();
    std::fs::write(root.join("to/a.yuv"), "x").unwrap();
    std::fs::write(root.join("to/pack.tar"), "x").unwrap();
    let yuv = |rel: &Utf8Path| rel.extension() == Some("yuv");
    let inputs = Inputs::new().file("ARCHIVE", &root.join("to/a.yuv"));
    let err = check_folder("--to", &root.join("to"), yuv, &inputs)
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds ARCHIVE"), "{err}");
    let inputs = Inputs::new().file("ARCHIVE", &root.join("to/pack.tar"));
    check_folder("--to", &root.join("to"), yuv, &inputs).unwrap();
    let err = check_folder("--to", &root.join("to/pack.tar"), yuv, &inputs)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is ARCHIVE"), "{err}");
}
