//! Corpus → LOSO seeds → verdict: the network trained leave-one-source-out per seed, with the
//! same bits on every CPU (`train`), the gate's three rules (`rule`), how much a verdict
//! hinges on seed luck (`stability`), the gate that judges the seed files and writes the
//! verdict with the experiment it measured (`gate`), and the further seeds trained for the
//! stability estimate (`further_seeds`).
//!
//! Takes in the `ingest` stage's corpus; hands on `loso_seed{N}.json` and a `PROMOTE.json` or
//! `HOLD.json`, which `deliver` exports and bundles.

pub mod further_seeds;
pub mod gate;
pub mod rule;
pub mod stability;
pub mod train;
