//! The report's four charts, drawn with `plotters` into SVG strings for inline use.
//!
//! `plotters` is built with only its SVG backend (no font loading: text becomes SVG `<text>`
//! that the browser sets), so drawing needs no system fonts at build or run time, and its
//! integer pixel coordinates make the output the same on every machine.

use crate::error::{Error, Result};
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::RangedCoordusize;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One font family everywhere: the browser's default sans-serif.
const FONT: &str = "sans-serif";
/// The namespace attribute `plotters` writes; inline SVG in HTML does not need it, and leaving
/// it out keeps every URL out of the page.
const XMLNS: &str = r#" xmlns="http://www.w3.org/2000/svg""#;
/// A pass (green) and a fail (red) that read well on white.
const PASS: RGBColor = RGBColor(0x1b, 0x7f, 0x3b);
const FAIL: RGBColor = RGBColor(0xc0, 0x1c, 0x28);
/// The histogram's bars.
const BAR: RGBColor = RGBColor(0x35, 0x84, 0xe4);

type Paint = std::result::Result<(), Box<dyn std::error::Error>>;

/// Runs `paint` on a white canvas of `size` pixels and returns the SVG.
fn draw(
    size: (u32, u32),
    paint: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Paint,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let painted: Paint = (|| {
            root.fill(&WHITE)?;
            paint(&root)?;
            root.present()?;
            Ok(())
        })();
        painted.map_err(|e| Error::Environment(format!("drawing a report chart failed: {e}")))?;
    }
    Ok(svg.replacen(XMLNS, "", 1))
}

/// Smallest and largest of `values` (which must not be empty), widened to at least `min_width`.
fn span(values: impl Iterator<Item = f64>, min_width: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let widen = ((min_width - (hi - lo)) / 2.0).max(0.0);
    (lo - widen, hi + widen)
}

/// `n` (at least one) equal segments, for categories: plotters' integer ranges include their
/// end, so `0..n − 1` has `n`.
fn segments(n: usize) -> SegmentedCoord<RangedCoordusize> {
    (0..n - 1).into_segmented()
}

/// The label of segment `i` of a segmented axis: `names[i]` at its centre, nothing elsewhere.
fn segment_label(names: &[String], value: &SegmentValue<usize>) -> String {
    match value {
        SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// The judged seeds' mean PLCC as dots, against the gate: the threshold (red line), the window
/// of width `spread_max` above the lowest seed that every seed must fit in (green band), and
/// the mean (grey line); the page's caption is the legend.
pub fn seed_means(seeds: &[(u64, f64)], threshold: f64, spread_max: f64) -> Result<String> {
    let names: Vec<String> = seeds.iter().map(|(s, _)| s.to_string()).collect();
    let values = || seeds.iter().map(|(_, p)| *p);
    let lowest = values().fold(f64::INFINITY, f64::min);
    let mean = values().sum::<f64>() / seeds.len() as f64;
    // The threshold is drawn when it is near the seeds; further below it would squash them.
    let shown = (lowest - threshold < 0.01).then_some(threshold);
    let (lo, hi) = span(values().chain([lowest + spread_max]).chain(shown), 0.01);
    let pad = (hi - lo) * 0.08;
    let n = seeds.len();
    draw((600, 380), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(segments(n), (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| segment_label(&names, v))
            .y_label_formatter(&|v| format!("{v:.3}"))
            .x_desc("seed")
            .y_desc("mean PLCC over folds")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(BLACK.mix(0.04))
            .draw()?;
        let across = |y: f64| vec![(SegmentValue::Exact(0), y), (SegmentValue::Exact(n), y)];
        let window = [
            (SegmentValue::Exact(0), lowest),
            (SegmentValue::Exact(n), lowest + spread_max),
        ];
        chart.draw_series([Rectangle::new(window, PASS.mix(0.15).filled())])?;
        chart.draw_series([PathElement::new(across(mean), BLACK.mix(0.6))])?;
        match shown {
            Some(t) => chart.draw_series([PathElement::new(across(t), FAIL.stroke_width(2))])?,
            None => chart.draw_series([Text::new(
                format!("threshold {threshold} is below this view"),
                (SegmentValue::Exact(0), lo - pad / 2.0),
                (FONT, 14).into_font().color(&FAIL),
            )])?,
        };
        chart.draw_series(seeds.iter().enumerate().map(|(i, &(_, p))| {
            let ok = p >= threshold && p <= lowest + spread_max;
            let color = if ok { PASS } else { FAIL };
            EmptyElement::at((SegmentValue::CenterOf(i), p))
                + Circle::new((0, 0), 6, color.filled())
                + Text::new(format!("{p:.4}"), (10, -7), (FONT, 14).into_font())
        }))?;
        Ok(())
    })
}

/// Fold × seed PLCC as coloured cells (viridis from the lowest to the highest defined PLCC,
/// grey where undefined), values written in when there is room; `plcc[fold][seed]`.
pub fn fold_heat_map(folds: &[String], seeds: &[u64], plcc: &[Vec<Option<f64>>]) -> Result<String> {
    let seed_names: Vec<String> = seeds.iter().map(u64::to_string).collect();
    let (lo, hi) = span(plcc.iter().flatten().flatten().copied(), 1e-6);
    let (n_seeds, n_folds) = (seeds.len(), folds.len());
    let longest = folds.iter().map(|f| f.chars().count()).max().unwrap_or(0);
    let label_width = (longest as u32 * 8 + 20).clamp(60, 220);
    let annotate = n_seeds <= 12;
    draw((600, 90 + 34 * n_folds as u32), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(label_width)
            .build_cartesian_2d(segments(n_seeds), segments(n_folds))?;
        // Row 0 at the top: fold j is drawn in segment n_folds − 1 − j.
        let row = |j: usize| n_folds - 1 - j;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(n_seeds.min(25))
            .y_labels(n_folds)
            .x_label_formatter(&|v| segment_label(&seed_names, v))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(r) if *r < n_folds => folds[row(*r)].clone(),
                _ => String::new(),
            })
            .x_desc("seed")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .draw()?;
        for (j, per_seed) in plcc.iter().enumerate() {
            for (i, value) in per_seed.iter().enumerate() {
                let corners = [
                    (SegmentValue::Exact(i), SegmentValue::Exact(row(j))),
                    (SegmentValue::Exact(i + 1), SegmentValue::Exact(row(j) + 1)),
                ];
                let fill = value.map_or(RGBColor(0xbb, 0xbb, 0xbb), |v| {
                    ViridisRGB::get_color_normalized(v, lo, hi)
                });
                chart.draw_series([Rectangle::new(corners.clone(), fill.filled())])?;
                chart.draw_series([Rectangle::new(corners, WHITE.stroke_width(1))])?;
                if annotate {
                    let dark = value.is_some_and(|v| (v - lo) / (hi - lo) < 0.6);
                    let ink = if dark { WHITE } else { BLACK };
                    let text = value.map_or("n/a".into(), |v| format!("{v:.3}"));
                    let style = (FONT, 13)
                        .into_font()
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    chart.draw_series([Text::new(
                        text,
                        (SegmentValue::CenterOf(i), SegmentValue::CenterOf(row(j))),
                        style,
                    )])?;
                }
            }
        }
        Ok(())
    })
}

