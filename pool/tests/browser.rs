//! The pages in a real headless browser: Chromium (Debian's `chromium`;
//! `.ci/run` installs it and sets `POOL_TEST_CHROMIUM`) loads `/` and
//! `/miner/<address>` of a pool with simulated miners; the charts must be
//! drawn (the chart's colour on screen, its line above the axis), and
//! screenshots are kept in `target/test-artifacts/`. Skipped, recorded by
//! `test_skip`, when no Chromium is found (a failure under `.ci/run`).

#[path = "support/e2e.rs"]
mod e2e;

use e2e::{regtest_address, wait_until, TestPool};
use miner_sim::{Dialect, MinerConfig, Swarm};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The chart line's colour in the page's style (#e67e22).
const CHART_ORANGE: [u8; 3] = [0xe6, 0x7e, 0x22];

fn chromium() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("POOL_TEST_CHROMIUM") {
        if !path.is_empty() {
            return Some(PathBuf::from(path));
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome"].map(|name| dir.join(name))
        })
        .find(|candidate| candidate.is_file())
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/test-artifacts");
    dir
}

/// Runs headless Chromium on `url` with `args`; its stdout.
fn headless(chromium: &Path, profile: &Path, url: &str, args: &[String]) -> String {
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--window-size=1200,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// The page as Chromium built it, and a screenshot of it at `png`.
fn load(chromium: &Path, profile: &Path, url: &str, png: &Path) -> String {
    let dom = headless(chromium, profile, url, &["--dump-dom".to_string()]);
    headless(
        chromium,
        profile,
        url,
        &[format!("--screenshot={}", png.display())],
    );
    dom
}

/// Pixels of (about) the chart's colour in a PNG screenshot.
fn orange_pixels(png: &Path) -> usize {
    let decoder = png::Decoder::new(std::fs::File::open(png).expect("the screenshot exists"));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buffer).expect("a frame");
    let channels = info.color_type.samples();
    assert!(channels >= 3, "an RGB(A) screenshot");
    buffer[..info.buffer_size()]
        .chunks(channels)
        .filter(|pixel| {
            pixel[..3]
                .iter()
                .zip(CHART_ORANGE)
                .all(|(have, want)| have.abs_diff(want) <= 12)
        })
        .count()
}

/// The chart's line: its points, as `(x, y)`.
fn chart_line(dom: &str) -> Vec<(f64, f64)> {
    let points = dom
        .split("class=\"line\" points=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no chart line in the page:\n{dom}"));
    points
        .split_whitespace()
        .filter_map(|pair| {
            let (x, y) = pair.split_once(',')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_pool_and_miner_pages_with_their_charts() {
    let Some(chromium) = chromium() else {
        test_skip::skip!(
            test_skip::Service::Chromium,
            "no Chromium found: set POOL_TEST_CHROMIUM or install Debian's chromium, as .ci/run does"
        );
        return;
    };
    let pool = TestPool::start("browser", |config| {
        config.stratum.start_difficulty = 0.00001;
        config.stratum.min_difficulty = 0.00001;
        config.stratum.max_difficulty = 0.00001;
    })
    .await;
    let address = regtest_address(91).to_string();
    let mut miner = MinerConfig::new(pool.addr(), format!("{address}.rig"), Dialect::Bitaxe);
    miner.hashrate = 1.0e6;
    miner.suggest_difficulty = Some(0.0);
    miner.reconnect = false;
    let swarm = Swarm::start(vec![miner]);
    wait_until("shares for the charts", Duration::from_secs(60), || {
        swarm.snapshot().accepted >= 50
    })
    .await;

    let artifacts = artifacts();
    let profile = tempdir("browser-profile");
    let base = format!("http://{}", pool.web_addr());
    let pages = [
        ("index", format!("{base}/")),
        ("miner", format!("{base}/miner/{address}")),
    ];
    // Load both pages while the miner still mines: it shows as online.
    let loaded: Vec<(String, String, PathBuf)> = {
        let chromium = chromium.clone();
        let profile = profile.clone();
        let artifacts = artifacts.clone();
        tokio::task::spawn_blocking(move || {
            pages
                .iter()
                .map(|(name, url)| {
                    let png = artifacts.join(format!("browser-{name}.png"));
                    let dom = load(&chromium, &profile, url, &png);
                    (name.to_string(), dom, png)
                })
                .collect()
        })
        .await
        .expect("chromium runs")
    };
    swarm.stop().await;
    for (name, dom, png) in &loaded {
        let line = chart_line(dom);
        assert_eq!(line.len(), 49, "{name}: a point per half hour");
        let baseline = line.iter().map(|(_, y)| *y).fold(f64::MIN, f64::max);
        assert!(
            line.iter().any(|(_, y)| *y < baseline - 50.0),
            "{name}: the chart rises above its axis: {line:?}"
        );
        let orange = orange_pixels(png);
        eprintln!(
            "{name}: {} has {orange} chart-coloured pixels",
            png.display()
        );
        assert!(
            orange > 100,
            "{name}: the chart is drawn on screen ({orange} pixels)"
        );
    }
    let miner_dom = &loaded[1].1;
    assert!(
        miner_dom.contains("rig ●"),
        "the worker is online on its page"
    );
    assert!(loaded[0].1.contains("Blocks found"));
    let _ = std::fs::remove_dir_all(&profile);
    pool.shutdown().await;
}

fn tempdir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pool-{label}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}
