//! [`Versions`] over bundles: given ones (the demo, tests) or the store's catalog; the
//! platform's current version from the scheduler contract's `/health`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use changeover_core::bundle::{self, Bundle};
use changeover_core::compat::CompatibilityRules;
use changeover_drivers::ContractClient;
use changeover_store::Store;

use crate::console::Versions;
use crate::port::PortError;
use crate::resolve;
use crate::settings::PlatformSettings;
use crate::setup::Resolved;

/// The versions of one platform.
pub struct BundleVersions {
    pub platform: String,
    pub settings: PlatformSettings,
    /// Bundles by version text.
    pub bundles: BTreeMap<String, Bundle>,
    /// Where to find versions not given in `bundles`.
    pub store: Option<Store>,
    /// Ports to use instead of the bundles' (tests pick free ones).
    pub ports: BTreeMap<String, u16>,
}

impl BundleVersions {
    /// Reads bundles from bytes (`(file name, bytes)`), keyed by their version.
    pub fn with_bundles(
        platform: &str,
        settings: PlatformSettings,
        files: &[(&str, &[u8])],
    ) -> Result<Self, String> {
        let mut bundles = BTreeMap::new();
        for (name, bytes) in files {
            let b = bundle::read(bytes, name).map_err(|e| e.to_string())?;
            bundles.insert(b.version().to_string(), b);
        }
        Ok(Self {
            platform: platform.to_owned(),
            settings,
            bundles,
            store: None,
            ports: BTreeMap::new(),
        })
    }

    async fn bundle(&self, version: &str) -> Result<Bundle, PortError> {
        if let Some(b) = self.bundles.get(version) {
            return Ok(b.clone());
        }
        if let Some(store) = &self.store
            && let Some(stored) = store.catalog().get(&self.platform, version).await?
        {
            return Ok(bundle::read(&stored.content, &stored.entry.file_name)?);
        }
        Err(format!(
            "no bundle of {} {version} in the catalog; upload it with `changeover version upload FILE`",
            self.platform
        )
        .into())
    }
}

#[async_trait]
impl Versions for BundleVersions {
    fn platform(&self) -> String {
        self.platform.clone()
    }

    /// Asked of the scheduler the bundles declare: the contract's `/health`, or Airflow's
    /// version endpoint when the platform's bundles use the airflow adapter.
    async fn current(&self) -> Result<String, PortError> {
        let mut bundles: Vec<Bundle> = self.bundles.values().cloned().collect();
        if bundles.is_empty()
            && let Some(store) = &self.store
        {
            for entry in store.catalog().list(Some(&self.platform)).await? {
                if let Ok(b) = self.bundle(&entry.version).await {
                    bundles.push(b);
                }
            }
        }
        let airflow = bundles
            .iter()
            .rev()
            .find(|b| b.manifest().scheduler.adapter == bundle::SchedulerKind::Airflow);
        match airflow {
            Some(b) => {
                let resolved = resolve::resolve(b, &self.settings)?;
                Ok(resolved.scheduler.current_version(&self.settings).await?)
            }
            None => {
                let client = ContractClient::new(&self.settings.contract_url)?;
                Ok(client.health().await?.version)
            }
        }
    }

    async fn resolve(&self, version: &str) -> Result<Resolved, PortError> {
        let b = self.bundle(version).await?;
        let mut resolved = resolve::resolve(&b, &self.settings)?;
        for app in &mut resolved.applications {
            if let Some(port) = self.ports.get(&app.name) {
                app.port = Some(*port);
            }
        }
        Ok(resolved)
    }

    async fn rules(&self, version: &str) -> Result<CompatibilityRules, PortError> {
        Ok(self.bundle(version).await?.manifest().compatibility.clone())
    }

    fn configuration(&self) -> BTreeMap<String, String> {
        let s = &self.settings;
        let mut c = BTreeMap::new();
        c.insert("platform.bin_dir".into(), s.bin_dir.display().to_string());
        c.insert("platform.data_dir".into(), s.data_dir.display().to_string());
        c.insert("platform.contract_url".into(), s.contract_url.clone());
        if let Some(url) = &s.metadb_url {
            c.insert("metadb.url".into(), changeover_metadb::redact_url(url));
        }
        c
    }
}
