//! The fork's `model/tiny/registry.json`: read bounded and checked, the ensemble's rows patched
//! (`sha256`, `smoke`, `onnx`, `opset`, `kind`, `notes`) or added, and written back in the
//! fork's own style, so that every other row and key keeps its bytes.

use super::members::{Ensemble, Member};
use super::pyjson;
use crate::error::{Error, Result};
use camino::Utf8Path;
use serde_json::{json, Map, Value};

/// The registry's file name in MODEL_DIR.
pub const REGISTRY: &str = "registry.json";
/// The registry's schema beside it.
pub const REGISTRY_SCHEMA: &str = "registry.schema.json";
/// Largest registry install reads: the fork's is 20 kB for 24 rows.
pub const REGISTRY_MAX: u64 = 4 << 20;
/// The registry format install knows (`schema_version`).
pub const REGISTRY_VERSION: u64 = 1;
/// The fork's schema caps `notes` at 512 characters.
const NOTES_MAX: usize = 512;
/// The fields install sets on every member row.
pub const PATCHED: [&str; 6] = ["sha256", "smoke", "onnx", "opset", "kind", "notes"];
/// Fields a new row takes from the ensemble's other rows.
const LICENSE_FIELDS: [&str; 2] = ["license", "license_url"];
/// Quantisation fields: they describe an int8 twin the kit's fp32 models do not have.
const QUANT_FIELDS: [&str; 4] = [
    "quant_mode",
    "int8_sha256",
    "quant_calibration_set",
    "quant_accuracy_budget_plcc",
];

/// A registry as read: checked, and known to be written in the fork's style.
#[derive(Debug, Clone)]
pub struct Registry {
    value: Value,
}

/// One member row, before (absent for a new row) and after.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    /// The row's id.
    pub id: String,
    /// The row as it was.
    pub before: Option<Map<String, Value>>,
    /// The row as install writes it.
    pub after: Map<String, Value>,
}

/// The registry install writes, and what changed in it.
#[derive(Debug, Clone)]
pub struct Patched {
    /// The new file's text.
    pub text: String,
    /// Every member row.
    pub rows: Vec<RowChange>,
    /// What the owner should know (fields install could not fill).
    pub notices: Vec<String>,
}

/// Parses and checks the registry read from `path`: JSON without duplicate keys, an object of
/// `schema_version` 1 with `models` a list of rows each with a string `id` (once) and `onnx`,
/// written exactly as the fork writes it (else rewriting it would touch rows install does not
/// own).
pub fn parse(bytes: &[u8], path: &Utf8Path) -> Result<Registry> {
    let refuse = |why: String| Error::Input(format!("`{path}` is refused: {why}"));
    let value = crate::strict_json::from_slice(bytes).map_err(|e| {
        refuse(format!(
            "it is not JSON ({e}); install patches only the fork's registry"
        ))
    })?;
    let version = value.get("schema_version");
    if version.and_then(Value::as_u64) != Some(REGISTRY_VERSION) {
        return Err(refuse(format!(
            "its schema_version is {}, and install knows only the fork's version {REGISTRY_VERSION}",
            version.map_or("absent".into(), Value::to_string)
        )));
    }
    let Some(rows) = value.get("models").and_then(Value::as_array) else {
        return Err(refuse("it has no `models` list".into()));
    };
    let mut seen = std::collections::BTreeSet::new();
    for (i, row) in rows.iter().enumerate() {
        let id = row.get("id").and_then(Value::as_str);
        let onnx = row.get("onnx").and_then(Value::as_str);
        let (Some(id), Some(_)) = (id, onnx) else {
            return Err(refuse(format!("row {i} has no string `id` and `onnx`")));
        };
        if !seen.insert(id) {
            return Err(refuse(format!("the id `{id}` appears twice")));
        }
    }
    let again = pyjson::render(&value);
    if again.as_bytes() != bytes {
        let text = String::from_utf8_lossy(bytes);
        let line = text
            .lines()
            .zip(again.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| text.lines().count().min(again.lines().count()))
            + 1;
        return Err(refuse(format!(
            "it is not written the way the fork writes it (`json.dumps(registry, indent=2, sort_keys=True)` and a newline; first difference on line {line}), so rewriting it would change rows install does not own; write it once in that style and install again"
        )));
    }
    Ok(Registry { value })
}

impl Registry {
    /// The rows.
    pub fn rows(&self) -> &[Value] {
        self.value["models"].as_array().expect("checked in parse")
    }
}

