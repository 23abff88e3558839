//! Throughput of the pure transform (split + versions + id map) on generated 1.3 workflows,
//! the same ones the database benchmark writes (5–20 SHELL/SQL/PYTHON tasks, a binary tree,
//! designer locations). No database: this is the CPU side of a snapshot, run as the snapshot
//! runs it (codes reserved for every row, then chunks of `SNAPSHOT_CHUNK` rows), and the
//! encoding of the resulting writes as `COPY` text.
//!
//! `cargo bench -p changeover-migrate --bench transform -- 10000` (default 10000 definitions).

use std::time::Instant;

use changeover_migrate::code::{CODE_EPOCH_MS, CodeGenerator};
use changeover_migrate::engine::Engine;
use changeover_migrate::event::{Change, SourceDefinition, SourceProject, SourceRow};
use changeover_migrate::idmap::IdMap;
use changeover_migrate::migration::SNAPSHOT_CHUNK;
use changeover_migrate::target::prepare_batch;
use changeover_migrate::transform::{Scope, reserve, transform};

/// The allocator `changeover` runs the migration with (see its `main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/workflows.rs"]
mod workflows;
use workflows::workflow;

/// CPU time of the calling thread (Linux `schedstat`), or zero where it is not available.
fn thread_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e6)
}

fn main() {
    let count: i64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let mut changes = vec![Change::Upsert(SourceRow::Project(SourceProject {
        id: 1,
        name: "bench".into(),
        description: None,
        user_id: Some(1),
        flag: Some(1),
        create_time: None,
        update_time: None,
    }))];
    for id in 1..=count {
        let (json, locations) = workflow(id);
        changes.push(Change::Upsert(SourceRow::Definition(SourceDefinition {
            id,
            name: format!("wf{id}"),
            release_state: Some(1),
            project_id: 1,
            user_id: Some(1),
            process_definition_json: Some(json),
            description: Some("d".into()),
            flag: Some(1),
            locations: Some(locations),
            timeout: Some(0),
            tenant_id: -1,
            create_time: None,
            update_time: None,
        })));
    }
    let now = CODE_EPOCH_MS + 1;
    let mut map = IdMap::new(CodeGenerator::new(1, 0));
    let (started, cpu) = (Instant::now(), thread_cpu_ms());
    reserve(&mut map, &Scope::all(), &changes, now);
    let (reserved, reserve_cpu) = (started.elapsed(), thread_cpu_ms() - cpu);
    let (started, cpu) = (Instant::now(), thread_cpu_ms());
    let (mut writes, mut dead_letters, mut bytes) = (0, 0, 0);
    let mut encode_cpu = 0.0;
    for chunk in changes.chunks(SNAPSHOT_CHUNK) {
        let batch = transform(&mut map, &Scope::all(), chunk, now);
        writes += batch.writes.len();
        dead_letters += batch.dead_letters.len();
        let before = thread_cpu_ms();
        bytes += prepare_batch(Engine::Postgres, batch).copy_bytes();
        encode_cpu += thread_cpu_ms() - before;
    }
    let (transformed, transform_cpu) = (started.elapsed(), thread_cpu_ms() - cpu - encode_cpu);
    #[allow(clippy::cast_precision_loss)]
    let per_second = writes as f64 / transformed.as_secs_f64();
    println!(
        "definitions={count} writes={writes} dead_letters={dead_letters} reserve={:.3}s (cpu {reserve_cpu:.0} ms) transform+encode={:.3}s (transform cpu {transform_cpu:.0} ms, encode cpu {encode_cpu:.0} ms, {bytes} bytes) {per_second:.0} writes/s",
        reserved.as_secs_f64(),
        transformed.as_secs_f64(),
    );
}
