//! `changeover --server URL version upload|list|download|check`: the catalog of the server,
//! printed as on the local store. The bundle is read here only to name it (platform,
//! version, format); the server validates it with the same code as a local upload.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Remote, RemoteError, encode};
use crate::failure::{Kind, bad_input};
use crate::output;

fn failure(err: anyhow::Error, hint: &str) -> anyhow::Error {
    match err.downcast::<RemoteError>() {
        Ok(e) => {
            let kind = if matches!(e.status, 400 | 404 | 409 | 422) {
                Kind::BadInput
            } else {
                Kind::Failed
            };
            e.into_failure(hint, kind)
        }
        Err(other) => other,
    }
}

/// A catalog row as `GET /api/v1/versions` sends it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Row {
    pub platform: String,
    pub version: String,
    pub format: String,
    pub file_name: String,
    pub size: u64,
    pub md5: String,
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
    pub overwritten_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub current: bool,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

pub async fn rows(r: &Remote, platform: Option<&str>) -> anyhow::Result<Vec<Row>> {
    let path = match platform {
        Some(p) => format!("/api/v1/versions?platform={}", encode(p)),
        None => "/api/v1/versions".to_owned(),
    };
    r.get(&path)
        .await
        .map_err(|e| failure(e, "run again with -v for details"))
}

async fn row(r: &Remote, platform: &str, version: &str) -> anyhow::Result<Row> {
    rows(r, Some(platform))
        .await?
        .into_iter()
        .find(|row| row.version == version)
        .ok_or_else(|| {
            bad_input(
                format!("version {version} of platform {platform} is not in the catalog"),
                "see `changeover version list`, or upload its bundle with `changeover version upload FILE`",
            )
        })
}

/// The upload's result as printed with `--json`.
#[derive(Serialize)]
struct Uploaded {
    platform: String,
    version: String,
    format: String,
    outcome: String,
    report: Report,
    entry: Option<Row>,
}

#[derive(Serialize, Default)]
struct Report {
    errors: Vec<String>,
    missing_items: Vec<String>,
    warnings: Vec<String>,
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Uploads `bytes` (read from `shown`) with overwrite, as `changeover version upload` does.
pub async fn upload(
    r: &Remote,
    shown: &str,
    file_name: &str,
    bytes: Vec<u8>,
    platform_filter: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let bundle = changeover_core::bundle::read(&bytes, file_name).map_err(|e| {
        bad_input(
            format!("{e}"),
            "fix the bundle at the place named and upload it again",
        )
    })?;
    let platform = bundle.platform().to_owned();
    if let Some(wanted) = platform_filter
        && wanted != platform
    {
        return Err(bad_input(
            format!("{file_name} is a bundle of platform {platform:?}, not {wanted:?}"),
            "upload it without --platform, or choose the bundle of the right platform",
        ));
    }
    let (format, content_type) = match bundle.kind() {
        changeover_core::bundle::BundleKind::Yaml => ("yaml", "application/x-yaml"),
        changeover_core::bundle::BundleKind::Zip => ("zip", "application/zip"),
    };
    let version = bundle.version().to_string();
    let answer = r
        .post_bytes("/api/v1/versions?overwrite=true", content_type, bytes)
        .await;
    let mut uploaded = Uploaded {
        platform: platform.clone(),
        version: version.clone(),
        format: format.to_owned(),
        outcome: "blocked".into(),
        report: Report::default(),
        entry: None,
    };
    match answer {
        Ok((_, body)) => {
            uploaded.outcome = body["outcome"].as_str().unwrap_or("imported").to_owned();
            uploaded.report.warnings = strings(&body["warnings"]);
            uploaded.entry = Some(row(r, &platform, &version).await?);
        }
        Err(e) => match e.downcast::<RemoteError>() {
            Ok(e) if e.code == "invalid_bundle" => {
                uploaded.report = Report {
                    errors: strings(&e.body["errors"]),
                    missing_items: strings(&e.body["missing"]),
                    warnings: strings(&e.body["warnings"]),
                };
            }
            Ok(e) => {
                return Err(
                    e.into_failure("fix the problem named and upload again", Kind::BadInput)
                );
            }
            Err(other) => return Err(other),
        },
    }
    if json {
        output::json(&uploaded)?;
    } else {
        print_report(shown, &uploaded);
    }
    if uploaded.outcome == "blocked" {
        let count = uploaded.report.errors.len().max(1);
        return Err(bad_input(
            format!(
                "{shown} is blocked by {count} error{}; nothing was stored",
                if count == 1 { "" } else { "s" }
            ),
            "fix the errors listed and upload the bundle again",
        ));
    }
    Ok(())
}

fn print_report(file: &str, u: &Uploaded) {
    println!(
        "{file}: platform {} version {} ({})",
        u.platform, u.version, u.format
    );
    let r = &u.report;
    for (title, list) in [
        ("missing configuration items:", &r.missing_items),
        ("warnings:", &r.warnings),
        ("blocking errors:", &r.errors),
    ] {
        if !list.is_empty() {
            println!("{title}");
            for item in list {
                println!("  - {item}");
            }
        }
    }
    if let Some(entry) = &u.entry {
        let verb = if u.outcome == "imported" {
            "imported"
        } else {
            "overwrote"
        };
        println!(
            "{verb} {} {} (md5 {}, {} bytes)",
            entry.platform, entry.version, entry.md5, entry.size
        );
    }
}

/// `version list` through the server.
pub async fn list(r: &Remote, platform: Option<&str>, json: bool) -> anyhow::Result<()> {
    let rows = rows(r, platform).await?;
    if json {
        return output::json(&rows);
    }
    if rows.is_empty() {
        println!("the catalog is empty; upload a bundle with `changeover version upload FILE`");
        return Ok(());
    }
    println!(
        "{}",
        output::table(
            &["", "version", "platform", "format", "uploaded", "md5"],
            rows.iter().map(|r| {
                let uploaded = match r.overwritten_at {
                    Some(at) => format!(
                        "{} (overwritten {})",
                        output::when(r.uploaded_at),
                        output::when(at)
                    ),
                    None => output::when(r.uploaded_at),
                };
                [
                    if r.current { "*" } else { "" }.to_owned(),
                    r.version.clone(),
                    r.platform.clone(),
                    r.format.clone(),
                    uploaded,
                    output::short_digest(&r.md5).to_owned(),
                ]
            })
        )
    );
    Ok(())
}

/// The uploaded bytes of `version` and its catalog row.
pub async fn download(r: &Remote, platform: &str, version: &str) -> anyhow::Result<(Vec<u8>, Row)> {
    let row = row(r, platform, version).await?;
    let bytes = r
        .get_bytes(&format!(
            "/api/v1/versions/{}/bundle?platform={}",
            encode(version),
            encode(platform)
        ))
        .await
        .map_err(|e| failure(e, "see `changeover version list`"))?;
    Ok((bytes, row))
}

/// `GET /api/v1/compatibility`: the verdicts from the platform's current version.
#[derive(Debug, Serialize, Deserialize)]
pub struct Compatibility {
    pub current: String,
    pub target: String,
    pub modes: Vec<ModeVerdict>,
    pub offered: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ModeVerdict {
    pub mode: changeover_core::Mode,
    pub allowed: bool,
    pub reason: Option<String>,
}

pub async fn compatibility(r: &Remote, to: &str) -> anyhow::Result<Compatibility> {
    r.get(&format!("/api/v1/compatibility?to={}", encode(to)))
        .await
        .map_err(|e| {
            failure(
                e,
                "see `changeover version list`, or upload the target's bundle",
            )
        })
}
