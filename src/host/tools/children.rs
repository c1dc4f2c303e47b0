//! The kit's child processes end with the kit. A `kill` (SIGTERM) or a hang-up reaches only the
//! kit, not the ffmpeg and vmaf it started, which would keep encoding into the cell store's
//! scratch folder. Every child is registered here while it runs; on SIGTERM, SIGINT or SIGHUP
//! the kit sends each one SIGTERM, removes its temporary folders ([`crate::host::temporary`])
//! and then dies of the same signal, as it did before. (What a child left in scratch is cleared
//! when the cell store is next opened.)

use rustix::process::{kill_process, Pid, Signal};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// The children running now, and whether the kit is ending.
struct Live {
    pids: BTreeSet<u32>,
    ending: bool,
}

static LIVE: Mutex<Live> = Mutex::new(Live {
    pids: BTreeSet::new(),
    ending: false,
});

/// Keeps started children registered until dropped (after they were waited for).
#[must_use = "the children are unregistered when this is dropped"]
pub struct Registered(Vec<u32>);

/// Registers started children (`pids`, as duct lists them); a child started while the kit is
/// ending is ended at once.
pub fn register(pids: Vec<u32>) -> Registered {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    if live.ending {
        pids.iter().for_each(|&pid| terminate(pid));
    }
    live.pids.extend(&pids);
    Registered(pids)
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        for pid in &self.0 {
            live.pids.remove(pid);
        }
    }
}

/// Sends SIGTERM to one child (one that already ended is no error).
fn terminate(pid: u32) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, Signal::TERM);
    }
}

/// Installs the watcher: on SIGTERM, SIGINT or SIGHUP every registered child gets SIGTERM and
/// every temporary folder is removed, then the kit ends by the signal's default action.
pub fn end_with_the_kit() -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    std::thread::Builder::new()
        .name("end-children".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
                live.ending = true;
                live.pids.iter().for_each(|&pid| terminate(pid));
                drop(live);
                crate::host::temporary::remove_all();
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_child_is_ended_and_unregistered() {
        let child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut child = child;
        let registered = register(vec![child.id()]);
        assert!(LIVE.lock().unwrap().pids.contains(&child.id()));
        terminate(child.id());
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(SIGTERM)
        );
        drop(registered);
        assert!(!LIVE.lock().unwrap().pids.contains(&child.id()));
    }
}
