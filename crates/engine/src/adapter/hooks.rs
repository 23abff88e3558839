//! [`Hooks`] that run the bundle's hook actions: a command (no shell) or an HTTP call.

use std::time::Duration;

use async_trait::async_trait;

use crate::port::{Hooks, PortError};

/// How long a hook may take.
const HOOK_TIMEOUT: Duration = Duration::from_secs(60);

/// One action of a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookAction {
    Command(Vec<String>),
    Http { method: String, url: String },
}

/// One hook of the bundle, placeholders expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSpec {
    pub name: String,
    pub run: HookAction,
    pub undo: Option<HookAction>,
}

/// The bundle's hooks.
pub struct BundleHooks {
    pub hooks: Vec<HookSpec>,
    http: reqwest::Client,
}

impl BundleHooks {
    pub fn new(hooks: Vec<HookSpec>) -> Self {
        Self {
            hooks,
            http: reqwest::Client::new(),
        }
    }

    fn hook(&self, name: &str) -> Result<&HookSpec, PortError> {
        self.hooks
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| format!("no hook `{name}` in the bundle").into())
    }

    async fn perform(&self, name: &str, action: &HookAction) -> Result<(), PortError> {
        match action {
            HookAction::Command(argv) => {
                let (program, args) = argv.split_first().ok_or("the hook's command is empty")?;
                let output = tokio::time::timeout(
                    HOOK_TIMEOUT,
                    tokio::process::Command::new(program).args(args).output(),
                )
                .await
                .map_err(|_| format!("hook `{name}` did not finish in {HOOK_TIMEOUT:?}"))??;
                if !output.status.success() {
                    let stderr = String::from_utf8_lossy(&output.stderr);
                    return Err(format!(
                        "hook `{name}` exited with {}: {}",
                        output.status,
                        stderr.trim()
                    )
                    .into());
                }
                Ok(())
            }
            HookAction::Http { method, url } => {
                let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
                    .map_err(|_| format!("hook `{name}`: `{method}` is not an HTTP method"))?;
                let response = self
                    .http
                    .request(method, url)
                    .timeout(HOOK_TIMEOUT)
                    .send()
                    .await?;
                if !response.status().is_success() {
                    return Err(
                        format!("hook `{name}`: {url} answered {}", response.status()).into(),
                    );
                }
                Ok(())
            }
        }
    }
}

#[async_trait]
impl Hooks for BundleHooks {
    async fn run(&self, hook: &str) -> Result<(), PortError> {
        let spec = self.hook(hook)?;
        self.perform(hook, &spec.run).await
    }

    async fn undo(&self, hook: &str) -> Result<(), PortError> {
        let spec = self.hook(hook)?;
        match &spec.undo {
            Some(action) => self.perform(hook, action).await,
            None => Ok(()),
        }
    }
}
