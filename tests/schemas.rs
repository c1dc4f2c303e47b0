//! The checked-in `schemas/*.schema.json` must match what the types generate today.

mod common;

#[test]
fn checked_in_schemas_match_the_types() {
    let dir = camino::Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for doc in ensemble_kit::schema::ALL {
        let path = dir.join(format!("{}.schema.json", doc.name));
        let generated = ensemble_kit::schema::render(doc.name).unwrap();
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            generated == checked_in,
            "{path} is stale; regenerate with `cargo run -- schema --out-dir schemas`"
        );
    }
}

#[test]
fn schema_command_prints_one_and_rejects_unknown_names() {
    common::kit()
        .args(["schema", "corpus-row"])
        .assert()
        .success()
        .stdout(predicates::str::contains("\"CorpusRow\""));
    common::kit()
        .args(["schema", "nope"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("unknown schema `nope`"));
}
