//! The owner's request as the references see it: made from the owner's reference folder
//! (`ensemble-kit request`), and answered only with the same bytes (`full --request`, checked
//! before anything is encoded).

use crate::error::{Error, Result};
use crate::schema::{Geometry, Request, RequestedRecipe, Source, SCHEMA_VERSION};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::BTreeMap;

/// What the owner asks for besides the references.
#[derive(Debug, Clone)]
pub struct Asked {
    /// Who asks.
    pub owner: String,
    /// The encoders, if chosen.
    pub encoders: Option<Vec<String>>,
    /// The recipe, if chosen.
    pub recipe: Option<RequestedRecipe>,
}

/// A new request for `references` (discovered and hashed), with a fresh 128-bit nonce from
/// the operating system's generator and the time now (`SOURCE_DATE_EPOCH` when set).
pub fn make(references: Vec<Source>, asked: Asked) -> Result<Request> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| {
        Error::Environment(format!("the system's random number generator failed: {e}"))
    })?;
    Ok(Request {
        kind: "request".into(),
        schema_version: SCHEMA_VERSION,
        nonce: hex::encode(nonce),
        created_at_utc: crate::timestamp::now_utc()?,
        owner: asked.owner,
        references,
        encoders: asked.encoders,
        recipe: asked.recipe,
    })
}

/// One reference as a run found it: its SHA-256, and its geometry when the run read the file
/// (a shard's rows carry no geometry).
pub struct Found<'a> {
    /// SHA-256 of its bytes.
    pub sha256: &'a str,
    /// Width, height and frame rate, when known.
    pub geometry: Option<Geometry>,
}

/// Whether `found` (by source name) are exactly the references `request` asks for, with the
/// same bytes and geometry: one sentence for each that is not.
pub fn differences(request: &Request, found: &BTreeMap<&str, Found>) -> Vec<String> {
    let mut problems = Vec::new();
    for asked in &request.references {
        let name = crate::progress::outside(&asked.name);
        match found.get(asked.name.as_str()) {
            None => problems.push(format!("`{name}` is asked for but missing")),
            Some(f) if f.sha256 != asked.sha256 => problems.push(format!(
                "`{name}` has other bytes (sha256 {}, the request asks for {})",
                f.sha256, asked.sha256
            )),
            Some(Found {
                geometry: Some(g), ..
            }) if *g != asked.geometry => problems.push(format!(
                "`{name}` is read as {}x{} at {} fps, the request says {}x{} at {} fps (the --width/--height/--fps given)",
                g.width, g.height, g.fps, asked.geometry.width, asked.geometry.height, asked.geometry.fps
            )),
            Some(_) => {}
        }
    }
    for name in found.keys() {
        if !request.references.iter().any(|r| r.name == *name) {
            problems.push(format!(
                "`{}` is not one of the requested references",
                crate::progress::outside(name)
            ));
        }
    }
    problems
}

/// Refuses a run whose references (`found`, by source name) do not answer `asked`, naming each
/// one, before anything is scored or trained.
pub fn check(asked: &RequestFile, found: &BTreeMap<&str, Found>) -> Result<()> {
    let problems = differences(&asked.request, found);
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Input(format!(
        "the references do not answer the request {} (nonce {}), so nothing was encoded or trained:\n  {}",
        asked.path,
        asked.request.nonce,
        problems.join("\n  ")
    )))
}

/// [`check`] of the references a run discovered in its reference folder.
pub fn check_sources(asked: &RequestFile, sources: &[Source]) -> Result<()> {
    let found = sources
        .iter()
        .map(|s| {
            let found = Found {
                sha256: &s.sha256,
                geometry: Some(s.geometry),
            };
            (s.name.as_str(), found)
        })
        .collect();
    check(asked, &found)
}

/// A request file as read: where from, its bytes (bundled unchanged) and what it says.
#[derive(Debug, Clone)]
pub struct RequestFile {
    /// The file given.
    pub path: Utf8PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its content, schema-checked.
    pub request: Request,
}

/// Largest request file read: a request lists references, a few hundred bytes each.
const REQUEST_MAX: u64 = 1 << 20;

impl RequestFile {
    /// Reads and checks `path` (refused with the file, line and field that are wrong).
    pub fn read(path: &Utf8Path) -> Result<RequestFile> {
        let size = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .len();
        if size > REQUEST_MAX {
            return Err(Error::Input(format!(
                "request `{path}` is {size} bytes; a request is at most {REQUEST_MAX}"
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let request: Request = crate::schema::parse_checked(&bytes, path)?;
        request.created(path)?;
        Ok(RequestFile {
            path: path.to_owned(),
            bytes,
            request,
        })
    }

    /// When the owner made it.
    pub fn created(&self) -> std::time::SystemTime {
        self.request.created(&self.path).expect("checked when read")
    }
}
