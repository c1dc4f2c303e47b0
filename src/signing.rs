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

use crate::error::{Error, Result};
use crate::layout::{MANIFEST, SIGNATURE};
use crate::schema::{self, Manifest};
use camino::{Utf8Path, Utf8PathBuf};
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
use std::io::Read;
use std::time::SystemTime;

/// The SSHSIG namespace of a bundle signature, so that a signature made for anything else
/// (a git commit, a file) with the same key cannot pass for one.
pub const NAMESPACE: &str = "ensemble-kit";

/// Largest signature file read. An armored SSHSIG is under 1 KiB for ed25519 and about 3 KiB
/// for a 4096-bit RSA key; anything near this is not a signature.
pub const SIGNATURE_MAX: u64 = 64 << 10;

/// Largest key or `allowed_signers` file read (a team's file of public keys is kilobytes).
const KEY_FILE_MAX: u64 = 1 << 20;

/// Reads a small file whole, refusing one over `max` bytes (`what` names it in the error).
fn read_small(path: &Utf8Path, max: u64, what: &str) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(Error::Input(format!(
            "{path} is larger than {max} bytes; it is not {what}"
        )));
    }
    Ok(bytes)
}

/// The key's type and SHA-256 fingerprint, as `ssh-keygen -l` shows them.
fn describe(key: &ssh_key::public::KeyData) -> String {
    format!("{} {}", key.algorithm(), key.fingerprint(HashAlg::Sha256))
}

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

    /// The armored signature of `manifest` (the bytes of `manifest.json`).
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
    let manifest_path = dir.join(MANIFEST);
    let manifest = std::fs::read(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    crate::atomic::write(&path, signer.sign(&manifest)?.as_bytes())?;
    Ok(Some(path))
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

/// Parses an armored SSHSIG read from `origin`.
fn parse_signature(bytes: &[u8], origin: &Utf8Path) -> Result<SshSig> {
    SshSig::from_pem(bytes).map_err(|e| {
        Error::Input(format!(
            "{origin} is not a readable SSH signature (`-----BEGIN SSH SIGNATURE-----`, as `ssh-keygen -Y sign` writes): {e}"
        ))
    })
}

/// Whether `signature` is a valid SSHSIG of `message` in [`NAMESPACE`] by the key it carries
/// (what `ssh-keygen -Y check-novalidate` checks); the error says why not.
fn check_signature(signature: &SshSig, message: &[u8]) -> std::result::Result<(), String> {
    if signature.namespace() != NAMESPACE {
        return Err(format!(
            "made for namespace `{}`, not `{NAMESPACE}`",
            signature.namespace()
        ));
    }
    PublicKey::from(signature.public_key().clone())
        .verify(NAMESPACE, message, signature)
        .map_err(|e| format!("the signature does not verify: {e}"))
}

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
            } => write!(f, "signed by {who} ({key})"),
            Signature::Signed { key, signer: None } => write!(
                f,
                "signed with {key} (signer not checked: give --allowed-signers FILE)"
            ),
        }
    }
}

/// Checks a bundle's signature (`signature`, the bytes of its `manifest.json.sig`, if any)
/// over its `manifest` bytes and, with `allowed`, names the signer. An invalid signature
/// always fails; so does an unsigned bundle or an unlisted key when `allowed` is given.
pub fn check(
    bundle: &Utf8Path,
    manifest: &[u8],
    signature: Option<&[u8]>,
    allowed: Option<&AllowedSigners>,
) -> Result<Signature> {
    let Some(bytes) = signature else {
        return match allowed {
            Some(allowed) => Err(Error::Input(format!(
                "{bundle} is unsigned (no {SIGNATURE}), but --allowed-signers {} asks for a signer",
                allowed.path
            ))),
            None => Ok(Signature::Unsigned),
        };
    };
    let member = crate::archive::member_label(bundle, Utf8Path::new(SIGNATURE));
    let parsed = parse_signature(bytes, &member)?;
    check_signature(&parsed, manifest)
        .map_err(|why| Error::Input(format!("{member} is refused: {why} over {MANIFEST}")))?;
    let key = describe(parsed.public_key());
    let signer = allowed
        .map(|a| a.signer_of(parsed.public_key(), SystemTime::now()))
        .transpose()?;
    Ok(Signature::Signed { key, signer })
}

