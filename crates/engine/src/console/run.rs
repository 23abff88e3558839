//! Executes `changeover upgrade …` commands.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use changeover_core::compat::{self, CompatibilityRules};
use changeover_core::version::Version;

use super::args::UpgradeCommand;
use super::ops::DataUpdates;
use super::print;
use crate::adapter::drivers::SchedulerPort;
use crate::driver::{Stop, now};
use crate::error::EngineError;
use crate::operator::{self, Selection};
use crate::port::{PortError, RecordStore, Records, Scheduler};
use crate::session::{Lease, drive_leased};
use crate::settings::PlatformSettings;
use crate::setup::{self, Resolved};
use crate::upgrade::plan::PlanShape;
use crate::upgrade::verify::{Report, days_before};
use crate::upgrade::{Action, Announcement, Mode, NewUpgrade, UpgradeRecord};
use crate::view;

/// The catalog of versions, as the console needs it.
#[async_trait]
pub trait Versions: Send + Sync {
    /// The platform's name (`sample`).
    fn platform(&self) -> String;
    /// The version the platform runs now.
    async fn current(&self) -> Result<String, PortError>;
    /// The bundle of `version`, resolved with this platform's settings.
    async fn resolve(&self, version: &str) -> Result<Resolved, PortError>;
    /// The compatibility rules the bundle of `version` declares.
    async fn rules(&self, version: &str) -> Result<CompatibilityRules, PortError>;
    /// The configuration to record with an upgrade (secrets redacted).
    fn configuration(&self) -> BTreeMap<String, String>;
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("{0}")]
    Refused(String),
    #[error("{what} failed: {source}")]
    Port {
        what: &'static str,
        #[source]
        source: PortError,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("step {step} failed: {reason}")]
    StepFailed { step: String, reason: String },
}

impl From<crate::upgrade::ActionError> for ConsoleError {
    fn from(e: crate::upgrade::ActionError) -> Self {
        ConsoleError::Refused(e.to_string())
    }
}

pub(super) fn port(what: &'static str) -> impl FnOnce(PortError) -> ConsoleError {
    move |source| ConsoleError::Port { what, source }
}

/// A record [`Console::create`] saved, and the note when the rules chose another mode.
#[derive(Debug, Clone)]
pub struct Created {
    pub record: UpgradeRecord,
    pub note: Option<String>,
}

/// Everything `changeover upgrade` needs.
pub struct Console {
    pub store: Arc<dyn RecordStore>,
    pub lease: Arc<dyn Lease>,
    pub versions: Arc<dyn Versions>,
    pub settings: PlatformSettings,
    /// Who drives (for the lease): host and process.
    pub holder: String,
    /// Print each step's progress as it changes.
    pub progress: bool,
    /// JSON on stdout instead of text (status, records, show, verify).
    pub json: bool,
}

/// A fresh record id: `upg-YYYYMMDD-hhmmss-` and four hex digits.
pub fn new_id() -> String {
    let t = now().to_string();
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "upg-{}-{}-{:04x}",
        &digits[..8],
        &digits[8..14],
        (nanos ^ std::process::id()) & 0xffff
    )
}

/// Records that prints every change of a step's phase as a progress line.
struct Printing {
    inner: Arc<dyn RecordStore>,
    progress: Mutex<print::Progress>,
}

#[async_trait]
impl Records for Printing {
    async fn save(&self, record: &UpgradeRecord) -> Result<(), PortError> {
        self.inner.save(record).await?;
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .update(record);
        Ok(())
    }
}

