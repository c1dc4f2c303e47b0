//! `verify` (and the bundle side of `compare`): one read of a results bundle checks it and,
//! with `--extract`, unpacks it into a private folder beside the destination that is moved
//! into place only when everything matched — so bytes swapped between a check and an
//! extraction cannot exist, and a refused bundle leaves nothing behind.
//!
//! A bundle passes when it holds every manifest entry with its size and SHA-256 and nothing
//! else; exactly one verdict file whose name, whose `verdict` field and the manifest's verdict
//! agree, and whose gate is what the bundled `loso_seed*.json` give when judged again; and
//! models only with PROMOTE — then one per judged seed —, each matching its sidecar and fitted
//! on the judged corpus.
//! Reading is bounded: no member past its declared size once the manifest is known, JSON in
//! memory up to [`archive::JSON_MEMBER_MAX`], the whole bundle up to a [`SizeCap`].

mod checks;
mod contents;
mod corpus;
mod models;

use crate::archive::{self, SizeCap};
use crate::deliver::signing::{self, Required, Signature};
use crate::error::{Error, Result};
use crate::layout;
use crate::schema::{Grounds, Manifest, Request, Stability, VerdictFile};
use camino::Utf8Path;
use contents::Contents;

/// Default cap on what one results bundle may unpack to. A bundle holds text results and
/// small models — a corpus row is about half a kilobyte, so even a million-row shard fits
/// — while a megabyte-sized gzip bomb cannot fill the disk. `--max-total-size` raises it.
pub const BUNDLE_TOTAL_MAX: u64 = 1 << 30;

/// The share of the bundle's cap that its JSON members may take together: they are parsed and
/// held in memory (several bytes of memory per byte of JSON), so with the default 1 GiB cap
/// verify holds at most 128 MiB of JSON, whatever the number of members.
const JSON_SHARE: u64 = 8;

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The bundle's manifest.
    pub manifest: Manifest,
    /// Files checked.
    pub files: usize,
    /// The bundle's one verdict, agreeing with its manifest and its LOSO files.
    pub verdict: VerdictFile,
    /// Its manifest's signature, checked (see [`signing::check`]).
    pub signature: Signature,
    /// What its verdict rests on: the judged seeds are always derived (bundled and re-judged);
    /// the corpus and the references' bytes only when the corpus is bundled.
    pub grounds: Grounds,
    /// The owner's request it answers (`request.json`, schema-checked), if it carries one.
    pub request: Option<Request>,
    /// This kit's stability block over the bundled seeds, when the verdict's was drawn by an
    /// older interval model (see [`IntervalModel`]): what `verify` and `compare` reason with.
    pub stability_now: Option<Stability>,
}

/// Checks a bundle in one read and, if `extract` is given, extracts it there (a new or empty
/// folder). Problems are listed together, each naming its file. A signature, if any, must be
/// valid; no signer is required.
pub fn verify(
    bundle: &Utf8Path,
    extract: Option<&Utf8Path>,
    max_total_size: u64,
) -> Result<Verified> {
    verify_signed(bundle, extract, max_total_size, None)
}

