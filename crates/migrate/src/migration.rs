//! The migration loop: snapshot once, then follow the change stream; every batch is
//! transformed by the pure transform and committed with the id map and the position.

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::background;
use crate::engine::Engine;
use crate::error::MigrateError;
use crate::event::{Change, SourceRow, SourceTable};
use crate::idmap::IdMap;
use crate::position::Position;
use crate::runtime::{Phase, Progress, TableProgress};
use crate::sink::Prepared;
use crate::source_mysql::{self, BinlogPosition};
use crate::source_postgres;
use crate::target::{Checkpoint, Fence, Target, prepare_batch, prepare_checkpoint};
use crate::transform::{Parsed, Scope, parse_definitions, reserve, transform, transform_parsed};
use crate::write::Batch;

/// What `migrate start` needs.
#[derive(Clone)]
pub struct MigrationConfig {
    pub source_url: String,
    pub target_url: String,
    /// Project names; empty for all projects.
    pub projects: Vec<String>,
    /// 5-bit machine id put into new codes.
    pub machine: u8,
    /// Replica server id for the binlog connection (unique among the source's replicas).
    pub server_id: u32,
}

impl std::fmt::Debug for MigrationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationConfig")
            .field("projects", &self.projects)
            .field("machine", &self.machine)
            .finish_non_exhaustive()
    }
}

impl MigrationConfig {
    fn scope(&self) -> Scope {
        if self.projects.is_empty() {
            Scope::all()
        } else {
            Scope::projects(self.projects.iter().cloned())
        }
    }

    fn projects(&self) -> Option<&[String]> {
        (!self.projects.is_empty()).then_some(self.projects.as_slice())
    }
}

/// Most changes of queued source transactions committed in one target transaction.
const GROUP_CHANGES: usize = 1_000;

