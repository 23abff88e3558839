//! Drives one upgrade record file against the file world of the crash test
//! (`tests/flow/file_world.rs`): `crash_driver WORLD.json RECORD.json`. Run with
//! `CHANGEOVER_CRASH_AT=<point>` it kills itself with SIGKILL at that point.

#[path = "../tests/flow/file_world.rs"]
mod file_world;

use std::sync::Arc;

use changeover_engine::{AppSpec, Engine, Platform, Target, TaskSpec};
use file_world::FileWorld;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, world, record] = args.as_slice() else {
        anyhow::bail!("usage: crash_driver WORLD.json RECORD.json");
    };
    let port = Arc::new(FileWorld::new(world.into(), record.into()));
    let engine = Engine {
        platform: Platform {
            scheduler: port.clone(),
            applications: port.clone(),
            databases: port.clone(),
            hooks: port.clone(),
        },
        target: Target {
            applications: vec![
                AppSpec {
                    name: "scheduler".into(),
                    always_on: false,
                    rolling: false,
                },
                AppSpec {
                    name: "dataservice".into(),
                    always_on: true,
                    rolling: true,
                },
            ],
            previous_applications: Vec::new(),
            databases: vec!["metadata".into()],
            data_updates: vec![
                TaskSpec {
                    name: "backfill_owner".into(),
                    blocking: true,
                    skippable: true,
                    manual_start: false,
                },
                TaskSpec {
                    name: "refresh_stats".into(),
                    blocking: false,
                    skippable: true,
                    manual_start: false,
                },
            ],
            before_hooks: vec!["ha-off".into()],
            after_hooks: vec!["ha-on".into()],
            rule: Default::default(),
        },
        records: port.clone(),
        requests: std::sync::Arc::new(changeover_engine::port::NoRequests),
        max_wait: std::time::Duration::from_millis(10),
        background: Default::default(),
    };
    let mut r = port.load_record();
    let stop = engine.drive(&mut r).await?;
    println!("{stop:?}");
    Ok(())
}
