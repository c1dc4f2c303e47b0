//! Finding the references in `--ref-dir`: their geometry (from the file name, the Y4M header,
//! the flags, or SPEC §3's defaults), their whole-frame count, and their SHA-256.

use crate::digest;
use crate::error::{Error, Result};
use crate::schema::{Fps, Geometry, Source, SourceFormat};
use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;
use std::io::{BufRead, BufReader, Seek, SeekFrom};

/// Geometry for raw `.yuv` files whose names carry none (`--width`, `--height`, `--fps`).
#[derive(Debug, Clone, Copy, Default)]
pub struct GeometryFlags {
    /// `--width`.
    pub width: Option<u32>,
    /// `--height`.
    pub height: Option<u32>,
    /// `--fps`.
    pub fps: Option<Fps>,
}

/// SPEC §3 defaults for raw references without geometry in the name.
pub const DEFAULT_GEOMETRY: Geometry = Geometry {
    width: 1920,
    height: 1080,
    fps: Fps { num: 25, den: 1 },
};

/// Bytes in one 8-bit 4:2:0 frame.
pub fn frame_bytes(width: u32, height: u32) -> u64 {
    let (w, h) = (u64::from(width), u64::from(height));
    w * h + 2 * (w.div_ceil(2) * h.div_ceil(2))
}

/// Discovers, measures and hashes every `.yuv` and `.y4m` directly inside `dir`, sorted by name.
pub fn discover(dir: &Utf8Path, flags: GeometryFlags) -> Result<Vec<Source>> {
    if !dir.is_dir() {
        return Err(Error::Input(format!(
            "--ref-dir `{dir}` is not an existing folder; point it at the folder holding your .yuv/.y4m references"
        )));
    }
    let mut files: Vec<Utf8PathBuf> = Vec::new();
    for entry in dir.read_dir_utf8().map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let is_video = matches!(path.extension(), Some("yuv" | "y4m"));
        if is_video && !entry.file_name().starts_with('.') && path.is_file() {
            files.push(path.to_owned());
        }
    }
    if files.is_empty() {
        return Err(Error::Input(format!(
            "--ref-dir `{dir}` holds no .yuv or .y4m references; add some, or try --demo"
        )));
    }
    files.sort();
    let mut sources = files
        .par_iter()
        .map(|path| describe(path, flags))
        .collect::<Result<Vec<_>>>()?;
    sources.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = sources.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(Error::Input(format!(
            "`{}` and `{}` in {dir} have the same source name `{}`; rename one",
            pair[0].file, pair[1].file, pair[0].name
        )));
    }
    Ok(sources)
}

fn describe(path: &Utf8Path, flags: GeometryFlags) -> Result<Source> {
    let file = path
        .file_name()
        .expect("listed files have names")
        .to_owned();
    let name = path.file_stem().unwrap_or(&file).to_owned();
    let bytes = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let (format, geometry, frames) = if path.extension() == Some("y4m") {
        let (geometry, frames) = read_y4m(path)?;
        (SourceFormat::Y4m, geometry, frames)
    } else {
        let geometry = raw_geometry(&name, flags)?;
        let per_frame = frame_bytes(geometry.width, geometry.height);
        if bytes == 0 || bytes % per_frame != 0 {
            return Err(Error::Input(format!(
                "`{path}` is {bytes} bytes, not a whole number of {}x{} 4:2:0 frames ({per_frame} bytes each); \
                 put the geometry in its name (NAME_WIDTHxHEIGHT_FPSfps.yuv) or pass --width/--height",
                geometry.width, geometry.height
            )));
        }
        (SourceFormat::Raw, geometry, bytes / per_frame)
    };
    Ok(Source {
        name,
        file,
        format,
        geometry,
        frames,
        bytes,
        sha256: digest::sha256_file(path)?,
    })
}

/// Geometry of a raw file: `_WIDTHxHEIGHT` and `_FPSfps` in the name win, then the flags, then
/// the defaults.
pub fn raw_geometry(name: &str, flags: GeometryFlags) -> Result<Geometry> {
    let mut geometry = Geometry {
        width: flags.width.unwrap_or(DEFAULT_GEOMETRY.width),
        height: flags.height.unwrap_or(DEFAULT_GEOMETRY.height),
        fps: flags.fps.unwrap_or(DEFAULT_GEOMETRY.fps),
    };
    for token in name.split(['_', '-', '.']) {
        if let Some((w, h)) = token.split_once('x') {
            if let (Ok(w), Ok(h)) = (w.parse::<u32>(), h.parse::<u32>()) {
                geometry.width = w;
                geometry.height = h;
            }
        } else if let Some(rate) = token.strip_suffix("fps") {
            if let Ok(fps) = parse_fps(rate) {
                geometry.fps = fps;
            }
        }
    }
    if geometry.width < 2
        || geometry.height < 2
        || geometry.width % 2 == 1
        || geometry.height % 2 == 1
    {
        return Err(Error::Input(format!(
            "`{name}`: {}x{} is not a usable 4:2:0 geometry (width and height must be even and at least 2)",
            geometry.width, geometry.height
        )));
    }
    Ok(geometry)
}

