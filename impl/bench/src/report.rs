//! What a run reports: a table on stdout per scenario, the JSON written
//! beside it, and `bench --report`'s one self-contained HTML page with plots
//! (inline SVG, no script from anywhere else): throughput against node count,
//! latency distributions as CDFs, and every ratio against its target.

use crate::{Plot, ScenarioReport};
use std::fmt::Write as _;

/// A number as a person reads it: thousands separated, sensible decimals.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    let s = if a >= 1000.0 {
        let i = v.round() as i64;
        let digits = i.abs().to_string();
        let mut out = String::new();
        for (k, c) in digits.chars().enumerate() {
            if k > 0 && (digits.len() - k) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if i < 0 {
            format!("-{out}")
        } else {
            out
        }
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 || a == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    };
    s
}

fn met(target: &Option<crate::Target>, v: f64) -> &'static str {
    match target {
        None => "",
        Some(t) if t.met_by(v) => "met",
        Some(_) => "MISSED",
    }
}

/// One scenario as a text table.
pub fn table(r: &ScenarioReport) -> String {
    let mut out = String::new();
    let mode = if r.quick { "quick" } else { "full" };
    let _ = writeln!(out, "\n== {} ({mode}, {:.1} s)", r.scenario, r.seconds);
    if let Some(why) = &r.skipped {
        let _ = writeln!(out, "   skipped: {why}");
        return out;
    }
    // The name column is as wide as the widest name, so values line up.
    let w = r.figures.iter().map(|f| f.name.chars().count()).chain(r.ratios.iter().map(|x| x.name.chars().count())).max().unwrap_or(0).max(10);
    let _ = writeln!(out, "   {:<w$} {:>16} {:>10} {:>10} {:>10}  {:<14} {}", "figure", "value", "min", "median", "p99", "target", "");
    for f in &r.figures {
        let (mn, md, p99) = f.dist.as_ref().map(|d| (num(d.min), num(d.median), num(d.p99))).unwrap_or_default();
        let target = f.target.as_ref().map(|t| t.describe()).unwrap_or_default();
        let partial = if f.complete { "" } else { " (stopped at its time budget)" };
        let _ = writeln!(out, "   {:<w$} {:>16} {:>10} {:>10} {:>10}  {:<14} {}{partial}", f.name, format!("{} {}", num(f.value), f.unit), mn, md, p99, target, met(&f.target, f.value));
    }
    if !r.ratios.is_empty() {
        let _ = writeln!(out, "   {:<w$} {:>16}  {:<14} {:<14}", "ratio", "value", "target", "bound");
        for x in &r.ratios {
            let target = x.target.as_ref().map(|t| t.describe()).unwrap_or_default();
            let bound = x.bound.as_ref().map(|t| t.describe()).unwrap_or_default();
            let bound_state = match &x.bound {
                Some(b) if !b.met_by(x.value) => " PAST THE BOUND",
                _ => "",
            };
            let _ = writeln!(out, "   {:<w$} {:>16}  {:<14} {:<14} {}{bound_state}", x.name, format!("{}×", num(x.value)), target, bound, met(&x.target, x.value));
            let _ = writeln!(out, "     = {} / {}", x.of, x.to);
        }
    }
    for n in &r.notes {
        let _ = writeln!(out, "   note: {n}");
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const W: f64 = 520.0;
const H: f64 = 260.0;
const PAD: f64 = 48.0;

/// Axes and a polyline through `points` (already in data units).
/// `y_max`: the top of the y axis (a CDF's 100 %), or from the data.
fn svg_xy(title: &str, x_label: &str, y_label: &str, lines: &[(&str, Vec<(f64, f64)>)], log_x: bool, y_max: Option<f64>) -> String {
    let all: Vec<(f64, f64)> = lines.iter().flat_map(|(_, p)| p.iter().copied()).filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
    let fx = |x: f64| if log_x { x.max(1e-9).log10() } else { x };
    let (mut x0, mut x1) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), (x, _)| (a.min(fx(*x)), b.max(fx(*x))));
    let y1 = y_max.unwrap_or_else(|| all.iter().fold(0.0f64, |m, (_, y)| m.max(*y)) * 1.08);
    if x0 >= x1 {
        x0 -= 1.0;
        x1 += 1.0;
    }
    let y1 = if y1 > 0.0 { y1 } else { 1.0 };
    let sx = |x: f64| PAD + (fx(x) - x0) / (x1 - x0) * (W - 2.0 * PAD);
    let sy = |y: f64| H - PAD - y / y1 * (H - 2.0 * PAD);
    let mut s = format!("<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' viewBox='0 0 {W} {H}'>");
    let _ = write!(s, "<text x='{}' y='16' text-anchor='middle' font-weight='bold'>{}</text>", W / 2.0, esc(title));
    let _ = write!(s, "<line x1='{PAD}' y1='{}' x2='{}' y2='{}' stroke='#333'/><line x1='{PAD}' y1='{PAD}' x2='{PAD}' y2='{}' stroke='#333'/>", H - PAD, W - PAD, H - PAD, H - PAD);
    let _ = write!(s, "<text x='{}' y='{}' text-anchor='middle'>{}</text>", W / 2.0, H - 10.0, esc(x_label));
    let _ = write!(s, "<text x='12' y='{}' transform='rotate(-90 12 {})' text-anchor='middle'>{}</text>", H / 2.0, H / 2.0, esc(y_label));
    let _ = write!(s, "<text x='{}' y='{}' text-anchor='end' font-size='10'>{}</text>", PAD - 4.0, PAD + 4.0, num(y1));
    let _ = write!(s, "<text x='{}' y='{}' text-anchor='end' font-size='10'>0</text>", PAD - 4.0, H - PAD);
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
    s.push_str("<g class='data'>");
    for (i, (name, pts)) in lines.iter().enumerate() {
        let c = colors[i % colors.len()];
        let path: Vec<String> = pts.iter().filter(|(x, y)| x.is_finite() && y.is_finite()).map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y))).collect();
        if path.is_empty() {
            continue;
        }
        let _ = write!(s, "<polyline fill='none' stroke='{c}' stroke-width='2' points='{}'/>", path.join(" "));
        for p in pts.iter().filter(|(x, y)| x.is_finite() && y.is_finite()) {
            let _ = write!(s, "<circle cx='{:.1}' cy='{:.1}' r='3' fill='{c}'><title>{}: ({}, {})</title></circle>", sx(p.0), sy(p.1), esc(name), num(p.0), num(p.1));
        }
        if lines.len() > 1 {
            let _ = write!(s, "<text x='{}' y='{}' fill='{c}' font-size='11'>{}</text>", PAD + 8.0, PAD + 14.0 * i as f64, esc(name));
        }
    }
    for (x, label) in [(all.iter().map(|p| p.0).fold(f64::MAX, f64::min), true), (all.iter().map(|p| p.0).fold(f64::MIN, f64::max), false)] {
        if x.is_finite() && (x != f64::MAX && x != f64::MIN) {
            let _ = write!(s, "<text x='{:.1}' y='{}' text-anchor='{}' font-size='10'>{}</text>", sx(x), H - PAD + 14.0, if label { "start" } else { "end" }, num(x));
        }
    }
    s.push_str("</g></svg>");
    s
}

