//! The ensemble `evaluate` runs, found where it was shipped: a results bundle (verified first,
//! and only a PROMOTE ships models) or a folder of ONNX models with their sidecars — the kit's
//! export or the reference kit's. Every model must have a sidecar, hash to what it says, and
//! belong to one ensemble with each seed once.

use super::runtime::{Inputs, Runtime};
use crate::archive::JSON_MEMBER_MAX;
use crate::error::{Error, Result};
use crate::host::temporary;
use crate::learn::train::features::{ENCODER_VOCAB_V2, ENCODER_VOCAB_VERSION};
use crate::progress::outside;
use crate::schema::{self, ConsumerSidecar, Verdict, SCHEMA_VERSION, SIDECAR_KIND};
use crate::trust::owner_checks::{self, OwnerChecks};
use crate::{archive, digest, layout};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::{BTreeMap, BTreeSet};

/// Largest model file read: the kit's are about 25 KB, so this only stops a hostile file from
/// filling memory.
pub const MODEL_MAX: u64 = 64 << 20;

/// One member: its sidecar and its model in the runtime.
pub struct Member {
    /// The sidecar's file name.
    pub sidecar_file: String,
    /// The sidecar as a consumer reads it.
    pub sidecar: ConsumerSidecar,
    /// The model, ready to run.
    pub runtime: Runtime,
}

/// The members of one ensemble, by seed.
pub struct Ensemble {
    /// Their common `ensemble_id`.
    pub id: String,
    /// By ascending seed.
    pub members: Vec<Member>,
    /// Who signed the bundle it came from, or that a folder carries no signature.
    pub signed: String,
}

/// What a folder of models says of its signature.
const FOLDER_UNSIGNED: &str = "a folder, not a bundle: carries no signature";

/// A results bundle verified and extracted into a private temporary folder, removed on drop.
pub struct OpenedBundle {
    _dir: temporary::Folder,
    /// The extracted results folder.
    pub root: Utf8PathBuf,
    /// The bundle, as given.
    pub bundle: Utf8PathBuf,
    /// Who signed it (see [`crate::deliver::signing::Signature`]).
    pub signed: String,
}

impl OpenedBundle {
    /// How messages name an extracted file: as the bundle's member (`BUNDLE!models/NAME`),
    /// never by the temporary folder that is gone when the command ends.
    pub fn label(&self, path: &Utf8Path) -> Utf8PathBuf {
        archive::member_label(&self.bundle, path.strip_prefix(&self.root).unwrap_or(path))
    }

    /// The ensemble of its `models/`.
    pub fn ensemble(&self) -> Result<Ensemble> {
        let ensemble = from_folder(&self.root.join(layout::MODELS), &|p| self.label(p))?;
        Ok(Ensemble {
            signed: self.signed.clone(),
            ..ensemble
        })
    }
}

/// How messages name a file read from disk: a folder's files as they are, an extracted
/// bundle's as its members.
pub type Label<'a> = &'a dyn Fn(&Utf8Path) -> Utf8PathBuf;

/// Verifies `path` (everything as `verify` checks it, with the owner's signer `checks`) and
/// extracts it; only a PROMOTE bundle ships models.
pub fn open_bundle(path: &Utf8Path, checks: &OwnerChecks) -> Result<OpenedBundle> {
    let dir = temporary::Folder::new("evaluate")?;
    let root = dir.path().join("bundle");
    let verified = owner_checks::verified(path, Some(root.as_path()), checks)?;
    if verified.verdict.verdict != Verdict::Promote {
        return Err(Error::Input(format!(
            "bundle `{path}` says {}: only a PROMOTE bundle ships models to evaluate",
            verified.verdict.verdict
        )));
    }
    Ok(OpenedBundle {
        _dir: dir,
        root,
        bundle: path.to_owned(),
        signed: verified.signature.to_string(),
    })
}

/// Whether `path` names a results bundle rather than a folder of models.
pub fn is_bundle(path: &Utf8Path) -> bool {
    path.as_str().ends_with(".tar.gz")
}

/// Reads the ensemble shipped at `path`: a bundle's `models/` or a folder of models.
pub fn open(path: &Utf8Path, checks: &OwnerChecks) -> Result<Ensemble> {
    if is_bundle(path) {
        return open_bundle(path, checks)?.ensemble();
    }
    if checks.signer.is_some() {
        return Err(Error::Input(format!(
            "--models `{path}` is not a results bundle, so it carries no signature for --signer to name"
        )));
    }
    if !path.is_dir() {
        return Err(Error::Input(format!(
            "--models `{path}` is neither a results bundle (.tar.gz) nor a folder of ONNX models with their sidecars"
        )));
    }
    from_folder(path, &|p| p.to_owned())
}

/// Reads at most `max` bytes of `path` (`shown` so in messages), refusing a larger file.
fn read_capped(path: &Utf8Path, shown: &Utf8Path, max: u64, what: &str) -> Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(shown, e))?
        .len();
    if size > max {
        return Err(Error::Input(format!(
            "{what} `{shown}` is {size} bytes, more than the {max} a {what} may have"
        )));
    }
    std::fs::read(path).map_err(|e| Error::io(shown, e))
}

