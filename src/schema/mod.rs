//! Every type the kit writes to disk or prints as JSON, defined once, with the JSON Schemas
//! generated from them (`schemas/*.schema.json`) and the validation every read goes through.
//!
//! A file that fails validation is rejected with its path, line (for JSON Lines) and the JSON
//! pointer of the offending field.
//!
//! The types live in one submodule per domain and are re-exported here; each document type
//! names its own schema through [`Document`], and [`ALL`] lists the documents.

mod corpus;
mod delivery;
mod document;
mod evaluation;
mod evidence;
mod experiment;
mod host;
mod install;
mod model;
mod progress;
mod provenance;
mod request;
mod verdict;

pub use corpus::{
    CellKeyInputs, CellRecord, CorpusRow, Fps, Geometry, ReferenceRow, Source, SourceFormat,
};
pub use delivery::{DistributionManifest, Manifest, ManifestFile, TransportManifest, TransportRow};
pub use document::{build_as, kit_version, Document, SCHEMA_VERSION};
pub use evaluation::{
    ConsumerCorpus, ConsumerSidecar, CqFigures, EvaluatedMember, Evaluation, Figures, NamedFigures,
    Scores,
};
pub use evidence::{Evidence, Finding, Grounds};
pub use experiment::{
    CompareReport, ComparedFact, ComparedReference, ComparedSide, Conclusion, EncoderRows,
    Experiment, ExperimentRecipe, ExperimentShard, ExperimentSource, Known, PlccDelta, Producer,
    ReferenceMatch, UnknownMarker,
};
pub use host::{Check, CheckStatus, DoctorReport, FoundBy, LibvmafBuild, Platform, Tool};
pub use install::{InstallJournal, JournalAction, JournalEntry, JournalState};
pub use model::{
    CodecBlockValues, FoldResult, LosoSeed, ReferenceFold, ReferenceLosoSeed, Sidecar,
    SidecarCorpus, SidecarGate, TrainingRecipe, SIDECAR_KIND,
};
pub use model::{ReferenceMinimalFold, ReferenceMinimalSeed};
pub use progress::ProgressEvent;
pub use provenance::{
    AuditCell, CellSummary, FailedCell, ImportedFile, ImportedShardMeta, ImportedSource,
    MergedMeta, MergedShard, Provenance, ScoringBackend, ShardMeta, ShardSettings, ShardTools,
};
pub use request::{Request, RequestedRecipe};
pub use verdict::{
    FoldDiagnosis, Gate, IntervalModel, Stability, StabilityLabel, Verdict, VerdictCorpus,
    VerdictFile,
};

use crate::error::{Error, Result};
use camino::Utf8Path;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::OnceLock;

/// A named schema the kit publishes in `schemas/`.
pub struct SchemaDoc {
    /// Name used by `ensemble-kit schema NAME` and the file `schemas/NAME.schema.json`.
    pub name: &'static str,
    generate: fn() -> schemars::Schema,
}

impl SchemaDoc {
    /// The entry of document `T`: its name and its generated schema.
    const fn of<T: Document>() -> SchemaDoc {
        SchemaDoc {
            name: T::SCHEMA,
            generate: || schemars::schema_for!(T),
        }
    }
}

/// Every published schema.
pub const ALL: &[SchemaDoc] = &[
    SchemaDoc::of::<CorpusRow>(),
    SchemaDoc::of::<ShardMeta>(),
    SchemaDoc::of::<CellRecord>(),
    SchemaDoc::of::<Platform>(),
    SchemaDoc::of::<DoctorReport>(),
    SchemaDoc::of::<LosoSeed>(),
    SchemaDoc::of::<ReferenceLosoSeed>(),
    SchemaDoc::of::<VerdictFile>(),
    SchemaDoc::of::<Sidecar>(),
    SchemaDoc::of::<Manifest>(),
    SchemaDoc::of::<TransportManifest>(),
    SchemaDoc::of::<MergedMeta>(),
    SchemaDoc::of::<ProgressEvent>(),
    SchemaDoc::of::<LibvmafBuild>(),
    SchemaDoc::of::<DistributionManifest>(),
    SchemaDoc::of::<ReferenceRow>(),
    SchemaDoc::of::<ImportedShardMeta>(),
    SchemaDoc::of::<ReferenceMinimalSeed>(),
    SchemaDoc::of::<CompareReport>(),
    SchemaDoc::of::<ConsumerSidecar>(),
    SchemaDoc::of::<Evaluation>(),
    SchemaDoc::of::<InstallJournal>(),
    SchemaDoc::of::<Request>(),
];

/// The schema called `name`, as pretty JSON with a trailing newline.
pub fn render(name: &str) -> Result<String> {
    let doc = find(name)?;
    let mut text = serde_json::to_string_pretty(&(doc.generate)()).expect("schemas serialise");
    text.push('\n');
    Ok(text)
}

