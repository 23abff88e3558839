//! The console's operations as values: each applies one operator action to the store's
//! record and returns the saved record, printing nothing. `changeover upgrade` prints
//! around them; the HTTP API answers them as JSON and drives the record afterwards.

use super::args::{DataUpdateAction, TaskAction};
use super::run::{Console, ConsoleError, port};
use crate::driver::now;
use crate::operator::{self, Selection};
use crate::upgrade::{Action, UpgradeRecord};

impl Console {
    /// The active (configuring or upgrading) record; when `id` is given it must be that one.
    pub async fn active_as(&self, id: Option<&str>) -> Result<UpgradeRecord, ConsoleError> {
        let record = self.active().await?;
        match id {
            Some(id) if id != record.id => Err(ConsoleError::Refused(format!(
                "upgrade {id} is not the active upgrade: {} is {}; act on that one, or end it first",
                record.id, record.status
            ))),
            _ => Ok(record),
        }
    }

    /// Applies `action` to the active record (`id` when given) and saves it. Driving the
    /// record afterwards is the caller's part.
    pub async fn apply_action(
        &self,
        id: Option<&str>,
        action: Action,
    ) -> Result<UpgradeRecord, ConsoleError> {
        let mut record = self.active_as(id).await?;
        record.apply(action, now())?;
        self.store
            .save(&record)
            .await
            .map_err(port("saving the record"))?;
        Ok(record)
    }

    /// Puts record `id` into rolling back and saves it; refused while another upgrade is
    /// active.
    pub async fn begin_rollback(&self, id: &str) -> Result<UpgradeRecord, ConsoleError> {
        let mut record = self
            .store
            .get(id)
            .await
            .map_err(port("reading the record"))?;
        if let Some(active) = self
            .store
            .active()
            .await
            .map_err(port("reading the store"))?
            && active.id != record.id
        {
            return Err(ConsoleError::Refused(format!(
                "upgrade {} is {}: only one upgrade at a time; end it first",
                active.id, active.status
            )));
        }
        record.apply(Action::Rollback, now())?;
        self.store
            .save(&record)
            .await
            .map_err(port("saving the record"))?;
        Ok(record)
    }

    /// Terminates or re-runs the selected task instances of the active record.
    pub async fn tasks(
        &self,
        id: Option<&str>,
        action: TaskAction,
        selection: Selection,
    ) -> Result<UpgradeRecord, ConsoleError> {
        let mut record = self.active_as(id).await?;
        let engine = self.engine(&record).await?;
        match action {
            TaskAction::Terminate => {
                operator::terminate_instances(&engine, &mut record, selection).await?
            }
            TaskAction::Rerun => operator::rerun_instances(&engine, &mut record, selection).await?,
        }
        Ok(record)
    }

    /// Runs, skips or stops the selected data-update tasks of the active record. Run and
    /// skip change the record (the task runs when the record is driven next). Stop only
    /// saves a stop request for each named running task, asked `by` someone: the changeover
    /// driving the upgrade stops the task and records it stopped, so the record is not to
    /// be driven after a stop ([`DataUpdates::StopRequested`]).
    pub async fn data_updates(
        &self,
        id: Option<&str>,
        action: DataUpdateAction,
        selection: Selection,
        by: &str,
    ) -> Result<DataUpdates, ConsoleError> {
        let mut record = self.active_as(id).await?;
        match action {
            DataUpdateAction::Stop => {
                let requests = self.lease.requests().ok_or_else(|| {
                    ConsoleError::Refused(
                        "this store takes no requests to the driving changeover".into(),
                    )
                })?;
                let names =
                    operator::request_data_update_stop(requests.as_ref(), &record, selection, by)
                        .await?;
                return Ok(DataUpdates::StopRequested { record, names });
            }
            DataUpdateAction::Run => {
                let engine = self.engine(&record).await?;
                operator::run_data_updates(&engine, &mut record, selection).await?
            }
            DataUpdateAction::Skip => {
                let engine = self.engine(&record).await?;
                let names = match selection {
                    Selection::Ids(names) => names,
                    Selection::All => engine
                        .target
                        .data_updates
                        .iter()
                        .filter(|t| t.skippable)
                        .map(|t| t.name.clone())
                        .collect(),
                };
                operator::skip_data_updates(&engine, &mut record, &names).await?
            }
        }
        Ok(DataUpdates::Changed(record))
    }

    /// Overrules a failed verification verdict of the active record, saying who and why;
    /// the record is to be driven on afterwards (it completes when it auto-advances).
    pub async fn overrule(
        &self,
        id: Option<&str>,
        by: &str,
        reason: &str,
    ) -> Result<UpgradeRecord, ConsoleError> {
        let mut record = self.active_as(id).await?;
        let engine = self.engine(&record).await?;
        operator::overrule_verification(&engine, &mut record, by, reason).await?;
        Ok(record)
    }

    /// Every record, newest first.
    pub async fn records(&self) -> Result<Vec<UpgradeRecord>, ConsoleError> {
        self.store.list().await.map_err(port("listing records"))
    }
}

/// What a data-update action did.
#[derive(Debug)]
pub enum DataUpdates {
    /// Tasks were marked to run or skipped: drive the record.
    Changed(UpgradeRecord),
    /// Stop requests were saved for these running tasks: do not drive; the changeover
    /// driving the upgrade acts on them.
    StopRequested {
        record: UpgradeRecord,
        names: Vec<String>,
    },
}

impl DataUpdates {
    /// The record as it is after the action.
    pub fn record(&self) -> &UpgradeRecord {
        match self {
            DataUpdates::Changed(record) | DataUpdates::StopRequested { record, .. } => record,
        }
    }
}
