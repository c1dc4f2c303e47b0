//! The bundle's side of an install: each member's model and sidecar, read back from the verified
//! extraction, and checked to be names the fork's model tree can hold — whatever `verify`
//! already refused, install refuses again on its own.

use super::tree;
use crate::archive::JSON_MEMBER_MAX;
use crate::digest::sha256_bytes;
use crate::error::{Error, Result};
use crate::schema::{self, Manifest, Sidecar};
use camino::{Utf8Component, Utf8Path};

/// The fork's registry id rule (`registry.schema.json`): `^[a-z0-9][a-z0-9_-]*$`, at most 64.
pub const ID_MAX: usize = 64;

/// Opsets the fork's registry schema accepts.
pub const OPSETS: std::ops::RangeInclusive<u64> = 7..=21;

/// One model of the bundle with its sidecar.
#[derive(Debug, Clone)]
pub struct Member {
    /// The bundle's path of the model (`models/<id>.onnx`).
    pub onnx_member: String,
    /// The bundle's path of the sidecar (`models/<id>.json`).
    pub sidecar_member: String,
    /// The model's bytes.
    pub onnx: Vec<u8>,
    /// The sidecar's bytes, installed as they are.
    pub sidecar_bytes: Vec<u8>,
    /// The sidecar, parsed.
    pub sidecar: Sidecar,
}

/// The checked members of one ensemble, by seed.
#[derive(Debug, Clone)]
pub struct Ensemble {
    /// The ensemble id: the registry rows are `<id>_seed<N>`, the manifest `<id>.json`.
    pub id: String,
    /// SHA-256 of the bundle's `manifest.json`.
    pub manifest_sha256: String,
    /// The members, by seed.
    pub members: Vec<Member>,
}

impl Member {
    /// The registry id, and the file name stem in MODEL_DIR.
    pub fn id(&self) -> &str {
        &self.sidecar.id
    }

    /// `<id>.onnx`.
    pub fn onnx_name(&self) -> String {
        format!("{}.onnx", self.id())
    }

    /// `<id>.json`.
    pub fn sidecar_name(&self) -> String {
        format!("{}.json", self.id())
    }
}