/// The seed of a row id `<ensemble>_seed<N>`.
fn seed_of(id: &str, ensemble: &str) -> Option<u64> {
    let digits = id.strip_prefix(ensemble)?.strip_prefix("_seed")?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn text(row: &Value, key: &str) -> String {
    row.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// The registry with `ensemble`'s rows patched or added; `None` for a new registry (written
/// with `$schema` when `schema_beside`). Refuses rows of the ensemble the bundle does not
/// replace, other rows naming a member's files, and names the manifest would take from others.
pub fn patch(
    registry: Option<&Registry>,
    ensemble: &Ensemble,
    schema_beside: bool,
) -> Result<Patched> {
    let rows: Vec<Value> = registry.map(|r| r.rows().to_vec()).unwrap_or_default();
    check_names(&rows, ensemble)?;
    let ours: Vec<usize> = (0..rows.len())
        .filter(|&i| seed_of(&text(&rows[i], "id"), &ensemble.id).is_some())
        .collect();
    let stale: Vec<String> = ours
        .iter()
        .map(|&i| text(&rows[i], "id"))
        .filter(|id| !ensemble.members.iter().any(|m| m.id() == id))
        .collect();
    if !stale.is_empty() {
        return Err(Error::Input(format!(
            "{REGISTRY} has rows of `{}` that the bundle does not replace ({}): they would go on naming members of another fit. Install a bundle with those seeds, or take the rows out of {REGISTRY} first",
            ensemble.id,
            stale.join(", ")
        )));
    }
    let template = new_row_template(&rows, &ours, ensemble, registry.is_some())?;
    let mut notices = Vec::new();
    if registry.is_none() {
        notices.push(format!(
            "the new {REGISTRY} has no row to take `license` and `license_url` from: add them to each row (the fork's schema test requires them)"
        ));
    }
    let mut rows = rows;
    let mut changes = Vec::new();
    let mut insert_at = ours.last().map_or(rows.len(), |&i| i + 1);
    for member in &ensemble.members {
        let patched = patched_fields(member, ensemble);
        match rows.iter().position(|r| text(r, "id") == member.id()) {
            Some(i) => {
                let before = rows[i].as_object().cloned().unwrap_or_default();
                if let Some(field) = QUANT_FIELDS.iter().find(|f| before.contains_key(**f)) {
                    return Err(Error::Input(format!(
                        "{REGISTRY} row `{}` has `{field}`: it describes an int8 model the kit does not make; take the quantisation fields out of that row first",
                        member.id()
                    )));
                }
                let mut after = before.clone();
                after.extend(patched);
                rows[i] = Value::Object(after.clone());
                changes.push(RowChange {
                    id: member.id().to_owned(),
                    before: Some(before),
                    after,
                });
            }
            None => {
                let mut after = template.clone();
                after.insert("id".into(), json!(member.id()));
                if after.contains_key("sigstore_bundle") {
                    let bundle = format!("{}.sigstore.json", member.onnx_name());
                    after.insert("sigstore_bundle".into(), json!(bundle));
                }
                after.extend(patched);
                rows.insert(insert_at, Value::Object(after.clone()));
                insert_at += 1;
                changes.push(RowChange {
                    id: member.id().to_owned(),
                    before: None,
                    after,
                });
            }
        }
    }
    let value = match registry {
        Some(registry) => {
            let mut value = registry.value.clone();
            value["models"] = Value::Array(rows);
            value
        }
        None if schema_beside => json!({
            "$schema": format!("./{REGISTRY_SCHEMA}"),
            "models": rows,
            "schema_version": REGISTRY_VERSION,
        }),
        None => json!({"models": rows, "schema_version": REGISTRY_VERSION}),
    };
    Ok(Patched {
        text: pyjson::render(&value),
        rows: changes,
        notices,
    })
}

/// The fields install sets on a member's row.
fn patched_fields(member: &Member, ensemble: &Ensemble) -> Map<String, Value> {
    let sidecar = &member.sidecar;
    let notes = format!(
        "Production ensemble member of {} (seed={}). Full-corpus fit after a PROMOTE gate (mean LOSO PLCC {:.4}); installed by ensemble-kit from the results bundle whose manifest.json has sha256 {}; see {}.",
        ensemble.id,
        sidecar.seed,
        sidecar.loso_mean_plcc,
        ensemble.manifest_sha256,
        member.sidecar_name()
    );
    debug_assert!(notes.chars().count() <= NOTES_MAX, "ids are at most 64");
    let mut fields = Map::new();
    fields.insert("sha256".into(), json!(sidecar.sha256));
    fields.insert("smoke".into(), json!(false));
    fields.insert("onnx".into(), json!(member.onnx_name()));
    fields.insert("opset".into(), json!(sidecar.opset));
    fields.insert("kind".into(), json!(sidecar.kind));
    fields.insert("notes".into(), json!(notes));
    fields
}

/// What a new row of the ensemble takes from its existing rows: `license` and `license_url`
/// (which must agree), and `sigstore_bundle` when every row follows the fork's `<onnx>.sigstore.json`.
fn new_row_template(
    rows: &[Value],
    ours: &[usize],
    ensemble: &Ensemble,
    registry_exists: bool,
) -> Result<Map<String, Value>> {
    let mut template = Map::new();
    let missing = ensemble
        .members
        .iter()
        .filter(|m| !rows.iter().any(|r| text(r, "id") == m.id()))
        .map(|m| m.id().to_owned())
        .collect::<Vec<_>>();
    let conventional = ours.iter().all(|&i| {
        rows[i].get("sigstore_bundle").and_then(Value::as_str)
            == Some(&format!("{}.sigstore.json", text(&rows[i], "onnx")))
    });
    if conventional {
        template.insert("sigstore_bundle".into(), Value::Null);
    }
    if missing.is_empty() || !registry_exists {
        return Ok(template);
    }
    let Some(&first) = ours.first() else {
        return Err(Error::Input(format!(
            "{REGISTRY} has no row of `{}` to take the license fields (`license`, `license_url`) of the new rows {} from: add one row of the ensemble with them by hand, then install again",
            ensemble.id,
            missing.join(", ")
        )));
    };
    for field in LICENSE_FIELDS {
        let value = rows[first].get(field);
        if let Some(&other) = ours.iter().find(|&&i| rows[i].get(field) != value) {
            return Err(Error::Input(format!(
                "{REGISTRY} rows `{}` and `{}` disagree on `{field}`, so install cannot tell which one the new rows {} take",
                text(&rows[first], "id"),
                text(&rows[other], "id"),
                missing.join(", ")
            )));
        }
        if let Some(value) = value {
            template.insert(field.into(), value.clone());
        }
    }
    Ok(template)
}

/// Refuses a row that is not the ensemble's but names a member's model or sidecar, and a
/// manifest name (`<ensemble>.json`) that is the registry, its schema or another row's sidecar.
fn check_names(rows: &[Value], ensemble: &Ensemble) -> Result<()> {
    let manifest = format!("{}.json", ensemble.id);
    if manifest == REGISTRY || manifest == REGISTRY_SCHEMA {
        return Err(Error::Input(format!(
            "the ensemble id `{}` would write its manifest over `{manifest}`; export again with another --ensemble-id",
            ensemble.id
        )));
    }
    for row in rows {
        let id = text(row, "id");
        let onnx = text(row, "onnx");
        let sidecar = format!("{}.json", onnx.strip_suffix(".onnx").unwrap_or(&onnx));
        if seed_of(&id, &ensemble.id).is_some() {
            continue;
        }
        if sidecar == manifest {
            return Err(Error::Input(format!(
                "the ensemble manifest `{manifest}` would replace the sidecar of {REGISTRY} row `{id}`; export again with another --ensemble-id"
            )));
        }
        if let Some(member) = ensemble
            .members
            .iter()
            .find(|m| onnx == m.onnx_name() || sidecar == m.sidecar_name())
        {
            return Err(Error::Input(format!(
                "{REGISTRY} row `{id}` names `{onnx}`, a file of member `{}`; install would change another model's files",
                member.id()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensemble_rows_are_told_by_their_seed_suffix() {
        assert_eq!(seed_of("e_v1_seed12", "e_v1"), Some(12));
        assert_eq!(seed_of("e_v1_seed", "e_v1"), None);
        assert_eq!(seed_of("e_v1_seedx", "e_v1"), None);
        assert_eq!(seed_of("e_v10_seed1", "e_v1"), None);
    }

    #[test]
    fn registries_not_in_the_forks_style_or_version_are_refused() {
        let path = Utf8Path::new("registry.json");
        let good = "{\n  \"models\": [],\n  \"schema_version\": 1\n}\n";
        parse(good.as_bytes(), path).unwrap();
        for (bytes, why) in [
            ("{\"models\": [], \"schema_version\": 1}\n", "first difference on line 1"),
            ("{\n  \"models\": [],\n  \"schema_version\": 2\n}\n", "schema_version is 2"),
            ("[1", "it is not JSON"),
            ("{\"models\": {}, \"schema_version\": 1}", "no `models` list"),
            (
                "{\"models\": [{\"id\": \"a\", \"onnx\": \"a.onnx\"}, {\"id\": \"a\", \"onnx\": \"b.onnx\"}], \"schema_version\": 1}",
                "appears twice",
            ),
            ("{\"schema_version\": 1, \"schema_version\": 1}", "duplicate key"),
        ] {
            let err = parse(bytes.as_bytes(), path).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains("registry.json"), "{bytes}: {err}");
        }
    }

    #[test]
    fn floats_survive_a_round_trip() {
        // serde_json's `float_roundtrip`: without it 0.9488429659574469 reads back as …468.
        let text = "{\n  \"models\": [\n    {\n      \"id\": \"a\",\n      \"onnx\": \"a.onnx\",\n      \"x\": [\n        0.9488429659574469,\n        -0.19678804078671105,\n        1e-05\n      ]\n    }\n  ],\n  \"schema_version\": 1\n}\n";
        parse(text.as_bytes(), Utf8Path::new("r.json")).unwrap();
    }
}
