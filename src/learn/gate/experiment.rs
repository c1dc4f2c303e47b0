//! The experiment a verdict describes (issue 18): which references (by content), encoders, CQ
//! grid, scoring tools, boxes and training recipe produced the LOSO files it judged — derived
//! from those files, the corpus they name and its shard metadata, never typed by hand.
//!
//! The corpus is used only when its rows hash to the `corpus_sha256` the LOSO files record, so a
//! file of the same name with other rows is never mistaken for it; when it cannot be found (a
//! LOSO folder alone, a reference-kit run) the facts it would give are `unknown`.

use super::seed::{is_reference, same_run};
use crate::ingest::merge::{self, MergeRules};
use crate::learn::train::{self, features};
use crate::schema::{
    CorpusRow, EncoderRows, Experiment, ExperimentRecipe, ExperimentShard, ExperimentSource,
    Geometry, Known, LosoSeed, Producer, Provenance,
};
use crate::stats;
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::{BTreeMap, BTreeSet};

/// The corpus behind a run's LOSO files: its unique rows sorted by key, their identity, and
/// each file's name with its metadata (when it had any).
pub struct CorpusEvidence {
    /// Unique rows in key order (as training saw them).
    pub rows: Vec<CorpusRow>,
    /// [`merge::rows_sha256`] of `rows`.
    pub sha256: String,
    /// Per corpus file: its file name and the metadata beside it.
    pub files: Vec<(String, Option<Provenance>)>,
}

impl CorpusEvidence {
    /// Loads `files` as one corpus with their metadata; `None` when any cannot be read (the
    /// facts are then unknown, never guessed). Every merge allowance is granted: what matters
    /// is whether the rows are the ones trained, which [`derive`] checks by their hash.
    pub fn load(files: &[Utf8PathBuf]) -> Option<CorpusEvidence> {
        let rules = MergeRules {
            allow_mixed_vmaf: true,
            allow_missing_meta: true,
        };
        let corpus = merge::load(files, rules).ok()?;
        let files = files
            .iter()
            .map(|f| Some((file_name(f.as_str()), merge::provenance(f).ok()?)))
            .collect::<Option<_>>()?;
        Some(CorpusEvidence {
            rows: corpus.rows.iter().collect(),
            sha256: corpus.sha256,
            files,
        })
    }

    /// Rows as read from several files (a bundle's members): deduplicated and sorted as a
    /// merge does; `None` when two rows of one key disagree (no merge would give such a corpus).
    pub fn from_rows(
        rows: impl IntoIterator<Item = CorpusRow>,
        files: Vec<(String, Option<Provenance>)>,
    ) -> Option<CorpusEvidence> {
        let mut unique: BTreeMap<merge::RowKey, CorpusRow> = BTreeMap::new();
        for row in rows {
            match unique.get(&merge::key(&row)) {
                Some(seen) if seen.vmaf != row.vmaf || seen.adm2 != row.adm2 => return None,
                Some(_) => {}
                None => {
                    unique.insert(merge::key(&row), row);
                }
            }
        }
        let rows: Vec<CorpusRow> = unique.into_values().collect();
        Some(CorpusEvidence {
            sha256: merge::rows_sha256(&rows),
            rows,
            files,
        })
    }
}

/// The last component of a path as recorded (`corpus/shard.jsonl` → `shard.jsonl`).
fn file_name(path: &str) -> String {
    Utf8Path::new(path).file_name().unwrap_or(path).to_owned()
}

/// Finds the corpus a kit LOSO folder's seed files name: `given` shards when the caller knows
/// them, else the recorded paths taken relative to the folder's parent (a `full` results
/// folder) and then as given (relative to the working folder). `None` for a reference run, or
/// when nothing found hashes to the recorded corpus.
pub fn locate(
    loso_dir: &Utf8Path,
    seed: &LosoSeed,
    given: &[Utf8PathBuf],
) -> Option<CorpusEvidence> {
    if is_reference(seed) {
        return None;
    }
    let recorded: Vec<Utf8PathBuf> = seed
        .corpus
        .split(',')
        .filter(|p| !p.is_empty())
        .map(Utf8PathBuf::from)
        .collect();
    let parent = loso_dir.parent().unwrap_or(Utf8Path::new(""));
    let beside: Vec<Utf8PathBuf> = recorded
        .iter()
        .map(|p| {
            if p.is_relative() {
                parent.join(p)
            } else {
                p.clone()
            }
        })
        .collect();
    [given.to_vec(), beside, recorded]
        .into_iter()
        .filter(|files| !files.is_empty() && files.iter().all(|f| f.is_file()))
        .filter_map(|files| CorpusEvidence::load(&files))
        .find(|evidence| evidence.sha256 == seed.corpus_sha256)
}

