//! The version catalog: every uploaded version bundle, stored byte for byte with its
//! digests and its parsed manifest, so `download` returns exactly what was uploaded.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, time};

/// The file format of an uploaded bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Yaml,
    Zip,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Zip => "zip",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = StoreError;
    fn from_str(text: &str) -> Result<Format, StoreError> {
        match text {
            "yaml" => Ok(Format::Yaml),
            "zip" => Ok(Format::Zip),
            other => Err(StoreError::Corrupt {
                what: "bundle format",
                detail: format!("{other:?} is neither yaml nor zip"),
            }),
        }
    }
}

/// A version to import or overwrite. Digests are computed by the store from `content`.
#[derive(Clone, Debug)]
pub struct NewVersion {
    pub platform: String,
    /// The version as displayed (canonical text of the bundle's version).
    pub version: String,
    /// A text key whose order is version order (see the core's `Version`).
    pub sort_key: String,
    pub file_name: String,
    pub format: Format,
    /// The uploaded file, unchanged.
    pub content: Vec<u8>,
    /// MD5 of the bundle's standard configuration template, when it has one.
    pub template_md5: Option<String>,
    /// The parsed manifest, as JSON.
    pub manifest: serde_json::Value,
}

/// A catalog row without its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CatalogEntry {
    pub platform: String,
    pub version: String,
    pub sort_key: String,
    pub file_name: String,
    pub format: Format,
    pub size: u64,
    pub md5: String,
    pub sha256: String,
    pub template_md5: Option<String>,
    pub uploaded_at: DateTime<Utc>,
    pub overwritten_at: Option<DateTime<Utc>>,
}

/// A catalog row with the uploaded bytes and the parsed manifest.
#[derive(Clone, Debug)]
pub struct StoredVersion {
    pub entry: CatalogEntry,
    pub content: Vec<u8>,
    pub manifest: serde_json::Value,
}

/// What [`Catalog::put`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// The version was new.
    Imported,
    /// The version was known and has been replaced; `previous` is the row it replaced.
    Overwritten { previous: Box<CatalogEntry> },
}

/// The version catalog repository.
pub struct Catalog<'s> {
    store: &'s Store,
}

impl Store {
    /// The version catalog.
    pub fn catalog(&self) -> Catalog<'_> {
        Catalog { store: self }
    }
}

