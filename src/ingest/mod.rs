//! References in, a merged corpus out: the reference videos read and hashed (`sources`), every
//! cell (source × encoder × cq) encoded, decoded and scored into a shard with its audit cells
//! (`corpus`), the reference kit's rows imported (`import`), shards from several boxes merged
//! (`merge`), and references shipped losslessly between boxes (`transport`).
//!
//! Takes in reference videos and the `host` stage's tools and platform; hands on corpus rows
//! with their provenance (`merge::Corpus`), which `learn` trains on.

pub mod corpus;
pub mod import;
pub mod merge;
pub mod sources;
pub mod transport;