/// One line of an `allowed_signers` file (see `ssh-keygen(1)`, ALLOWED SIGNERS).
#[derive(Debug)]
struct AllowedSigner {
    line: usize,
    principals: String,
    cert_authority: bool,
    namespaces: Option<String>,
    valid_after: Option<SystemTime>,
    valid_before: Option<SystemTime>,
    key: ssh_key::public::KeyData,
}

/// An `allowed_signers` file: who may sign, with which key.
#[derive(Debug)]
pub struct AllowedSigners {
    path: Utf8PathBuf,
    signers: Vec<AllowedSigner>,
}

impl AllowedSigners {
    /// Reads and parses the file; any line it cannot read is an error naming the line, as with
    /// `ssh-keygen -Y verify`.
    pub fn read(path: &Utf8Path) -> Result<AllowedSigners> {
        let bytes = read_small(path, KEY_FILE_MAX, "an allowed_signers file")?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::Input(format!("{path} is not UTF-8 text")))?;
        let mut signers = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            signers.push(
                parse_line(line, index + 1)
                    .map_err(|why| Error::Input(format!("{path}:{}: {why}", index + 1)))?,
            );
        }
        Ok(AllowedSigners {
            path: path.to_owned(),
            signers,
        })
    }

    /// The principals allowed to sign in [`NAMESPACE`] with `key` at `now`, or why none are.
    fn signer_of(&self, key: &ssh_key::public::KeyData, now: SystemTime) -> Result<String> {
        let mut why_not = Vec::new();
        let mut principals = Vec::new();
        for signer in self.signers.iter().filter(|s| &s.key == key) {
            let line = signer.line;
            if signer.cert_authority {
                why_not.push(format!("line {line} is a cert-authority (the kit does not verify certificate signatures)"));
            } else if signer
                .namespaces
                .as_deref()
                .is_some_and(|list| !matches_pattern_list(NAMESPACE, list))
            {
                why_not.push(format!(
                    "line {line} allows namespaces=\"{}\" only",
                    signer.namespaces.as_deref().unwrap_or_default()
                ));
            } else if signer.valid_after.is_some_and(|t| now < t) {
                why_not.push(format!("line {line} is not valid yet (valid-after)"));
            } else if signer.valid_before.is_some_and(|t| now > t) {
                why_not.push(format!("line {line} has expired (valid-before)"));
            } else {
                principals.push(signer.principals.clone());
            }
        }
        if !principals.is_empty() {
            return Ok(principals.join(", "));
        }
        let why = if why_not.is_empty() {
            "no line lists that key".to_string()
        } else {
            why_not.join("; ")
        };
        Err(Error::Input(format!(
            "the bundle is signed with {}, which {} does not allow to sign in namespace `{NAMESPACE}`: {why}",
            describe(key),
            self.path
        )))
    }
}

/// Splits a line into whitespace-separated fields; double quotes keep spaces inside a field.
fn fields(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    fields.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if quoted {
        return Err("unterminated double quote".into());
    }
    if !current.is_empty() {
        fields.push(current);
    }
    Ok(fields)
}

/// Parses `principals [options] keytype base64 [comment]`.
fn parse_line(line: &str, number: usize) -> std::result::Result<AllowedSigner, String> {
    let fields = fields(line)?;
    let principals = fields
        .first()
        .ok_or("an empty line")?
        .trim_matches('"')
        .to_string();
    // `ssh-key` reads any `name@domain` as some other algorithm; only known types count here.
    let is_key_type = |f: &String| {
        f.parse::<Algorithm>()
            .is_ok_and(|a| !matches!(a, Algorithm::Other(_)))
    };
    let (options, key_at) = match fields.get(1) {
        Some(f) if is_key_type(f) => (None, 1),
        Some(f) => (Some(f.as_str()), 2),
        None => return Err("no key after the principals".into()),
    };
    let (Some(kind), Some(base64)) = (fields.get(key_at), fields.get(key_at + 1)) else {
        return Err("expected `principals [options] keytype base64-key`".into());
    };
    let key = PublicKey::from_openssh(&format!("{kind} {base64}"))
        .map_err(|e| format!("the key `{kind} …` cannot be read (bad base64 or key type): {e}"))?;
    let mut signer = AllowedSigner {
        line: number,
        principals,
        cert_authority: false,
        namespaces: None,
        valid_after: None,
        valid_before: None,
        key: key.key_data().clone(),
    };
    for option in options.map(split_options).unwrap_or_default() {
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value.trim_matches('"'))),
            None => (option, None),
        };
        match (name.to_ascii_lowercase().as_str(), value) {
            ("cert-authority", None) => signer.cert_authority = true,
            ("namespaces", Some(list)) => signer.namespaces = Some(list.to_string()),
            ("valid-after", Some(time)) => signer.valid_after = Some(parse_time(time)?),
            ("valid-before", Some(time)) => signer.valid_before = Some(parse_time(time)?),
            _ => return Err(format!("unsupported option `{option}` (known: cert-authority, namespaces=\"…\", valid-after=\"…\", valid-before=\"…\")")),
        }
    }
    Ok(signer)
}