/// Every ratio against its target: a bar per ratio on a log scale (ratios
/// run from hundredths to hundreds), the target as a black tick, 1× as a
/// grey line.
fn svg_ratios(rows: &[(String, f64, Option<crate::Target>)]) -> String {
    let row_h = 24.0;
    let h = 50.0 + row_h * rows.len() as f64;
    let finite = rows.iter().flat_map(|(_, v, t)| [*v, t.as_ref().map_or(1.0, |t| t.value)]).filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = finite.fold((1.0f64, 1.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = ((lo / 2.0).log10().floor(), (hi * 2.0).log10().ceil());
    let (left, width) = (520.0, 420.0);
    let total_w = left + width + 70.0;
    let sx = |v: f64| left + ((v.max(1e-9).log10() - lo) / (hi - lo)).clamp(0.0, 1.0) * width;
    let mut s = format!("<svg xmlns='http://www.w3.org/2000/svg' width='{total_w}' height='{h}'>");
    s.push_str("<text x='10' y='16' font-weight='bold'>Each ratio against its target (bar: measured, log scale; black tick: target; red: missed)</text>");
    for e in (lo as i32)..=(hi as i32) {
        let x = sx(10f64.powi(e));
        let _ = write!(s, "<line x1='{x:.1}' y1='26' x2='{x:.1}' y2='{}' stroke='{}'/><text x='{x:.1}' y='{}' text-anchor='middle' font-size='10'>{}×</text>", h - 18.0, if e == 0 { "#888" } else { "#eee" }, h - 6.0, num(10f64.powi(e)));
    }
    s.push_str("<g class='data'>");
    for (i, (name, v, t)) in rows.iter().enumerate() {
        let y = 30.0 + row_h * i as f64;
        let ok = t.as_ref().is_none_or(|t| t.met_by(*v));
        let color = if ok { "#2ca02c" } else { "#d62728" };
        let end = if v.is_finite() { sx(*v) } else { sx(10f64.powf(lo)) };
        let short: String = if name.chars().count() > 86 { name.chars().take(85).chain(std::iter::once('…')).collect() } else { name.clone() };
        let _ = write!(s, "<text x='{}' y='{}' text-anchor='end' font-size='11'><title>{}</title>{}</text>", left - 6.0, y + 13.0, esc(name), esc(&short));
        let _ = write!(s, "<rect x='{left}' y='{y}' width='{:.1}' height='16' fill='{color}'><title>{}×</title></rect>", (end - left).max(1.0), num(*v));
        let _ = write!(s, "<text x='{:.1}' y='{}' font-size='11'>{}×</text>", end + 4.0, y + 13.0, num(*v));
        if let Some(t) = t {
            let tx = sx(t.value);
            let _ = write!(s, "<line x1='{tx:.1}' y1='{}' x2='{tx:.1}' y2='{}' stroke='black' stroke-width='3'><title>target {}</title></line>", y - 3.0, y + 19.0, t.describe());
        }
    }
    s.push_str("</g></svg>");
    s
}

/// The HTML report of every scenario's JSON: one page, no external resources.
pub fn html(reports: &[ScenarioReport]) -> String {
    let mut body = String::new();
    let machine = reports.first().map(|r| r.machine.clone()).unwrap_or_default();
    let _ = write!(
        body,
        "<h1>podchain bench</h1><p>{} scenarios; machine: {} cpus, {} GiB, Linux {}, open-file limit {}.</p>",
        reports.len(),
        machine.cpus,
        num(machine.memory_bytes as f64 / (1u64 << 30) as f64),
        esc(&machine.kernel),
        machine.fd_limit
    );
    let mut ratio_rows = Vec::new();
    for r in reports {
        for x in &r.ratios {
            ratio_rows.push((format!("{}: {}", r.scenario, x.name), x.value, x.target.clone()));
        }
    }
    if !ratio_rows.is_empty() {
        let _ = write!(body, "<figure class='plot' data-plot='ratios'>{}</figure>", svg_ratios(&ratio_rows));
    }
    for r in reports {
        let mode = if r.quick { "quick" } else { "full" };
        let _ = write!(body, "<h2>{} <small>({mode}, {:.1} s, {})</small></h2>", esc(&r.scenario), r.seconds, esc(&r.started_at));
        if let Some(why) = &r.skipped {
            let _ = write!(body, "<p>skipped: {}</p>", esc(why));
            continue;
        }
        body.push_str("<table><tr><th>figure</th><th>value</th><th>min</th><th>median</th><th>p99</th><th>target</th><th></th></tr>");
        for f in &r.figures {
            let (mn, md, p99) = f.dist.as_ref().map(|d| (num(d.min), num(d.median), num(d.p99))).unwrap_or_default();
            let state = met(&f.target, f.value);
            let partial = if f.complete { "" } else { " (stopped at its time budget)" };
            let _ = write!(
                body,
                "<tr class='{}'><td>{}</td><td>{} {}</td><td>{mn}</td><td>{md}</td><td>{p99}</td><td>{}</td><td>{state}{partial}</td></tr>",
                if state == "MISSED" { "missed" } else { "" },
                esc(&f.name),
                num(f.value),
                esc(&f.unit),
                f.target.as_ref().map(|t| esc(&format!("{} ({})", t.describe(), t.source))).unwrap_or_default()
            );
        }
        body.push_str("</table>");
        if !r.ratios.is_empty() {
            body.push_str("<table><tr><th>ratio</th><th>value</th><th>of</th><th>to</th><th>target</th><th>bound</th></tr>");
            for x in &r.ratios {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}×</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&x.name),
                    num(x.value),
                    esc(&x.of),
                    esc(&x.to),
                    x.target.as_ref().map(|t| t.describe()).unwrap_or_default(),
                    x.bound.as_ref().map(|t| t.describe()).unwrap_or_default()
                );
            }
            body.push_str("</table>");
        }
        for s in &r.series {
            let svg = match &s.plot {
                Plot::Line { x_label, y_label, points } => svg_xy(&s.name, x_label, y_label, &[(s.name.as_str(), points.clone())], false, None),
                Plot::Cdf { x_label, values } => {
                    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
                    v.sort_by(|a, b| a.total_cmp(b));
                    let n = v.len().max(1) as f64;
                    // At most 400 points: a CDF of a million samples draws the same.
                    let step = (v.len() / 400).max(1);
                    let pts: Vec<(f64, f64)> = v.iter().enumerate().filter(|(i, _)| i % step == 0 || *i + 1 == v.len()).map(|(i, x)| (*x, (i + 1) as f64 / n * 100.0)).collect();
                    svg_xy(&s.name, x_label, "% at or below", &[(s.name.as_str(), pts)], false, Some(100.0))
                }
            };
            let _ = write!(body, "<figure class='plot' data-plot='{}'>{svg}</figure>", esc(&format!("{}: {}", r.scenario, s.name)));
        }
        if !r.notes.is_empty() {
            body.push_str("<ul>");
            for n in &r.notes {
                let _ = write!(body, "<li>{}</li>", esc(n));
            }
            body.push_str("</ul>");
        }
    }
    // The script only checks the page: each plot drew something of non-zero
    // size. The headless-browser test reads the result from the body's data.
    let check = "<script>addEventListener('load',()=>{let n=0,all=document.querySelectorAll('figure.plot');for(const f of all){const g=f.querySelector('svg g.data');if(!g)continue;const b=g.getBBox();if(g.childElementCount>0&&b.width>0&&b.height>0){f.dataset.rendered='true';n++;}}document.body.dataset.plots=String(all.length);document.body.dataset.plotsRendered=String(n);});</script>";
    format!(
        "<!doctype html><html><head><meta charset='utf-8'><title>podchain bench</title><style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}}tr.missed td{{background:#fde}}figure{{margin:1em 0}}</style></head><body>{body}{check}</body></html>"
    )
}