impl Catalog<'_> {
    /// Imports a new version or overwrites a known one (same platform and version), in one
    /// transaction. An overwrite keeps the first `uploaded_at` and sets `overwritten_at`.
    pub async fn put(&self, new: &NewVersion) -> Result<(PutOutcome, CatalogEntry), StoreError> {
        self.put_at(new, Utc::now()).await
    }

    /// [`Catalog::put`] with an explicit clock.
    pub async fn put_at(
        &self,
        new: &NewVersion,
        now: DateTime<Utc>,
    ) -> Result<(PutOutcome, CatalogEntry), StoreError> {
        let manifest = serde_json::to_string(&new.manifest).map_err(|e| StoreError::Corrupt {
            what: "manifest",
            detail: e.to_string(),
        })?;
        let md5 = hex::encode(Md5::digest(&new.content));
        let sha256 = hex::encode(Sha256::digest(&new.content));
        let size = i64::try_from(new.content.len()).unwrap_or(i64::MAX);
        let mut tx = self
            .store
            .pool()
            .begin()
            .await
            .map_err(StoreError::query("begin a catalog write"))?;
        let previous = sqlx::query(SELECT_ENTRY)
            .bind(&new.platform)
            .bind(&new.version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::query("read the catalog"))?
            .map(|row| entry_from_row(&row))
            .transpose()?;
        sqlx::query(
            "INSERT INTO catalog_version (platform, version, sort_key, file_name, format, content, size, \
             md5, sha256, template_md5, manifest, uploaded_at, overwritten_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL) \
             ON CONFLICT (platform, version) DO UPDATE SET sort_key = excluded.sort_key, \
             file_name = excluded.file_name, format = excluded.format, content = excluded.content, \
             size = excluded.size, md5 = excluded.md5, sha256 = excluded.sha256, \
             template_md5 = excluded.template_md5, manifest = excluded.manifest, \
             overwritten_at = excluded.uploaded_at",
        )
        .bind(&new.platform)
        .bind(&new.version)
        .bind(&new.sort_key)
        .bind(&new.file_name)
        .bind(new.format.as_str())
        .bind(new.content.clone())
        .bind(size)
        .bind(&md5)
        .bind(&sha256)
        .bind(new.template_md5.clone())
        .bind(manifest)
        .bind(time::to_db(now))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query("write a version into the catalog"))?;
        tx.commit()
            .await
            .map_err(StoreError::query("commit a catalog write"))?;
        let stored = time::from_db(&time::to_db(now))?;
        let entry = CatalogEntry {
            platform: new.platform.clone(),
            version: new.version.clone(),
            sort_key: new.sort_key.clone(),
            file_name: new.file_name.clone(),
            format: new.format,
            size: new.content.len() as u64,
            md5,
            sha256,
            template_md5: new.template_md5.clone(),
            uploaded_at: previous.as_ref().map_or(stored, |p| p.uploaded_at),
            overwritten_at: previous.as_ref().map(|_| stored),
        };
        tracing::info!(platform = %new.platform, version = %new.version, overwritten = previous.is_some(), "catalog write");
        let outcome = match previous {
            None => PutOutcome::Imported,
            Some(previous) => PutOutcome::Overwritten {
                previous: Box::new(previous),
            },
        };
        Ok((outcome, entry))
    }

    /// One version's row without its content.
    pub async fn entry(
        &self,
        platform: &str,
        version: &str,
    ) -> Result<Option<CatalogEntry>, StoreError> {
        sqlx::query(SELECT_ENTRY)
            .bind(platform)
            .bind(version)
            .fetch_optional(self.store.pool())
            .await
            .map_err(StoreError::query("read the catalog"))?
            .map(|row| entry_from_row(&row))
            .transpose()
    }

    /// One version with its uploaded bytes and manifest.
    pub async fn get(
        &self,
        platform: &str,
        version: &str,
    ) -> Result<Option<StoredVersion>, StoreError> {
        let row = sqlx::query(
            "SELECT platform, version, sort_key, file_name, format, size, md5, sha256, template_md5, \
             uploaded_at, overwritten_at, content, manifest FROM catalog_version \
             WHERE platform = $1 AND version = $2",
        )
        .bind(platform)
        .bind(version)
        .fetch_optional(self.store.pool())
        .await
        .map_err(StoreError::query("read a version from the catalog"))?;
        let Some(row) = row else { return Ok(None) };
        let manifest: String = row.try_get("manifest").map_err(corrupt("manifest"))?;
        Ok(Some(StoredVersion {
            entry: entry_from_row(&row)?,
            content: row.try_get("content").map_err(corrupt("content"))?,
            manifest: serde_json::from_str(&manifest).map_err(|e| StoreError::Corrupt {
                what: "manifest",
                detail: e.to_string(),
            })?,
        }))
    }

    /// Every version of one platform (or of all), in version order.
    pub async fn list(&self, platform: Option<&str>) -> Result<Vec<CatalogEntry>, StoreError> {
        let rows = match platform {
            Some(name) => {
                sqlx::query(LIST_ONE)
                    .bind(name)
                    .fetch_all(self.store.pool())
                    .await
            }
            None => sqlx::query(LIST_ALL).fetch_all(self.store.pool()).await,
        }
        .map_err(StoreError::query("list the catalog"))?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Removes a version; `false` when it was not there.
    pub async fn remove(&self, platform: &str, version: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM catalog_version WHERE platform = $1 AND version = $2")
            .bind(platform)
            .bind(version)
            .execute(self.store.pool())
            .await
            .map_err(StoreError::query("remove a version from the catalog"))?;
        Ok(done.rows_affected() > 0)
    }
}

const LIST_ONE: &str = "SELECT platform, version, sort_key, file_name, format, size, md5, sha256, \
                        template_md5, uploaded_at, overwritten_at FROM catalog_version \
                        WHERE platform = $1 ORDER BY sort_key, version";
const LIST_ALL: &str = "SELECT platform, version, sort_key, file_name, format, size, md5, sha256, \
                        template_md5, uploaded_at, overwritten_at FROM catalog_version \
                        ORDER BY platform, sort_key, version";

const SELECT_ENTRY: &str = "SELECT platform, version, sort_key, file_name, format, size, md5, sha256, template_md5, \
     uploaded_at, overwritten_at FROM catalog_version WHERE platform = $1 AND version = $2";

fn corrupt(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    }
}

fn entry_from_row(row: &AnyRow) -> Result<CatalogEntry, StoreError> {
    let text = |name: &'static str| row.try_get::<String, _>(name).map_err(corrupt(name));
    let format: String = text("format")?;
    let size: i64 = row.try_get("size").map_err(corrupt("size"))?;
    Ok(CatalogEntry {
        platform: text("platform")?,
        version: text("version")?,
        sort_key: text("sort_key")?,
        file_name: text("file_name")?,
        format: format.parse()?,
        size: u64::try_from(size).unwrap_or(0),
        md5: text("md5")?,
        sha256: text("sha256")?,
        template_md5: row
            .try_get("template_md5")
            .map_err(corrupt("template_md5"))?,
        uploaded_at: time::from_db(&text("uploaded_at")?)?,
        overwritten_at: time::from_db_opt(
            row.try_get("overwritten_at")
                .map_err(corrupt("overwritten_at"))?,
        )?,
    })
}
