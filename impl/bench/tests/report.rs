//! The HTML report opened in a real browser (Debian's `chromium`, headless):
//! every plot it holds drew something. The page's own script counts the
//! plots and those whose data group has a non-empty bounding box, on the
//! body's `data-plots` and `data-plots-rendered`, which `--dump-dom` shows.

use bench::{Plot, ScenarioReport, Series, Target};

fn sample_reports() -> Vec<ScenarioReport> {
    let mut a = ScenarioReport::new("scheduler", true);
    a.figure("pods bound per second, 100 nodes", 212.0, "pods/s", Target::at_least(5_000.0, "issue 12"));
    a.ratio("time per decision at 500 nodes over at 100", 5.8, "500 nodes", 4.7, "100 nodes", Target::at_most(5.0, "issue 12"), Target::at_most(15.0, "bound"));
    a.series.push(Series { name: "throughput against node count".into(), plot: Plot::Line { x_label: "nodes".into(), y_label: "pods/s".into(), points: vec![(100.0, 212.0), (500.0, 171.0), (1000.0, 150.0)] } });
    let mut b = ScenarioReport::new("watch", true);
    b.ratio("p99 over the write interval", 0.8, "100 watchers", 5.0, "1 / rate", Target::at_most(10.0, "issue 12"), Target::at_most(4.0, "bound"));
    b.ratio("a ratio far below one", 0.004, "x", 1.0, "y", None, None);
    b.series.push(Series { name: "delivery latency".into(), plot: Plot::Cdf { x_label: "ms".into(), values: (0..5_000).map(|i| (i % 97) as f64 * 0.1).collect() } });
    b.series.push(Series { name: "one sample".into(), plot: Plot::Cdf { x_label: "ms".into(), values: vec![3.0] } });
    vec![a, b]
}

/// (plots on the page, plots that rendered), as headless Chromium saw them.
fn rendered(page: &std::path::Path) -> (usize, usize) {
    let out = std::process::Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("Debian's chromium is installed (bash ci/install.sh installs it)");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8_lossy(&out.stdout);
    let body = dom.split("<body").nth(1).and_then(|b| b.split('>').next()).unwrap_or_else(|| panic!("no body in {dom:.300}"));
    let attr = |name: &str| -> usize {
        let v = body.split(&format!("{name}=\"")).nth(1).and_then(|r| r.split('"').next()).unwrap_or_else(|| panic!("the page's script did not set {name}: <body{body}>"));
        v.parse().unwrap_or_else(|e| panic!("{name}={v:?}: {e}"))
    };
    (attr("data-plots"), attr("data-plots-rendered"))
}

#[test]
fn every_plot_of_the_report_renders_in_a_browser() {
    let dir = bench::procs::temp_dir("report-test");
    for r in sample_reports() {
        std::fs::write(dir.join(format!("{}.json", r.scenario)), serde_json::to_string(&r).unwrap()).unwrap();
    }
    let page = bench::report::write_html(&dir).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("src=") && !html.contains("href="), "the page is self-contained");
    // The ratio chart and one figure per series.
    assert_eq!(rendered(&page), (4, 4));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_plot_that_draws_nothing_is_counted_as_not_rendered() {
    // The check can fail: a series with no values draws an empty data group.
    let mut r = ScenarioReport::new("store", true);
    r.series.push(Series { name: "nothing".into(), plot: Plot::Cdf { x_label: "ms".into(), values: vec![] } });
    let dir = bench::procs::temp_dir("report-test-empty");
    std::fs::write(dir.join("store.json"), serde_json::to_string(&r).unwrap()).unwrap();
    let page = bench::report::write_html(&dir).unwrap();
    assert_eq!(rendered(&page), (1, 0));
    std::fs::remove_dir_all(&dir).unwrap();
}