/// Whether `id` passes the fork's registry id rule.
pub fn is_registry_id(id: &str) -> bool {
    id.len() <= ID_MAX
        && id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Reads every model of the verified bundle extracted in `dir` with its sidecar, each checked
/// again against `manifest` (the one `verify` checked).
pub fn read(dir: &Utf8Path, manifest: &Manifest) -> Result<Ensemble> {
    let manifest_bytes = tree::read_bounded(
        &dir.join(crate::layout::MANIFEST),
        JSON_MEMBER_MAX,
        "a manifest",
    )?
    .ok_or_else(|| Error::Input(format!("{dir}: the extracted bundle has no manifest")))?;
    let mut members = Vec::new();
    for file in &manifest.files {
        let Some(stem) = file.path.strip_suffix(".onnx") else {
            continue;
        };
        let sidecar_member = format!("{stem}.json");
        let Some(sidecar_file) = manifest.files.iter().find(|f| f.path == sidecar_member) else {
            return Err(Error::Input(format!(
                "the bundle's model `{}` has no sidecar `{sidecar_member}` beside it",
                file.path
            )));
        };
        let onnx = read_listed(dir, &file.path, file.size, &file.sha256)?;
        let sidecar_bytes = read_listed(
            dir,
            &sidecar_member,
            sidecar_file.size.min(JSON_MEMBER_MAX),
            &sidecar_file.sha256,
        )?;
        let label = Utf8Path::new(&sidecar_member);
        let sidecar = schema::parse_checked::<Sidecar>(&sidecar_bytes, label)?;
        members.push(Member {
            onnx_member: file.path.clone(),
            sidecar_member,
            onnx,
            sidecar_bytes,
            sidecar,
        });
    }
    check(members, sha256_bytes(&manifest_bytes))
}

/// A member the manifest lists, read from the extraction and required to be its listed bytes.
fn read_listed(dir: &Utf8Path, member: &str, size: u64, sha256: &str) -> Result<Vec<u8>> {
    plain_member(member)?;
    let path = dir.join(member);
    match crate::walk::read_capped(&path, size)? {
        Some(bytes) if bytes.len() as u64 == size && sha256_bytes(&bytes) == sha256 => Ok(bytes),
        _ => Err(Error::Input(format!(
            "`{member}` changed after the bundle was verified; install nothing from it"
        ))),
    }
}

/// Refuses a bundle path with anything but plain components (`..`, a root).
fn plain_member(member: &str) -> Result<()> {
    let path = Utf8Path::new(member);
    let plain = path
        .components()
        .all(|c| matches!(c, Utf8Component::Normal(part) if tree::is_plain_name(part)));
    if plain && !member.is_empty() {
        Ok(())
    } else {
        Err(Error::Input(format!(
            "the bundle member `{}` is not a plain path inside the bundle; install writes nothing named by it",
            member.escape_debug()
        )))
    }
}

/// The members' names and contents checked against what the fork's model tree can hold, and
/// against each other; sorted by seed.
pub fn check(mut members: Vec<Member>, manifest_sha256: String) -> Result<Ensemble> {
    let Some(first) = members.first() else {
        return Err(Error::Input(
            "the bundle holds no model: there is nothing to install".into(),
        ));
    };
    let ensemble_id = first.sidecar.ensemble_id.clone();
    for member in &members {
        check_member(member, &ensemble_id)?;
    }
    members.sort_by_key(|m| m.sidecar.seed);
    for pair in members.windows(2) {
        if pair[0].sidecar.seed == pair[1].sidecar.seed {
            return Err(Error::Input(format!(
                "`{}` and `{}` are both seed {}; an ensemble has one member per seed",
                pair[0].sidecar_member, pair[1].sidecar_member, pair[0].sidecar.seed
            )));
        }
    }
    let first = &members[0];
    for member in &members[1..] {
        if let Some(field) = differing_input(&first.sidecar, &member.sidecar) {
            return Err(Error::Input(format!(
                "`{}` and `{}` disagree on `{field}`; the ensemble manifest gives all members one input, so they must agree",
                first.sidecar_member, member.sidecar_member
            )));
        }
    }
    Ok(Ensemble {
        id: ensemble_id,
        manifest_sha256,
        members,
    })
}

fn check_member(member: &Member, ensemble_id: &str) -> Result<()> {
    let sidecar = &member.sidecar;
    let named = &member.sidecar_member;
    plain_member(&member.onnx_member)?;
    plain_member(named)?;
    if sidecar.ensemble_id != ensemble_id {
        return Err(Error::Input(format!(
            "`{named}` belongs to ensemble `{}`, the other members to `{ensemble_id}`; install one ensemble at a time",
            sidecar.ensemble_id
        )));
    }
    let id = format!("{ensemble_id}_seed{}", sidecar.seed);
    if sidecar.id != id {
        return Err(Error::Input(format!(
            "`{named}` says its id is `{}`, but seed {} of `{ensemble_id}` is `{id}`",
            sidecar.id.escape_debug(),
            sidecar.seed
        )));
    }
    if !is_registry_id(&id) {
        return Err(Error::Input(format!(
            "the member id `{}` does not fit the fork's registry (`^[a-z0-9][a-z0-9_-]*$`, at most {ID_MAX} characters): export again with a lower-case `--ensemble-id` of at most {} characters without `.`",
            id.escape_debug(),
            ID_MAX.saturating_sub(id.len() - ensemble_id.len())
        )));
    }
    if sidecar.onnx != member.onnx_name() {
        return Err(Error::Input(format!(
            "`{named}` names the model `{}`, but member `{id}`'s model is `{}` beside it; install will not write a file the bundle names elsewhere",
            sidecar.onnx.escape_debug(),
            member.onnx_name()
        )));
    }
    let base = |path: &str| {
        Utf8Path::new(path)
            .file_name()
            .unwrap_or_default()
            .to_owned()
    };
    if base(&member.onnx_member) != member.onnx_name() || base(named) != member.sidecar_name() {
        return Err(Error::Input(format!(
            "the bundle's `{}` and `{named}` are not named `{}` and `{}`, as member `{id}` must be",
            member.onnx_member,
            member.onnx_name(),
            member.sidecar_name()
        )));
    }
    let sha = sha256_bytes(&member.onnx);
    if sidecar.sha256 != sha {
        return Err(Error::Input(format!(
            "`{}` has sha256 {sha}, but `{named}` says {}",
            member.onnx_member, sidecar.sha256
        )));
    }
    if !OPSETS.contains(&sidecar.opset) {
        return Err(Error::Input(format!(
            "`{named}` says opset {}; the fork's registry accepts {}..={}",
            sidecar.opset,
            OPSETS.start(),
            OPSETS.end()
        )));
    }
    Ok(())
}

/// The first input field two members' sidecars disagree on.
fn differing_input(a: &Sidecar, b: &Sidecar) -> Option<&'static str> {
    [
        ("feature_order", a.feature_order == b.feature_order),
        ("feature_mean", a.feature_mean == b.feature_mean),
        ("feature_std", a.feature_std == b.feature_std),
        ("encoder_vocab", a.encoder_vocab == b.encoder_vocab),
        (
            "encoder_vocab_version",
            a.encoder_vocab_version == b.encoder_vocab_version,
        ),
        (
            "codec_block_layout",
            a.codec_block_layout == b.codec_block_layout,
        ),
        ("input_names", a.input_names == b.input_names),
        ("output_names", a.output_names == b.output_names),
        ("opset", a.opset == b.opset),
        ("kind", a.kind == b.kind),
    ]
    .into_iter()
    .find(|(_, same)| !same)
    .map(|(field, _)| field)
}
