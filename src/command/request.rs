//! `ensemble-kit request`: the owner's request — his references by name, SHA-256 and geometry,
//! optionally the encoders and the recipe, a fresh nonce, the time and his name — for a
//! collaborator to answer with `full --request`.

use super::flags::{reference_inputs, ForceArgs, GeometryArgs, SignArgs};
use crate::deliver::signing;
use crate::error::Result;
use crate::ingest::sources::{self, request};
use crate::layout::outputs::{self, Inputs, Output, Written};
use crate::learn::train::{DEFAULT_EPOCHS, DEFAULT_SEEDS};
use crate::schema::{Document, Request, RequestedRecipe};
use camino::Utf8PathBuf;
use clap::Args;

/// `ensemble-kit request`.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// Your references (`.yuv`, `.y4m`): each is listed with its SHA-256 and geometry, and an
    /// answer must have scored exactly these bytes.
    #[arg(long, value_name = "DIR")]
    pub ref_dir: Utf8PathBuf,
    /// Where the request goes (new, or a request written before).
    #[arg(long, value_name = "REQUEST.json")]
    pub out: Utf8PathBuf,
    /// Who asks: the principal your `allowed_signers` file lists for you (e.g. an e-mail
    /// address).
    #[arg(long, value_name = "PRINCIPAL")]
    pub owner: String,
    /// Ask for these encoders, comma-separated: an answer must have encoded with exactly
    /// these (default: any; the collaborator's box chooses).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub encoders: Option<Vec<String>>,
    /// Ask for this many training epochs per fit (with --seeds, the recipe an answer must use).
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=crate::learn::train::EPOCHS_MAX as u64))]
    pub epochs: Option<usize>,
    /// Ask for these judged seeds, comma-separated (with --epochs, the recipe an answer must use).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub seeds: Option<Vec<u64>>,
    #[command(flatten)]
    pub geometry: GeometryArgs,
    /// Also sign the request (REQUEST.json.sig beside it, an SSHSIG in namespace
    /// `ensemble-kit`), so that the collaborator can check who asks.
    #[command(flatten)]
    pub sign: SignArgs,
    #[command(flatten)]
    pub force: ForceArgs,
}

/// Writes the request (and its signature), and prints its path and nonce.
pub fn request(args: RequestArgs) -> Result<i32> {
    let mut inputs = reference_inputs(Inputs::new(), "--ref-dir", &args.ref_dir);
    if let Some(key) = &args.sign.sign {
        inputs = inputs.file("--sign", key);
    }
    let signature = Utf8PathBuf::from(format!("{}.sig", args.out));
    outputs::check(
        &[
            Output::new("--out", &args.out, Written::Kind(Request::SCHEMA)),
            Output::new("the signature", &signature, Written::Signature),
        ],
        &inputs,
        args.force.force,
    )?;
    let signer = args.sign.signer()?;
    let references = sources::discover(&args.ref_dir, args.geometry.flags())?;
    let recipe = (args.epochs.is_some() || args.seeds.is_some()).then(|| RequestedRecipe {
        epochs: args.epochs.unwrap_or(DEFAULT_EPOCHS),
        seeds: args.seeds.clone().unwrap_or_else(|| DEFAULT_SEEDS.to_vec()),
    });
    let asked = request::Asked {
        owner: args.owner,
        encoders: args.encoders,
        recipe,
    };
    let made = request::make(references, asked)?;
    crate::atomic::write_json(&args.out, &made)?;
    match &signer {
        Some(signer) => {
            signing::sign_file(&args.out, signer)?;
        }
        None => {
            // No signature lies beside a request it does not sign.
            if signature.is_file() {
                std::fs::remove_file(&signature)
                    .map_err(|e| crate::error::Error::io(&signature, e))?;
            }
        }
    }
    crate::progress::to_stdout(&format!(
        "{}: request {} for {} reference(s), made {}\n",
        args.out,
        made.nonce,
        made.references.len(),
        made.created_at_utc
    ));
    Ok(0)
}
