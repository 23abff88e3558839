//! Drives one upgrade record file against the file world of the crash test
//! (`tests/flow/file_world.rs`): `crash_driver WORLD.json RECORD.json`. Run with
//! `CHANGEOVER_CRASH_AT=<point>` it kills itself with SIGKILL at that point.

#[path = "../tests/flow/file_world.rs"]
mod file_world;

use std::sync::Arc;
use std::time::Duration;

use file_world::FileWorld;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, world, record] = args.as_slice() else {
        anyhow::bail!("usage: crash_driver WORLD.json RECORD.json");
    };
    let port = Arc::new(FileWorld::new(world.into(), record.into()));
    let engine = file_world::engine_over(port.clone(), Duration::from_millis(10));
    let mut r = port.load_record();
    let stop = engine.drive(&mut r).await?;
    println!("{stop:?}");
    Ok(())
}
