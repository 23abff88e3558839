//! The console's browser tests drive Debian's headless Chromium through `chromedriver` with
//! fantoccini; [`Browser`] adds what the tests need on top: starting chromedriver, waiting
//! for elements and texts on pages that redraw every second, and full-page screenshots.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long a wait polls before it fails (a guard against hanging, not a measurement).
pub const WAIT: Duration = Duration::from_secs(60);

/// Finds an executable on `PATH` (or the path in `env_var`).
fn executable(name: &str, env_var: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env_var) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A running `chromedriver` and one headless Chromium session.
pub struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    /// Ends chromedriver and the Chromium it started (its own process group), also when a
    /// test failed before [`Browser::close`].
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium with a fresh profile.
    /// Fails with the command that installs them when Chromium or chromedriver is missing.
    pub async fn start() -> anyhow::Result<Browser> {
        let chromium = executable("chromium", "CHANGEOVER_CHROMIUM").ok_or_else(|| {
            anyhow!(
                "the browser tests need Debian's `chromium` (or CHANGEOVER_CHROMIUM=/path): run `sudo scripts/setup.d/30-browser`"
            )
        })?;
        let chromedriver = executable("chromedriver", "CHANGEOVER_CHROMEDRIVER").ok_or_else(|| {
            anyhow!(
                "the browser tests need Debian's `chromium-driver` (chromedriver, or CHANGEOVER_CHROMEDRIVER=/path): run `sudo scripts/setup.d/30-browser`"
            )
        })?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            // A group of its own, which Chromium joins: dropping the browser ends them all.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", chromedriver.display()))?;
        let mut driver = driver;
        let profile = tempfile::tempdir()?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().no_proxy().build()?;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ready = http
                .get(format!("{base}/status"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                break;
            }
            if let Some(status) = driver.try_wait()? {
                bail!("{} exited at start: {status}", chromedriver.display());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("{} did not answer on port {port}", chromedriver.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-crash-reporter".to_owned(),
            "--disable-breakpad".to_owned(),
            "--window-size=1280,1000".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium.display().to_string(), "args": args}),
        );
        let connected = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&base)
            .await;
        let client = match connected {
            Ok(c) => c,
            Err(e) => {
                let _ = driver.kill();
                let _ = driver.wait();
                bail!("chromedriver opened no session: {e}");
            }
        };
        Ok(Browser {
            client,
            driver,
            _profile: profile,
        })
    }

    /// Ends the session (closes Chromium).
    pub async fn close(self) -> anyhow::Result<()> {
        self.client.clone().close().await?;
        Ok(())
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.client.goto(url).await?;
        Ok(())
    }

    /// Runs `script` in the page (`arguments[0..]` are `args`) and returns its value.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        Ok(self.client.execute(script, args).await?)
    }

    async fn find(&self, css: &str) -> anyhow::Result<Option<Element>> {
        Ok(self
            .client
            .find_all(Locator::Css(css))
            .await?
            .into_iter()
            .next())
    }

    /// The element matching `css`, waiting for it to appear.
    async fn element(&self, css: &str) -> anyhow::Result<Element> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(e) = self.find(css).await? {
                return Ok(e);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "no element `{css}` appeared; the page shows: {}",
                    self.body_text().await.unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether an element matching `css` is on the page now.
    pub async fn exists(&self, css: &str) -> anyhow::Result<bool> {
        Ok(self.find(css).await?.is_some())
    }

    /// Clicks the element at `css`; a page that redrew it between finding and clicking
    /// (the live pages redraw every second) gets another try.
    /// A disabled element is waited for until it is enabled, as a person would.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.prop(css, "disabled").await? == Value::Bool(true) {
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "`{css}` stayed disabled; the page shows: {}",
                    self.body_text().await?
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut tries = 0;
        loop {
            match self.element(css).await?.click().await {
                Ok(()) => return Ok(()),
                Err(err) if tries < 5 && err.is_stale_element_reference() => tries += 1,
                Err(err) => return Err(anyhow!(err).context(format!("clicking `{css}`"))),
            }
        }
    }

    pub async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let e = self.element(css).await?;
        e.clear().await?;
        e.send_keys(text).await?;
        Ok(())
    }

    /// Puts the file at `path` into the `<input type=file>` at `css`.
    pub async fn choose_file(&self, css: &str, path: &Path) -> anyhow::Result<()> {
        let e = self.element(css).await?;
        e.send_keys(&path.display().to_string()).await?;
        Ok(())
    }

    /// Accepts the page's `confirm()` dialog, waiting for it to open.
    pub async fn accept_dialog(&self) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match self.client.get_alert_text().await {
                Ok(text) => {
                    self.client.accept_alert().await?;
                    return Ok(text);
                }
                Err(err) if err.is_no_such_alert() && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => return Err(anyhow!(err).context("no dialog opened")),
            }
        }
    }

    /// Chooses the option with `value` in the `<select>` at `css` (and fires `change`).
    pub async fn select(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.element(css).await?;
        let done = self
            .eval(
                "const s = document.querySelector(arguments[0]);\
                 if (![...s.options].some(o => o.value === arguments[1])) return false;\
                 s.value = arguments[1]; s.dispatchEvent(new Event('change')); return true;",
                vec![json!(css), json!(value)],
            )
            .await?;
        if done != Value::Bool(true) {
            bail!("`{css}` has no option {value:?}");
        }
        Ok(())
    }

    /// The visible text of the element at `css` (waiting for it). Read in the page in one
    /// go, so a redraw cannot leave a stale reference.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        self.element(css).await?;
        let v = self
            .eval(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
                vec![json!(css)],
            )
            .await?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("`{css}` went away"))
    }

    /// An attribute of the element at `css` (waiting for it).
    pub async fn attr(&self, css: &str, name: &str) -> anyhow::Result<Option<String>> {
        self.element(css).await?;
        let v = self
            .eval(
                "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
                vec![json!(css), json!(name)],
            )
            .await?;
        Ok(v.as_str().map(str::to_owned))
    }

    /// A DOM property of the element at `css` (`disabled`, `hidden`, `checked`, `value`).
    pub async fn prop(&self, css: &str, name: &str) -> anyhow::Result<Value> {
        self.element(css).await?;
        self.eval(
            "const e = document.querySelector(arguments[0]); return e ? e[arguments[1]] : null;",
            vec![json!(css), json!(name)],
        )
        .await
    }

    /// The whole page's visible text.
    pub async fn body_text(&self) -> anyhow::Result<String> {
        let v = self.eval("return document.body.innerText;", vec![]).await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Waits until the element at `css` exists and its text contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) -> anyhow::Result<String> {
        self.wait_text_for(css, needle, WAIT).await
    }

    /// [`Browser::wait_text`] with its own guard.
    pub async fn wait_text_for(
        &self,
        css: &str,
        needle: &str,
        guard: Duration,
    ) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + guard;
        loop {
            let found = self
                .eval(
                    "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
                    vec![json!(css)],
                )
                .await?;
            if let Some(t) = found.as_str()
                && t.contains(needle)
            {
                return Ok(t.to_owned());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "`{css}` never showed {needle:?}; it shows {found}; the page shows: {}",
                    self.body_text().await.unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Saves a PNG of the window to `dir/name.png` and returns its path.
    /// The window grows to the page's height first, so the whole page is in the picture.
    pub async fn screenshot(&self, dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
        let height = self
            .eval("return document.documentElement.scrollHeight;", vec![])
            .await?
            .as_u64()
            .unwrap_or(1000);
        let height = u32::try_from((height + 140).clamp(1000, 6000)).unwrap_or(6000);
        self.client.set_window_size(1280, height).await?;
        let png = self.client.screenshot().await?;
        if !png.starts_with(b"\x89PNG") {
            bail!("the screenshot {name} is not a PNG");
        }
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }
}