fn find(name: &str) -> Result<&'static SchemaDoc> {
    ALL.iter().find(|d| d.name == name).ok_or_else(|| {
        let names: Vec<&str> = ALL.iter().map(|d| d.name).collect();
        Error::Input(format!(
            "unknown schema `{name}`; known: {}",
            names.join(", ")
        ))
    })
}

fn validator(name: &str) -> Result<&'static jsonschema::Validator> {
    static VALIDATORS: OnceLock<BTreeMap<&'static str, jsonschema::Validator>> = OnceLock::new();
    let all = VALIDATORS.get_or_init(|| {
        ALL.iter()
            .map(|d| {
                let schema = serde_json::to_value((d.generate)()).expect("schemas serialise");
                let v = jsonschema::validator_for(&schema).expect("generated schemas compile");
                (d.name, v)
            })
            .collect()
    });
    find(name).map(|d| &all[d.name])
}

/// Checks `value` against schema `name`; the error names `path`, `line` and the field.
pub fn check(
    name: &str,
    value: &serde_json::Value,
    path: &Utf8Path,
    line: Option<usize>,
) -> Result<()> {
    let validator = validator(name)?;
    if let Some(err) = validator.iter_errors(value).next() {
        let pointer = err.instance_path().to_string();
        return Err(Error::Invalid {
            path: path.to_owned(),
            line,
            field: if pointer.is_empty() {
                "/".to_owned()
            } else {
                pointer
            },
            message: err.to_string(),
        });
    }
    Ok(())
}

/// Parses JSON bytes that came from `path` (a file, or `archive!member`); an error names it
/// and the line.
pub fn parse_value(bytes: &[u8], path: &Utf8Path) -> Result<serde_json::Value> {
    crate::strict_json::from_slice(bytes).map_err(|e| Error::Invalid {
        path: path.to_owned(),
        line: Some(e.line()),
        field: "/".into(),
        message: format!("not valid JSON: {e}"),
    })
}

/// Reads a file as JSON, before any schema check.
pub fn read_value(path: &Utf8Path) -> Result<serde_json::Value> {
    parse_value(&std::fs::read(path).map_err(|e| Error::io(path, e))?, path)
}

/// Parses JSON bytes from `path`, validates them against `T`'s schema, and deserialises them.
pub fn parse_checked<T: Document>(bytes: &[u8], path: &Utf8Path) -> Result<T> {
    decode_checked(parse_value(bytes, path)?, path)
}

/// Validates a parsed document from `path` against `T`'s schema and deserialises it.
pub fn decode_checked<T: Document>(value: serde_json::Value, path: &Utf8Path) -> Result<T> {
    check(T::SCHEMA, &value, path, None)?;
    decode(value, path, None)
}

/// Reads a JSON file, validates it against `T`'s schema, and deserialises it.
pub fn read_json<T: Document>(path: &Utf8Path) -> Result<T> {
    parse_checked(&std::fs::read(path).map_err(|e| Error::io(path, e))?, path)
}

/// Streams a JSON Lines file, validating each line against `T`'s schema and handing the
/// 1-based line number and the value to `each`. Memory stays flat in the file's size.
pub fn for_each_jsonl<T: Document>(
    path: &Utf8Path,
    mut each: impl FnMut(usize, T) -> Result<()>,
) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line_no = i + 1;
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        // Only an object: serde's derive would also fill a struct from an array by position,
        // which the schema refuses.
        let object = line
            .trim_start_matches([' ', '\t', '\r', '\n'])
            .starts_with('{');
        if T::CHECKED_BY_TYPE && object {
            match serde_json::from_str::<T>(&line) {
                Ok(row) if row.within_schema() => {
                    each(line_no, row)?;
                    continue;
                }
                // Refused or out of range: the validator says why, as it always did.
                _ => {}
            }
        }
        let value = crate::strict_json::from_str(&line).map_err(|e| Error::Invalid {
            path: path.to_owned(),
            line: Some(line_no),
            field: "/".into(),
            message: format!("not valid JSON: {e}"),
        })?;
        check(T::SCHEMA, &value, path, Some(line_no))?;
        each(line_no, decode(value, path, Some(line_no))?)?;
    }
    Ok(())
}

fn decode<T: DeserializeOwned>(
    value: serde_json::Value,
    path: &Utf8Path,
    line: Option<usize>,
) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Invalid {
        path: path.to_owned(),
        line,
        field: "/".into(),
        message: e.to_string(),
    })
}

/// Which schema a JSON document claims through its `kind` field.
pub fn kind_of(value: &serde_json::Value) -> Option<&str> {
    value.get("kind").and_then(|k| k.as_str())
}

/// The schema that checks a document claiming `kind`: a sidecar's `kind` is the reference's
/// model kind, not a schema name.
pub fn schema_of_kind(kind: &str) -> &str {
    if kind == SIDECAR_KIND {
        Sidecar::SCHEMA
    } else {
        kind
    }
}

