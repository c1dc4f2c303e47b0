//! The SSHSIG format as the kit uses it: the namespace, bounded reads of key and signature
//! files, parsing an armored signature and checking it over a message (all cryptography is
//! `ssh-key`'s).

use crate::error::{Error, Result};
use crate::progress::outside;
use camino::Utf8Path;
use ssh_key::{public::KeyData, HashAlg, PublicKey, SshSig};

/// The SSHSIG namespace of a bundle signature, so that a signature made for anything else
/// (a git commit, a file) with the same key cannot pass for one.
pub const NAMESPACE: &str = "ensemble-kit";

/// Largest signature file read. An armored SSHSIG is under 1 KiB for ed25519 and about 3 KiB
/// for a 4096-bit RSA key; anything near this is not a signature.
pub const SIGNATURE_MAX: u64 = 64 << 10;

/// Largest key or `allowed_signers` file read (a team's file of public keys is kilobytes).
pub(super) const KEY_FILE_MAX: u64 = 1 << 20;

/// Reads a small file whole, refusing one over `max` bytes (`what` names it in the error).
pub(super) fn read_small(path: &Utf8Path, max: u64, what: &str) -> Result<Vec<u8>> {
    crate::walk::read_capped(path, max)?.ok_or_else(|| {
        Error::Input(format!(
            "{path} is larger than {max} bytes; it is not {what}"
        ))
    })
}

/// The key's type and SHA-256 fingerprint, as `ssh-keygen -l` shows them.
pub(super) fn describe(key: &ssh_key::public::KeyData) -> String {
    format!("{} {}", key.algorithm(), key.fingerprint(HashAlg::Sha256))
}

/// The smallest RSA modulus `ssh-key` verifies with (OpenSSH takes 1024 bits and up).
const RSA_MIN_BITS: usize = 2048;

/// Parses an armored SSHSIG read from `origin`, refusing one by a key the kit cannot verify
/// with, by its type and size: OpenSSH verifies RSA of 1024 bits and DSA, which `ssh-key` does
/// not, and calling such a signature wrong would send the owner looking for a changed file.
pub(super) fn parse_signature(bytes: &[u8], origin: &Utf8Path) -> Result<SshSig> {
    let signature = SshSig::from_pem(bytes).map_err(|e| {
        Error::Input(format!(
            "{origin} is not a readable SSH signature (`-----BEGIN SSH SIGNATURE-----`, as `ssh-keygen -Y sign` writes): {e}"
        ))
    })?;
    let bits = |n: &ssh_key::Mpint| {
        let bytes = n.as_positive_bytes().unwrap_or_default();
        bytes
            .first()
            .map_or(0, |top| bytes.len() * 8 - top.leading_zeros() as usize)
    };
    let refused = match signature.public_key() {
        KeyData::Rsa(rsa) if bits(&rsa.n) < RSA_MIN_BITS => {
            format!("a {}-bit RSA key", bits(&rsa.n))
        }
        KeyData::Dsa(dsa) => format!("a {}-bit DSA key", bits(&dsa.p)),
        KeyData::Other(other) => format!("a key of type `{}`", outside(other.algorithm().as_str())),
        _ => return Ok(signature),
    };
    Err(Error::Input(format!(
        "{origin} is signed with {refused}, which this kit does not accept (it verifies RSA of {RSA_MIN_BITS} bits or more, ed25519, ECDSA and their sk- hardware-token kinds); ask for a signature with one of those (OpenSSH verifies this one, the kit cannot)"
    )))
}

/// Whether `signature` is a valid SSHSIG of `message` in [`NAMESPACE`] by the key it carries
/// (what `ssh-keygen -Y check-novalidate` checks); the error says why not.
pub(super) fn check_signature(
    signature: &SshSig,
    message: &[u8],
) -> std::result::Result<(), String> {
    if signature.namespace() != NAMESPACE {
        return Err(format!(
            "made for namespace `{}`, not `{NAMESPACE}`",
            outside(signature.namespace())
        ));
    }
    PublicKey::from(signature.public_key().clone())
        .verify(NAMESPACE, message, signature)
        .map_err(|e| format!("the signature does not verify: {e}"))
}
