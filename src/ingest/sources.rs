//! Finding the references in `--ref-dir`: their geometry (from the file name, the Y4M header,
//! the flags, or SPEC §3's defaults), their whole-frame count, and their SHA-256.

pub mod request;

use crate::digest;
use crate::error::{Error, Result};
use crate::schema::{Fps, Geometry, Source, SourceFormat};
use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

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

/// Longest side of a reference the kit accepts (16K video is 15360 wide); larger numbers in a
/// header are damage, not video.
pub const MAX_SIDE: u32 = 32768;

/// Bytes in one 8-bit 4:2:0 frame.
pub fn frame_bytes(width: u32, height: u32) -> u64 {
    let (w, h) = (u64::from(width), u64::from(height));
    w * h + 2 * (w.div_ceil(2) * h.div_ceil(2))
}

/// Checks a source name read from a file name or a corpus: a control character (a line break,
/// an escape sequence) would let the name forge log lines — GitHub Actions reads a line that
/// starts with `::` as a command — so such a name is refused, quoted with escapes.
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.chars().any(char::is_control) {
        return Err(format!(
            "source name \"{}\" holds a control character (a line break, tab or escape); rename the video so its name is plain text",
            name.escape_debug()
        ));
    }
    Ok(())
}

/// Discovers, measures and hashes every `.yuv` and `.y4m` directly inside `dir`, sorted by name;
/// two names for one video (the same SHA-256) are refused, naming both.
pub fn discover(dir: &Utf8Path, flags: GeometryFlags) -> Result<Vec<Source>> {
    if !dir.is_dir() {
        return Err(Error::Input(format!(
            "--ref-dir `{dir}` is not an existing folder; point it at the folder holding your .yuv/.y4m references"
        )));
    }
    let mut files: Vec<Utf8PathBuf> = Vec::new();
    for entry in dir
        .as_std_path()
        .read_dir()
        .map_err(|e| Error::io(dir, e))?
    {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let raw_name = entry.file_name();
        let lossy = raw_name.to_string_lossy();
        let is_video = lossy.ends_with(".yuv") || lossy.ends_with(".y4m");
        if !is_video || lossy.starts_with('.') {
            continue;
        }
        let Some(name) = raw_name.to_str() else {
            return Err(Error::Input(format!(
                "`{}` in {dir} has a file name that is not valid UTF-8; rename it (e.g. to plain ASCII) so that it can be named in the corpus",
                dir.join(lossy.as_ref())
            )));
        };
        check_name(name).map_err(|e| Error::Input(format!("{dir}: {e}")))?;
        let path = dir.join(name);
        if path.is_file() {
            files.push(path);
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
    let mut by_hash: std::collections::BTreeMap<&str, &Source> = Default::default();
    for source in &sources {
        if let Some(first) = by_hash.insert(&source.sha256, source) {
            return Err(Error::Input(format!(
                "`{}` and `{}` in {dir} are the same video (sha256 {}); one video is one leave-one-out fold, \
                 so its copy would leak the held-out frames into training — remove one of them",
                first.file, source.file, source.sha256
            )));
        }
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
    check_geometry(name, geometry.width, geometry.height)?;
    Ok(geometry)
}

/// Refuses a geometry the kit cannot encode as 4:2:0 (odd or tiny sides, which every encoder
/// rejects cell by cell) or that is damage (sides over [`MAX_SIDE`]), naming `what`.
fn check_geometry(what: &str, width: u32, height: u32) -> Result<()> {
    if width < 2
        || height < 2
        || width % 2 == 1
        || height % 2 == 1
        || width > MAX_SIDE
        || height > MAX_SIDE
    {
        return Err(Error::Input(format!(
            "`{what}`: {width}x{height} is not a usable 4:2:0 geometry (width and height must be even, at least 2 and at most {MAX_SIDE})"
        )));
    }
    Ok(())
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

/// Longest Y4M header or `FRAME` line read: real ones are a few dozen bytes, and a file without
/// line breaks must not be read into memory whole.
const Y4M_LINE_MAX: u64 = 4096;

/// The space-separated tokens of a Y4M header line with their byte offsets in the file.
fn header_tokens(header: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let line = header.strip_suffix(b"\n").unwrap_or(header);
    let mut offset = 0;
    line.split(|&b| b == b' ').filter_map(move |token| {
        let start = offset;
        offset += token.len() + 1;
        (!token.is_empty()).then_some((start, token))
    })
}

/// Parses a YUV4MPEG2 header line (the bytes up to and including its line break) of the file at
/// `path`: geometry and frame rate, refusing what the kit cannot score (non-4:2:0 colour,
/// interlacing) and any token that is not ASCII, with its byte offset.
pub fn y4m_header(path: &Utf8Path, header: &[u8]) -> Result<Geometry> {
    let bad = |what: String| Error::Input(format!("`{path}`: {what}"));
    let (mut width, mut height, mut fps) = (0u32, 0u32, DEFAULT_GEOMETRY.fps);
    let mut tokens = header_tokens(header);
    if tokens.next().map(|(_, t)| t) != Some(&b"YUV4MPEG2"[..]) {
        return Err(bad(
            "not a YUV4MPEG2 file (the header must start with `YUV4MPEG2`)".into(),
        ));
    }
    for (offset, token) in tokens {
        let (tag, value) = token.split_at(1);
        let value = std::str::from_utf8(value)
            .ok()
            .filter(|_| tag[0].is_ascii());
        let Some(value) = value else {
            return Err(bad(format!(
                "the header token at byte {offset} is not ASCII text; this is not a YUV4MPEG2 file the kit can read"
            )));
        };
        match tag[0] {
            b'W' => {
                width = value
                    .parse()
                    .map_err(|_| bad(format!("bad width `{value}` at byte {offset}")))?
            }
            b'H' => {
                height = value
                    .parse()
                    .map_err(|_| bad(format!("bad height `{value}` at byte {offset}")))?
            }
            b'F' => fps = parse_fps(&value.replace(':', "/")).map_err(bad)?,
            b'C' if !matches!(value, "420" | "420jpeg" | "420paldv" | "420mpeg2") => {
                return Err(bad(format!(
                    "colour space C{value} is not supported; convert to 8-bit 4:2:0 (ffmpeg -pix_fmt yuv420p)"
                )));
            }
            b'I' if value != "p" && value != "?" => {
                return Err(bad(format!(
                    "it is interlaced (I{value}), and every cell would fail on it; convert it to progressive first \
                     (ffmpeg -i IN -vf bwdif=mode=send_frame -pix_fmt yuv420p OUT.y4m)"
                )));
            }
            _ => {}
        }
    }
    if width == 0 || height == 0 {
        return Err(bad("the header lacks W or H".into()));
    }
    check_geometry(path.as_str(), width, height)?;
    Ok(Geometry { width, height, fps })
}

/// Reads a YUV4MPEG2 header and counts whole frames by walking the `FRAME` markers.
fn read_y4m(path: &Utf8Path) -> Result<(Geometry, u64)> {
    let bad = |what: String| Error::Input(format!("`{path}`: {what}"));
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut reader = BufReader::new(file);
    let mut header = Vec::new();
    (&mut reader)
        .take(Y4M_LINE_MAX)
        .read_until(b'\n', &mut header)
        .map_err(|e| Error::io(path, e))?;
    let geometry = y4m_header(path, &header)?;
    let per_frame = frame_bytes(geometry.width, geometry.height);
    let mut frames = 0u64;
    let mut marker = Vec::new();
    loop {
        marker.clear();
        let n = (&mut reader)
            .take(Y4M_LINE_MAX)
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
    Ok((geometry, frames))
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
    fn y4m_headers_that_are_not_ascii_or_progressive_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        let frame = vec![128u8; frame_bytes(4, 2) as usize];
        let refused = |header: &[u8]| {
            let mut bytes = header.to_vec();
            bytes.extend_from_slice(b"FRAME\n");
            bytes.extend_from_slice(&frame);
            std::fs::write(dir.join("a.y4m"), &bytes).unwrap();
            discover(dir, GeometryFlags::default())
                .unwrap_err()
                .to_string()
        };
        let err = refused(b"YUV4MPEG2 W4 H2 \xc3\xa9x F25:1\n");
        assert!(err.contains("at byte 16 is not ASCII"), "{err}");
        let err = refused(b"YUV4MPEG2 W4 H2 \xff\n");
        assert!(err.contains("at byte 16 is not ASCII"), "{err}");
        let err = refused(b"YUV4MPEG2 W4 H2 It C420jpeg\n");
        assert!(err.contains("interlaced (It)"), "{err}");
    }

    #[test]
    fn non_utf8_reference_names_are_named_and_other_files_ignored() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::write(root.join("ok_4x2.yuv"), vec![0u8; 12]).unwrap();
        let odd = |name: &[u8]| dir.path().join(std::ffi::OsStr::from_bytes(name));
        std::fs::write(odd(b"notes-\xff.txt"), b"x").unwrap();
        assert_eq!(discover(root, GeometryFlags::default()).unwrap().len(), 1);
        std::fs::write(odd(b"clip-\xff_4x2.yuv"), vec![0u8; 12]).unwrap();
        let err = discover(root, GeometryFlags::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("clip-\u{fffd}_4x2.yuv") && err.contains("rename it"),
            "{err}"
        );
    }

    #[test]
    fn two_copies_of_one_video_are_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::write(dir.join("a_4x2.yuv"), vec![7u8; 12]).unwrap();
        std::fs::write(dir.join("b_4x2.yuv"), vec![8u8; 12]).unwrap();
        assert_eq!(discover(dir, GeometryFlags::default()).unwrap().len(), 2);
        std::fs::write(dir.join("z_4x2.yuv"), vec![7u8; 12]).unwrap();
        let err = discover(dir, GeometryFlags::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`a_4x2.yuv` and `z_4x2.yuv`") && err.contains("same video"),
            "{err}"
        );
    }

    #[test]
    fn control_characters_in_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::write(root.join("x\n::error::forged_4x2.yuv"), vec![0u8; 12]).unwrap();
        let err = discover(root, GeometryFlags::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(r#"source name "x\n::error::forged_4x2.yuv" holds a control character"#),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
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
