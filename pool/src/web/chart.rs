//! A hashrate chart as inline SVG: drawn by the server, so the page needs
//! no script and works offline.

use super::format::hashrate;
use super::view::ChartPoint;
use std::fmt::Write as _;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 70.0;
const BOTTOM: f64 = 20.0;

/// An `<svg>` with the points as a line over a filled area, the peak on
/// the vertical axis and the time span below.
pub(super) fn svg(points: &[ChartPoint]) -> String {
    let peak = points
        .iter()
        .map(|point| point.hashrate)
        .fold(0.0_f64, f64::max);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"hashrate over the last 24 hours\" xmlns=\"http://www.w3.org/2000/svg\">\
         <line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{WIDTH}\" y2=\"{base}\" class=\"axis\"/>\
         <text x=\"4\" y=\"14\" class=\"label\">{peak_label}</text>\
         <text x=\"4\" y=\"{base}\" class=\"label\">0</text>\
         <text x=\"{LEFT}\" y=\"{text_y}\" class=\"label\">24 h ago</text>\
         <text x=\"{now_x}\" y=\"{text_y}\" class=\"label\" text-anchor=\"end\">now</text>",
        base = HEIGHT - BOTTOM,
        peak_label = hashrate(peak),
        text_y = HEIGHT - 4.0,
        now_x = WIDTH - 2.0,
    );
    if points.len() >= 2 {
        let step = (WIDTH - LEFT) / (points.len() - 1) as f64;
        let scale = if peak > 0.0 {
            (HEIGHT - BOTTOM - 10.0) / peak
        } else {
            0.0
        };
        let mut line = String::new();
        for (index, point) in points.iter().enumerate() {
            let x = LEFT + step * index as f64;
            let y = HEIGHT - BOTTOM - point.hashrate * scale;
            let _ = write!(line, "{x:.1},{y:.1} ");
        }
        let _ = write!(
            svg,
            "<polygon class=\"area\" points=\"{LEFT:.1},{base:.1} {line}{end:.1},{base:.1}\"/>\
             <polyline class=\"line\" points=\"{line}\"/>",
            base = HEIGHT - BOTTOM,
            end = LEFT + step * (points.len() - 1) as f64,
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_has_a_point_per_half_hour_and_peaks_at_the_top() {
        let points: Vec<ChartPoint> = (0..49)
            .map(|index| ChartPoint {
                time_ms: index * 1_800_000,
                hashrate: if index == 10 { 2.0e12 } else { 1.0e12 },
            })
            .collect();
        let svg = svg(&points);
        let line = svg
            .split("<polyline class=\"line\" points=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a polyline");
        let coordinates: Vec<(f64, f64)> = line
            .split_whitespace()
            .map(|pair| {
                let (x, y) = pair.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert_eq!(coordinates.len(), 49);
        let top = coordinates.iter().map(|(_, y)| *y).fold(f64::MAX, f64::min);
        assert_eq!(coordinates[10].1, top, "the peak is the highest point");
        assert!(svg.contains("2.00 TH/s"), "{svg}");
    }

    #[test]
    fn no_points_still_draws_the_axes() {
        let svg = svg(&[]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("polyline"));
    }
}