/// The experiment of `judged` (one run's seed files, checked by the gate) and the `further`
/// seeds trained alike, with the corpus when it is the one they trained on.
pub fn derive(
    judged: &[LosoSeed],
    further: &[LosoSeed],
    corpus: Option<&CorpusEvidence>,
) -> Experiment {
    let first = &judged[0];
    let producer = if is_reference(first) {
        Producer::Reference
    } else {
        Producer::Kit
    };
    let corpus = corpus.filter(|c| producer == Producer::Kit && c.sha256 == first.corpus_sha256);
    let mut seeds: Vec<u64> = judged
        .iter()
        .chain(further.iter().filter(|s| same_run(s, first)))
        .map(|s| s.seed)
        .collect();
    seeds.sort_unstable();
    seeds.dedup();
    Experiment {
        producer,
        corpus_sha256: (producer == Producer::Kit)
            .then(|| first.corpus_sha256.clone())
            .into(),
        corpus_found: corpus.is_some(),
        sources: sources(first, corpus),
        encoders: corpus.map(|c| encoders(c, judged)).into(),
        cqs: corpus
            .map(|c| {
                let cqs: BTreeSet<u32> = c.rows.iter().map(|r| r.cq).collect();
                cqs.into_iter().collect()
            })
            .into(),
        shards: corpus.map(shards).into(),
        platforms: corpus
            .and_then(|c| {
                let tags: Option<BTreeSet<String>> = shards(c)
                    .iter()
                    .map(|s| s.platform.get().cloned())
                    .collect();
                tags.map(|t| t.into_iter().collect())
            })
            .into(),
        recipe: recipe(judged, producer),
        seeds,
    }
}

/// Why a verdict's `stated` experiment is not the one `derived` again from its LOSO files (and
/// corpus, when `derived` found it), naming the first part that differs; `None` when it is. Where
/// the corpus was not at hand, what only it gives is left out on both sides (it stays claimed);
/// a verdict written before experiments recorded the recipe revision is held to the rest.
pub fn contradiction(stated: &Experiment, derived: &Experiment) -> Option<String> {
    // Through the same text as the file's, so that floats compare as read.
    let derived: Experiment =
        serde_json::from_str(&serde_json::to_string(derived).expect("experiments serialise"))
            .expect("experiments read back");
    let (stated, mut derived) = if derived.corpus_found {
        (stated.clone(), derived)
    } else {
        (without_corpus(stated.clone()), without_corpus(derived))
    };
    if stated.recipe.recipe_revision.is_none() {
        derived.recipe.recipe_revision = None;
    }
    if stated == derived {
        return None;
    }
    let (a, b) = (
        serde_json::to_value(&stated).expect("serialises"),
        serde_json::to_value(&derived).expect("serialises"),
    );
    let field = b
        .as_object()
        .and_then(|b| b.iter().find(|(k, v)| a.get(k.as_str()) != Some(*v)))
        .map_or("its layout".to_owned(), |(k, _)| format!("`{k}`"));
    Some(format!("{field} differs"))
}

/// `experiment` with everything the corpus gives marked unknown: what can still be checked
/// where the corpus is not at hand.
pub fn without_corpus(experiment: Experiment) -> Experiment {
    Experiment {
        corpus_found: false,
        sources: experiment
            .sources
            .into_iter()
            .map(|s| ExperimentSource {
                name: s.name,
                sha256: Known::UNKNOWN,
                geometry: Known::UNKNOWN,
                frames: Known::UNKNOWN,
                scored_frames: Known::UNKNOWN,
            })
            .collect(),
        encoders: Known::UNKNOWN,
        cqs: Known::UNKNOWN,
        shards: Known::UNKNOWN,
        platforms: Known::UNKNOWN,
        ..experiment
    }
}