/// A metadata document (read from `path`, or a bundle member so named) as the kind it claims.
pub fn decode_provenance(value: serde_json::Value, path: &Utf8Path) -> Result<Provenance> {
    let path = path.to_owned();
    Ok(match kind_of(&value) {
        Some(MergedMeta::SCHEMA) => Provenance::Merged(Box::new(decode_checked(value, &path)?)),
        Some(ImportedShardMeta::SCHEMA) => {
            Provenance::Imported(Box::new(decode_checked(value, &path)?))
        }
        _ => Provenance::Shard(Box::new(decode_checked(value, &path)?)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_renders_and_compiles() {
        for doc in ALL {
            assert!(render(doc.name).unwrap().contains("\"$schema\""));
            validator(doc.name).unwrap();
        }
    }

    #[test]
    fn bad_row_names_line_and_field() {
        let row = serde_json::json!({"src": "a", "src_sha256": "00", "encoder": "x", "cq": 1,
            "frame_index": 0, "enc_bytes": 1, "enc_time_ms": 1, "vmaf": 50.0, "adm2": 0.9,
            "vif_scale0": 0.5, "vif_scale1": 0.5, "vif_scale2": 0.5, "vif_scale3": 0.5,
            "motion2": 1.0});
        let err = check("corpus-row", &row, Utf8Path::new("s.jsonl"), Some(7)).unwrap_err();
        assert!(
            err.to_string().starts_with("s.jsonl:7: /src_sha256:"),
            "{err}"
        );
    }

    /// The JSON Lines reader (which decodes a corpus row straight into its type when it can)
    /// accepts exactly the rows the validator accepts and the type decodes, as the same row; every edge of the schema's bounds is tried both
    /// ways (a line the validator accepts but the type does not, `cq` 19.0, is refused by
    /// both paths).
    #[test]
    fn a_row_checked_by_its_type_is_one_the_schema_accepts() {
        let sha = "0123456789abcdef".repeat(4);
        let base = format!(
            r#"{{"src": "a", "src_sha256": "{sha}", "encoder": "libx264", "cq": 19, "frame_index": 0, "enc_bytes": 1, "enc_time_ms": 1, "vmaf": 50.0, "adm2": 0.9, "vif_scale0": 0.5, "vif_scale1": 0.5, "vif_scale2": 0.5, "vif_scale3": 0.5, "motion2": 1.0}}"#
        );
        let with = |field: &str, value: &str| {
            let start = base.find(&format!("\"{field}\": ")).unwrap() + field.len() + 4;
            let end = start + base[start..].find([',', '}']).unwrap();
            format!("{}{value}{}", &base[..start], &base[end..])
        };
        let mut lines = vec![base.clone()];
        for (field, values) in [
            ("src", &["\"\"", "\"ü\"", "\"a b\""][..]),
            ("encoder", &["\"\"", "\"x\""]),
            ("cq", &["0", "255", "256", "19.0", "-1"]),
            (
                "frame_index",
                &["18446744073709551615", "18446744073709551616", "-1"],
            ),
            (
                "vmaf",
                &["0", "-0.0", "100", "100.00000000000001", "-1e-300", "1e400"],
            ),
            ("adm2", &["2.0", "2.0000000000000004", "0"]),
            ("vif_scale3", &["2", "2.1"]),
            ("motion2", &["255", "255.00000000000003", "0.0"]),
        ] {
            lines.extend(values.iter().map(|v| with(field, v)));
        }
        for bad_sha in [
            sha.to_uppercase(),
            sha[..63].to_owned(),
            format!("{sha}0"),
            format!("{}g", &sha[..63]),
            format!("{sha}\n"),
        ] {
            lines.push(with(
                "src_sha256",
                &serde_json::to_string(&bad_sha).unwrap(),
            ));
        }
        lines.push(base.replace("\"motion2\"", "\"extra\": 1, \"motion2\""));
        lines.push(base.replace("\"cq\": 19,", "\"cq\": 19, \"cq\": 20,"));
        // The same values as an array, by position (serde's derive would take it).
        let values: serde_json::Value = serde_json::from_str(&base).unwrap();
        let array: Vec<&serde_json::Value> = values.as_object().unwrap().values().collect();
        lines.push(serde_json::to_string(&array).unwrap());
        lines.push(format!(" \t{}", serde_json::to_string(&array).unwrap()));
        let dir = tempfile::tempdir().unwrap();
        let file = camino::Utf8PathBuf::from_path_buf(dir.path().join("row.jsonl")).unwrap();
        for line in &lines {
            let by_validator = crate::strict_json::from_str(line)
                .ok()
                .filter(|v| check("corpus-row", v, Utf8Path::new("x"), None).is_ok())
                .and_then(|v| serde_json::from_value::<CorpusRow>(v).ok());
            std::fs::write(&file, format!("{line}\n")).unwrap();
            let mut read = Vec::new();
            let by_reader = for_each_jsonl(&file, |_, row: CorpusRow| {
                read.push(row);
                Ok(())
            })
            .ok()
            .and_then(|()| read.pop());
            assert_eq!(by_reader, by_validator, "{line}");
        }
    }
}