/// How often a position-only commit may happen.
const EMPTY_COMMIT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs the migration until `stop` resolves, `migrate stop` asks it to (the stop flag in
/// the target, polled between batches), or the source fails. Safe to run again after a
/// crash at any point: it resumes from the position committed in the target.
pub async fn run(
    config: &MigrationConfig,
    stop: impl Future<Output = ()>,
) -> Result<(), MigrateError> {
    Engine::of_url(&config.source_url)?;
    let target = Target::connect(&config.target_url).await?;
    target.install_state().await?;
    let mut progress = Progress::new(Phase::Snapshot);
    if let Some(previous) = target.runtime().await? {
        progress.snapshot = previous.progress.snapshot;
    }
    target
        .register_run(std::process::id(), &progress, now_ms())
        .await?;
    let result = run_registered(config, &target, &mut progress, stop).await;
    progress.phase = if result.is_ok() {
        Phase::Stopped
    } else {
        Phase::Failed
    };
    progress.events_behind = 0;
    progress.events_per_second = 0.0;
    if let Err(e) = target.record_progress(&progress, now_ms()).await {
        warn!(error = %e, "could not record the final progress");
    }
    result
}

async fn run_registered(
    config: &MigrationConfig,
    target: &Target,
    progress: &mut Progress,
    stop: impl Future<Output = ()>,
) -> Result<(), MigrateError> {
    let (engine, _) = Engine::of_url(&config.source_url)?;
    let (slot, publication) = source_postgres::replication_names(&config.target_url);
    if target.load_state().await?.is_none() {
        let read_started = std::time::Instant::now();
        let now = now_ms();
        // Codes are reserved for the rows already read while the rest is read.
        let reserver = Reserver::start(
            target.load_map(config.machine, 0).await?,
            config.scope(),
            now,
        )?;
        let position = {
            // Dropped at the end of the read, which ends the reservation's input.
            let blocks = reserver.blocks.clone();
            let mut send = move |block: Vec<Change>| {
                // The thread stops early only by panicking, which `finish` reports.
                let _ = blocks.send(block);
            };
            match engine {
                Engine::MySql => Position::Binlog(
                    source_mysql::snapshot_in_blocks(&config.source_url, &mut send).await?,
                ),
                Engine::Postgres => {
                    source_postgres::snapshot_in_blocks(
                        &config.source_url,
                        &slot,
                        &publication,
                        &mut send,
                    )
                    .await?
                }
            }
        };
        let reserved = reserver.finish().await?;
        info!(
            rows = reserved.changes.len(),
            elapsed_ms = elapsed_ms(read_started),
            reserve_ms = reserved.reserve_ms,
            "snapshot read, codes reserved"
        );
        progress.snapshot = snapshot_counts(&reserved.changes);
        target.record_progress(progress, now_ms()).await?;
        apply_snapshot(config, target, progress, reserved, now, &position).await?;
    }
    target.install_code_index().await?;
    progress.phase = Phase::Streaming;
    target.record_progress(progress, now_ms()).await?;
    let state = target
        .load_state()
        .await?
        .ok_or_else(|| MigrateError::State {
            reason: "no state after the snapshot".to_owned(),
        })?;
    let position = Position::parse(&state.position).ok_or_else(|| MigrateError::State {
        reason: format!("position {:?} does not parse", state.position),
    })?;
    // The slot starts at the committed position, not at 0: a migrator killed after a commit
    // but before advancing the slot leaves already-applied transactions in it, and a peek
    // (2,000 changes at most) that returns only those would never reach a new one.
    let committed_lsn = Arc::new(AtomicU64::new(match &position {
        Position::Lsn(lsn) => *lsn,
        Position::Binlog(_) => 0,
    }));
    let mut stream = Stream {
        map: target.load_map(config.machine, state.last_code).await?,
        projects: state.projects,
        fence: state.fence,
        committed: position.clone(),
        committed_lsn: committed_lsn.clone(),
    };
    let (tx, mut rx) = mpsc::channel(64);
    let source_url = config.source_url.clone();
    let server_id = config.server_id;
    let reader = match position.clone() {
        Position::Binlog(start) => {
            let database = source_mysql::database_of(&config.source_url)?;
            tokio::spawn(async move {
                let (binlog_tx, mut binlog_rx) = mpsc::channel(64);
                let forward = async {
                    while let Some((changes, p)) = binlog_rx.recv().await {
                        if tx.send((changes, Position::Binlog(p))).await.is_err() {
                            break;
                        }
                    }
                };
                let (result, ()) = tokio::join!(
                    source_mysql::stream(&source_url, &database, start, server_id, binlog_tx),
                    forward
                );
                result
            })
        }
        Position::Lsn(start) => tokio::spawn(async move {
            source_postgres::stream(&source_url, &slot, &publication, start, committed_lsn, tx)
                .await
        }),
    };
    let _abort_reader = AbortOnDrop(reader.abort_handle());
    tokio::pin!(stop);
    let mut uncommitted: Option<Position> = None;
    let mut tick = tokio::time::interval(EMPTY_COMMIT_INTERVAL);
    let mut source_closed = false;
    let mut meter = Meter::new(now_ms());
    let result = loop {
        tokio::select! {
            () = &mut stop => break Ok(()),
            _ = tick.tick() => {
                if let Some(position) = uncommitted.take()
                    && let Err(e) = stream.apply(target, &[], position).await
                {
                    break Err(e);
                }
                if let Err(e) = stream.add_requested(target, &config.source_url, &config.target_url).await {
                    break Err(e);
                }
                match target.stop_requested().await {
                    Ok(true) => {
                        info!(position = %stream.committed, "stop requested; stopping after the last committed batch");
                        break Ok(());
                    }
                    Ok(false) => {}
                    Err(e) => break Err(e),
                }
                meter.sample(&config.source_url).await;
                if let Some(figures) = meter.figures(&stream.committed, rx.len(), now_ms()) {
                    progress.lag_seconds = Some(figures.lag_seconds);
                    progress.events_behind = figures.events_behind;
                    progress.events_per_second = figures.events_per_second;
                    progress.events_applied = meter.applied;
                    if let Err(e) = target.record_progress(progress, now_ms()).await {
                        break Err(e);
                    }
                }
            }
            next = rx.recv() => {
                let Some((changes, position)) = next else {
                    source_closed = true;
                    break Ok(());
                };
                // Transactions of other tables only move the position: commit that at most
                // twice a second, or a target on the same server would feed its own stream.
                if changes.is_empty() {
                    uncommitted = Some(position);
                    continue;
                }
                uncommitted = None;
                // Source transactions already queued are committed together (one target
                // commit for many small source transactions keeps the lag down).
                let mut applied = changes.len();
                let mut group = vec![(changes, position)];
                while applied < GROUP_CHANGES {
                    let Ok((changes, position)) = rx.try_recv() else { break };
                    applied += changes.len();
                    group.push((changes, position));
                }
                if let Err(e) = stream.apply_group(target, group).await {
                    break Err(e);
                }
                meter.applied += u64::try_from(applied).unwrap_or(0);
            }
        }
    };
    // A clean stop also commits a position-only advance read before it.
    let result = match (result, uncommitted) {
        (Ok(()), Some(position)) => stream.apply(target, &[], position).await,
        (result, _) => result,
    };
    progress.events_applied = meter.applied;
    drop(rx);
    if (source_closed || reader.is_finished())
        && let Ok(Err(e)) = reader.await
    {
        return Err(e);
    }
    result
}

/// Source rows transformed and written per snapshot chunk.
pub const SNAPSHOT_CHUNK: usize = 500;

/// How often the snapshot records its progress (after its first chunk, then after the
/// first chunk past this interval, and after the last).
const SNAPSHOT_PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// The snapshot's rows as read, and the id map with codes reserved for all of them.
struct Reserved {
    changes: Vec<Change>,
    map: IdMap,
    reserve_ms: u64,
}

/// A thread that reserves codes for the snapshot's blocks as they are read.
struct Reserver {
    blocks: mpsc::UnboundedSender<Vec<Change>>,
    thread: background::Background<Reserved>,
}

impl Reserver {
    fn start(map: IdMap, scope: Scope, now: i64) -> Result<Reserver, MigrateError> {
        let (blocks, mut rx) = mpsc::unbounded_channel::<Vec<Change>>();
        let thread = background::spawn("snapshot-reserve", move || {
            let mut reserved = Reserved {
                changes: Vec::new(),
                map,
                reserve_ms: 0,
            };
            while let Some(block) = rx.blocking_recv() {
                let started = std::time::Instant::now();
                reserve(&mut reserved.map, &scope, &block, now);
                reserved.reserve_ms += elapsed_ms(started);
                reserved.changes.extend(block);
            }
            reserved
        })?;
        Ok(Reserver { blocks, thread })
    }

    async fn finish(self) -> Result<Reserved, MigrateError> {
        drop(self.blocks);
        self.thread.join().await
    }
}

/// Writes the snapshot chunk by chunk in one target transaction and commits it with the id
/// map and `position`. Codes were reserved for every row first (by `Reserver`, while the
/// source was read), so references between definitions of different chunks resolve.
/// Threads at a lower priority (`background`) run ahead of the writes, a few chunks each: one parses the workflows of each chunk, one transforms the chunk (it
/// owns the id map, and prepares the id map and checkpoint after the last chunk), one
/// turns the writes into what is sent (`COPY` text on PostgreSQL); this task only sends.
/// `done` of a table counts its rows written in the open transaction (visible in the
/// target only at the commit).
async fn apply_snapshot(
    config: &MigrationConfig,
    target: &Target,
    progress: &mut Progress,
    reserved: Reserved,
    now: i64,
    position: &Position,
) -> Result<(), MigrateError> {
    let Reserved {
        changes,
        mut map,
        reserve_ms,
    } = reserved;
    let scope = config.scope();
    let engine = target.engine();
    let rows = changes.len();
    let position_text = position.to_string();
    let projects: Option<Vec<String>> = config.projects().map(<[String]>::to_vec);
    let changes = Arc::new(changes);
    let (tx_parsed, mut rx_parsed) = mpsc::channel::<Parsed>(2);
    let (tx_batches, mut rx_batches) = mpsc::channel::<(Batch, Vec<TableProgress>)>(2);
    let (tx_prepared, mut rx_prepared) = mpsc::channel::<SnapshotChunk>(2);
    let parser = background::spawn("snapshot-parse", {
        let changes = changes.clone();
        move || {
            for chunk in changes.chunks(SNAPSHOT_CHUNK) {
                if tx_parsed.blocking_send(parse_definitions(chunk)).is_err() {
                    break;
                }
            }
        }
    })?;
    let transformer = background::spawn("snapshot-transform", move || {
        let mut transform_ms = 0;
        for chunk in changes.chunks(SNAPSHOT_CHUNK) {
            let parsed = rx_parsed.blocking_recv().unwrap_or_default();
            let started = std::time::Instant::now();
            let batch = transform_parsed(&mut map, &scope, chunk, parsed, now);
            transform_ms += elapsed_ms(started);
            let mut counts = snapshot_counts(&[]);
            count_done(&mut counts, chunk);
            if tx_batches.blocking_send((batch, counts)).is_err() {
                break;
            }
        }
        let checkpoint = Checkpoint {
            position: &position_text,
            projects: projects.as_deref(),
            fence: None,
        };
        let checkpoint = prepare_checkpoint(engine, &mut map, checkpoint);
        (checkpoint, transform_ms)
    })?;
    let encoder = background::spawn("snapshot-encode", move || {
        let mut encode_ms = 0;
        while let Some((batch, counts)) = rx_batches.blocking_recv() {
            let started = std::time::Instant::now();
            let (writes, dead_letters) = (batch.writes.len(), batch.dead_letters.len());
            let prepared = prepare_batch(engine, batch);
            encode_ms += elapsed_ms(started);
            let chunk = SnapshotChunk {
                prepared,
                writes,
                dead_letters,
                counts,
            };
            if tx_prepared.blocking_send(chunk).is_err() {
                break;
            }
        }
        encode_ms
    })?;
    let mut tx = target.begin().await?;
    let (mut writes, mut dead_letters, mut write_ms, mut wait_ms) = (0, 0, 0, 0);
    let mut waiting = std::time::Instant::now();
    let mut recorded = None;
    while let Some(chunk) = rx_prepared.recv().await {
        wait_ms += elapsed_ms(waiting);
        let started = std::time::Instant::now();
        target.send(&mut tx, &chunk.prepared).await?;
        write_ms += elapsed_ms(started);
        writes += chunk.writes;
        dead_letters += chunk.dead_letters;
        for (table, done) in progress.snapshot.iter_mut().zip(&chunk.counts) {
            table.done += done.done;
        }
        // Each record is a commit of its own (an fsync on the target's server) in the
        // snapshot's critical path: after the first chunk, then at most twice a second.
        if recorded.is_none_or(|at: std::time::Instant| at.elapsed() >= SNAPSHOT_PROGRESS_EVERY) {
            target.record_progress(progress, now_ms()).await?;
            recorded = Some(std::time::Instant::now());
        }
        crate::target::fail_point("snapshot-chunk");
        waiting = std::time::Instant::now();
    }
    target.record_progress(progress, now_ms()).await?;
    parser.join().await?;
    let (checkpoint, transform_ms) = transformer.join().await?;
    let encode_ms = encoder.join().await?;
    info!(rows, writes, dead_letters, reserve_ms, transform_ms, encode_ms, write_ms, wait_ms, position = %position, "snapshot written");
    crate::target::fail_point("snapshot-commit");
    let started = std::time::Instant::now();
    target.finish_prepared(tx, &checkpoint).await?;
    info!(
        elapsed_ms = elapsed_ms(started),
        "snapshot committed with the id map"
    );
    Ok(())
}

/// One transformed snapshot chunk, ready to send.
struct SnapshotChunk {
    prepared: Prepared,
    writes: usize,
    dead_letters: usize,
    /// Rows of the chunk per source table (in `done`).
    counts: Vec<TableProgress>,
}

fn elapsed_ms(since: std::time::Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Adds the rows of `chunk` to the `done` figure of their tables.
fn count_done(tables: &mut [TableProgress], chunk: &[Change]) {
    for change in chunk {
        if let Some(table) = tables.iter_mut().find(|t| t.table == change.table().name()) {
            table.done += 1;
        }
    }
}

/// Snapshot rows per source table (all not yet committed).
fn snapshot_counts(changes: &[Change]) -> Vec<TableProgress> {
    SourceTable::ALL
        .into_iter()
        .map(|table| TableProgress {
            table: table.name().to_owned(),
            done: 0,
            total: changes
                .iter()
                .filter(|c| c.table() == table)
                .count()
                .try_into()
                .unwrap_or(u64::MAX),
        })
        .collect()
}

/// How often the figures are recorded in the target.
const RECORD_INTERVAL_MS: i64 = 1000;

/// Source positions sampled over time, to turn the committed position into seconds of lag.
struct Meter {
    samples: VecDeque<(Position, i64)>,
    applied: u64,
    applied_at_record: u64,
    recorded_ms: i64,
}

struct Figures {
    lag_seconds: f64,
    events_behind: u64,
    events_per_second: f64,
}

impl Meter {
    fn new(now: i64) -> Meter {
        Meter {
            samples: VecDeque::new(),
            applied: 0,
            applied_at_record: 0,
            recorded_ms: now,
        }
    }

    /// Samples the source's current position (a failed read only skips the sample: the
    /// stream itself reports an unreachable source).
    async fn sample(&mut self, source_url: &str) {
        match source_position(source_url).await {
            Ok(position) => {
                self.samples.push_back((position, now_ms()));
                if self.samples.len() > 240 {
                    self.samples.pop_front();
                }
            }
            Err(e) => warn!(error = %e, "could not sample the source position"),
        }
    }

    /// The figures, once per `RECORD_INTERVAL_MS`.
    fn figures(&mut self, committed: &Position, queued: usize, now: i64) -> Option<Figures> {
        let elapsed = now - self.recorded_ms;
        if elapsed < RECORD_INTERVAL_MS {
            return None;
        }
        let lag_seconds = lag_seconds(&self.samples, committed, now);
        #[allow(clippy::cast_precision_loss)]
        let events_per_second =
            (self.applied - self.applied_at_record) as f64 * 1000.0 / elapsed as f64;
        self.applied_at_record = self.applied;
        self.recorded_ms = now;
        Some(Figures {
            lag_seconds,
            events_behind: u64::try_from(queued).unwrap_or(u64::MAX),
            events_per_second,
        })
    }
}

/// Seconds since the source was last seen at or before `committed`: 0 when the newest
/// sample is reached, otherwise `now` minus the time of the newest reached sample (or of
/// the oldest sample when none is reached) — an upper bound with the sampling interval as
/// resolution.
fn lag_seconds(samples: &VecDeque<(Position, i64)>, committed: &Position, now: i64) -> f64 {
    let Some((newest, _)) = samples.back() else {
        return 0.0;
    };
    if committed.reached(newest) {
        return 0.0;
    }
    let since = samples
        .iter()
        .rev()
        .find(|(p, _)| committed.reached(p))
        .or_else(|| samples.front())
        .map_or(now, |(_, at)| *at);
    #[allow(clippy::cast_precision_loss)]
    let lag = (now - since).max(0) as f64 / 1000.0;
    lag
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The streaming phase's state, as committed in the target.
struct Stream {
    map: IdMap,
    projects: Option<Vec<String>>,
    fence: Option<Fence>,
    committed: Position,
    /// The committed LSN, for advancing a PostgreSQL slot.
    committed_lsn: Arc<AtomicU64>,
}

impl Stream {
    fn scope(&self) -> Scope {
        self.projects
            .as_ref()
            .map_or_else(Scope::all, |p| Scope::projects(p.iter().cloned()))
    }

    /// Whether `change` belongs to a fenced project (already in that project's snapshot).
    fn fenced(&self, fence: &Fence, change: &Change) -> bool {
        let in_fence = |project_id: i64| fence.project_ids.contains(&project_id);
        let definition_project = |id: i64| self.map.definitions.get(&id).map(|d| d.project_id);
        match change {
            Change::Upsert(SourceRow::Project(p)) => in_fence(p.id),
            Change::Upsert(SourceRow::Definition(d)) => in_fence(d.project_id),
            Change::Upsert(SourceRow::Schedule(s)) => {
                definition_project(s.process_definition_id).is_some_and(in_fence)
            }
            Change::Delete {
                table: SourceTable::Project,
                id,
            } => in_fence(*id),
            Change::Delete {
                table: SourceTable::Definition,
                id,
            } => definition_project(*id).is_some_and(in_fence),
            Change::Delete {
                table: SourceTable::Schedule,
                id,
            } => self
                .map
                .schedules
                .get(id)
                .and_then(|s| definition_project(s.definition_id))
                .is_some_and(in_fence),
            _ => false,
        }
    }

    async fn apply(
        &mut self,
        target: &Target,
        changes: &[Change],
        position: Position,
    ) -> Result<(), MigrateError> {
        self.apply_group(target, vec![(changes.to_vec(), position)])
            .await
    }

    /// Applies several source transactions (in commit order) in one target transaction,
    /// committed with the position after the last; each is checked against the fence at its
    /// own position.
    async fn apply_group(
        &mut self,
        target: &Target,
        group: Vec<(Vec<Change>, Position)>,
    ) -> Result<(), MigrateError> {
        let Some(position) = group.last().map(|(_, p)| p.clone()) else {
            return Ok(());
        };
        let mut fence = self.fence.clone();
        let mut kept: Vec<Change> = Vec::new();
        let mut read = 0;
        for (changes, at) in group {
            read += changes.len();
            match &fence {
                Some(f) if Position::parse(&f.position).is_some_and(|fp| fp.reached(&at)) => {
                    kept.extend(changes.into_iter().filter(|c| !self.fenced(f, c)));
                }
                Some(_) => {
                    fence = None;
                    kept.extend(changes);
                }
                None => kept.extend(changes),
            }
        }
        let scope = self.scope();
        let batch = transform(&mut self.map, &scope, &kept, now_ms());
        let checkpoint = Checkpoint {
            position: &position.to_string(),
            projects: self.projects.as_deref(),
            fence: fence.as_ref(),
        };
        target.commit(&batch, &mut self.map, checkpoint).await?;
        if read > 0 {
            debug!(changes = read, writes = batch.writes.len(), position = %position, "batch applied");
        }
        self.fence = fence;
        if let Position::Lsn(lsn) = position {
            self.committed_lsn.store(lsn, Ordering::SeqCst);
        }
        self.committed = position;
        Ok(())
    }

    /// Adds requested projects: snapshots their rows and fences their stream changes up to
    /// the snapshot's position, without stopping the stream.
    async fn add_requested(
        &mut self,
        target: &Target,
        source_url: &str,
        target_url: &str,
    ) -> Result<(), MigrateError> {
        let Some(current) = self.projects.clone() else {
            return Ok(());
        };
        let requested: Vec<String> = target
            .requested_projects()
            .await?
            .into_iter()
            .filter(|p| !current.contains(p))
            .collect();
        if requested.is_empty() || self.fence.is_some() {
            return Ok(());
        }
        let (changes, snapshot_at) = match self.committed {
            Position::Binlog(_) => {
                let (changes, position) = source_mysql::snapshot(source_url).await?;
                (changes, Position::Binlog(position))
            }
            Position::Lsn(_) => {
                // A second slot gives the consistent point; it is dropped right after.
                let (slot, publication) =
                    source_postgres::replication_names(&format!("{target_url}#add"));
                let result = source_postgres::snapshot(source_url, &slot, &publication).await;
                source_postgres::cleanup(source_url, &slot, &publication).await?;
                result?
            }
        };
        let ids: Vec<i64> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Upsert(SourceRow::Project(p)) if requested.contains(&p.name) => Some(p.id),
                _ => None,
            })
            .collect();
        let definitions: Vec<i64> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Upsert(SourceRow::Definition(d)) if ids.contains(&d.project_id) => {
                    Some(d.id)
                }
                _ => None,
            })
            .collect();
        let own: Vec<Change> = changes
            .into_iter()
            .filter(|c| match c {
                Change::Upsert(SourceRow::Project(p)) => ids.contains(&p.id),
                Change::Upsert(SourceRow::Definition(d)) => ids.contains(&d.project_id),
                Change::Upsert(SourceRow::Schedule(s)) => {
                    definitions.contains(&s.process_definition_id)
                }
                _ => false,
            })
            .collect();
        let mut projects = current;
        projects.extend(requested.iter().cloned());
        self.projects = Some(projects);
        let fence = Fence {
            project_ids: ids,
            position: snapshot_at.to_string(),
        };
        let scope = self.scope();
        let batch = transform(&mut self.map, &scope, &own, now_ms());
        let position = self.committed.to_string();
        let checkpoint = Checkpoint {
            position: &position,
            projects: self.projects.as_deref(),
            fence: Some(&fence),
        };
        target.commit(&batch, &mut self.map, checkpoint).await?;
        info!(projects = ?requested, rows = own.len(), snapshot = %snapshot_at, "projects added");
        self.fence = Some(fence);
        Ok(())
    }
}

