//! Making a bundle's signature: with an OpenSSH ed25519 key file, through the ssh-agent, or by
//! attaching one made elsewhere; and writing it beside `manifest.json`.

use super::sshsig::{
    check_signature, describe, parse_signature, read_small, KEY_FILE_MAX, NAMESPACE, SIGNATURE_MAX,
};
use crate::error::{Error, Result};
use crate::layout::{MANIFEST, SIGNATURE};
use crate::schema::{self, Manifest};
use camino::{Utf8Path, Utf8PathBuf};
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// How `bundle --sign` / `full --sign` / `bundle --signature` sign the manifest.
#[derive(Debug, Clone)]
pub enum Signer {
    /// An unencrypted OpenSSH ed25519 private key file.
    Key(PrivateKey),
    /// The ssh-agent at `SSH_AUTH_SOCK` signs with the identity of this public key file (what
    /// `ssh-keygen -Y sign -f KEY.pub` does).
    Agent(PublicKey),
    /// A signature made elsewhere (`ssh-keygen -Y sign`, a hardware token) over the
    /// `manifest.json` an earlier `bundle` wrote.
    Attached {
        /// The signature file.
        path: Utf8PathBuf,
        /// Its parsed content.
        signature: SshSig,
    },
}

impl Signer {
    /// `--sign KEY`: an OpenSSH private key file, or a public key file meaning "ask the
    /// ssh-agent". Checked before any work so a long `full` run cannot end unsigned.
    pub fn from_key_file(path: &Utf8Path) -> Result<Signer> {
        let bytes = read_small(path, KEY_FILE_MAX, "an SSH key")?;
        let text = String::from_utf8_lossy(&bytes);
        let signer = if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
            let key = PrivateKey::from_openssh(text.trim()).map_err(|e| {
                Error::Input(format!(
                    "--sign {path}: not a readable OpenSSH private key: {e}"
                ))
            })?;
            if key.is_encrypted() {
                return Err(Error::Input(format!(
                    "--sign {path}: the key is passphrase-protected and the kit never prompts; load it into an agent (`ssh-add {path}`) and give its public key instead (`--sign {path}.pub`)"
                )));
            }
            Signer::Key(key)
        } else if text.contains("PRIVATE KEY-----") {
            return Err(Error::Input(format!(
                "--sign {path}: a PEM private key; the kit reads OpenSSH keys (`ssh-keygen -t ed25519` writes one)"
            )));
        } else {
            let line = text.lines().next().unwrap_or_default().trim();
            let key = PublicKey::from_openssh(line).map_err(|e| {
                Error::Input(format!(
                    "--sign {path}: neither an OpenSSH private key nor a public key (.pub) for the ssh-agent: {e}"
                ))
            })?;
            Signer::Agent(key)
        };
        let algorithm = match &signer {
            Signer::Key(key) => key.algorithm(),
            Signer::Agent(key) => key.algorithm(),
            Signer::Attached { signature, .. } => signature.algorithm(),
        };
        if algorithm != Algorithm::Ed25519 {
            return Err(Error::Input(format!(
                "--sign {path}: a {algorithm} key; the kit signs with ed25519 keys only (`ssh-keygen -t ed25519`), whose signatures are deterministic so the bundle stays byte-identical — to use this key, sign manifest.json with `ssh-keygen -Y sign -n {NAMESPACE}` and attach it with `bundle --signature`"
            )));
        }
        if let Signer::Agent(key) = &signer {
            Agent::connect()?.check_holds(key, path)?;
        }
        Ok(signer)
    }

    /// `--signature FILE`: an armored SSHSIG made elsewhere, in the namespace [`NAMESPACE`].
    pub fn from_signature_file(path: &Utf8Path) -> Result<Signer> {
        let bytes = read_small(path, SIGNATURE_MAX, "an SSH signature")?;
        let signature = parse_signature(&bytes, path)?;
        Ok(Signer::Attached {
            path: path.to_owned(),
            signature,
        })
    }

    /// The `generated_at_utc` of the manifest about to be signed: an attached signature signed
    /// the `manifest.json` an earlier `bundle` wrote in `dir`, so its time is kept and, if no
    /// file changed since, the manifest is written again byte for byte.
    pub fn manifest_time(signer: Option<&Signer>, dir: &Utf8Path) -> Result<String> {
        let Some(Signer::Attached { path, .. }) = signer else {
            return crate::timestamp::now_utc();
        };
        let signed = dir.join(MANIFEST);
        if !signed.is_file() {
            return Err(Error::Input(format!(
                "--signature {path}: {signed} does not exist; run `ensemble-kit bundle --out-dir {dir}` first, sign {signed} (`ssh-keygen -Y sign -f KEY -n {NAMESPACE} {signed}`), then bundle again with --signature"
            )));
        }
        Ok(schema::read_json::<Manifest>(&signed)?.generated_at_utc)
    }

    /// The armored signature of `manifest` (the bytes of `manifest.json`, or of a request).
    fn sign(&self, manifest: &[u8]) -> Result<String> {
        let signature = match self {
            Signer::Key(key) => key
                .sign(NAMESPACE, HashAlg::Sha512, manifest)
                .map_err(|e| Error::Input(format!("cannot sign {MANIFEST}: {e}")))?,
            Signer::Agent(key) => Agent::connect()?.sign(key, manifest)?,
            Signer::Attached { path, signature } => {
                check_signature(signature, manifest).map_err(|why| {
                    Error::Input(format!(
                        "--signature {path} does not sign the {MANIFEST} written now ({why}); a file changed since it was signed, or it signs another file: sign the new {MANIFEST} and bundle again"
                    ))
                })?;
                signature.clone()
            }
        };
        signature
            .to_pem(LineEnding::LF)
            .map_err(|e| Error::Input(format!("cannot encode the signature: {e}")))
    }
}

