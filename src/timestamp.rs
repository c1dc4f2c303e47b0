//! The "now" written into output files: the real UTC time, or `SOURCE_DATE_EPOCH` when set so
//! that two builds from the same inputs are byte-identical.

use crate::error::{Error, Result};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 9999-12-31T23:59:59Z, the last second an RFC 3339 stamp can write.
const LAST_STAMPABLE_SECOND: u64 = 253_402_300_799;

/// Refuses an unusable `SOURCE_DATE_EPOCH` before a command starts, so a long run never
/// fails (or panics) at its first timestamp, after the work is done.
pub fn check() -> Result<()> {
    now().map(|_| ())
}

/// The moment to stamp outputs with: `SOURCE_DATE_EPOCH` (seconds) if set, else the clock.
pub fn now() -> Result<SystemTime> {
    match std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|secs| *secs <= LAST_STAMPABLE_SECOND)
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
            .ok_or_else(|| {
                Error::Input(format!(
                    "SOURCE_DATE_EPOCH is `{text}`, but it must be whole seconds since 1970, at most {LAST_STAMPABLE_SECOND} (9999-12-31T23:59:59Z: RFC 3339 stamps have four-digit years)"
                ))
            }),
        None => Ok(SystemTime::now()),
    }
}

/// `now()` as RFC 3339 UTC with whole seconds (`2026-11-24T21:58:47Z`).
pub fn now_utc() -> Result<String> {
    Ok(humantime::format_rfc3339_seconds(now()?).to_string())
}

/// Whether `SOURCE_DATE_EPOCH` pins outputs; measured durations are then written as 0 so that
/// two runs of the same inputs give the same bytes.
pub fn pinned() -> bool {
    std::env::var_os("SOURCE_DATE_EPOCH").is_some_and(|v| !v.is_empty())
}