/// Per fold source: its bytes, geometry and frames from the corpus and shard metadata.
fn sources(first: &LosoSeed, corpus: Option<&CorpusEvidence>) -> Vec<ExperimentSource> {
    let described: BTreeMap<String, (Geometry, u64)> = corpus
        .map(|c| {
            c.files
                .iter()
                .filter_map(|(_, p)| p.as_ref())
                .flat_map(scored_sources)
                .collect()
        })
        .unwrap_or_default();
    first
        .folds
        .iter()
        .map(|fold| {
            let rows: Vec<&CorpusRow> = corpus
                .map(|c| c.rows.iter().filter(|r| r.src == fold.held_out).collect())
                .unwrap_or_default();
            // An import without the videos carries a marker, not the video's hash.
            let sha256 = rows
                .first()
                .map(|r| r.src_sha256.clone())
                .filter(|sha| *sha != crate::ingest::import::unknown_source_marker(&fold.held_out));
            let facts = sha256.as_ref().and_then(|sha| described.get(sha));
            let frames: BTreeSet<u64> = rows.iter().map(|r| r.frame_index).collect();
            ExperimentSource {
                name: fold.held_out.clone(),
                geometry: facts.map(|(g, _)| *g).into(),
                frames: facts.map(|(_, f)| *f).into(),
                scored_frames: (!rows.is_empty()).then_some(frames.len() as u64).into(),
                sha256: sha256.into(),
            }
        })
        .collect()
}

/// (video SHA-256, (geometry, frames)) of every source a scored shard describes, through merges.
fn scored_sources(p: &Provenance) -> Vec<(String, (Geometry, u64))> {
    match p {
        Provenance::Shard(m) => m
            .sources
            .iter()
            .map(|s| (s.sha256.clone(), (s.geometry, s.frames)))
            .collect(),
        Provenance::Imported(_) => Vec::new(),
        Provenance::Merged(m) => m
            .shards
            .iter()
            .flat_map(|s| {
                let inner: Vec<Provenance> = s
                    .meta
                    .clone()
                    .map(|m| Provenance::Shard(Box::new(m)))
                    .into_iter()
                    .chain(s.merged.clone().map(Provenance::Merged))
                    .collect();
                inner.iter().flat_map(scored_sources).collect::<Vec<_>>()
            })
            .collect(),
    }
}

/// Every encoder's rows and CQs, and the PLCC of its held-out predictions.
fn encoders(corpus: &CorpusEvidence, judged: &[LosoSeed]) -> Vec<EncoderRows> {
    let mut by_encoder: BTreeMap<&str, (u64, BTreeSet<u32>)> = BTreeMap::new();
    for row in &corpus.rows {
        let entry = by_encoder.entry(&row.encoder).or_default();
        entry.0 += 1;
        entry.1.insert(row.cq);
    }
    let plccs = encoder_plccs(corpus, judged);
    by_encoder
        .into_iter()
        .map(|(encoder, (rows, cqs))| EncoderRows {
            encoder: encoder.to_owned(),
            rows,
            cqs: cqs.into_iter().collect(),
            loso_plcc: plccs
                .as_ref()
                .and_then(|p| p.get(encoder).copied().flatten())
                .into(),
        })
        .collect()
}

/// Per encoder, the mean over the judged seeds of the PLCC of its held-out rows (pooled over
/// folds); `None` when any fold's recorded predictions do not line up with the corpus rows
/// (files of another producer, or edited), so nothing is attributed to the wrong rows.
fn encoder_plccs(
    corpus: &CorpusEvidence,
    judged: &[LosoSeed],
) -> Option<BTreeMap<String, Option<f64>>> {
    let mut per_seed: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    for seed in judged {
        let mut pairs: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for fold in &seed.folds {
            let rows: Vec<&CorpusRow> = corpus
                .rows
                .iter()
                .filter(|r| r.src == fold.held_out)
                .collect();
            let truth = stats::round_milli(
                &rows
                    .iter()
                    .map(|r| f64::from(r.vmaf as f32))
                    .collect::<Vec<_>>(),
            );
            if rows.is_empty() || truth != fold.true_vmaf || fold.predicted_vmaf.len() != rows.len()
            {
                return None;
            }
            for (row, &predicted) in rows.iter().zip(&fold.predicted_vmaf) {
                let entry = pairs.entry(&row.encoder).or_default();
                entry.0.push(predicted);
                entry.1.push(f64::from(row.vmaf as f32));
            }
        }
        for (encoder, (predicted, truth)) in pairs {
            per_seed
                .entry(encoder.to_owned())
                .or_default()
                .push(stats::plcc(&predicted, &truth));
        }
    }
    Some(
        per_seed
            .into_iter()
            .map(|(encoder, plccs)| {
                let defined: Option<Vec<f64>> = plccs.into_iter().collect();
                (encoder, defined.and_then(stats::mean))
            })
            .collect(),
    )
}