/// Reads every sidecar (a `.json` whose `kind` is `fr`) and its model in `dir`, and checks
/// that they form one ensemble; messages name each file as `label` says.
pub fn from_folder(dir: &Utf8Path, label: Label) -> Result<Ensemble> {
    let shown_dir = label(dir);
    if !dir.is_dir() {
        return Err(Error::Input(format!(
            "`{shown_dir}` holds no models (no such folder)"
        )));
    }
    let mut sidecars = Vec::new();
    let mut models = BTreeSet::new();
    let entries = dir.read_dir_utf8().map_err(|e| Error::io(&shown_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&shown_dir, e))?;
        let path = entry.path().to_owned();
        if !path.is_file() {
            continue;
        }
        match path.extension() {
            Some("onnx") => {
                models.insert(entry.file_name().to_owned());
            }
            Some("json") => {
                let shown = label(&path);
                let bytes = read_capped(&path, &shown, JSON_MEMBER_MAX, "sidecar")?;
                let value = schema::parse_value(&bytes, &shown)?;
                if schema::kind_of(&value) == Some(SIDECAR_KIND) {
                    let sidecar: ConsumerSidecar = schema::decode_checked(value, &shown)?;
                    sidecars.push((path, sidecar));
                }
            }
            _ => {}
        }
    }
    sidecars.sort_by(|a, b| a.0.cmp(&b.0));
    if sidecars.is_empty() {
        return Err(Error::Input(format!(
            "`{shown_dir}` holds no model sidecar (a .json with \"kind\": \"{SIDECAR_KIND}\" beside each .onnx); without one a model's inputs cannot be computed"
        )));
    }
    let mut claimed = BTreeMap::new();
    let mut seeds = BTreeMap::new();
    let mut members = Vec::new();
    for (path, sidecar) in sidecars {
        let shown = label(&path);
        check_identity(&shown, &sidecar)?;
        if let Some(other) = claimed.insert(sidecar.onnx.clone(), shown.clone()) {
            return Err(Error::Input(format!(
                "sidecars `{other}` and `{shown}` both describe model `{}`; each model has one sidecar",
                outside(&sidecar.onnx)
            )));
        }
        if let Some(other) = seeds.insert(sidecar.seed, shown.clone()) {
            return Err(Error::Input(format!(
                "sidecars `{other}` and `{shown}` are both seed {}; an ensemble has each seed once",
                sidecar.seed
            )));
        }
        members.push(member(dir, &path, sidecar, label)?);
    }
    if let Some(orphan) = models.iter().find(|m| !claimed.contains_key(*m)) {
        return Err(Error::Input(format!(
            "model `{}` has no sidecar (no .json beside it names it in `onnx`); without one its inputs cannot be computed, so the folder is refused",
            label(&dir.join(orphan))
        )));
    }
    let ids: BTreeSet<&str> = members
        .iter()
        .map(|m| m.sidecar.ensemble_id.as_str())
        .collect();
    if ids.len() > 1 {
        return Err(Error::Input(format!(
            "`{shown_dir}` mixes ensembles {}; give a folder holding one ensemble",
            outside(&ids.into_iter().collect::<Vec<_>>().join(", "))
        )));
    }
    members.sort_by_key(|m| m.sidecar.seed);
    Ok(Ensemble {
        id: members[0].sidecar.ensemble_id.clone(),
        members,
        signed: FOLDER_UNSIGNED.into(),
    })
}

/// Refuses a sidecar of another format or vocabulary, or one that points outside its folder.
fn check_identity(path: &Utf8Path, sidecar: &ConsumerSidecar) -> Result<()> {
    let bad = |what: String| Error::Input(format!("model sidecar `{path}`: {what}"));
    if let Some(version) = sidecar.schema_version.filter(|v| *v != SCHEMA_VERSION) {
        return Err(bad(format!(
            "written in the kit's format version {version}; this kit reads version {SCHEMA_VERSION}"
        )));
    }
    if sidecar.encoder_vocab_version != ENCODER_VOCAB_VERSION {
        return Err(bad(format!(
            "encoder vocabulary version {} is not the version {ENCODER_VOCAB_VERSION} this kit knows; its one-hot slots would be guessed",
            sidecar.encoder_vocab_version
        )));
    }
    if sidecar.encoder_vocab != ENCODER_VOCAB_V2 {
        return Err(bad(format!(
            "it says vocabulary version {ENCODER_VOCAB_VERSION} but lists {:?}, not version {ENCODER_VOCAB_VERSION}'s {:?}",
            sidecar.encoder_vocab, ENCODER_VOCAB_V2
        )));
    }
    let plain = Utf8Path::new(&sidecar.onnx);
    if plain.file_name() != Some(sidecar.onnx.as_str()) || sidecar.onnx.is_empty() {
        return Err(bad(format!(
            "`onnx` is `{}`, not a file name beside the sidecar",
            sidecar.onnx
        )));
    }
    Ok(())
}

/// Reads the model a sidecar describes, checks its hash and loads it into the runtime.
fn member(
    dir: &Utf8Path,
    path: &Utf8Path,
    sidecar: ConsumerSidecar,
    label: Label,
) -> Result<Member> {
    let shown = label(path);
    let inputs = Inputs::of(&shown, &sidecar)?;
    let model = dir.join(&sidecar.onnx);
    let shown_model = label(&model);
    if !model.is_file() {
        return Err(Error::Input(format!(
            "sidecar `{shown}` describes model `{shown_model}`, which is missing"
        )));
    }
    let bytes = read_capped(&model, &shown_model, MODEL_MAX, "model")?;
    let sha256 = digest::sha256_bytes(&bytes);
    if sha256 != sidecar.sha256 {
        return Err(Error::Input(format!(
            "model `{shown_model}` has sha256 {sha256}, but its sidecar `{shown}` says {}; the model is not the one the sidecar describes",
            outside(&sidecar.sha256)
        )));
    }
    let runtime = Runtime::load(&shown_model, &bytes, &sidecar, inputs)?;
    Ok(Member {
        sidecar_file: path.file_name().unwrap_or_default().to_owned(),
        sidecar,
        runtime,
    })
}
