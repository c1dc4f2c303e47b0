//! One ensemble member as a consumer runs it: its inputs computed from its sidecar alone
//! (features picked by `feature_order` and standardised with `feature_mean`/`feature_std`; the
//! codec block built column by column from `codec_block_layout`, with `preset_norm` 0.5 and
//! `crf_norm` a min-max of cq over `corpus.cq_min..corpus.cq_max`), fed to the ONNX model in
//! tract — a real ONNX runtime, not the kit's own forward pass. The runtime sees only a model
//! the [`screen`] passed.

mod screen;

use crate::error::{Error, Result};
use crate::learn::train::features::{FEATURE_ORDER, MIN_CQ_RANGE};
use crate::schema::{ConsumerSidecar, CorpusRow};
use camino::Utf8Path;
use std::sync::Arc;
use tract_onnx::prelude::{
    tvec, Framework, InferenceModelExt, IntoRunnable, TValue, TVec, Tensor, TractResult,
    TypedRunnableModel,
};

/// `preset_norm` for every row: the reference's consumer feeds the middle preset.
pub const PRESET_NORM: f32 = 0.5;

/// The vocabulary slot for encoders outside the vocabulary.
pub const UNKNOWN: &str = "unknown";

/// Rows fed to the runtime at once, so memory stays bounded whatever the corpus size.
const CHUNK: usize = 4096;

/// One column of the codec block, as `codec_block_layout` names it.
#[derive(Debug, Clone, PartialEq)]
enum Column {
    /// `encoder_onehot[NAME]`: 1 for rows of that encoder.
    OneHot(String),
    /// `preset_norm`.
    PresetNorm,
    /// `crf_norm`.
    CrfNorm,
}

/// How one member turns a corpus row into its two inputs, read from its sidecar.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Index into [`CorpusRow::features`] of each `feature_order` entry.
    features: Vec<usize>,
    mean: Vec<f64>,
    std: Vec<f64>,
    columns: Vec<Column>,
    cq_min: f64,
    cq_max: f64,
}

impl Inputs {
    /// Reads the input recipe of the sidecar at `path`, refusing what a consumer could not feed
    /// faithfully: unknown features or columns, repeated ones, lengths that disagree, and
    /// non-finite or non-positive scaling.
    pub fn of(path: &Utf8Path, sidecar: &ConsumerSidecar) -> Result<Inputs> {
        let bad = |what: String| Error::Input(format!("model sidecar `{path}`: {what}"));
        let n = sidecar.feature_order.len();
        if n == 0 || sidecar.feature_mean.len() != n || sidecar.feature_std.len() != n {
            return Err(bad(format!(
                "feature_order lists {n} feature(s) but feature_mean has {} and feature_std {}; they must agree (and not be empty)",
                sidecar.feature_mean.len(),
                sidecar.feature_std.len()
            )));
        }
        let mut features = Vec::new();
        for name in &sidecar.feature_order {
            let index = FEATURE_ORDER
                .iter()
                .position(|f| f == name)
                .ok_or_else(|| {
                    bad(format!(
                    "feature_order names `{name}`, which a corpus row does not carry (known: {})",
                    FEATURE_ORDER.join(", ")
                ))
                })?;
            if features.contains(&index) {
                return Err(bad(format!("feature_order names `{name}` twice")));
            }
            features.push(index);
        }
        for (i, (m, s)) in sidecar
            .feature_mean
            .iter()
            .zip(&sidecar.feature_std)
            .enumerate()
        {
            if !m.is_finite() || !s.is_finite() || *s <= 0.0 {
                return Err(bad(format!(
                    "feature `{}` has mean {m} and std {s}; a finite mean and a positive finite std are needed to standardise it",
                    sidecar.feature_order[i]
                )));
            }
        }
        let mut columns = Vec::new();
        for name in &sidecar.codec_block_layout {
            let column = match name.as_str() {
                "preset_norm" => Column::PresetNorm,
                "crf_norm" => Column::CrfNorm,
                other => match other
                    .strip_prefix("encoder_onehot[")
                    .and_then(|rest| rest.strip_suffix(']'))
                {
                    Some(encoder) if sidecar.encoder_vocab.iter().any(|e| e == encoder) => {
                        Column::OneHot(encoder.to_owned())
                    }
                    Some(encoder) => {
                        return Err(bad(format!(
                            "codec_block_layout has a column for encoder `{encoder}`, which its encoder_vocab does not list"
                        )))
                    }
                    None => {
                        return Err(bad(format!(
                            "codec_block_layout names column `{other}`; only encoder_onehot[NAME], preset_norm and crf_norm are known"
                        )))
                    }
                },
            };
            if columns.contains(&column) {
                return Err(bad(format!("codec_block_layout names `{name}` twice")));
            }
            columns.push(column);
        }
        let (cq_min, cq_max) = (sidecar.corpus.cq_min, sidecar.corpus.cq_max);
        if !cq_min.is_finite() || !cq_max.is_finite() || cq_max < cq_min {
            return Err(bad(format!(
                "corpus.cq_min {cq_min} and corpus.cq_max {cq_max} are not a CQ range"
            )));
        }
        Ok(Inputs {
            features,
            mean: sidecar.feature_mean.clone(),
            std: sidecar.feature_std.clone(),
            columns,
            cq_min,
            cq_max,
        })
    }

