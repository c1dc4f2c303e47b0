//! The reference corpus a verdict describes (`--corpus-root`): its files' hashes and counts.

use crate::error::Result;
use crate::ingest::corpus::cache;
use crate::schema::VerdictCorpus;
use crate::{digest, layout, walk};
use camino::{Utf8Path, Utf8PathBuf};

/// Describes the reference corpus folder for the verdict.
pub(super) fn describe_corpus(root: Option<&Utf8Path>) -> Result<VerdictCorpus> {
    let Some(root) = root.filter(|r| r.is_dir()) else {
        return Ok(VerdictCorpus {
            present: false,
            corpus_root: root.map(|r| r.to_string()),
            sha256: None,
            ref_count: 0,
            dis_count: 0,
            yuv_count: 0,
        });
    };
    let files = regular_files(root)?;
    let mut listing = String::new();
    let (mut ref_count, mut dis_count, mut yuv_count) = (0, 0, 0);
    for rel in &files {
        let in_dis = rel.components().any(|c| c.as_str() == "dis");
        let video = matches!(rel.extension(), Some("yuv" | "y4m"));
        if in_dis {
            dis_count += 1;
        } else if video {
            ref_count += 1;
        }
        if rel.extension() == Some("yuv") {
            yuv_count += 1;
        }
        listing.push_str(&format!(
            "{rel}\t{}\n",
            digest::sha256_file(&root.join(rel))?
        ));
    }
    Ok(VerdictCorpus {
        present: true,
        corpus_root: Some(root.to_string()),
        sha256: Some(digest::sha256_bytes(listing.as_bytes())),
        ref_count,
        dis_count,
        yuv_count,
    })
}

/// Every regular file below `root`, relative to it and sorted by path (see [`walk::below`]),
/// but those of the kit's own folders (results folders and cell stores, known by their
/// markers): a results folder inside the reference folder must not change the corpus's hash
/// each time a run writes into it.
fn regular_files(root: &Utf8Path) -> Result<Vec<Utf8PathBuf>> {
    let entries = walk::below(root)?;
    let kit_folders: Vec<&Utf8Path> = entries
        .iter()
        .filter(|e| e.kind.is_file())
        .filter(|e| matches!(e.rel.file_name(), Some(layout::MARKER | cache::MARKER)))
        .filter_map(|e| e.rel.parent())
        .filter(|folder| !folder.as_str().is_empty())
        .collect();
    Ok(entries
        .iter()
        .filter(|e| e.kind.is_file())
        .filter(|e| !kit_folders.iter().any(|folder| e.rel.starts_with(folder)))
        .map(|e| e.rel.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The corpus description hashes every regular file below the root, sorted by relative
    /// path, and follows no symbolic link below the root (the verdict goldens pin the hash).
    #[test]
    fn corpus_description_lists_regular_files_and_follows_no_link() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        let top = Utf8Path::from_path(tmp.path()).unwrap();
        let root = top.join("refs");
        let files = [
            ("a.yuv", "a"),
            ("b.y4m", "b"),
            (".hidden", "h"),
            ("sub/c.yuv", "c"),
            ("sub/deeper/d.txt", "d"),
            ("dis/x.yuv", "x"),
            ("dis/nested/y.y4m", "y"),
            ("sub.txt", "s"),
        ];
        for (rel, content) in files {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
        std::fs::create_dir(root.join("empty")).unwrap();
        symlink(root.join("a.yuv"), root.join("link.yuv")).unwrap();
        symlink(root.join("sub"), root.join("linked_dir")).unwrap();
        symlink(root.join("gone"), root.join("broken.yuv")).unwrap();
        symlink(&root, top.join("refs-link")).unwrap();

        let mut sorted: Vec<(Utf8PathBuf, &str)> = files
            .iter()
            .map(|(rel, content)| (Utf8PathBuf::from(rel), *content))
            .collect();
        sorted.sort();
        let listing: String = sorted
            .iter()
            .map(|(rel, content)| format!("{rel}\t{}\n", digest::sha256_bytes(content.as_bytes())))
            .collect();
        let expected = VerdictCorpus {
            present: true,
            corpus_root: Some(root.to_string()),
            sha256: Some(digest::sha256_bytes(listing.as_bytes())),
            ref_count: 3,
            dis_count: 2,
            yuv_count: 3,
        };
        assert_eq!(describe_corpus(Some(&root)).unwrap(), expected);
        // A root that is itself a link is followed, as the folder it names.
        let through_link = describe_corpus(Some(&top.join("refs-link"))).unwrap();
        assert_eq!(through_link.sha256, expected.sha256);
        assert!(!describe_corpus(Some(&top.join("none"))).unwrap().present);
    }

    /// The kit's own folders inside the reference folder (a results folder, a cell store) are
    /// not part of the corpus: writing into them leaves its hash alone.
    #[test]
    fn results_folders_and_cell_stores_inside_the_root_are_not_hashed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(tmp.path()).unwrap();
        std::fs::write(root.join("a.yuv"), "a").unwrap();
        let before = describe_corpus(Some(root)).unwrap();
        for (rel, content) in [
            ("out/.ensemble-kit-results", ""),
            ("out/PROMOTE.json", "{}"),
            ("out/corpus/shard.cells/.ensemble-kit-cells", ""),
            ("out/corpus/shard.cells/k.json", "{}"),
            ("cells/.ensemble-kit-cells", ""),
            ("cells/scratch/x.yuv", "x"),
        ] {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
        assert_eq!(describe_corpus(Some(root)).unwrap(), before);
        std::fs::write(root.join("out/notes.yuv"), "kept out too").unwrap();
        std::fs::write(root.join("b.yuv"), "b").unwrap();
        assert_ne!(describe_corpus(Some(root)).unwrap().sha256, before.sha256);
    }

    /// A file name that is not UTF-8 cannot be listed: an error naming its folder.
    #[test]
    fn a_name_that_is_not_utf8_is_an_error_naming_its_folder() {
        use std::os::unix::ffi::OsStrExt;
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(tmp.path()).unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        let name = std::ffi::OsStr::from_bytes(b"bad\xff.yuv");
        std::fs::write(root.join("sub").as_std_path().join(name), b"x").unwrap();
        let err = describe_corpus(Some(root)).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: ", root.join("sub"))), "{err}");
        assert!(err.contains("invalid UTF-8"), "{err}");
    }
}
