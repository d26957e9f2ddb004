//! Draws the harness's results: per scenario, answered queries/s (kxdpgun at
//! full rate) and server CPU seconds per million answers, one bar per server.

use crate::Opts;
use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use serde_json::Value;

pub fn main(opts: &Opts) -> Result<()> {
    let input = opts.need("--input")?;
    let output = opts.need("--output")?;
    let text = std::fs::read_to_string(input).with_context(|| format!("read {input}"))?;
    let results: Value = serde_json::from_str(&text).with_context(|| format!("parse {input}"))?;
    draw(&results, output)?;
    eprintln!("chart: wrote {output}");
    Ok(())
}

const COLORS: &[RGBColor] = &[
    RGBColor(0xd9, 0x48, 0x1c),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0x3a, 0x3a, 0x3a),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

fn draw(results: &Value, output: &str) -> Result<()> {
    // Scenarios measured under load (the memory scenario has no rates).
    let scenarios: Vec<&Value> = results["scenarios"]
        .as_array()
        .ok_or_else(|| anyhow!("results hold no scenarios"))?
        .iter()
        .filter(|sc| {
            sc["servers"]
                .as_array()
                .is_some_and(|r| r.iter().any(|s| s["kxdpgun_qps"].is_number()))
        })
        .collect();
    let rows = scenarios.len().max(1) as u32;
    let root = SVGBackend::new(output, (1200, 60 + 300 * rows)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "ferrodns and peers, one server core ({} {})",
        results["machine"].as_str().unwrap_or(""),
        results["date"].as_str().unwrap_or("")
    );
    let (head, body) = root.split_vertically(60);
    head.titled(&title, ("sans-serif", 22))?;
    let panels = body.split_evenly((rows as usize, 2));
    for (i, sc) in scenarios.iter().enumerate() {
        let name = sc["name"].as_str().unwrap_or("?");
        let servers = sc["servers"].as_array().cloned().unwrap_or_default();
        let labels: Vec<String> = servers
            .iter()
            .map(|s| s["server"].as_str().unwrap_or("?").to_string())
            .collect();
        let qps: Vec<f64> = servers
            .iter()
            .map(|s| s["kxdpgun_qps"].as_f64().unwrap_or(0.0) / 1000.0)
            .collect();
        let cpu: Vec<f64> = servers
            .iter()
            .map(|s| s["cpu_s_per_million"].as_f64().unwrap_or(0.0))
            .collect();
        bars(
            &panels[2 * i],
            &format!("{name}: answered k queries/s (kxdpgun)"),
            &labels,
            &qps,
        )?;
        bars(
            &panels[2 * i + 1],
            &format!("{name}: server CPU s per 1M answers"),
            &labels,
            &cpu,
        )?;
    }
    root.present()?;
    Ok(())
}

fn bars(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    caption: &str,
    labels: &[String],
    values: &[f64],
) -> Result<()> {
    let top = values.iter().cloned().fold(0.0f64, f64::max).max(1e-9) * 1.15;
    let n = labels.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d((0..n).into_segmented(), 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .draw()?;
    for (i, v) in values.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart.draw_series(std::iter::once(
            Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), *v),
                ],
                color.filled(),
            )
            .into_dyn(),
        ))?;
        let text = if *v >= 100.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        };
        chart.draw_series(std::iter::once(Text::new(
            text,
            (SegmentValue::CenterOf(i), *v + top * 0.02),
            ("sans-serif", 13),
        )))?;
    }
    Ok(())
}