/// The position of the source right now (for lag and cutover): MariaDB
/// `SHOW MASTER STATUS` or PostgreSQL `pg_current_wal_lsn()`.
pub async fn source_position(url: &str) -> Result<Position, MigrateError> {
    use sqlx::{AnyConnection, Connection, Row};
    let (engine, sqlx_url) = Engine::of_url(url)?;
    if engine == Engine::Postgres {
        return source_postgres::current_lsn(url).await;
    }
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&sqlx_url)
        .await
        .map_err(crate::error::db("connecting to the source"))?;
    let row = sqlx::raw_sql("SHOW MASTER STATUS")
        .fetch_one(&mut conn)
        .await
        .map_err(crate::error::db("reading the source position"))?;
    let file: String = row
        .try_get(0)
        .map_err(crate::error::db("reading the source position"))?;
    let pos: i64 = row
        .try_get(1)
        .map_err(crate::error::db("reading the source position"))?;
    Ok(Position::Binlog(BinlogPosition {
        file,
        pos: u64::try_from(pos).unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_zero_when_the_newest_sample_is_reached_and_grows_from_the_last_reached_one() {
        let samples: VecDeque<(Position, i64)> = [
            (Position::Lsn(10), 1_000),
            (Position::Lsn(20), 2_000),
            (Position::Lsn(30), 3_000),
        ]
        .into();
        assert!(lag_seconds(&samples, &Position::Lsn(30), 3_500).abs() < f64::EPSILON);
        assert!((lag_seconds(&samples, &Position::Lsn(25), 3_500) - 1.5).abs() < 1e-9);
        assert!((lag_seconds(&samples, &Position::Lsn(5), 3_500) - 2.5).abs() < 1e-9);
        assert!(lag_seconds(&VecDeque::new(), &Position::Lsn(5), 3_500).abs() < f64::EPSILON);
    }

    #[test]
    fn events_per_second_counts_the_changes_of_the_last_interval() {
        let mut meter = Meter::new(0);
        meter.applied = 50;
        assert!(meter.figures(&Position::Lsn(1), 0, 500).is_none());
        let figures = meter.figures(&Position::Lsn(1), 3, 2_000).unwrap();
        assert!((figures.events_per_second - 25.0).abs() < 1e-9);
        assert_eq!(figures.events_behind, 3);
        meter.applied = 60;
        let figures = meter.figures(&Position::Lsn(1), 0, 3_000).unwrap();
        assert!((figures.events_per_second - 10.0).abs() < 1e-9);
    }
}
