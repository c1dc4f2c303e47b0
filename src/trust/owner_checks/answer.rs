//! Whether a verified bundle answers the owner's request (`--request`): it carries that very
//! request — the same nonce and content, covered by the manifest and so by its signature —
//! and its experiment measured the requested references (by SHA-256), encoders and recipe.

use crate::deliver::verify::Verified;
use crate::error::{Error, Result};
use crate::ingest::sources::request::{self, Found, RequestFile};
use crate::layout;
use crate::progress::outside;
use camino::Utf8Path;
use std::collections::{BTreeMap, BTreeSet};

/// Refuses `verified` (read from `bundle`) unless it answers `asked`, naming why.
pub fn check(bundle: &Utf8Path, verified: &Verified, asked: &RequestFile) -> Result<()> {
    let wanted = &asked.request;
    let refuse = |why: String| {
        Err(Error::Input(format!(
            "{bundle} does not answer the request {} (nonce {}): {why}",
            asked.path, wanted.nonce
        )))
    };
    let Some(carried) = &verified.request else {
        return refuse(format!(
            "it carries no {} — it answers no request (an old bundle, or one made without `full --request`)",
            layout::REQUEST
        ));
    };
    if carried.nonce != wanted.nonce {
        return refuse(format!(
            "it answers request {} of `{}` made {}",
            carried.nonce,
            outside(&carried.owner),
            carried.created_at_utc
        ));
    }
    if carried != wanted {
        return refuse(format!(
            "its {} has this nonce but other content",
            layout::REQUEST
        ));
    }
    let Some(experiment) = &verified.verdict.experiment else {
        return refuse("its verdict records no experiment to match".into());
    };
    let mut problems = Vec::new();
    let mut found = BTreeMap::new();
    for source in &experiment.sources {
        match source.sha256.get() {
            Some(sha256) => {
                let geometry = source.geometry.get().copied();
                found.insert(source.name.as_str(), Found { sha256, geometry });
            }
            None => problems.push(format!(
                "the bytes of `{}` are unknown to its experiment",
                outside(&source.name)
            )),
        }
    }
    problems.extend(request::differences(wanted, &found));
    if let (Some(encoders), Some(measured)) = (&wanted.encoders, experiment.encoders.get()) {
        let wanted: BTreeSet<&str> = encoders.iter().map(String::as_str).collect();
        let measured: BTreeSet<&str> = measured.iter().map(|e| e.encoder.as_str()).collect();
        if wanted != measured {
            problems.push(format!(
                "it measured the encoders {}, the request asks for {}",
                outside(&measured.into_iter().collect::<Vec<_>>().join(",")),
                outside(&wanted.into_iter().collect::<Vec<_>>().join(","))
            ));
        }
    }
    if let Some(recipe) = &wanted.recipe {
        if experiment.recipe.epochs != recipe.epochs as u64 || experiment.seeds != recipe.seeds {
            problems.push(format!(
                "it trained {} epochs judging seeds {:?}, the request asks for {} epochs and seeds {:?}",
                experiment.recipe.epochs, experiment.seeds, recipe.epochs, recipe.seeds
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    refuse(problems.join("; "))
}
