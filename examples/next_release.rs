//! The kit built as its next minor release (0.1.x → 0.2.0), for `tests/upgrade.rs`: an owner
//! who upgrades must still verify, compare and retrain the bundles his collaborators made with
//! the release before. Built by `cargo test` beside the kit; never shipped.

fn main() {
    let ours = env!("CARGO_PKG_VERSION");
    let mut parts = ours.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let next: &'static str = format!("{major}.{}.0", minor + 1).leak();
    ensemble_kit::schema::build_as(next);
    std::process::exit(ensemble_kit::main());
}
