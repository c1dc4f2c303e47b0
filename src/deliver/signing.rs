//! Signed bundles (issue 20): an SSHSIG over `manifest.json` in the namespace
//! [`NAMESPACE`], carried in the bundle as [`SIGNATURE`] — the armored form that
//! `ssh-keygen -Y sign` writes and `ssh-keygen -Y verify` reads — made with keys operators
//! already have, and checked against git's `allowed_signers` format.
//!
//! The kit signs with ed25519 keys only: their signatures are deterministic, so a signed bundle
//! stays byte-identical under `SOURCE_DATE_EPOCH`. It verifies whatever OpenSSH signs with and
//! RustCrypto's `ssh-key` checks (ed25519, ECDSA, RSA, and the `sk-` hardware-token kinds), so
//! a signature made elsewhere (`bundle --signature`) is not refused for its key type. All the
//! cryptography is `ssh-key`'s and the agent protocol `ssh-agent-client-rs`'s; this module
//! only chooses keys, reads files (bounded) and parses `allowed_signers`.

mod allowed_signers;
mod sign;
mod sshsig;

pub use allowed_signers::AllowedSigners;
pub use sign::{sign_file, write_signature, Signer};
pub use sshsig::{NAMESPACE, SIGNATURE_MAX};

use crate::error::{Error, Result};
use crate::layout::{MANIFEST, SIGNATURE};
use camino::Utf8Path;
use sshsig::{check_signature, describe, parse_signature};
use std::time::SystemTime;

/// What a bundle's signature showed.
#[derive(Debug, Clone, PartialEq)]
pub enum Signature {
    /// No `manifest.json.sig`.
    Unsigned,
    /// A valid signature; `signer` holds the principals of the `allowed_signers` line that
    /// names its key, when a file was given.
    Signed {
        /// The key's type and fingerprint.
        key: String,
        /// The principals allowed to sign with that key, if checked.
        signer: Option<String>,
    },
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signature::Unsigned => write!(f, "unsigned"),
            Signature::Signed {
                key,
                signer: Some(who),
            } => write!(f, "signed by {} ({key})", crate::progress::outside(who)),
            Signature::Signed { key, signer: None } => write!(
                f,
                "signed with {key} (signer not checked: give --allowed-signers FILE)"
            ),
        }
    }
}

/// Who must have signed, and when the key must have been valid: what the owner asks of a
/// signature beyond its being valid.
#[derive(Debug, Clone, Copy)]
pub struct Required<'a> {
    /// The keys allowed, and who they belong to.
    pub allowed: &'a AllowedSigners,
    /// The one principal that must have signed (`--signer`, OpenSSH's `-I`), if named.
    pub principal: Option<&'a str>,
    /// The moment `valid-after`/`valid-before` are judged at: the owner's request's time, or
    /// `None` for now.
    pub at: Option<SystemTime>,
}

/// Checks a bundle's signature (`signature`, the bytes of its `manifest.json.sig`, if any)
/// over its `manifest` bytes and, with `required`, names the signer. An invalid signature
/// always fails; so does an unsigned bundle or a key `required` does not allow.
pub fn check(
    bundle: &Utf8Path,
    manifest: &[u8],
    signature: Option<&[u8]>,
    required: Option<&Required>,
) -> Result<Signature> {
    let Some(bytes) = signature else {
        return match required {
            Some(required) => Err(Error::Input(format!(
                "{bundle} is unsigned (no {SIGNATURE}), but --allowed-signers {} asks for a signer",
                required.allowed.path
            ))),
            None => Ok(Signature::Unsigned),
        };
    };
    let member = crate::archive::member_label(bundle, Utf8Path::new(SIGNATURE));
    let parsed = parse_signature(bytes, &member)?;
    check_signature(&parsed, manifest)
        .map_err(|why| Error::Input(format!("{member} is refused: {why} over {MANIFEST}")))?;
    let key = describe(parsed.public_key());
    let signer = required
        .map(|r| {
            r.allowed
                .signer_of(parsed.public_key(), r.principal, r.at)
                .map_err(|why| Error::Input(format!("{bundle}: {why}")))
        })
        .transpose()?;
    Ok(Signature::Signed { key, signer })
}