    /// Whether the one-hot has a column for `encoder` itself (the catch-all `unknown` column
    /// does not count: it stands for every encoder outside the vocabulary).
    pub fn knows(&self, encoder: &str) -> bool {
        encoder != UNKNOWN && self.columns.contains(&Column::OneHot(encoder.to_owned()))
    }

    /// Whether the one-hot has the catch-all `unknown` column.
    pub fn has_unknown_slot(&self) -> bool {
        self.columns.contains(&Column::OneHot(UNKNOWN.to_owned()))
    }

    /// `crf_norm` of a cq: the min-max over the sidecar's range, 0.5 for a range narrower than
    /// [`MIN_CQ_RANGE`]; not clamped (SPEC §6).
    fn crf_norm(&self, cq: u32) -> f32 {
        let width = self.cq_max - self.cq_min;
        if width < MIN_CQ_RANGE {
            0.5
        } else {
            ((f64::from(cq) - self.cq_min) / width) as f32
        }
    }

    /// The standardised features and the codec block of `rows`, row-major. An encoder the
    /// one-hot does not know is fed through the `unknown` column (the caller has refused such
    /// rows unless asked to allow them).
    fn matrices(&self, rows: &[CorpusRow]) -> (Vec<f32>, Vec<f32>) {
        let mut features = Vec::with_capacity(rows.len() * self.features.len());
        let mut codec = Vec::with_capacity(rows.len() * self.columns.len());
        for row in rows {
            let raw = row.features();
            for (k, &index) in self.features.iter().enumerate() {
                features.push(((raw[index] - self.mean[k]) / self.std[k]) as f32);
            }
            let slot = if self.knows(&row.encoder) {
                row.encoder.as_str()
            } else {
                UNKNOWN
            };
            for column in &self.columns {
                codec.push(match column {
                    Column::OneHot(encoder) => f32::from(u8::from(encoder == slot)),
                    Column::PresetNorm => PRESET_NORM,
                    Column::CrfNorm => self.crf_norm(row.cq),
                });
            }
        }
        (features, codec)
    }
}

/// A member's model loaded into the runtime, with its input recipe.
pub struct Runtime {
    plan: Arc<TypedRunnableModel>,
    inputs: Inputs,
    path: String,
}

