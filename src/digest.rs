//! SHA-256 of files and bytes, streamed so that a multi-gigabyte reference never sits in memory.

use crate::error::{Error, Result};
use camino::Utf8Path;
use sha2::{Digest, Sha256};
use std::io::Read;

/// Lower-case hex SHA-256 of a byte slice.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lower-case hex SHA-256 of the bytes `write` writes, hashed as they are written, so a large
/// serialisation (a corpus's canonical rows) is never held in memory.
pub fn sha256_written(
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> String {
    let mut hasher = std::io::BufWriter::with_capacity(1 << 16, Sha256::new());
    write(&mut hasher).expect("hashing cannot fail");
    let hasher = hasher.into_inner().expect("hashing cannot fail");
    hex::encode(hasher.finalize())
}

/// Lower-case hex SHA-256 of a file, read in 1 MiB chunks.
pub fn sha256_file(path: &Utf8Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_vector() {
        assert_eq!(
            super::sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn written_bytes_hash_as_the_bytes() {
        let written = super::sha256_written(|w| {
            w.write_all(b"a")?;
            w.write_all(b"bc")
        });
        assert_eq!(written, super::sha256_bytes(b"abc"));
    }
}
