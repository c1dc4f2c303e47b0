//! The model's input (SPEC §6): six libvmaf features standardised per fold, then the 14-wide
//! codec block — a 12-slot one-hot of the encoder (vocabulary v2), `preset_norm` and
//! `crf_norm`, a min-max of the cq over the CQ range of the rows the model is fitted on. Both the
//! standardisation and the CQ range come from the fitted rows only (a fold's training rows, or the
//! whole corpus for export), so nothing of a held-out source leaks into its fold.

/// The six features, in model order.
pub const FEATURE_ORDER: [&str; 6] = [
    "adm2",
    "vif_scale0",
    "vif_scale1",
    "vif_scale2",
    "vif_scale3",
    "motion2",
];

/// Encoder vocabulary v2, in slot order; anything else maps to `unknown`.
pub const ENCODER_VOCAB_V2: [&str; 12] = [
    "libx264",
    "libx265",
    "libsvtav1",
    "libvvenc",
    "libvpx-vp9",
    "h264_nvenc",
    "hevc_nvenc",
    "av1_nvenc",
    "h264_qsv",
    "hevc_qsv",
    "av1_qsv",
    "unknown",
];

/// Version of the vocabulary above (the sidecar's integer `encoder_vocab_version`).
pub const ENCODER_VOCAB_VERSION: u32 = 2;

/// The vocabulary's name in LOSO files and messages (`v2`).
pub fn encoder_vocab_label() -> String {
    format!("v{ENCODER_VOCAB_VERSION}")
}

/// Width of the codec block: one-hot, preset_norm, crf_norm.
pub const CODEC_BLOCK: usize = 14;

/// `preset_norm` for every row (the kit encodes at each family's middle preset).
pub const PRESET_NORM: f32 = 0.5;

/// A CQ range narrower than this has no width to normalise by: `crf_norm` is then 0.5.
pub const MIN_CQ_RANGE: f64 = 1e-6;

/// A standard deviation below this is treated as 1 (a constant feature).
pub const MIN_STD: f64 = 1e-8;

/// The vocabulary slot of an encoder (`unknown`'s slot for anything outside it).
pub fn encoder_slot(encoder: &str) -> usize {
    ENCODER_VOCAB_V2
        .iter()
        .position(|e| *e == encoder)
        .unwrap_or(ENCODER_VOCAB_V2.len() - 1)
}

/// Whether an encoder falls outside the vocabulary.
pub fn is_unknown(encoder: &str) -> bool {
    is_unknown_slot(encoder_slot(encoder))
}

/// Whether a vocabulary slot is `unknown`'s.
pub fn is_unknown_slot(slot: usize) -> bool {
    slot == ENCODER_VOCAB_V2.len() - 1
}

/// The names of the codec block's 14 columns, as the reference's sidecar lists them:
/// `encoder_onehot[NAME]` per vocabulary slot, then `preset_norm`, `crf_norm`.
pub fn codec_block_layout() -> Vec<String> {
    ENCODER_VOCAB_V2
        .iter()
        .map(|e| format!("encoder_onehot[{e}]"))
        .chain(["preset_norm".to_owned(), "crf_norm".to_owned()])
        .collect()
}

/// The codec block of a row: its encoder's vocabulary slot (see [`encoder_slot`]) and its cq,
/// normalised over `cq_range`.
pub fn codec_block(slot: usize, cq: u32, cq_range: &CqRange) -> [f32; CODEC_BLOCK] {
    let mut block = [0f32; CODEC_BLOCK];
    block[slot] = 1.0;
    block[12] = PRESET_NORM;
    block[13] = cq_range.crf_norm(cq);
    block
}

/// The smallest and largest cq of the rows a model is fitted on: what `crf_norm` is a min-max
/// over, and what a sidecar records so a consumer feeds the model the same inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CqRange {
    /// Smallest cq of the fitted rows.
    pub min: f64,
    /// Largest cq of the fitted rows.
    pub max: f64,
}

impl CqRange {
    /// The range of `cqs` (no cqs: the empty range 0..0, whose `crf_norm` is 0.5).
    pub fn fit(cqs: impl Iterator<Item = u32>) -> CqRange {
        let (min, max) = cqs
            .fold(None, |range: Option<(u32, u32)>, cq| {
                Some(range.map_or((cq, cq), |(lo, hi)| (lo.min(cq), hi.max(cq))))
            })
            .unwrap_or((0, 0));
        CqRange {
            min: f64::from(min),
            max: f64::from(max),
        }
    }

    /// `crf_norm` = (cq − min) / (max − min), or 0.5 when the range is narrower than
    /// [`MIN_CQ_RANGE`] (SPEC §6). Not clamped, as SPEC §6 states no clamp: a held-out cq
    /// outside the training range maps outside [0, 1].
    pub fn crf_norm(&self, cq: u32) -> f32 {
        let width = self.max - self.min;
        if width < MIN_CQ_RANGE {
            0.5
        } else {
            ((f64::from(cq) - self.min) / width) as f32
        }
    }
}