impl Console {
    pub async fn execute(&self, command: UpgradeCommand) -> Result<(), ConsoleError> {
        match command {
            UpgradeCommand::Start {
                to,
                mode,
                estimated_completion,
                contact_email,
                contact_phone,
                save_only,
                accept_risk,
                yes,
            } => {
                let announcement = Announcement::new(
                    estimated_completion.as_deref(),
                    contact_email.as_deref(),
                    contact_phone.as_deref(),
                )
                .map_err(|e| ConsoleError::Refused(e.to_string()))?;
                let record = self
                    .start(&to, mode.into(), announcement, save_only, accept_risk, yes)
                    .await?;
                if save_only {
                    println!(
                        "upgrade {} saved (configuring); start it with `changeover upgrade next`",
                        record.id
                    );
                    return Ok(());
                }
                self.drive(record).await
            }
            UpgradeCommand::Status => {
                let record = self.current_or_latest().await?;
                print::record(&record, self.json);
                Ok(())
            }
            UpgradeCommand::Next => self.act(Action::Next).await,
            UpgradeCommand::Retry => self.act(Action::Retry).await,
            UpgradeCommand::Skip { accept_risk } => self.act(Action::Skip { accept_risk }).await,
            UpgradeCommand::Terminate { rerun } => self.act(Action::Terminate { rerun }).await,
            UpgradeCommand::ForceTerminate { mark } => {
                let record = self
                    .apply_action(None, Action::ForceTerminate { mark: mark.into() })
                    .await?;
                println!("{}", view::status(&record));
                Ok(())
            }
            UpgradeCommand::Tasks { action, ids, all } => {
                let selection = selection(ids, all)?;
                let record = self.tasks(None, action, selection).await?;
                self.drive(record).await
            }
            UpgradeCommand::Overrule { reason } => {
                let record = self
                    .overrule(None, &operator::local_operator(), &reason)
                    .await?;
                self.drive(record).await
            }
            UpgradeCommand::DataUpdate { action, names, all } => {
                let selection = selection(names, all)?;
                match self
                    .data_updates(None, action, selection, &operator::local_operator())
                    .await?
                {
                    DataUpdates::Changed(record) => self.drive(record).await,
                    DataUpdates::StopRequested { record, names } => {
                        print::stop_requested(&record, &names);
                        Ok(())
                    }
                }
            }
            UpgradeCommand::Records => {
                let records = self.records().await?;
                print::records(&records, self.json);
                Ok(())
            }
            UpgradeCommand::Show { id } => {
                let record = self
                    .store
                    .get(&id)
                    .await
                    .map_err(port("reading the record"))?;
                print::show(&record, self.json);
                Ok(())
            }
            UpgradeCommand::Verify => {
                let report = self.verify_now().await?;
                print::verification(&report, self.json);
                Ok(())
            }
            UpgradeCommand::Rollback { id } => {
                let record = self.begin_rollback(&id).await?;
                self.drive(record).await
            }
        }
    }

    async fn start(
        &self,
        to: &str,
        requested: Mode,
        announcement: Announcement,
        save_only: bool,
        accept_risk: bool,
        yes: bool,
    ) -> Result<UpgradeRecord, ConsoleError> {
        let created = self
            .create(to, requested, announcement, save_only, accept_risk, yes)
            .await?;
        if let Some(note) = &created.note {
            println!("{note}");
        }
        print::created(&created.record);
        Ok(created.record)
    }

    /// Creates and saves the record of a new upgrade (started unless `save_only`), after
    /// the one-at-a-time, risk and compatibility checks; prints nothing. `yes` accepts the
    /// mode the rules offer instead of a refused one (the returned note says so).
    pub async fn create(
        &self,
        to: &str,
        requested: Mode,
        announcement: Announcement,
        save_only: bool,
        accept_risk: bool,
        yes: bool,
    ) -> Result<Created, ConsoleError> {
        if let Some(active) = self
            .store
            .active()
            .await
            .map_err(port("reading the store"))?
        {
            return Err(ConsoleError::Refused(format!(
                "upgrade {} is {}: only one upgrade at a time; continue it with `changeover upgrade next`, or end it with `changeover upgrade terminate` or `force-terminate`",
                active.id, active.status
            )));
        }
        if !accept_risk && !save_only {
            return Err(ConsoleError::Refused(
                "starting an upgrade needs the risk statement acknowledged: add --accept-risk (or --save-only to only save the configuration)".into(),
            ));
        }
        let current = self
            .versions
            .current()
            .await
            .map_err(port("reading the platform's version"))?;
        let parse = |v: &str| {
            v.parse::<Version>()
                .map_err(|e| ConsoleError::Refused(format!("version `{v}`: {e}")))
        };
        let (current_v, target_v) = (parse(&current)?, parse(to)?);
        let rules = self
            .versions
            .rules(to)
            .await
            .map_err(port("reading the target bundle"))?;
        let report = compat::check(&current_v, &target_v, &rules);
        let selection = report
            .select(requested)
            .map_err(|e| ConsoleError::Refused(e.to_string()))?;
        if let Some(note) = &selection.note
            && !yes
        {
            return Err(ConsoleError::Refused(format!(
                "{note}; {} is offered: start again with `--mode {}`",
                selection.mode.words(),
                match selection.mode {
                    Mode::Full => "full",
                    Mode::Partial => "partial",
                    Mode::Zero => "zero",
                }
            )));
        }
        let note = selection.note.clone();
        let target = self
            .versions
            .resolve(to)
            .await
            .map_err(port("resolving the target bundle"))?;
        let mut record = UpgradeRecord::configure(
            NewUpgrade {
                id: new_id(),
                platform: self.versions.platform(),
                from_version: current,
                to_version: to.to_owned(),
                mode: selection.mode,
                shape: PlanShape {
                    before_hooks: !target.before_hooks.is_empty(),
                    after_hooks: !target.after_hooks.is_empty(),
                },
                announcement,
                risk_accepted: accept_risk,
                auto_advance: yes,
                configuration: self.versions.configuration(),
            },
            now(),
        );
        if !save_only {
            record.apply(Action::Start, now())?;
        }
        self.store
            .insert(&record)
            .await
            .map_err(port("saving the new record"))?;
        Ok(Created { record, note })
    }

