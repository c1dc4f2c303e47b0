//! The ensemble manifest `<ensemble_id>.json` beside the members: the reference trainer's keys
//! and JSON types (`_build_manifest` in the fork's `train_fr_regressor_v2_ensemble.py`), filled
//! from the new members' sidecars — their real scaler and their vocabulary v2 with the 14-wide
//! codec block — rather than the fork's stale scaffold values.

use super::members::Ensemble;
use super::pyjson;
use serde_json::json;

/// `kind` of an ensemble manifest in the fork.
pub const KIND: &str = "fr_ensemble";

/// The manifest's file name.
pub fn file_name(ensemble_id: &str) -> String {
    format!("{ensemble_id}.json")
}

/// The manifest's text, written in the fork's style. The reference's keys come first in
/// meaning: `id`, `kind`, `ensemble_size`, `members` (id, onnx, seed, sha256), the scaler
/// (`feature_order`, `feature_mean`, `feature_std`), `codec_vocab`/`codec_vocab_version` (the
/// members' vocabulary), `confidence`, `smoke`, `eval`; then the sidecars' own names for the
/// input (`encoder_vocab`, `codec_block_layout`, `input_names`, `output_names`, `opset`) and
/// the kit's provenance under `ensemble_kit`, keys the reference does not use.
pub fn render(ensemble: &Ensemble) -> String {
    let first = &ensemble.members[0].sidecar;
    let members: Vec<_> = ensemble
        .members
        .iter()
        .map(|m| {
            json!({
                "id": m.id(),
                "onnx": m.onnx_name(),
                "seed": m.sidecar.seed,
                "sha256": m.sidecar.sha256,
            })
        })
        .collect();
    let value = json!({
        "id": ensemble.id,
        "kind": KIND,
        "ensemble_size": ensemble.members.len(),
        "members": members,
        "feature_order": first.feature_order,
        "feature_mean": first.feature_mean,
        "feature_std": first.feature_std,
        "codec_vocab": first.encoder_vocab,
        "codec_vocab_version": first.encoder_vocab_version,
        "encoder_vocab": first.encoder_vocab,
        "encoder_vocab_version": first.encoder_vocab_version,
        "codec_block_layout": first.codec_block_layout,
        "input_names": first.input_names,
        "output_names": first.output_names,
        "opset": first.opset,
        "confidence": {
            "method": "ensemble",
            "nominal_coverage": 0.95,
            "gaussian_z": 1.959963984540054,
            "conformal_q_residual": null,
        },
        "smoke": false,
        "eval": null,
        "ensemble_kit": {
            "installed_by": format!("ensemble-kit {}", env!("CARGO_PKG_VERSION")),
            "bundle_manifest_sha256": ensemble.manifest_sha256,
            "verdict": "PROMOTE",
            "loso_mean_plcc": first.loso_mean_plcc,
        },
    });
    pyjson::render(&value)
}