/// Per-feature mean and population standard deviation of the given rows (std < 1e-8 → 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standardiser {
    /// Means, in [`FEATURE_ORDER`].
    pub mean: [f64; 6],
    /// Standard deviations, in [`FEATURE_ORDER`].
    pub std: [f64; 6],
}

impl Standardiser {
    /// Fits on `rows` (the training rows of a fold, or the whole corpus for export).
    pub fn fit<'a>(rows: impl Iterator<Item = &'a [f64; 6]> + Clone) -> Standardiser {
        let n = rows.clone().count().max(1) as f64;
        let mut mean = [0f64; 6];
        for r in rows.clone() {
            for (m, v) in mean.iter_mut().zip(r) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = [0f64; 6];
        for r in rows {
            for ((s, v), m) in var.iter_mut().zip(r).zip(&mean) {
                *s += (v - m) * (v - m);
            }
        }
        let std = var.map(|s| {
            let sd = (s / n).sqrt();
            if sd < MIN_STD {
                1.0
            } else {
                sd
            }
        });
        Standardiser { mean, std }
    }

    /// The network input of one row: standardised features then the codec block.
    pub fn input(&self, features: &[f64; 6], codec: &[f32; CODEC_BLOCK]) -> [f32; 20] {
        let mut x = [0f32; 20];
        for i in 0..6 {
            x[i] = ((features[i] - self.mean[i]) / self.std[i]) as f32;
        }
        x[6..].copy_from_slice(codec);
        x
    }
}

/// What is fitted on a model's rows to turn a corpus row into its input: the feature
/// standardisation and the CQ range of `crf_norm`. A fold fits it on its training rows only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputScaling {
    /// Feature means and standard deviations.
    pub standardiser: Standardiser,
    /// The CQ range `crf_norm` is a min-max over.
    pub cq_range: CqRange,
}

impl InputScaling {
    /// The network input of a row: its raw features, its encoder's slot and its cq.
    pub fn input(&self, features: &[f64; 6], slot: usize, cq: u32) -> [f32; 20] {
        self.standardiser
            .input(features, &codec_block(slot, cq, &self.cq_range))
    }
}

/// How the codec block's `crf_norm` column is computed, in the words sidecars and verdicts
/// record.
pub fn crf_norm_convention() -> String {
    format!(
        "(cq - corpus.cq_min) / (corpus.cq_max - corpus.cq_min), or 0.5 when that range is below {:e}; not clamped",
        MIN_CQ_RANGE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_block_slots() {
        let range = CqRange::fit([19, 37, 25].into_iter());
        let b = codec_block(encoder_slot("hevc_qsv"), 37, &range);
        assert_eq!(b[9], 1.0);
        assert_eq!(b.iter().take(12).sum::<f32>(), 1.0);
        assert_eq!((b[12], b[13]), (0.5, 1.0));
        assert_eq!(encoder_slot("h264_videotoolbox"), 11);
        assert!(is_unknown("libaom-av1"));
        let layout = codec_block_layout();
        assert_eq!(layout.len(), CODEC_BLOCK);
        assert_eq!(layout[0], "encoder_onehot[libx264]");
        assert_eq!(layout[11], "encoder_onehot[unknown]");
        assert_eq!(layout[12..], ["preset_norm", "crf_norm"]);
    }

    #[test]
    fn crf_norm_is_a_min_max_over_the_fitted_cqs() {
        let range = CqRange::fit([25, 19, 31, 37].into_iter());
        assert_eq!((range.min, range.max), (19.0, 37.0));
        assert_eq!(range.crf_norm(19), 0.0);
        assert_eq!(range.crf_norm(28), 0.5);
        assert_eq!(range.crf_norm(37), 1.0);
        assert_eq!(range.crf_norm(46), 1.5, "not clamped");
        let single = CqRange::fit([30, 30].into_iter());
        assert_eq!(single.crf_norm(30), 0.5, "one cq: no width, 0.5");
        assert_eq!(single.crf_norm(40), 0.5);
        assert_eq!(CqRange::fit(std::iter::empty()).crf_norm(30), 0.5);
    }

    #[test]
    fn constant_feature_gets_unit_std() {
        let rows = [
            [1.0, 2.0, 0.5, 0.5, 0.5, 0.0],
            [3.0, 2.0, 0.5, 0.5, 0.5, 0.0],
        ];
        let s = Standardiser::fit(rows.iter());
        assert_eq!(s.mean[0], 2.0);
        assert_eq!(s.std[0], 1.0);
        assert_eq!(s.std[1], 1.0);
        let x = s.input(&rows[1], &codec_block(0, 0, &CqRange::fit([0].into_iter())));
        assert_eq!(x[0], 1.0);
        assert_eq!(x[6], 1.0);
    }
}