    pub(super) async fn active(&self) -> Result<UpgradeRecord, ConsoleError> {
        self.store
            .active()
            .await
            .map_err(port("reading the store"))?
            .ok_or_else(|| {
                ConsoleError::Refused(
                    "no upgrade in progress; start one with `changeover upgrade start`".into(),
                )
            })
    }

    /// The active record, else the newest one.
    pub async fn current_or_latest(&self) -> Result<UpgradeRecord, ConsoleError> {
        if let Some(r) = self
            .store
            .active()
            .await
            .map_err(port("reading the store"))?
        {
            return Ok(r);
        }
        self.store
            .list()
            .await
            .map_err(port("listing records"))?
            .into_iter()
            .next()
            .ok_or_else(|| {
                ConsoleError::Refused(
                    "no upgrade record yet; start one with `changeover upgrade start`".into(),
                )
            })
    }

    async fn act(&self, action: Action) -> Result<(), ConsoleError> {
        let record = self.apply_action(None, action).await?;
        self.drive(record).await
    }

    /// The engine for this record's versions.
    pub async fn engine(&self, record: &UpgradeRecord) -> Result<crate::Engine, ConsoleError> {
        let from = self
            .versions
            .resolve(&record.from_version)
            .await
            .map_err(port("resolving the current bundle"))?;
        let to = self
            .versions
            .resolve(&record.to_version)
            .await
            .map_err(port("resolving the target bundle"))?;
        let records: Arc<dyn Records> = if self.progress {
            Arc::new(Printing {
                inner: self.store.clone(),
                progress: Mutex::new(print::Progress::default()),
            })
        } else {
            Arc::new(StoreRecords(self.store.clone()))
        };
        setup::engine(&self.settings, &from, &to, records).map_err(ConsoleError::Refused)
    }

    /// Drives `record` under the lease until it ends or waits for the operator; prints
    /// nothing (progress lines only when `progress` is set).
    pub async fn drive_quiet(&self, record: &mut UpgradeRecord) -> Result<Stop, ConsoleError> {
        let engine = self.engine(record).await?;
        Ok(drive_leased(&engine, self.lease.clone(), &self.holder, record).await?)
    }

    async fn drive(&self, mut record: UpgradeRecord) -> Result<(), ConsoleError> {
        let stop = self.drive_quiet(&mut record).await?;
        print::stop(&record, stop)
    }

    /// The verification of the workload now.
    pub async fn verify_now(&self) -> Result<Report, ConsoleError> {
        self.verify_on(now().date(), None).await
    }

    /// The verification of the workload on `today` (the 7 days before it are the
    /// baseline), of one tenant's instances when `tenant` is given.
    pub async fn verify_on(
        &self,
        today: crate::upgrade::Date,
        tenant: Option<&str>,
    ) -> Result<Report, ConsoleError> {
        let current = self
            .versions
            .current()
            .await
            .map_err(port("reading the platform's version"))?;
        let resolved = self
            .versions
            .resolve(&current)
            .await
            .map_err(port("resolving the current bundle"))?;
        let rule = resolved.rule;
        let adapter = resolved
            .scheduler
            .adapter(&self.settings)
            .map_err(ConsoleError::Refused)?;
        let scheduler = SchedulerPort(adapter);
        let mut stats = scheduler
            .statistics(days_before(today, 8), today)
            .await
            .map_err(port("reading statistics"))?;
        if let Some(tenant) = tenant {
            stats.retain(|s| s.tenant == tenant);
        }
        let failed = scheduler
            .failed_today_succeeded_yesterday(today)
            .await
            .map_err(port("reading failed instances"))?;
        Ok(Report::new(today, &stats, failed, rule))
    }
}

/// The store as the engine's [`Records`] port.
struct StoreRecords(Arc<dyn RecordStore>);

#[async_trait]
impl Records for StoreRecords {
    async fn save(&self, record: &UpgradeRecord) -> Result<(), PortError> {
        self.0.save(record).await
    }
}

pub fn selection(ids: Vec<String>, all: bool) -> Result<Selection, ConsoleError> {
    match (all, ids.is_empty()) {
        (true, true) => Ok(Selection::All),
        (false, false) => Ok(Selection::Ids(ids)),
        (true, false) => Err(ConsoleError::Refused("give IDS or --all, not both".into())),
        (false, true) => Err(ConsoleError::Refused(
            "give the IDS to act on, or --all".into(),
        )),
    }
}
