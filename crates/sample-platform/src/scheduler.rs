//! The scheduler loop: cron triggers, dispatch under the toggles, and polling of running
//! task processes (including ones adopted after a restart).

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::instances::{Instance, NewInstance, Workflow};
use crate::{Metadb, MetadbError, PlatformVersion, task};

/// How far back missed cron fire times are scanned for the latest one.
const MAX_MISSED_FIRES: usize = 100_000;

/// Everything the loop and the HTTP handlers share.
#[derive(Debug, Clone)]
pub struct Scheduler {
    pub db: Metadb,
    pub version: PlatformVersion,
    pub data_dir: PathBuf,
}

impl Scheduler {
    /// Runs forever, one pass per `tick`.
    pub async fn run(self, tick: Duration) {
        loop {
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "scheduler pass failed; retrying next tick");
            }
            tokio::time::sleep(tick).await;
        }
    }

    /// One pass: poll running, fire crons, dispatch waiting.
    pub async fn pass(&self) -> Result<(), MetadbError> {
        self.poll_running().await?;
        self.fire_crons(Utc::now()).await?;
        self.dispatch().await
    }

    /// Creates the first instance of a run of `workflow`.
    pub async fn trigger(
        &self,
        workflow: &Workflow,
        schedule_type: &str,
        business_date: &str,
    ) -> Result<i64, MetadbError> {
        let Some(first) = workflow.tasks.first() else {
            return Ok(0);
        };
        let run_id = format!("{}-{}", workflow.name, Utc::now().timestamp_micros());
        let id = self
            .db
            .insert_instance(&NewInstance {
                run_id,
                workflow: workflow.name.clone(),
                task: first.name.clone(),
                seq: 0,
                command: first.command.clone(),
                schedule_type: schedule_type.to_owned(),
                tenant: workflow.tenant.clone(),
                environment: workflow.environment.clone(),
                business_date: business_date.to_owned(),
                status: "waiting".to_owned(),
                rerun_of: None,
                owner: self.version.has_owner().then(|| workflow.tenant.clone()),
            })
            .await?;
        tracing::info!(workflow = %workflow.name, id, schedule_type, "run triggered");
        Ok(id)
    }

    async fn fire_crons(&self, now: DateTime<Utc>) -> Result<(), MetadbError> {
        for (workflow, last) in self.db.workflows().await? {
            let Some(expression) = &workflow.cron else {
                continue;
            };
            let Ok(schedule) = cron_schedule(expression) else {
                continue;
            };
            let last = last
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(now);
            // Missed fire times (the scheduler was down) collapse into one run: the latest.
            let Some(due) = schedule
                .after(&last)
                .take(MAX_MISSED_FIRES)
                .take_while(|t| *t <= now)
                .last()
            else {
                continue;
            };
            let at = due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            self.db.set_last_triggered(&workflow.name, &at).await?;
            let date = due.date_naive().to_string();
            self.trigger(&workflow, "scheduled", &date).await?;
        }
        Ok(())
    }

    async fn dispatch(&self) -> Result<(), MetadbError> {
        let toggles: HashMap<String, (bool, bool)> = self
            .db
            .toggles()
            .await?
            .into_iter()
            .map(|(env, s, e)| (env, (s, e)))
            .collect();
        for instance in self.db.instances(Some("waiting")).await? {
            let (scheduling, execution) = toggles
                .get(&instance.environment)
                .copied()
                .unwrap_or((false, false));
            let allowed = execution && (instance.schedule_type != "scheduled" || scheduling);
            if !allowed {
                continue;
            }
            if !self
                .db
                .transition(instance.id, &["waiting"], "running", None)
                .await?
            {
                continue;
            }
            match task::spawn(&self.data_dir, instance.id, &instance.command) {
                Ok(pid) => {
                    self.db.set_pid(instance.id, pid).await?;
                    tracing::info!(id = instance.id, pid, task = %instance.task, "dispatched");
                }
                Err(e) => {
                    tracing::warn!(id = instance.id, error = %e, "cannot start task process");
                    self.db
                        .transition(instance.id, &["running"], "failed", None)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Records finished processes; adopts ones started by an earlier scheduler process.
    async fn poll_running(&self) -> Result<(), MetadbError> {
        for instance in self.db.instances(Some("running")).await? {
            let mut code = task::read_exit(&self.data_dir, instance.id);
            if code.is_none() {
                let mut pid = instance.pid;
                if pid.is_none() {
                    // Killed between dispatch and recording the pid: the wrapper wrote it.
                    pid = task::read_pid(&self.data_dir, instance.id);
                    if let Some(found) = pid {
                        self.db.set_pid(instance.id, found).await?;
                    }
                }
                if pid.is_some_and(task::group_alive) {
                    continue;
                }
                if pid.is_none() && recently_started(&instance) {
                    continue;
                }
                code = task::read_exit(&self.data_dir, instance.id);
            }
            let status = if code == Some(0) {
                "succeeded"
            } else {
                "failed"
            };
            if self
                .db
                .transition(instance.id, &["running"], status, code)
                .await?
            {
                tracing::info!(id = instance.id, status, exit_code = ?code, "instance finished");
                if status == "succeeded" {
                    self.continue_run(&instance).await?;
                }
            }
        }
        Ok(())
    }

    /// After a success, creates the next task's instance of the same run.
    async fn continue_run(&self, done: &Instance) -> Result<(), MetadbError> {
        let Some(workflow) = self.db.workflow(&done.workflow).await? else {
            return Ok(());
        };
        let next_seq = done.seq + 1;
        let Some(next) = usize::try_from(next_seq)
            .ok()
            .and_then(|i| workflow.tasks.get(i))
        else {
            return Ok(());
        };
        let exists = self
            .db
            .instances(None)
            .await?
            .iter()
            .any(|i| i.run_id == done.run_id && i.seq == next_seq);
        if exists {
            return Ok(());
        }
        self.db
            .insert_instance(&NewInstance {
                run_id: done.run_id.clone(),
                workflow: done.workflow.clone(),
                task: next.name.clone(),
                seq: next_seq,
                command: next.command.clone(),
                schedule_type: done.schedule_type.clone(),
                tenant: done.tenant.clone(),
                environment: done.environment.clone(),
                business_date: done.business_date.clone(),
                status: "waiting".to_owned(),
                rerun_of: None,
                owner: self.version.has_owner().then(|| done.tenant.clone()),
            })
            .await?;
        Ok(())
    }
}

/// A pid is recorded right after the process starts; give that write a moment.
fn recently_started(instance: &Instance) -> bool {
    instance
        .started_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| Utc::now().signed_duration_since(t) < chrono::Duration::seconds(5))
}

/// Parses a cron expression; five fields (minute precision) get a `0` seconds field.
pub fn cron_schedule(expression: &str) -> Result<cron::Schedule, String> {
    let fields = expression.split_whitespace().count();
    let full = if fields == 5 {
        format!("0 {expression}")
    } else {
        expression.to_owned()
    };
    cron::Schedule::from_str(&full)
        .map_err(|e| format!("invalid cron expression {expression:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_accepts_five_and_six_fields() {
        assert!(cron_schedule("*/5 * * * *").is_ok());
        assert!(cron_schedule("* * * * * *").is_ok());
        let err = cron_schedule("every day").unwrap_err();
        assert!(err.contains("every day"), "{err}");
    }
}