/// Writes `dir/manifest.json.sig` for the `manifest.json` just written (or, unsigned, removes
/// one left by an earlier run, so no signature lies beside a manifest it does not sign).
/// Returns the signature file to bundle.
pub fn write_signature(dir: &Utf8Path, signer: Option<&Signer>) -> Result<Option<Utf8PathBuf>> {
    let path = dir.join(SIGNATURE);
    let Some(signer) = signer else {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&path, e)),
            _ => Ok(None),
        };
    };
    sign_file(&dir.join(MANIFEST), signer).map(Some)
}

/// Writes `FILE.sig`, the armored signature of `file`'s bytes (`ssh-keygen -Y sign` names it
/// so); returns its path.
pub fn sign_file(file: &Utf8Path, signer: &Signer) -> Result<Utf8PathBuf> {
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    let path = Utf8PathBuf::from(format!("{file}.sig"));
    crate::atomic::write(&path, signer.sign(&bytes)?.as_bytes())?;
    Ok(path)
}

/// The ssh-agent at `SSH_AUTH_SOCK`.
struct Agent {
    socket: String,
    client: ssh_agent_client_rs::Client,
}

impl Agent {
    fn connect() -> Result<Agent> {
        let socket = std::env::var("SSH_AUTH_SOCK")
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::Environment(
                    "--sign got a public key, which means \"sign with the ssh-agent\", but SSH_AUTH_SOCK is not set: start an agent (`eval \"$(ssh-agent)\"`, `ssh-add KEY`) or give the private key file".into(),
                )
            })?;
        let client =
            ssh_agent_client_rs::Client::connect(std::path::Path::new(&socket)).map_err(|e| {
                Error::Environment(format!(
                    "cannot reach the ssh-agent at SSH_AUTH_SOCK={socket}: {e}"
                ))
            })?;
        Ok(Agent { socket, client })
    }

    /// Fails unless the agent holds the private half of `key` (read from `path`).
    fn check_holds(&mut self, key: &PublicKey, path: &Utf8Path) -> Result<()> {
        let held = self.client.list_all_identities().map_err(|e| {
            Error::Environment(format!("the ssh-agent at {} failed: {e}", self.socket))
        })?;
        if held
            .iter()
            .any(|identity| <&ssh_key::public::KeyData>::from(identity) == key.key_data())
        {
            return Ok(());
        }
        Err(Error::Environment(format!(
            "the ssh-agent at {} does not hold the key of {path} ({}); add it with `ssh-add`",
            self.socket,
            describe(key.key_data())
        )))
    }

    /// An SSHSIG of `manifest` by the agent's `key`, checked before it is used.
    fn sign(&mut self, key: &PublicKey, manifest: &[u8]) -> Result<SshSig> {
        let failed = |e: String| {
            Error::Environment(format!(
                "the ssh-agent at {} could not sign with {}: {e}",
                self.socket,
                describe(key.key_data())
            ))
        };
        let data = SshSig::signed_data(NAMESPACE, HashAlg::Sha512, manifest)
            .map_err(|e| failed(e.to_string()))?;
        let raw = self
            .client
            .sign(key, &data)
            .map_err(|e| failed(e.to_string()))?;
        let signature = SshSig::new(key.key_data().clone(), NAMESPACE, HashAlg::Sha512, raw)
            .map_err(|e| failed(e.to_string()))?;
        check_signature(&signature, manifest).map_err(failed)?;
        Ok(signature)
    }
}
