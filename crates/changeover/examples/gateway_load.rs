//! The gateway under load, with `wrk`, during real upgrades of the sample platform:
//!
//! ```sh
//! cargo build --release --workspace
//! cargo run --release -p changeover --example gateway_load -- target/release [RATE]
//! ```
//!
//! RATE is the request rate per `wrk` run (default 200 requests/s; `wrk` keeps it with a
//! per-connection delay, see the Lua script below). It starts the sample platform 1.0.0
//! behind an in-process gateway (data-service route `/api/` and console route `/`, both
//! following the process driver's routing table), then:
//!
//! 1. runs `wrk` on the data-service route during a zero-downtime upgrade to 1.0.1 (the data
//!    service is rolled instance by instance): every request must succeed;
//! 2. runs `wrk` on the data-service route and on the console route at the same time during
//!    a partial-downtime upgrade to 1.1.0: the data service must answer every request while
//!    the console route gets the maintenance page (503) while maintenance mode is on.
//!
//! It prints one table row per `wrk` run and exits non-zero when a guarantee is broken.
//! Needs `wrk` on the PATH (`scripts/setup.d/20-wrk` installs it).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use changeover_engine::console::{ModeArg, UpgradeCommand};
use changeover_engine::demo::{DemoOptions, start_platform};
use changeover_server::gateway::{Gateway, GatewayConfig, MaintenanceWatch};
use changeover_store::{Location, Store};

/// Counts responses by kind per `wrk` thread (the maintenance page is a 503 with
/// `Retry-After` and the gateway's "being upgraded" text) and prints one `RESULT` line at the end.
/// `delay()` spaces each connection's requests so the whole run keeps a fixed rate.
const SCRIPT: &str = r#"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; maintenance = 0; other = 0; last_other = 0 end
function delay() return tonumber(os.getenv("LOAD_DELAY_MS") or "20") end
function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 503 and body ~= nil and (headers["Retry-After"] or headers["retry-after"]) ~= nil and string.find(body, "being upgraded", 1, true) then maintenance = maintenance + 1
  else other = other + 1; last_other = status end
end
function done(summary, latency, requests)
  local o, m, x, last = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); m = m + t:get("maintenance"); x = x + t:get("other")
    if t:get("last_other") ~= 0 then last = t:get("last_other") end
  end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d ok=%d maintenance=%d other=%d socket_errors=%d duration_us=%d p50_us=%d p99_us=%d last_failed_status=%d\n",
    summary.requests, o, m, x, e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99), last))
end
"#;

/// `wrk` threads and connections per run; the delay per request is derived from the rate.
const THREADS: u32 = 2;
const CONNECTIONS: u32 = 4;

/// What one `wrk` run counted.
#[derive(Debug, Default)]
struct Counts {
    requests: u64,
    ok: u64,
    maintenance: u64,
    other: u64,
    socket_errors: u64,
    duration_us: u64,
    p50_us: u64,
    p99_us: u64,
    /// The HTTP status of the last failed response (0: none), to say what went wrong.
    last_failed_status: u64,
}

impl Counts {
    fn parse(output: &str) -> anyhow::Result<Counts> {
        let line = output
            .lines()
            .find(|l| l.starts_with("RESULT "))
            .with_context(|| format!("wrk printed no RESULT line:\n{output}"))?;
        let mut c = Counts::default();
        for pair in line.trim_start_matches("RESULT ").split_whitespace() {
            let (key, value) = pair.split_once('=').context("malformed RESULT pair")?;
            let value: u64 = value
                .parse()
                .with_context(|| format!("RESULT {key}={value} is not a number"))?;
            match key {
                "requests" => c.requests = value,
                "ok" => c.ok = value,
                "maintenance" => c.maintenance = value,
                "other" => c.other = value,
                "socket_errors" => c.socket_errors = value,
                "duration_us" => c.duration_us = value,
                "p50_us" => c.p50_us = value,
                "p99_us" => c.p99_us = value,
                "last_failed_status" => c.last_failed_status = value,
                _ => {}
            }
        }
        Ok(c)
    }

    fn failed(&self) -> u64 {
        self.other + self.socket_errors
    }

    fn row(&self, phase: &str, route: &str) -> String {
        let secs = self.duration_us as f64 / 1e6;
        format!(
            "| {phase} | {route} | {} | {:.0} | {} | {} | {} | {:.1} | {:.1} |",
            self.requests,
            self.requests as f64 / secs.max(1e-9),
            self.ok,
            self.maintenance,
            self.failed(),
            self.p50_us as f64 / 1000.0,
            self.p99_us as f64 / 1000.0,
        )
    }
}

/// A running `wrk`; [`Load::finish`] stops it with SIGINT (wrk then prints its summary).
struct Load {
    child: tokio::process::Child,
}

