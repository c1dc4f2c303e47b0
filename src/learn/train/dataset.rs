//! The corpus as model inputs, held once and shared by every fold and seed: one 64-byte record
//! per row (raw features, target, cq, encoder slot, fold), standardised as each batch is
//! gathered rather than copied per fit, so memory is flat in folds and seeds.

use super::features::{self, CqRange, InputScaling, Standardiser};
use super::shape::INPUT;
use crate::error::{Error, Result};
use crate::ingest::merge::Corpus;
use ndarray::{Array1, Array2};

/// One row as the trainer reads it, aligned to one cache line so a random gather touches one
/// line per row. The features stay f64: each fold standardises them in f64 and rounds the result
/// to f32 once, exactly as when every fit held its own standardised copy, so the bits do not
/// depend on how the rows are stored.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Row {
    features: [f64; 6],
    target: f32,
    cq: u32,
    source: u32,
    slot: u8,
}

/// The corpus as model inputs: raw features, encoder slots, cqs, targets and fold membership.
pub struct Dataset {
    rows: Vec<Row>,
    /// Sorted unique source names: the folds.
    pub sources: Vec<String>,
    /// Rows whose encoder is outside the vocabulary.
    pub unknown_encoder_rows: u64,
}

impl Dataset {
    /// Builds the dataset; fewer than two sources is an input error.
    pub fn new(corpus: &Corpus) -> Result<Dataset> {
        let columns = &corpus.rows;
        let mut sources: Vec<String> = columns
            .sources()
            .iter()
            .map(|(name, _)| name.clone())
            .collect();
        sources.sort();
        sources.dedup();
        if sources.len() < 2 {
            return Err(Error::Input(format!(
                "the corpus ({}) has {} source(s); leave-one-source-out needs at least 2",
                corpus
                    .files
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                sources.len()
            )));
        }
        // Per source and encoder of the corpus's tables, its fold and its vocabulary slot.
        let folds: Vec<u32> = columns
            .sources()
            .iter()
            .map(|(name, _)| sources.binary_search(name).expect("listed") as u32)
            .collect();
        let slots: Vec<u8> = columns
            .encoders()
            .iter()
            .map(|e| features::encoder_slot(e) as u8)
            .collect();
        let rows = (0..columns.len())
            .map(|i| Row {
                features: columns.features(i),
                target: columns.vmaf(i) as f32,
                cq: columns.cq(i),
                source: folds[columns.source_id(i)],
                slot: slots[columns.encoder_id(i)],
            })
            .collect();
        Ok(Dataset::of(rows, sources))
    }

    fn of(rows: Vec<Row>, sources: Vec<String>) -> Dataset {
        let unknown_encoder_rows = rows
            .iter()
            .filter(|r| features::is_unknown_slot(usize::from(r.slot)))
            .count() as u64;
        Dataset {
            rows,
            sources,
            unknown_encoder_rows,
        }
    }

    /// The first `n` rows of this dataset repeated cyclically: a corpus of any size with the
    /// same folds, for `bench train --rows`.
    pub fn repeated(&self, n: usize) -> Dataset {
        let rows = self.rows.iter().copied().cycle().take(n).collect();
        Dataset::of(rows, self.sources.clone())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The network input of row `i` under a scaling.
    #[inline]
    pub fn input(&self, i: usize, scaling: &InputScaling) -> [f32; INPUT] {
        let row = &self.rows[i];
        scaling.input(&row.features, usize::from(row.slot), row.cq)
    }

    /// The target (VMAF) of row `i`.
    #[inline]
    pub fn target(&self, i: usize) -> f32 {
        self.rows[i].target
    }

    /// Asks the CPU to bring row `i` into cache (a hint: no value changes).
    #[inline]
    pub fn prefetch(&self, i: usize) {
        if let Some(row) = self.rows.get(i) {
            super::simd::prefetch(std::ptr::from_ref(row).cast());
        }
    }

    /// Inputs and targets of the given rows under a scaling, as a matrix: for predictions on a
    /// held-out source and for the export fit's figures.
    pub fn matrix(&self, rows: &[usize], scaling: &InputScaling) -> (Array2<f32>, Array1<f32>) {
        let mut x = Array2::zeros((rows.len(), INPUT));
        for (mut out, &i) in x.rows_mut().into_iter().zip(rows) {
            out.assign(&ndarray::ArrayView1::from(&self.input(i, scaling)));
        }
        (x, rows.iter().map(|&i| self.target(i)).collect())
    }

    /// The rows of fold `fold`: (training rows — every other source's —, the held-out source's).
    /// Each list is allocated at its final size: grown by doubling, the two lists of a 10⁶-row
    /// fold would leave megabytes of freed blocks behind in the allocator.
    pub fn fold_rows(&self, fold: usize) -> (Vec<usize>, Vec<usize>) {
        let held_out = |i: &usize| self.rows[*i].source as usize == fold;
        let n_val = (0..self.len()).filter(held_out).count();
        let mut train = Vec::with_capacity(self.len() - n_val);
        let mut val = Vec::with_capacity(n_val);
        for i in 0..self.len() {
            if held_out(&i) {
                val.push(i);
            } else {
                train.push(i);
            }
        }
        (train, val)
    }

    /// The scaling fitted on the given rows: a fold's training rows, or all rows for export.
    pub fn scaling(&self, rows: &[usize]) -> InputScaling {
        InputScaling {
            standardiser: Standardiser::fit(rows.iter().map(|&i| &self.rows[i].features)),
            cq_range: CqRange::fit(rows.iter().map(|&i| self.rows[i].cq)),
        }
    }
}
