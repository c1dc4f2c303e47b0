//! This box and the programs it drives: the ffmpeg and vmaf command lines and the processes
//! that run them (`tools`), which platform this is and which encoders it offers (`platform`),
//! whether the box is ready (`doctor`), building the pinned libvmaf (`libvmaf`) and the
//! distribution tarball for machines without Nix (`distribution`), and the temporary folders
//! that end with the kit (`temporary`).
//!
//! Takes in the operator's tool overrides and the environment; hands on a checked `Toolset`,
//! a `Platform` and the tools' versions, which every later stage records.

pub mod distribution;
pub mod doctor;
pub mod libvmaf;
pub mod platform;
pub mod temporary;
pub mod tools;