/// Every shard that scored rows, through merges, in the order given.
fn shards(corpus: &CorpusEvidence) -> Vec<ExperimentShard> {
    corpus
        .files
        .iter()
        .flat_map(|(file, p)| match p {
            Some(p) => shards_of(p),
            None => vec![unknown_shard(file)],
        })
        .collect()
}

fn unknown_shard(file: &str) -> ExperimentShard {
    ExperimentShard {
        file: file_name(file),
        platform: Known::UNKNOWN,
        libvmaf_version: Known::UNKNOWN,
        vmaf_model: Known::UNKNOWN,
        vmaf_sha256: Known::UNKNOWN,
        ffmpeg_sha256: Known::UNKNOWN,
        frames_per_source: Known::UNKNOWN,
    }
}

fn shards_of(p: &Provenance) -> Vec<ExperimentShard> {
    match p {
        Provenance::Shard(m) => vec![ExperimentShard {
            file: file_name(&m.shard_file),
            platform: Known::Known(m.platform.tag.clone()),
            libvmaf_version: Known::Known(m.tools.vmaf.version.clone()),
            vmaf_model: Known::Known(m.settings.vmaf_model.clone()),
            vmaf_sha256: Known::Known(m.tools.vmaf.sha256.clone()),
            ffmpeg_sha256: Known::Known(m.tools.ffmpeg.sha256.clone()),
            frames_per_source: Known::Known(m.settings.frames_per_source),
        }],
        Provenance::Imported(m) => vec![unknown_shard(&m.shard_file)],
        Provenance::Merged(m) => m
            .shards
            .iter()
            .flat_map(|s| {
                if let Some(meta) = &s.meta {
                    shards_of(&Provenance::Shard(Box::new(meta.clone())))
                } else if let Some(imported) = &s.imported {
                    vec![unknown_shard(&imported.shard_file)]
                } else if let Some(merged) = &s.merged {
                    shards_of(&Provenance::Merged(merged.clone()))
                } else {
                    vec![unknown_shard(&s.file)]
                }
            })
            .collect(),
    }
}

/// The recipe the judged seeds record, with the revision and kit version that trained them.
/// What a revision's code decides (features, `crf_norm`) is known only when every seed file's
/// key is the one its own fields give and its revision is one this kit implements.
fn recipe(judged: &[LosoSeed], producer: Producer) -> ExperimentRecipe {
    let first = &judged[0];
    let kit = producer == Producer::Kit
        && judged.iter().all(|s| {
            s.recipe_key == train::recorded_key(s)
                && train::trained_by(s) == train::trained_by(first)
        });
    let (revision, kit_version) = train::trained_by(first);
    let ours = kit && train::IMPLEMENTED_REVISIONS.contains(&revision);
    ExperimentRecipe {
        epochs: first.epochs,
        batch_size: first.batch_size,
        lr: first.lr,
        weight_decay: first.weight_decay,
        dropout: (producer == Producer::Kit).then_some(first.dropout).into(),
        features: ours
            .then(|| {
                features::FEATURE_ORDER
                    .iter()
                    .map(|f| f.to_string())
                    .collect()
            })
            .into(),
        crf_norm: ours.then(features::crf_norm_convention).into(),
        kit_version: kit.then_some(kit_version).into(),
        recipe_revision: first
            .recipe_revision
            .map(|_| kit.then_some(revision).into()),
        num_codecs: first.num_codecs,
        encoder_vocab_version: first.encoder_vocab_version.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::UnknownMarker;

    #[test]
    fn unknown_is_written_as_the_word_and_read_back() {
        let unknown: Known<String> = Known::UNKNOWN;
        assert_eq!(serde_json::to_value(&unknown).unwrap(), "unknown");
        let back: Known<String> = serde_json::from_value("unknown".into()).unwrap();
        assert_eq!(back, Known::Unknown(UnknownMarker::Unknown));
        let value: Known<u64> = serde_json::from_value(7.into()).unwrap();
        assert_eq!(value.get(), Some(&7));
    }
}
