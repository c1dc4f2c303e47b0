//! Golden command lines: the exact ffmpeg encode argv for every encoder family at a low, middle
//! and high cq (including VideoToolbox's quality mapping and clamping, and the QSV/VAAPI device
//! arguments), plus the decode and scoring lines, checked against `tests/golden/argv.txt`.

use camino::Utf8Path;
use ensemble_kit::host::tools::{ffmpeg, vmaf};
use ensemble_kit::schema::{Fps, Geometry, ScoringBackend, Source, SourceFormat};

pub const ENCODERS: &[&str] = &[
    "h264_nvenc",
    "hevc_nvenc",
    "av1_nvenc",
    "h264_qsv",
    "hevc_qsv",
    "av1_qsv",
    "h264_vaapi",
    "hevc_vaapi",
    "h264_videotoolbox",
    "hevc_videotoolbox",
    "libx264",
    "libx265",
    "libsvtav1",
    "libvpx-vp9",
];
pub const CQS: [u32; 3] = [1, 25, 51];

fn source(format: SourceFormat) -> Source {
    Source {
        name: "ref".into(),
        file: "ref_1920x1080_25fps.yuv".into(),
        format,
        geometry: Geometry {
            width: 1920,
            height: 1080,
            fps: Fps { num: 25, den: 1 },
        },
        frames: 250,
        bytes: 0,
        sha256: "0".repeat(64),
    }
}

fn render() -> String {
    let ff = Utf8Path::new("ffmpeg");
    let raw = source(SourceFormat::Raw);
    let mut text = String::new();
    for encoder in ENCODERS {
        for cq in CQS {
            let settings = ffmpeg::EncodeSettings {
                encoder,
                cq,
                frames: 250,
                threads: 1,
            };
            let inv = ffmpeg::encode(ff, &raw, "{source}", settings, "{encoded}").unwrap();
            text.push_str(&format!("encode {encoder} cq{cq}: {}\n", inv.display()));
        }
    }
    text.push_str(&format!(
        "decode raw: {}\n",
        ffmpeg::decode(ff, &raw, "{encoded}", 250, "-").display()
    ));
    text.push_str(&format!(
        "decode y4m: {}\n",
        ffmpeg::decode(ff, &source(SourceFormat::Y4m), "{encoded}", 250, "-").display()
    ));
    text.push_str(&format!(
        "score raw: {}\n",
        vmaf::score(Utf8Path::new("vmaf"), &raw, "{source}", "/dev/stdin", cpu()).display()
    ));
    text.push_str(&format!(
        "score y4m: {}\n",
        vmaf::score(
            Utf8Path::new("vmaf"),
            &source(SourceFormat::Y4m),
            "{source}",
            "/dev/stdin",
            cpu()
        )
        .display()
    ));
    let cuda = vmaf::ScoreSettings {
        backend: ScoringBackend::Cuda,
        ..cpu()
    };
    text.push_str(&format!(
        "score raw cuda: {}\n",
        vmaf::score(Utf8Path::new("vmaf"), &raw, "{source}", "/dev/stdin", cuda).display()
    ));
    text
}

fn cpu() -> vmaf::ScoreSettings {
    vmaf::ScoreSettings {
        frames: 250,
        threads: 1,
        backend: ScoringBackend::Cpu,
    }
}

#[test]
fn encode_decode_and_score_argv_match_the_goldens() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/argv.txt");
    let actual = render();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, &actual).unwrap();
    }
    let expected =
        std::fs::read_to_string(path).expect("tests/golden/argv.txt (UPDATE_GOLDEN=1 to write)");
    for (a, e) in actual.lines().zip(expected.lines()) {
        assert_eq!(a, e);
    }
    assert_eq!(actual.lines().count(), expected.lines().count());
}

#[test]
fn spec_shapes_hold() {
    let text = render();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap()
            .to_owned()
    };
    assert!(line("encode h264_nvenc cq25:")
        .contains("-c:v h264_nvenc -rc vbr -cq 25 -b:v 0 -preset p4"));
    assert!(line("encode hevc_qsv cq25:").contains("-init_hw_device qsv=hw"));
    assert!(
        line("encode hevc_qsv cq25:").contains("-c:v hevc_qsv -global_quality 25 -preset medium")
    );
    assert!(line("encode h264_vaapi cq25:").contains("-vaapi_device /dev/dri/renderD128"));
    assert!(
        line("encode h264_vaapi cq25:").contains("-vf format=nv12,hwupload -c:v h264_vaapi -qp 25")
    );
    assert!(line("encode h264_videotoolbox cq1:").contains("-q:v 98 -realtime 0"));
    assert!(line("encode h264_videotoolbox cq25:").contains("-q:v 50 -realtime 0"));
    assert!(
        line("encode h264_videotoolbox cq51:").contains("-q:v 1 -realtime 0"),
        "clamped to 1"
    );
    assert!(line("encode libx264 cq25:").contains("-c:v libx264 -crf 25 -preset medium"));
    assert!(line("encode libsvtav1 cq25:").contains("-crf 25 -preset 8"));
    assert!(line("encode libvpx-vp9 cq25:").contains("-crf 25 -b:v 0"));
}