/// Predicted against true VMAF of one fold, one colour per seed, with the diagonal;
/// `per_seed` holds (seed, true VMAF, predicted VMAF).
pub fn predicted_vs_true(per_seed: &[(u64, &[f64], &[f64])]) -> Result<String> {
    let all = per_seed
        .iter()
        .flat_map(|(_, t, p)| t.iter().chain(p.iter()).copied());
    let (lo, hi) = span(all, 1.0);
    let pad = (hi - lo) * 0.05;
    let (lo, hi) = (lo - pad, hi + pad);
    draw((600, 420), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(lo..hi, lo..hi)?;
        chart
            .configure_mesh()
            .x_desc("true VMAF")
            .y_desc("predicted VMAF")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(BLACK.mix(0.04))
            .draw()?;
        chart
            .draw_series([PathElement::new([(lo, lo), (hi, hi)], BLACK.mix(0.5))])?
            .label("predicted = true")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK.mix(0.5)));
        for (k, (seed, truth, predicted)) in per_seed.iter().enumerate() {
            let color = Palette99::pick(k);
            chart
                .draw_series(
                    truth
                        .iter()
                        .zip(predicted.iter())
                        .map(|(&t, &p)| Circle::new((t, p), 3, color.mix(0.55).filled())),
                )?
                .label(format!("seed {seed}"))
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, color.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 14))
            .draw()?;
        Ok(())
    })
}

/// A histogram of per-seed mean PLCC over every seed file, with the judged seeds marked
/// beneath it.
pub fn stability_histogram(all: &[f64], judged: &[f64]) -> Result<String> {
    let bins = ((all.len() as f64).sqrt().ceil() as usize).clamp(5, 20);
    let (lo, hi) = span(all.iter().copied(), 0.001);
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u32; bins];
    for v in all {
        counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
    }
    // Head room above the tallest bar for the legend.
    let top = (f64::from(counts.iter().copied().max().unwrap_or(0)) * 1.35).ceil() + 1.0;
    draw((600, 380), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d((lo - width)..(hi + width), (-top * 0.08)..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(6)
            .x_label_formatter(&|v| format!("{v:.4}"))
            .y_labels(top as usize + 1)
            .y_label_formatter(&|v| {
                if *v >= 0.0 && v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .x_desc("per-seed mean PLCC")
            .y_desc("seeds")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(BLACK.mix(0.04))
            .draw()?;
        chart
            .draw_series(counts.iter().enumerate().map(|(b, &c)| {
                let x0 = lo + width * b as f64;
                Rectangle::new(
                    [(x0, 0.0), (x0 + width, f64::from(c))],
                    BAR.mix(0.8).filled(),
                )
            }))?
            .label(format!("all {} seeds", all.len()))
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], BAR.mix(0.8).filled()));
        chart
            .draw_series(
                judged
                    .iter()
                    .map(|&v| TriangleMarker::new((v, -top * 0.04), 7, FAIL.filled())),
            )?
            .label("judged seeds")
            .legend(|(x, y)| TriangleMarker::new((x + 9, y), 6, FAIL.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 14))
            .draw()?;
        Ok(())
    })
}