/// [`verify`], also requiring, with `required`, a signature by a key (and principal) it
/// allows; nothing is extracted unless the signer is allowed.
pub fn verify_signed(
    bundle: &Utf8Path,
    extract: Option<&Utf8Path>,
    max_total_size: u64,
    required: Option<&Required>,
) -> Result<Verified> {
    if !bundle.exists() || bundle.is_dir() {
        return Err(Error::Input(format!("bundle `{bundle}` does not exist")));
    }
    let extract = extract
        .map(|dest| layout::resolve_root(dest, "--extract"))
        .transpose()?;
    let extract = extract.as_deref();
    let staging = extract.map(private_folder_beside).transpose()?;
    let staging_path = staging.as_ref().map(|dir| {
        Utf8Path::from_path(dir.path())
            .expect("UTF-8 parent")
            .to_owned()
    });
    let mut cap = SizeCap::new(bundle, "results bundle", max_total_size);
    let mut contents = Contents {
        json_cap: max_total_size / JSON_SHARE,
        ..Contents::default()
    };
    archive::for_each_file(bundle, |name, size, reader| {
        contents.take(
            bundle,
            name,
            size,
            reader,
            &mut cap,
            staging_path.as_deref(),
        )
    })?;
    let manifest_bytes = std::mem::take(&mut contents.manifest_bytes);
    let signature = contents.signature.take();
    let (manifest, checked, request) = contents.judge(bundle)?;
    let signature = signing::check(bundle, &manifest_bytes, signature.as_deref(), required)?;
    if let (Some(staging), Some(dest)) = (staging, extract) {
        move_into_place(Utf8Path::from_path(staging.path()).expect("UTF-8"), dest)?;
        // The folder now lives at `dest`; dropping the handle finds nothing left to remove.
        drop(staging);
    }
    Ok(Verified {
        files: manifest.files.len(),
        manifest,
        verdict: checked.verdict,
        signature,
        grounds: checked.grounds,
        stability_now: checked.stability_now,
        request,
    })
}

/// Which kit and recipe revision made a verified bundle, as its seed files record them (its
/// verdict's experiment, which verify derived again from them), and which model drew its
/// stability interval — with this kit's label beside an older model's.
pub fn made_by(verified: &Verified) -> String {
    let verdict = &verified.verdict;
    let Some(recipe) = verdict.experiment.as_ref().map(|e| &e.recipe) else {
        return "made by an unrecorded producer".into();
    };
    let kit = recipe
        .kit_version
        .get()
        .map_or("an unrecorded producer".into(), |k| {
            format!("ensemble-kit {k}")
        });
    let revision = match &recipe.recipe_revision {
        Some(revision) => revision
            .get()
            .map_or("an unknown recipe revision".into(), |r| {
                format!("recipe revision {r}")
            }),
        None if recipe.kit_version.get().is_some() => format!(
            "recipe revision {} (its key's; not recorded)",
            crate::learn::train::UNRECORDED_REVISION
        ),
        None => "no recorded recipe revision".into(),
    };
    let interval = verdict.stability.as_ref().map_or(String::new(), |s| {
        let now = verified
            .stability_now
            .as_ref()
            .map_or(String::new(), |now| {
                let [lo, hi] = now.p_promote_interval;
                format!(
                    " (an older kit's, {}; this kit's {}: {} {lo:.2}–{hi:.2})",
                    s.label,
                    now.interval_model.describe(),
                    now.label
                )
            });
        format!(
            ", its stability interval from {}{now}",
            s.interval_model.describe()
        )
    });
    format!("made by {kit}, {revision}{interval}")
}

/// A private folder in `dest`'s parent to extract into; `dest` must not hold anything yet, so
/// nothing of the operator's is ever overwritten.
pub(crate) fn private_folder_beside(dest: &Utf8Path) -> Result<tempfile::TempDir> {
    if dest.exists() {
        let empty = dest
            .read_dir_utf8()
            .map(|mut entries| entries.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(Error::Input(format!(
                "--extract `{dest}` already exists and is not an empty folder; give a new or empty folder so nothing in it is overwritten"
            )));
        }
    }
    let parent = dest
        .parent()
        .filter(|p| !p.as_str().is_empty())
        .unwrap_or(Utf8Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    tempfile::Builder::new()
        .prefix(".verify-")
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))
}

/// Renames a checked extraction `from` onto `dest` (absent or an empty folder).
pub fn move_into_place(from: &Utf8Path, dest: &Utf8Path) -> Result<()> {
    // Temporary folders are created private (0700); the extracted folder is an ordinary one.
    std::fs::set_permissions(from, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(|e| Error::io(dest, e))?;
    std::fs::rename(from, dest).map_err(|e| Error::io(dest, e))
}
