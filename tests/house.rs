//! The house keeps its order (issue 28): the stage folders follow the data, and a file may name
//! only stages below its own — `host` < `ingest` < `learn` < `deliver` < `trust` —, with the
//! ground (`schema/` and the small shared files at the top of `src/`) below every stage and
//! the CLI and multi-stage drivers (`command/`, `cli.rs`, `pipeline.rs`, `bench.rs`) above
//! them all. Cargo would keep this order if each stage were a crate (as ripgrep's are); this
//! test keeps it for one crate.

use std::path::{Path, PathBuf};

/// The stages from the bottom up, then the top floor (the ground is rank 0).
const STAGES: [&str; 5] = ["host", "ingest", "learn", "deliver", "trust"];
const TOP: [&str; 4] = ["command", "cli", "pipeline", "bench"];

/// The rank of a top-level module name of the crate: 0 ground, 1–5 the stages, 6 the top.
fn rank_of_module(name: &str) -> usize {
    if let Some(i) = STAGES.iter().position(|s| *s == name) {
        return i + 1;
    }
    if TOP.contains(&name) {
        return STAGES.len() + 1;
    }
    0
}

/// The rank of a source file by its path under `src/`.
fn rank_of_file(rel: &Path) -> usize {
    let first = rel
        .components()
        .next()
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or_default();
    let module = first.strip_suffix(".rs").unwrap_or(first);
    match module {
        "lib" | "main" => STAGES.len() + 1,
        other => rank_of_module(other),
    }
}

/// The code of a Rust source with `//` comments (doc comments too) and string literals blanked,
/// so that prose and messages never count as imports.
fn code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_string = false;
                    out.push('"');
                }
                '\n' => out.push('\n'),
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push('"');
            }
            '\'' => {
                // A char literal such as '"' or '{' is skipped whole; a lifetime is kept.
                let rest: String = chars.clone().take(3).collect();
                let literal = rest.starts_with('\\') || rest.chars().nth(1) == Some('\'');
                if literal {
                    for d in chars.by_ref() {
                        if d == '\'' {
                            break;
                        }
                    }
                    out.push_str("' '");
                } else {
                    out.push(c);
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every top-level crate module a source names, with the 1-based line it is named on: each
/// `crate::NAME`, and each item of a `crate::{…}` group.
fn modules_named(source: &str) -> Vec<(usize, String)> {
    let code = code_only(source);
    let mut found = Vec::new();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let start = from + at;
        from = start + "crate::".len();
        let preceded_by_ident = code[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if preceded_by_ident {
            continue;
        }
        let rest = &code[from..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        item_start = true;
                        continue;
                    }
                    _ => {}
                }
                if item_start && depth == 1 && (c.is_alphabetic() || c == '_') {
                    let name: String = group[i..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    found.push((line_of(from + 1 + i), name));
                    item_start = false;
                } else if !c.is_whitespace() {
                    item_start = false;
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push((line_of(start), name));
            }
        }
    }
    found
}

/// The name of a rank, for messages.
fn rank_name(rank: usize) -> String {
    match rank {
        0 => "the ground".into(),
        r if r <= STAGES.len() => format!("`{}`", STAGES[r - 1]),
        _ => "the top (command, cli, pipeline, bench)".into(),
    }
}

/// Every import of `source` (at `rel` under `src/`) that reaches above the file's own rank.
fn violations(rel: &Path, source: &str) -> Vec<String> {
    let own = rank_of_file(rel);
    let lines: Vec<&str> = source.lines().collect();
    modules_named(source)
        .into_iter()
        .filter(|(_, name)| rank_of_module(name) > own)
        .map(|(line, name)| {
            format!(
                "src/{}:{line} names {} (`{}`), but a file of {} may import only what is below it: move the shared thing down to the module that owns it",
                rel.display(),
                rank_name(rank_of_module(&name)),
                lines.get(line - 1).map_or("", |l| l.trim()),
                rank_name(own),
            )
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_file_names_a_stage_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(
        files.len() > 50,
        "found only {} files under src/",
        files.len()
    );
    let mut problems = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(&src).unwrap();
        problems.extend(violations(rel, &std::fs::read_to_string(path).unwrap()));
    }
    assert!(
        problems.is_empty(),
        "the house's order is broken:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn every_stage_folder_exists_and_says_what_it_takes_in_and_hands_on() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for stage in STAGES {
        let text = std::fs::read_to_string(src.join(stage).join("mod.rs"))
            .unwrap_or_else(|e| panic!("src/{stage}/mod.rs: {e}"));
        assert!(
            text.starts_with("//! "),
            "src/{stage}/mod.rs opens with a //! paragraph"
        );
        assert!(
            text.contains("Takes in") && text.contains("hands on"),
            "src/{stage}/mod.rs says what the stage takes in and hands on"
        );
    }
}

/// The checker itself: it must see each way of naming a higher stage, and nothing in prose.
#[test]
fn the_check_sees_every_form_of_import() {
    let ingest = Path::new("ingest/merge.rs");
    for bad in [
        "use crate::trust::compare;\n",
        "use crate::{atomic, trust::audit, digest};\n",
        "use crate::{\n    atomic,\n    learn::{gate, train},\n};\n",
        "fn f() { crate::deliver::verify::verify(); }\n",
        "use crate::command;\n",
    ] {
        assert_eq!(violations(ingest, bad).len(), 1, "missed in: {bad}");
    }
    for fine in [
        "use crate::host::tools;\nuse crate::{atomic, schema::{self, CorpusRow}};\n",
        "//! see `crate::trust::compare`\n/// and crate::learn::gate\n",
        "const M: &str = \"crate::trust::x\";\n",
        "use super::corpus;\nuse ensemble_crate::trust;\n",
        "let c = '{'; use crate::ingest::sources;\n",
    ] {
        assert!(
            violations(ingest, fine).is_empty(),
            "false alarm in: {fine}"
        );
    }
    let message = &violations(ingest, "\nuse crate::trust::compare;\n")[0];
    assert!(
        message.contains("src/ingest/merge.rs:2")
            && message.contains("`trust`")
            && message.contains("use crate::trust::compare;"),
        "{message}"
    );
    let ground = Path::new("layout.rs");
    assert_eq!(violations(ground, "use crate::host::tools;\n").len(), 1);
    assert_eq!(
        violations(Path::new("schema/model.rs"), "use crate::learn::train;\n").len(),
        1
    );
    assert!(violations(Path::new("pipeline.rs"), "use crate::trust::audit;\n").is_empty());
}