impl Runtime {
    /// Loads the ONNX bytes read from `path` (already checked against the sidecar's hash) and
    /// checks that the model's inputs and output are the ones the sidecar names.
    pub fn load(
        path: &Utf8Path,
        bytes: &[u8],
        sidecar: &ConsumerSidecar,
        inputs: Inputs,
    ) -> Result<Runtime> {
        let bad = |what: String| Error::Input(format!("model `{path}`: {what}"));
        let widths = [&inputs.features.len(), &inputs.columns.len()].map(|w| *w as u64);
        let expected = screen::Expected {
            inputs: [0, 1].map(|i| {
                let name = sidecar.input_names.get(i).map_or("", String::as_str);
                (name, widths[i])
            }),
            output: sidecar.output_names.first().map_or("", String::as_str),
        };
        screen::check(bytes, &expected).map_err(bad)?;
        let model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .map_err(|e| bad(format!("not a model the ONNX runtime can read: {e}")))?;
        let names: Vec<String> = model
            .input_outlets()
            .map_err(|e| bad(e.to_string()))?
            .iter()
            .map(|o| model.node(o.node).name.clone())
            .collect();
        if names != sidecar.input_names || names.len() != 2 {
            return Err(bad(format!(
                "its inputs are {names:?}, but its sidecar names {:?}; the kit feeds exactly two, features then codec block",
                sidecar.input_names
            )));
        }
        let outputs = model.output_outlets().map_err(|e| bad(e.to_string()))?;
        let output = outputs
            .first()
            .map(|o| {
                model
                    .outlet_label(*o)
                    .unwrap_or(&model.node(o.node).name)
                    .to_owned()
            })
            .unwrap_or_default();
        if sidecar.output_names.first() != Some(&output) {
            return Err(bad(format!(
                "its first output is `{output}`, but its sidecar names {:?}",
                sidecar.output_names
            )));
        }
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| bad(format!("the ONNX runtime cannot prepare it: {e}")))?;
        Ok(Runtime {
            plan,
            inputs,
            path: path.to_string(),
        })
    }

    /// The member's input recipe.
    pub fn inputs(&self) -> &Inputs {
        &self.inputs
    }

    /// The model's score for every row, in order; a non-finite score is an error naming the row.
    pub fn predict(&self, rows: &[CorpusRow]) -> Result<Vec<f64>> {
        let bad = |what: String| Error::Input(format!("model `{}`: {what}", self.path));
        let mut scores = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(CHUNK) {
            let (features, codec) = self.inputs.matrices(chunk);
            let run = || -> TractResult<TVec<TValue>> {
                let f = Tensor::from_shape(&[chunk.len(), self.inputs.features.len()], &features)?;
                let c = Tensor::from_shape(&[chunk.len(), self.inputs.columns.len()], &codec)?;
                self.plan.run(tvec!(f.into(), c.into()))
            };
            let out = run().map_err(|e| bad(format!("the ONNX runtime failed: {e}")))?;
            let view = out[0]
                .to_plain_array_view::<f32>()
                .map_err(|e| bad(format!("its score is not float32: {e}")))?;
            if view.len() != chunk.len() {
                return Err(bad(format!(
                    "it gave {} score(s) for {} row(s); one score per row is expected",
                    view.len(),
                    chunk.len()
                )));
            }
            for (row, &score) in chunk.iter().zip(view.iter()) {
                if !score.is_finite() {
                    return Err(bad(format!(
                        "it scored frame {} of {}/{}/cq{} as {score}",
                        row.frame_index, row.src, row.encoder, row.cq
                    )));
                }
                scores.push(f64::from(score));
            }
        }
        Ok(scores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> (ConsumerSidecar, Inputs) {
        let sidecar: ConsumerSidecar = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/reference-sidecar.json"
        )))
        .unwrap();
        let inputs = Inputs::of(Utf8Path::new("ref.json"), &sidecar).unwrap();
        (sidecar, inputs)
    }

    fn row(encoder: &str, cq: u32) -> CorpusRow {
        serde_json::from_value(serde_json::json!({"src": "a", "src_sha256": "0".repeat(64),
            "encoder": encoder, "cq": cq, "frame_index": 0, "enc_bytes": 1, "enc_time_ms": 1,
            "vmaf": 90.0, "adm2": 0.99, "vif_scale0": 0.6, "vif_scale1": 0.8,
            "vif_scale2": 0.87, "vif_scale3": 0.91, "motion2": 4.2}))
        .unwrap()
    }

    #[test]
    fn inputs_follow_the_reference_sidecar_alone() {
        let (_, inputs) = reference();
        let (features, codec) = inputs.matrices(&[row("hevc_nvenc", 25)]);
        // (0.99 - 0.95) / 0.04 = 1 for adm2; the others sit at their means.
        assert!((features[0] - 1.0).abs() < 1e-6, "{features:?}");
        assert!(features[1..].iter().all(|f| f.abs() < 1e-6), "{features:?}");
        let mut expected = [0f32; 14];
        expected[6] = 1.0;
        expected[12] = 0.5;
        expected[13] = 6.0 / 18.0;
        assert_eq!(codec, expected);
    }

    #[test]
    fn only_the_vocabulary_is_known_and_the_rest_goes_through_unknown() {
        let (_, inputs) = reference();
        assert!(inputs.knows("libx264") && !inputs.knows("libaom-av1"));
        assert!(!inputs.knows(UNKNOWN) && inputs.has_unknown_slot());
        let (_, codec) = inputs.matrices(&[row("libaom-av1", 19)]);
        assert_eq!(
            &codec[..12],
            &[0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 1.]
        );
        assert_eq!(codec[13], 0.0);
    }

    #[test]
    fn a_narrow_cq_range_gives_the_middle_and_wide_ones_are_not_clamped() {
        let (mut sidecar, _) = reference();
        sidecar.corpus.cq_max = sidecar.corpus.cq_min;
        let narrow = Inputs::of(Utf8Path::new("ref.json"), &sidecar).unwrap();
        assert_eq!(narrow.crf_norm(51), 0.5);
        let (_, inputs) = reference();
        assert_eq!(inputs.crf_norm(55), 2.0);
    }

    #[test]
    fn a_repeated_codec_column_is_refused() {
        let (mut sidecar, _) = reference();
        sidecar.codec_block_layout[1] = "encoder_onehot[libx264]".into();
        let err = Inputs::of(Utf8Path::new("ref.json"), &sidecar).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }
}
