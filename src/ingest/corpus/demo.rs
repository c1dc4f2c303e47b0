//! The built-in demo references for `--demo`: nine small, visually distinct clips rendered by
//! ffmpeg's lavfi sources (moving detail, flat areas, noise, fast and slow motion), so a new
//! user sees the whole pipeline work with no input files.

use crate::atomic;
use crate::error::{Error, Result};
use crate::host::tools::ffmpeg;
use camino::{Utf8Path, Utf8PathBuf};

/// Frames per demo clip unless `--demo-frames` says otherwise.
pub const DEFAULT_FRAMES: u64 = 40;

/// The demo clips: name and lavfi graph, each 320x180 at 25 fps with a little temporal noise.
pub const SCENES: &[(&str, &str)] = &[
    ("bars_noise", "smptehdbars=s=320x180:r=25,noise=alls=30:allf=t+u:all_seed=11"),
    ("cellular", "cellauto=s=320x180:r=25:rule=110:random_fill_ratio=0.4:random_seed=7:scroll=1,gblur=sigma=0.7"),
    ("fractal_zoom", "mandelbrot=s=320x180:r=25:start_scale=1.5:end_scale=0.3:maxiter=256"),
    ("gradient_flat", "gradients=s=320x180:r=25:c0=0x2a4a78ff:c1=0xe0b080ff:c2=0x40a060ff:nb_colors=3:speed=0.02:seed=3,format=yuv420p,noise=alls=3:allf=t:all_seed=3"),
    ("pan_fast", "testsrc2=s=640x360:r=25,scroll=h=0.02:v=0.005,scale=320:180,gblur=sigma=0.6,noise=alls=24:allf=t+u:all_seed=5"),
    ("plasma", "nullsrc=s=320x180:r=25,geq=lum='128+90*sin(X/17+T*3)*cos(Y/13-T*2)':cb='128+40*sin(T+X/40)':cr='128+40*cos(T+Y/30)',noise=alls=5:allf=t:all_seed=9"),
    ("rings", "nullsrc=s=320x180:r=25,geq=lum='128+70*sin(hypot(X-160,Y-90)/9-T*4)':cb='128+30*sin(X/50+T)':cr='128+30*cos(Y/40-T)',noise=alls=6:allf=t:all_seed=4"),
    ("sierpinski", "sierpinski=s=320x180:r=25:type=carpet:jump=3:seed=2,gblur=sigma=1.5,noise=alls=10:allf=t:all_seed=2"),
    ("testsrc_slow", "testsrc2=s=320x180:r=5,fps=25,noise=alls=8:allf=t:all_seed=13"),
];

/// The demo folder's name inside the cache: keyed by the scene list, so an edited scene is
/// rendered afresh instead of reusing stale clips.
pub fn dir_name(frames: u64) -> String {
    let recipe: String = SCENES.iter().map(|(n, g)| format!("{n}={g};")).collect();
    format!(
        "demo-references-{}",
        &crate::digest::sha256_bytes(format!("{frames};{recipe}").as_bytes())[..12]
    )
}

/// The file name a demo clip gets (geometry in the name, as for any raw reference).
pub fn file_name(scene: &str) -> String {
    format!("demo_{scene}_320x180_25fps.yuv")
}

/// Renders any missing demo clip of `frames` frames into `dir` (atomically per clip) and
/// returns `dir`.
pub fn ensure(ffmpeg_path: &Utf8Path, dir: &Utf8Path, frames: u64) -> Result<Utf8PathBuf> {
    if frames == 0 {
        return Err(Error::Input("--demo-frames must be at least 1".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let expected = crate::ingest::sources::frame_bytes(320, 180) * frames;
    for (scene, graph) in SCENES {
        let target = dir.join(file_name(scene));
        if std::fs::metadata(&target)
            .map(|m| m.len() == expected)
            .unwrap_or(false)
        {
            continue;
        }
        let partial = dir.join(format!(
            ".{}.partial-{}",
            file_name(scene),
            std::process::id()
        ));
        let render = ffmpeg::render_lavfi(ffmpeg_path, graph, frames, &partial);
        let outcome = render.output(&format!("rendering demo clip {scene}"));
        let bytes = std::fs::read(&partial);
        let _ = std::fs::remove_file(&partial);
        outcome?;
        let bytes = bytes.map_err(|e| Error::io(&partial, e))?;
        if bytes.len() as u64 != expected {
            return Err(Error::Environment(format!(
                "demo clip {scene}: ffmpeg produced {} bytes, expected {expected}; check that this ffmpeg has the lavfi filters in `{graph}`",
                bytes.len()
            )));
        }
        atomic::write(&target, &bytes)?;
    }
    Ok(dir.to_owned())
}