/// Splits an options field at commas outside double quotes.
fn split_options(options: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in options.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&options[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&options[start..]);
    parts
}

/// A `valid-after`/`valid-before` time: `YYYYMMDD[HHMM[SS]]` with an optional `Z`; read as UTC
/// either way (OpenSSH reads a time without `Z` as local time; CI runners run in UTC).
fn parse_time(text: &str) -> std::result::Result<SystemTime, String> {
    let digits = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    let bad = || format!("time `{text}` is not YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS");
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(bad());
    }
    let part = |from: usize| digits.get(from..from + 2).unwrap_or("00");
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &digits[..4],
        &digits[4..6],
        &digits[6..8],
        part(8),
        part(10),
        part(12)
    );
    humantime::parse_rfc3339(&rfc3339).map_err(|_| bad())
}

/// OpenSSH's `match_pattern_list`: comma-separated patterns with `*` and `?`; a matching
/// `!pattern` excludes.
fn matches_pattern_list(name: &str, list: &str) -> bool {
    let mut matched = false;
    for pattern in list.split(',').map(str::trim) {
        match pattern.strip_prefix('!') {
            Some(negated) if glob(name.as_bytes(), negated.as_bytes()) => return false,
            Some(_) => {}
            None => matched |= glob(name.as_bytes(), pattern.as_bytes()),
        }
    }
    matched
}

/// Whether `name` matches `pattern` (`*` any run, `?` one character).
fn glob(name: &[u8], pattern: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| glob(&name[skip..], rest)),
        Some((&p, rest)) => name
            .split_first()
            .is_some_and(|(&n, tail)| (p == b'?' || p == n) && glob(tail, rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn secs(time: SystemTime) -> u64 {
        time.duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE4ZkmwUWbmyuE2TGsiKTrdDNLHnLKL7lVzg7TsqkVoy";

    #[test]
    fn namespace_patterns_follow_openssh() {
        assert!(matches_pattern_list("ensemble-kit", "ensemble-kit"));
        assert!(matches_pattern_list("ensemble-kit", "git,ensemble-*"));
        assert!(matches_pattern_list("ensemble-kit", "*"));
        assert!(!matches_pattern_list("ensemble-kit", "git,file"));
        assert!(!matches_pattern_list("ensemble-kit", "*,!ensemble-kit"));
        assert!(matches_pattern_list("ensemble-kit", "ensemble-ki?"));
    }

    #[test]
    fn lines_with_options_parse_and_bad_ones_name_why() {
        let line = format!(
            "alice@example.com,bob namespaces=\"git,ensemble-kit\",valid-after=\"20200101\" {KEY} laptop"
        );
        let signer = parse_line(&line, 3).unwrap();
        assert_eq!(signer.principals, "alice@example.com,bob");
        assert_eq!(signer.namespaces.as_deref(), Some("git,ensemble-kit"));
        assert_eq!(secs(signer.valid_after.unwrap()), 1_577_836_800);
        let plain = parse_line(&format!("carol {KEY}"), 1).unwrap();
        assert!(plain.namespaces.is_none() && !plain.cert_authority);
        let bad = parse_line("carol ssh-ed25519 AAAA!!notbase64", 1).unwrap_err();
        assert!(bad.contains("cannot be read"), "{bad}");
        let unknown = parse_line(&format!("carol no-touch-required {KEY}"), 1).unwrap_err();
        assert!(unknown.contains("unsupported option"), "{unknown}");
        assert!(parse_line("carol", 1).is_err());
        assert!(parse_line(&format!("carol namespaces=\"git {KEY}"), 1).is_err());
        assert!(parse_time("2020").is_err());
        assert_eq!(secs(parse_time("20200101000001Z").unwrap()), 1_577_836_801);
    }
}
