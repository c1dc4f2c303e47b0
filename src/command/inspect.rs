//! Commands that look at this box or at kit files without changing anything: `platform`,
//! `doctor`, `schema`, `validate`.

use super::context::Context;
use super::flags::{EncoderArgs, ForceArgs};
use crate::error::{Error, Result};
use crate::layout::outputs::{self, Inputs, Output, Written};
use crate::schema::{Document, VerdictFile};
use crate::{atomic, budget, host::doctor, host::platform, ingest::merge, progress, schema};
use camino::{Utf8Path, Utf8PathBuf};
use clap::Args;

/// `ensemble-kit platform`.
#[derive(Debug, Args)]
pub struct PlatformArgs {
    /// Print JSON (schema: `ensemble-kit schema platform`).
    #[arg(long)]
    pub json: bool,
}

/// Prints the detected platform.
pub fn platform(args: PlatformArgs) -> Result<i32> {
    let platform = platform::detect()?;
    if args.json {
        print_json(&platform);
    } else {
        progress::to_stdout(&platform::describe(&platform));
    }
    Ok(0)
}

/// `ensemble-kit doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub encoders: EncoderArgs,
    /// References, to estimate the disk a run needs.
    #[arg(long, value_name = "DIR")]
    pub ref_dir: Option<Utf8PathBuf>,
    /// Where outputs will be written (for the free-disk check).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out_dir: Utf8PathBuf,
    /// Print JSON (schema: `ensemble-kit schema doctor`).
    #[arg(long)]
    pub json: bool,
}

/// Runs every check and prints the report; exit 2 when one failed.
pub fn doctor(args: DoctorArgs, context: &Context) -> Result<i32> {
    let platform = platform::detect()?;
    let (jobs, _) = budget::split(None, None)?;
    let request = doctor::DoctorRequest {
        encoders: args.encoders.encoders,
        ref_dir: args.ref_dir,
        out_dir: args.out_dir,
        jobs,
    };
    let report = doctor::run(&request, &context.overrides, &platform);
    if args.json {
        print_json(&report);
    } else {
        progress::to_stdout(&doctor::render(&report));
    }
    Ok(if report.ok { 0 } else { 2 })
}

/// `ensemble-kit schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The schema's name.
    #[arg(required_unless_present = "out_dir")]
    pub name: Option<String>,
    /// Write every schema to DIR/NAME.schema.json instead (a file of that name that is not the
    /// kit's schema is refused without --force).
    #[arg(long, value_name = "DIR", conflicts_with = "name")]
    pub out_dir: Option<Utf8PathBuf>,
    #[command(flatten)]
    pub force: ForceArgs,
}

/// The file `schema --out-dir DIR` writes a schema to.
fn schema_file(dir: &Utf8Path, name: &str) -> Utf8PathBuf {
    dir.join(format!("{name}.schema.json"))
}

/// Prints one schema, or writes them all.
pub fn schema(args: SchemaArgs, context: &Context) -> Result<i32> {
    if let Some(dir) = args.out_dir {
        let files: Vec<Output> = schema::ALL
            .iter()
            .map(|doc| {
                let path = schema_file(&dir, doc.name);
                Output::new("--out-dir's schema", path, Written::Schema(doc.name))
            })
            .collect();
        outputs::check(&files, &Inputs::new(), args.force.force)?;
        for doc in schema::ALL {
            let path = schema_file(&dir, doc.name);
            atomic::write(&path, schema::render(doc.name)?.as_bytes())?;
            context.progress.info(&format!("wrote {path}"));
        }
    } else {
        print!(
            "{}",
            schema::render(args.name.as_deref().unwrap_or_default())?
        );
    }
    Ok(0)
}

/// `ensemble-kit validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Files to check; each failure names file, line and field.
    #[arg(required = true)]
    pub files: Vec<Utf8PathBuf>,
}

/// Checks each file; the first failure ends the run.
pub fn validate(args: ValidateArgs) -> Result<i32> {
    for file in &args.files {
        progress::to_stdout(&format!("{file}: ok ({})\n", validate_file(file)?));
    }
    Ok(0)
}

/// Checks one kit file against its schema, choosing the schema from its extension or its
/// `kind` field, and returns a short description of what it holds.
fn validate_file(file: &Utf8Path) -> Result<String> {
    if file.extension() == Some("jsonl") {
        return merge::validate(file);
    }
    let value = schema::read_value(file)?;
    let is_verdict = value.get("verdict").is_some() && value.get("gate").is_some();
    let kind = schema::kind_of(&value)
        .map(schema::schema_of_kind)
        .or(is_verdict.then_some(VerdictFile::SCHEMA))
        .ok_or_else(|| Error::Invalid {
            path: file.to_owned(),
            line: None,
            field: "/kind".into(),
            message: "no `kind` field, so this is not a file the kit can check".into(),
        })?;
    schema::check(kind, &value, file, None)?;
    Ok(kind.to_owned())
}

/// Prints a value as pretty JSON on stdout (the `--json` forms of `platform` and `doctor`).
fn print_json<T: serde::Serialize>(value: &T) {
    progress::json_to_stdout(&format!(
        "{}\n",
        serde_json::to_string_pretty(value).expect("output types serialise")
    ));
}
