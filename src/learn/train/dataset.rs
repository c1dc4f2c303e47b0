//! The corpus as model inputs: raw features, encoder slots, CQs, targets and fold membership.

use super::features::{self, CqRange, InputScaling, Standardiser};
use super::shape::INPUT;
use crate::error::{Error, Result};
use crate::ingest::merge::Corpus;
use ndarray::{Array1, Array2};

/// The corpus as model inputs: raw features, encoder slots, cqs, targets and fold membership.
pub struct Dataset {
    features: Vec<[f64; 6]>,
    encoder_slot: Vec<usize>,
    cq: Vec<u32>,
    target: Vec<f32>,
    source: Vec<usize>,
    /// Sorted unique source names: the folds.
    pub sources: Vec<String>,
    /// Rows whose encoder is outside the vocabulary.
    pub unknown_encoder_rows: u64,
}

impl Dataset {
    /// Builds the dataset; fewer than two sources is an input error.
    pub fn new(corpus: &Corpus) -> Result<Dataset> {
        let mut sources: Vec<String> = corpus.rows.iter().map(|r| r.src.clone()).collect();
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
        let rows = &corpus.rows;
        Ok(Dataset {
            features: rows.iter().map(features::raw_features).collect(),
            encoder_slot: rows
                .iter()
                .map(|r| features::encoder_slot(&r.encoder))
                .collect(),
            cq: rows.iter().map(|r| r.cq).collect(),
            target: rows.iter().map(|r| r.vmaf as f32).collect(),
            source: rows
                .iter()
                .map(|r| sources.binary_search(&r.src).expect("listed"))
                .collect(),
            unknown_encoder_rows: rows
                .iter()
                .filter(|r| features::is_unknown(&r.encoder))
                .count() as u64,
            sources,
        })
    }

    /// The first `n` rows of this dataset repeated cyclically: a corpus of any size with the
    /// same folds, for `bench train --rows`.
    pub fn repeated(&self, n: usize) -> Dataset {
        let cycle = |i: usize| i % self.len();
        Dataset {
            features: (0..n).map(|i| self.features[cycle(i)]).collect(),
            encoder_slot: (0..n).map(|i| self.encoder_slot[cycle(i)]).collect(),
            cq: (0..n).map(|i| self.cq[cycle(i)]).collect(),
            target: (0..n).map(|i| self.target[cycle(i)]).collect(),
            source: (0..n).map(|i| self.source[cycle(i)]).collect(),
            sources: self.sources.clone(),
            unknown_encoder_rows: (0..n)
                .filter(|&i| features::is_unknown_slot(self.encoder_slot[cycle(i)]))
                .count() as u64,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.target.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.target.is_empty()
    }

    /// Inputs and targets of the given rows under a scaling.
    pub fn matrix(&self, rows: &[usize], scaling: &InputScaling) -> (Array2<f32>, Array1<f32>) {
        let mut x = Array2::zeros((rows.len(), INPUT));
        for (mut out, &i) in x.rows_mut().into_iter().zip(rows) {
            out.assign(&ndarray::ArrayView1::from(&scaling.input(
                &self.features[i],
                self.encoder_slot[i],
                self.cq[i],
            )));
        }
        (x, rows.iter().map(|&i| self.target[i]).collect())
    }

    /// The rows of fold `fold`: (training rows — every other source's —, the held-out source's).
    pub fn fold_rows(&self, fold: usize) -> (Vec<usize>, Vec<usize>) {
        (0..self.len()).partition(|&i| self.source[i] != fold)
    }

    /// The scaling fitted on the given rows: a fold's training rows, or all rows for export.
    pub fn scaling(&self, rows: &[usize]) -> InputScaling {
        InputScaling {
            standardiser: Standardiser::fit(rows.iter().map(|&i| &self.features[i])),
            cq_range: CqRange::fit(rows.iter().map(|&i| self.cq[i])),
        }
    }
}
