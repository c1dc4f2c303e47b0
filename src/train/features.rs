//! The model's input (SPEC §6): six libvmaf features standardised per fold, then the 14-wide
//! codec block — a 12-slot one-hot of the encoder (vocabulary v2), `preset_norm` and
//! `crf_norm = cq / 63`. `crf_norm` is a fixed scale, so no statistic of the held-out fold
//! leaks into training (the reference normalised by the corpus min/max).

use crate::schema::CorpusRow;

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

/// Name of the vocabulary above.
pub const ENCODER_VOCAB_VERSION: &str = "v2";

/// Width of the codec block: one-hot, preset_norm, crf_norm.
pub const CODEC_BLOCK: usize = 14;

/// `preset_norm` for every row (the kit encodes at each family's middle preset).
pub const PRESET_NORM: f32 = 0.5;

/// The divisor of `crf_norm`.
pub const CQ_SCALE: f32 = 63.0;

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
    encoder_slot(encoder) == ENCODER_VOCAB_V2.len() - 1
}

/// The raw six features of a row.
pub fn raw_features(row: &CorpusRow) -> [f64; 6] {
    [
        row.adm2,
        row.vif_scale0,
        row.vif_scale1,
        row.vif_scale2,
        row.vif_scale3,
        row.motion2,
    ]
}

/// The codec block of a row.
pub fn codec_block(encoder: &str, cq: u32) -> [f32; CODEC_BLOCK] {
    let mut block = [0f32; CODEC_BLOCK];
    block[encoder_slot(encoder)] = 1.0;
    block[12] = PRESET_NORM;
    block[13] = cq as f32 / CQ_SCALE;
    block
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_block_layout() {
        let b = codec_block("hevc_qsv", 63);
        assert_eq!(b[9], 1.0);
        assert_eq!(b.iter().take(12).sum::<f32>(), 1.0);
        assert_eq!((b[12], b[13]), (0.5, 1.0));
        assert_eq!(encoder_slot("h264_videotoolbox"), 11);
        assert!(is_unknown("libaom-av1"));
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
        let x = s.input(&rows[1], &codec_block("libx264", 0));
        assert_eq!(x[0], 1.0);
        assert_eq!(x[6], 1.0);
    }
}
