//! The network's shape (SPEC §6), one place below the kernel, the network, export and retrain
//! that all size their buffers and graphs by it.

/// Network input width: 6 features + 14 codec columns.
pub const INPUT: usize = 20;
/// Hidden layers (`w1`/`b1` and `w2`/`b2` below).
pub const DEPTH: usize = 2;
/// Width of both hidden layers.
pub const HIDDEN: usize = 64;
/// Dropout probability during training.
pub const DROPOUT: f32 = 0.1;
