//! Judging a bundle's corpus and experiment: a bundled corpus is the one the judged seeds were
//! trained on — rows that hash to their `corpus_sha256` and metadata that reads against its
//! schema — or the bundle is refused (contradicted, never "not found"); and the verdict's
//! experiment is what the LOSO files and that corpus give. Without a corpus, what only it
//! could prove (the references' bytes, the shards) stays claimed.

use super::contents::Contents;
use crate::learn::gate::experiment::{self, CorpusEvidence};
use crate::learn::gate::is_reference;
use crate::schema::{Evidence, LosoSeed, VerdictFile};
use camino::Utf8Path;

impl Contents {
    /// The bundled corpus — every `corpus/*.jsonl` member merged, with the metadata beside
    /// each — when it is the one the judged seeds were trained on; `None` when the bundle holds
    /// none. A corpus that cannot be read, or provably is another, is a problem.
    pub(super) fn bundled_corpus(
        &self,
        judged: &[LosoSeed],
        problems: &mut Vec<String>,
    ) -> Option<CorpusEvidence> {
        if self.corpus_rows.is_empty() {
            return None;
        }
        let mut rows = Vec::new();
        let mut files = Vec::new();
        let mut readable = true;
        for (member, parsed) in &self.corpus_rows {
            match parsed {
                Some(parsed) => rows.extend(parsed.iter().cloned()),
                None => {
                    problems.push(format!("invalid: {member}: a line is not a corpus row"));
                    readable = false;
                }
            }
            let meta = crate::ingest::corpus::meta_path(Utf8Path::new(member));
            let provenance = match self.corpus_meta.get(meta.as_str()) {
                Some(Ok(provenance)) => Some(provenance.clone()),
                Some(Err(e)) => {
                    problems.push(format!(
                        "invalid: {e} (a bundled corpus's metadata must read against its schema)"
                    ));
                    readable = false;
                    None
                }
                None => None,
            };
            let file = Utf8Path::new(member)
                .file_name()
                .unwrap_or(member)
                .to_owned();
            files.push((file, provenance));
        }
        if !readable {
            return None;
        }
        let Some(evidence) = CorpusEvidence::from_rows(rows, files) else {
            problems.push(
                "invalid: the bundled corpus files hold two different rows for one frame".into(),
            );
            return None;
        };
        let first = judged.first()?;
        if is_reference(first) {
            // The reference kit records no corpus identity to hold the rows against.
            return None;
        }
        if evidence.sha256 != first.corpus_sha256 {
            problems.push(format!(
                "{}: the bundled corpus (rows sha256 {}) is not the corpus the judged seeds were trained on ({}); \
                 its rows, references and shards say nothing about this verdict",
                Evidence::Contradicted,
                evidence.sha256,
                first.corpus_sha256
            ));
            return None;
        }
        Some(evidence)
    }

    /// The verdict's `experiment`, derived again from the bundled LOSO files and corpus; where
    /// the bundle holds no corpus, only what the LOSO files give.
    pub(super) fn check_experiment(
        &self,
        verdict: &VerdictFile,
        name: &str,
        judged: &[LosoSeed],
        others: &[LosoSeed],
        corpus: Option<&CorpusEvidence>,
        problems: &mut Vec<String>,
    ) {
        let Some(stated) = &verdict.experiment else {
            return;
        };
        let again = experiment::derive(judged, others, corpus);
        if let Some(what) = experiment::contradiction(stated, &again) {
            problems.push(format!(
                "stale: {name}'s experiment is not what its bundled LOSO files{} give ({what})",
                if corpus.is_some() { " and corpus" } else { "" }
            ));
        }
    }
}