/// Parses a frame rate: `25`, `29.97`, `30000/1001`.
pub fn parse_fps(text: &str) -> std::result::Result<Fps, String> {
    let bad = || format!("`{text}` is not a frame rate (try 25, 29.97 or 30000/1001)");
    let fps = if let Some((n, d)) = text.split_once('/') {
        Fps {
            num: n.parse().map_err(|_| bad())?,
            den: d.parse().map_err(|_| bad())?,
        }
    } else if let Some((whole, frac)) = text.split_once('.') {
        let den = 10u32.checked_pow(frac.len() as u32).ok_or_else(bad)?;
        let num = format!("{whole}{frac}").parse().map_err(|_| bad())?;
        Fps { num, den }
    } else {
        Fps {
            num: text.parse().map_err(|_| bad())?,
            den: 1,
        }
    };
    if fps.num == 0 || fps.den == 0 {
        return Err(bad());
    }
    Ok(fps)
}

/// Reads a YUV4MPEG2 header and counts whole frames by walking the `FRAME` markers.
fn read_y4m(path: &Utf8Path) -> Result<(Geometry, u64)> {
    let bad = |what: String| Error::Input(format!("`{path}`: {what}"));
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut reader = BufReader::new(file);
    let mut header = Vec::new();
    reader
        .read_until(b'\n', &mut header)
        .map_err(|e| Error::io(path, e))?;
    let header = String::from_utf8_lossy(&header);
    let mut words = header.split_whitespace();
    if words.next() != Some("YUV4MPEG2") {
        return Err(bad(
            "not a YUV4MPEG2 file (the header must start with `YUV4MPEG2`)".into(),
        ));
    }
    let (mut width, mut height, mut fps) = (0u32, 0u32, DEFAULT_GEOMETRY.fps);
    for word in words {
        let (tag, value) = word.split_at(1);
        match tag {
            "W" => {
                width = value
                    .parse()
                    .map_err(|_| bad(format!("bad width `{value}`")))?
            }
            "H" => {
                height = value
                    .parse()
                    .map_err(|_| bad(format!("bad height `{value}`")))?
            }
            "F" => fps = parse_fps(&value.replace(':', "/")).map_err(bad)?,
            "C" if !matches!(value, "420" | "420jpeg" | "420paldv" | "420mpeg2") => {
                return Err(bad(format!(
                    "colour space C{value} is not supported; convert to 8-bit 4:2:0 (ffmpeg -pix_fmt yuv420p)"
                )));
            }
            _ => {}
        }
    }
    if width == 0 || height == 0 {
        return Err(bad("the header lacks W or H".into()));
    }
    let per_frame = frame_bytes(width, height);
    let mut frames = 0u64;
    let mut marker = Vec::new();
    loop {
        marker.clear();
        let n = reader
            .read_until(b'\n', &mut marker)
            .map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        if !marker.starts_with(b"FRAME") {
            return Err(bad(format!(
                "frame {frames} does not start with a FRAME marker"
            )));
        }
        let position = reader.stream_position().map_err(|e| Error::io(path, e))?;
        if position + per_frame > len {
            return Err(bad(format!(
                "frame {frames} is truncated (the file ends inside it)"
            )));
        }
        reader
            .seek(SeekFrom::Current(per_frame as i64))
            .map_err(|e| Error::io(path, e))?;
        frames += 1;
    }
    if frames == 0 {
        return Err(bad("it holds no frames".into()));
    }
    Ok((Geometry { width, height, fps }, frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_from_name_then_flags_then_defaults() {
        let g = raw_geometry("foo_1280x720_30fps", GeometryFlags::default()).unwrap();
        assert_eq!(
            (g.width, g.height, g.fps),
            (1280, 720, Fps { num: 30, den: 1 })
        );
        let flags = GeometryFlags {
            width: Some(640),
            height: Some(360),
            fps: None,
        };
        let g = raw_geometry("plain", flags).unwrap();
        assert_eq!((g.width, g.height, g.fps.num), (640, 360, 25));
        assert_eq!(
            raw_geometry("plain", GeometryFlags::default()).unwrap(),
            DEFAULT_GEOMETRY
        );
        assert!(raw_geometry("odd_641x360", GeometryFlags::default()).is_err());
    }

    #[test]
    fn frame_rates() {
        assert_eq!(
            parse_fps("29.97").unwrap(),
            Fps {
                num: 2997,
                den: 100
            }
        );
        assert_eq!(
            parse_fps("30000/1001").unwrap(),
            Fps {
                num: 30000,
                den: 1001
            }
        );
        assert!(parse_fps("0").is_err());
        assert!(parse_fps("fast").is_err());
    }

    #[test]
    fn y4m_frames_are_counted_and_truncation_detected() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        let frame = vec![128u8; frame_bytes(4, 2) as usize];
        let mut bytes = b"YUV4MPEG2 W4 H2 F30000:1001 Ip C420jpeg\n".to_vec();
        for _ in 0..3 {
            bytes.extend_from_slice(b"FRAME\n");
            bytes.extend_from_slice(&frame);
        }
        std::fs::write(dir.join("a.y4m"), &bytes).unwrap();
        let sources = discover(dir, GeometryFlags::default()).unwrap();
        assert_eq!(sources[0].frames, 3);
        assert_eq!(
            sources[0].geometry.fps,
            Fps {
                num: 30000,
                den: 1001
            }
        );
        std::fs::write(dir.join("a.y4m"), &bytes[..bytes.len() - 1]).unwrap();
        let err = discover(dir, GeometryFlags::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("frame 2 is truncated"), "{err}");
    }

    #[test]
    fn partial_raw_frame_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::write(dir.join("x_4x2.yuv"), vec![0u8; 13]).unwrap();
        let err = discover(dir, GeometryFlags::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a whole number of 4x2"), "{err}");
    }
}