impl Load {
    fn start(script: &Path, url: &str, rate: u32) -> anyhow::Result<Load> {
        let delay_ms = (CONNECTIONS * 1000 / rate.max(1)).max(1);
        let child = tokio::process::Command::new("wrk")
            .args([
                "-t",
                &THREADS.to_string(),
                "-c",
                &CONNECTIONS.to_string(),
                "-d",
                "600s",
                "--timeout",
                "5s",
                "-s",
            ])
            .arg(script)
            .arg(url)
            .env("LOAD_DELAY_MS", delay_ms.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot run wrk (install it with scripts/setup.d/20-wrk)")?;
        Ok(Load { child })
    }

    async fn finish(self) -> anyhow::Result<Counts> {
        let pid = self.child.id().context("wrk exited early")?;
        let status = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()?;
        if !status.success() {
            bail!("could not send SIGINT to wrk ({pid})");
        }
        let out = tokio::time::timeout(Duration::from_secs(30), self.child.wait_with_output())
            .await
            .context("wrk did not stop within 30 s of SIGINT")??;
        Counts::parse(&String::from_utf8_lossy(&out.stdout)).with_context(|| {
            format!(
                "wrk stderr: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
    }
}

fn start_command(to: &str, mode: ModeArg) -> UpgradeCommand {
    UpgradeCommand::Start {
        to: to.into(),
        mode,
        estimated_completion: Some("2030-01-01 06:00".into()),
        contact_email: Some("ops@example.com".into()),
        contact_phone: None,
        save_only: false,
        accept_risk: true,
        yes: true,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let bin_dir = std::path::absolute(args.next().unwrap_or_else(|| "target/release".into()))?;
    let rate: u32 = match args.next() {
        Some(r) => r
            .parse()
            .ok()
            .filter(|r| (1..=100_000).contains(r))
            .with_context(|| {
                format!("RATE must be a number of requests/s from 1 to 100000, got {r:?}")
            })?,
        None => 200,
    };
    let bundles = ["1.0.0", "1.0.1", "1.1.0"]
        .iter()
        .map(|v| {
            let name = format!("{v}.yaml");
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../bundles/sample")
                .join(&name);
            Ok((
                name,
                std::fs::read(&path).with_context(|| path.display().to_string())?,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let work_dir: PathBuf =
        std::env::temp_dir().join(format!("changeover-gateway-load-{}", std::process::id()));
    let opts = DemoOptions {
        bin_dir,
        work_dir: work_dir.clone(),
        bundles,
    };
    let mut platform = start_platform(&opts, 3).await.map_err(anyhow::Error::msg)?;
    platform.console.progress = false;
    let result = run(&mut platform, &work_dir, rate).await;
    let _ = platform.driver.kill_all();
    let _ = std::fs::remove_dir_all(&work_dir);
    result
}

async fn run(
    platform: &mut changeover_engine::demo::Started,
    work_dir: &Path,
    rate: u32,
) -> anyhow::Result<()> {
    let state_dir = platform.settings.process_state_dir();
    let config = GatewayConfig::parse(&format!(
        "state_dir: {:?}\nroutes:\n  - {{ prefix: /api/, kind: dataservice, app: dataservice }}\n  - {{ prefix: /, kind: console, app: scheduler }}\n",
        state_dir.display().to_string()
    ))
    .map_err(anyhow::Error::msg)?;
    let routes = config.validate().map_err(anyhow::Error::msg)?;
    let gateway = Gateway::new(routes, Some(state_dir), MaintenanceWatch::default());
    let store = Store::open(&Location::Sqlite(platform.store_path.clone())).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let served = tokio::spawn(gateway.serve(listener, store, Duration::from_millis(100)));
    let script = work_dir.join("load.lua");
    std::fs::write(&script, SCRIPT)?;
    let data_url = format!("http://{addr}/api/summary");
    let console_url = format!("http://{addr}/");

    println!(
        "gateway on {addr}; wrk at {rate} requests/s per run ({THREADS} threads, {CONNECTIONS} connections)"
    );
    println!(
        "| phase | route | requests | req/s | 200 | maintenance page | failed | p50 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut broken = Vec::new();

    // 1. zero downtime: the data service is rolled under load.
    let load = Load::start(&script, &data_url, rate)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    platform
        .console
        .execute(start_command("1.0.1", ModeArg::Zero))
        .await
        .map_err(|e| anyhow::anyhow!("zero-downtime upgrade to 1.0.1: {e}"))?;
    let upgrade_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let data = load.finish().await?;
    println!(
        "{}",
        data.row("zero downtime 1.0.0 → 1.0.1", "data service /api/")
    );
    if data.failed() > 0 || data.maintenance > 0 || data.ok != data.requests {
        broken.push(format!(
            "zero downtime: {} of {} data-service requests did not get 200 (last status {})",
            data.requests - data.ok,
            data.requests,
            data.last_failed_status
        ));
    }
    let zero_secs = upgrade_secs;

    // 2. partial downtime: maintenance mode on while the applications are upgraded.
    let data_load = Load::start(&script, &data_url, rate)?;
    let console_load = Load::start(&script, &console_url, rate)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    platform
        .console
        .execute(start_command("1.1.0", ModeArg::Partial))
        .await
        .map_err(|e| anyhow::anyhow!("partial-downtime upgrade to 1.1.0: {e}"))?;
    let partial_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let data = data_load.finish().await?;
    let console = console_load.finish().await?;
    println!(
        "{}",
        data.row("partial downtime 1.0.1 → 1.1.0", "data service /api/")
    );
    println!(
        "{}",
        console.row("partial downtime 1.0.1 → 1.1.0", "console /")
    );
    if data.failed() > 0 || data.ok != data.requests {
        broken.push(format!(
            "partial downtime: {} of {} data-service requests did not get 200",
            data.requests - data.ok,
            data.requests
        ));
    }
    if console.maintenance == 0 {
        broken.push("partial downtime: the console route never got the maintenance page".into());
    }
    if console.failed() > 0 {
        broken.push(format!(
            "partial downtime: {} console requests failed (neither 200 nor the maintenance page; last status {})",
            console.failed(),
            console.last_failed_status
        ));
    }
    println!(
        "\nupgrade durations: zero downtime {zero_secs:.1} s, partial downtime {partial_secs:.1} s"
    );
    served.abort();
    if broken.is_empty() {
        println!("all guarantees held");
        Ok(())
    } else {
        bail!("guarantees broken:\n  {}", broken.join("\n  "))
    }
}
