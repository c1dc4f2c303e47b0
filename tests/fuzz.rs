//! Fuzzing of every parser that reads untrusted bytes — Y4M headers, shard rows, shard
//! metadata, bundle manifests, whole bundles (tar members) and vmaf's JSON report — with proptest, 10,000 cases
//! each. Inputs are real documents (tests/fixtures/fuzz/) damaged by random byte edits and
//! splices of JSON-significant tokens, so most cases get deep into the parser. Every case must
//! end in `Ok` or in an error with a message (which the binary prints, exiting 2): never a panic.

use camino::{Utf8Path, Utf8PathBuf};
use ensemble_kit::schema::{self, CorpusRow, Manifest, ShardMeta};
use proptest::prelude::*;

const CASES: u32 = 10_000;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/fuzz/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Fragments that change a JSON document's meaning or shape when spliced in.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "-0",
    "1e309",
    "-1",
    "18446744073709551616",
    "0.5",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"vmaf\":1,",
    "\"frameNum\":0,",
    "\"n_rows\":2,",
    " ",
    "\n",
    "\u{fffd}",
    "\u{ff}",
];

/// One edit of a document.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Splice(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Replace(at, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<usize>(), 1usize..16).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, t)| Edit::Splice(at, t)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// A damaged copy of `doc`: up to eight edits at random places.
fn damaged(doc: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(edit(), 0..8).prop_map(move |edits| {
        let mut bytes = doc.clone();
        for e in edits {
            let at = |i: usize| if bytes.is_empty() { 0 } else { i % bytes.len() };
            match e {
                Edit::Replace(i, b) if !bytes.is_empty() => {
                    let i = at(i);
                    bytes[i] = b;
                }
                Edit::Insert(i, b) => {
                    let i = at(i);
                    bytes.insert(i, b);
                }
                Edit::Delete(i, n) if !bytes.is_empty() => {
                    let i = at(i);
                    let end = (i + n).min(bytes.len());
                    bytes.drain(i..end);
                }
                Edit::Splice(i, t) => {
                    let i = at(i);
                    bytes.splice(i..i, TOKENS[t].bytes());
                }
                Edit::Truncate(i) => {
                    let i = at(i);
                    bytes.truncate(i);
                }
                _ => {}
            }
        }
        bytes
    })
}

/// The error the binary would print must say something.
fn said<T, E: std::fmt::Display>(result: Result<T, E>) {
    if let Err(e) = result {
        assert!(
            !e.to_string().trim().is_empty(),
            "an error without a message"
        );
    }
}

fn label(name: &str) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("fuzz/{name}"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn y4m_header(bytes in damaged(fixture("y4m-header.txt"))) {
        said(ensemble_kit::ingest::sources::y4m_header(Utf8Path::new("fuzz.y4m"), &bytes));
    }

    #[test]
    fn shard_row(bytes in damaged(fixture("shard-row.json"))) {
        said(schema::parse_checked::<CorpusRow>(&bytes, &label("shard.jsonl")));
    }

    #[test]
    fn shard_meta(bytes in damaged(fixture("shard-meta.json"))) {
        said(schema::parse_checked::<ShardMeta>(&bytes, &label("shard.meta.json")));
    }

    #[test]
    fn manifest(bytes in damaged(fixture("manifest.json"))) {
        said(schema::parse_checked::<Manifest>(&bytes, &label("manifest.json")));
    }

    #[test]
    fn vmaf_report(bytes in damaged(fixture("vmaf-report.json"))) {
        said(ensemble_kit::host::tools::vmaf::parse_report(&bytes));
    }
}

proptest! {
    #![proptest_config(config())]

    /// A real (HOLD) results bundle, damaged, through the whole of `verify`: the tar and gzip
    /// layers, every member, the manifest, the verdict and the LOSO files judged again.
    #[test]
    fn bundle(bytes in damaged(fixture("bundle.tar.gz"))) {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().join("bundle.tar.gz")).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        said(ensemble_kit::deliver::verify::verify(&path, None, ensemble_kit::deliver::verify::BUNDLE_TOTAL_MAX));
    }

    /// The same bundle uncompressed, so the edits land in tar headers and member bytes rather
    /// than in the gzip stream.
    #[test]
    fn tar_members(bytes in damaged(gunzipped(fixture("bundle.tar.gz")))) {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().join("bundle.tar")).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        said(ensemble_kit::deliver::verify::verify(&path, None, ensemble_kit::deliver::verify::BUNDLE_TOTAL_MAX));
    }
}

fn gunzipped(bytes: Vec<u8>) -> Vec<u8> {
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(bytes.as_slice()),
        &mut plain,
    )
    .unwrap();
    plain
}
