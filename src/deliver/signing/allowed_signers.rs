//! git's and OpenSSH's `allowed_signers` format (`ssh-keygen(1)`, ALLOWED SIGNERS): who may
//! sign, with which key, in which namespaces and when.

use super::sshsig::{describe, read_small, KEY_FILE_MAX, NAMESPACE};
use crate::error::{Error, Result};
use crate::progress::outside;
use camino::{Utf8Path, Utf8PathBuf};
use ssh_key::{Algorithm, PublicKey};
use std::time::SystemTime;

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
    /// The file read.
    pub path: Utf8PathBuf,
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

    /// The principals allowed to sign in [`NAMESPACE`] with `key` at time `at` (`None`: now)
    /// — only `principal` when named, as `ssh-keygen -Y verify -I` asks: a line counts when
    /// its principals patterns match that name —, or why none are.
    pub(super) fn signer_of(
        &self,
        key: &ssh_key::public::KeyData,
        principal: Option<&str>,
        at: Option<SystemTime>,
    ) -> std::result::Result<String, String> {
        let (now, when) = match at {
            Some(at) => (at, " at the request's time"),
            None => (SystemTime::now(), ""),
        };
        let mut why_not = Vec::new();
        let mut principals = Vec::new();
        for signer in self.signers.iter().filter(|s| &s.key == key) {
            let line = signer.line;
            if let Some(wanted) = principal.filter(|p| !matches_pattern_list(p, &signer.principals))
            {
                why_not.push(format!(
                    "line {line} lists that key for `{}`, not for `{}`",
                    outside(&signer.principals),
                    outside(wanted)
                ));
            } else if signer.cert_authority {
                why_not.push(format!("line {line} is a cert-authority (the kit does not verify certificate signatures)"));
            } else if signer
                .namespaces
                .as_deref()
                .is_some_and(|list| !matches_pattern_list(NAMESPACE, list))
            {
                why_not.push(format!(
                    "line {line} allows namespaces=\"{}\" only",
                    outside(signer.namespaces.as_deref().unwrap_or_default())
                ));
            } else if signer.valid_after.is_some_and(|t| now < t) {
                why_not.push(format!("line {line} is not valid yet{when} (valid-after)"));
            } else if signer.valid_before.is_some_and(|t| now > t) {
                why_not.push(format!("line {line} had expired{when} (valid-before)"));
            } else {
                principals.push(principal.map_or_else(|| signer.principals.clone(), str::to_owned));
            }
        }
        if !principals.is_empty() {
            principals.dedup();
            return Ok(principals.join(", "));
        }
        let why = if why_not.is_empty() {
            "no line lists that key".to_string()
        } else {
            why_not.join("; ")
        };
        let whom = principal.map_or(String::new(), |p| format!(" as `{}`", outside(p)));
        Err(format!(
            "the bundle is signed with {}, which {} does not allow to sign{whom} in namespace `{NAMESPACE}`: {why}",
            describe(key),
            self.path
        ))
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
    let mut seen = Vec::new();
    for option in options.map(split_options).unwrap_or_default() {
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value.trim_matches('"'))),
            None => (option, None),
        };
        let name = name.to_ascii_lowercase();
        // OpenSSH refuses a second `namespaces`, `valid-after` or `valid-before` ("multiple
        // … clauses") rather than letting the last one win; a second `cert-authority` says
        // nothing new and is refused alike.
        if seen.contains(&name) {
            return Err(format!(
                "bad options: multiple \"{}\" clauses (ssh-keygen -Y verify refuses them too)",
                outside(&name)
            ));
        }
        seen.push(name.clone());
        match (name.as_str(), value) {
            ("cert-authority", None) => signer.cert_authority = true,
            ("namespaces", Some(list)) => signer.namespaces = Some(list.to_string()),
            ("valid-after", Some(time)) => signer.valid_after = Some(parse_time(time)?),
            ("valid-before", Some(time)) => signer.valid_before = Some(parse_time(time)?),
            _ => return Err(format!("unsupported option `{}` (known: cert-authority, namespaces=\"…\", valid-after=\"…\", valid-before=\"…\")", outside(option))),
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

/// Whether `name` matches `pattern` (`*` any run, `?` one character), in at most
/// `name.len() × pattern.len()` steps: a run of `*` is one `*`, and a mismatch after a `*` only
/// moves that `*`'s match one character on (the last `*` is the only one worth retrying), so a
/// hostile `namespaces="****…"` costs no more than a plain one.
fn glob(name: &[u8], pattern: &[u8]) -> bool {
    let (mut n, mut p) = (0, 0);
    // After the last `*` seen: where the pattern resumes, and the name position it matched up to.
    let mut retry: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                while pattern.get(p) == Some(&b'*') {
                    p += 1;
                }
                retry = Some((p, n));
            }
            Some(&c) if c == b'?' || c == name[n] => {
                n += 1;
                p += 1;
            }
            _ => match retry {
                Some((resume, matched)) => {
                    retry = Some((resume, matched + 1));
                    (p, n) = (resume, matched + 1);
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
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
        assert!(matches_pattern_list("ensemble-kit", "**e*s*-*t"));
        assert!(!matches_pattern_list("ensemble-kit", "e*x*"));
        assert!(matches_pattern_list("", "*"));
        assert!(!matches_pattern_list("", "?"));
    }

    #[test]
    fn runs_of_stars_answer_at_once() {
        let hostile = format!("{}x", "*".repeat(40));
        let long = format!("{}x", "*a".repeat(40));
        let started = std::time::Instant::now();
        assert!(!matches_pattern_list("ensemble-kit", &hostile));
        assert!(!matches_pattern_list(&"a".repeat(4096), &long));
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }

    #[test]
    fn a_repeated_option_is_refused_as_openssh_refuses_it() {
        for options in [
            "namespaces=\"git\",namespaces=\"ensemble-kit\"",
            "valid-after=\"20200101\",VALID-AFTER=\"20210101\"",
            "cert-authority,cert-authority",
        ] {
            let err = parse_line(&format!("carol {options} {KEY}"), 1).unwrap_err();
            assert!(err.contains("bad options: multiple"), "{err}");
        }
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