/// Every figure and ratio beside its target, as Markdown tables (what the
/// README's figures section is copied from).
pub fn markdown(reports: &[ScenarioReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let mode = if r.quick { "quick" } else { "full" };
        let _ = writeln!(out, "**{}** ({mode}, {})\n", r.scenario, r.started_at);
        if let Some(why) = &r.skipped {
            let _ = writeln!(out, "skipped: {why}\n");
            continue;
        }
        let _ = writeln!(out, "| figure | value | p99 | target | |\n|---|---|---|---|---|");
        for f in &r.figures {
            let p99 = f.dist.as_ref().map(|d| num(d.p99)).unwrap_or_default();
            let partial = if f.complete { "" } else { " (at its time budget)" };
            let _ = writeln!(out, "| {} | {} {} | {p99} | {} | {}{partial} |", f.name, num(f.value), f.unit, f.target.as_ref().map(|t| t.describe()).unwrap_or_default(), met(&f.target, f.value));
        }
        for x in &r.ratios {
            let _ = writeln!(out, "| {} | {}× | | {} | {} |", x.name, num(x.value), x.target.as_ref().map(|t| t.describe()).unwrap_or_default(), met(&x.target, x.value));
        }
        out.push('\n');
    }
    out
}

/// Reads every `*.json` report in `dir` (in `SCENARIOS` order) and writes
/// `dir/report.html` and `dir/report.md`.
pub fn write_html(dir: &std::path::Path) -> Result<std::path::PathBuf, String> {
    let mut reports = Vec::new();
    for name in crate::SCENARIOS {
        let p = dir.join(format!("{name}.json"));
        if let Ok(text) = std::fs::read_to_string(&p) {
            reports.push(serde_json::from_str::<ScenarioReport>(&text).map_err(|e| format!("{}: {e}", p.display()))?);
        }
    }
    if reports.is_empty() {
        return Err(format!("no reports in {}: run `podchain bench all` first", dir.display()));
    }
    let md = dir.join("report.md");
    std::fs::write(&md, markdown(&reports)).map_err(|e| format!("writing {}: {e}", md.display()))?;
    let out = dir.join("report.html");
    std::fs::write(&out, html(&reports)).map_err(|e| format!("writing {}: {e}", out.display()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_a_person_reads_them() {
        assert_eq!(num(1489.4), "1,489");
        assert_eq!(num(1_234_567.0), "1,234,567");
        assert_eq!(num(-2500.0), "-2,500");
        assert_eq!(num(42.25), "42.2");
        assert_eq!(num(0.384), "0.38");
        assert_eq!(num(f64::NAN), "n/a");
    }
}
