//! What admins and the CLI ask of the engine: counts and recent jobs, one
//! job, the kind behind a name, schedules with their next run, editing a
//! schedule and retrying a dead job.

use chrono::NaiveDateTime;

use super::engine::Jobs;
use super::scheduler;
use crate::db::DbError;
use crate::services::ServiceError;
use crate::store::jobs::{self as store, Job};
use crate::store::schedules::{self, Schedule};

impl Jobs {
    /// Counts per state, recent jobs: what the Jobs page and CLI show.
    pub async fn overview(&self, recent: i64) -> Result<(Vec<(String, i64)>, Vec<Job>), ServiceError> {
        crate::services::jobs_admin::queue(&self.db, recent).await
    }

    /// One job.
    pub async fn find(&self, id: i64) -> Result<Option<Job>, ServiceError> {
        self.db.read(move |conn| Ok::<_, ServiceError>(store::find(conn, id)?)).await
    }

    /// The job kind behind a name: a schedule's name or a kind itself.
    pub async fn kind_of(&self, name: &str) -> Result<String, ServiceError> {
        let key = name.trim().to_string();
        let schedule = {
            let key = key.clone();
            self.db.read(move |conn| Ok::<_, ServiceError>(schedules::schedule(conn, &key)?)).await?
        };
        let kind = schedule.map_or(key, |s| s.job_kind);
        if self.handlers.contains_key(kind.as_str()) {
            Ok(kind)
        } else {
            let known = self.kinds().join(", ");
            Err(ServiceError::field("name", format!("Unknown job '{name}'. Known jobs: {known}.")))
        }
    }

    /// When each schedule last started a job (never: absent).
    pub async fn last_runs(&self) -> Result<std::collections::HashMap<String, NaiveDateTime>, ServiceError> {
        let rows = self.db.read(|conn| Ok::<_, ServiceError>(schedules::last_runs(conn)?)).await?;
        Ok(rows.into_iter().filter_map(|(name, at)| Some((name, at?))).collect())
    }

    /// The schedules with their next run (UTC; `None` when paused or unreadable).
    pub async fn schedules(&self) -> Result<Vec<(Schedule, Option<NaiveDateTime>)>, ServiceError> {
        let now = self.clock.now();
        let all = self.db.read(|conn| Ok::<_, ServiceError>(schedules::schedules(conn)?)).await?;
        Ok(all
            .into_iter()
            .map(|s| {
                let next = if s.enabled { scheduler::next_run(&s, now) } else { None };
                (s, next)
            })
            .collect())
    }

    /// Edits a schedule (validated: every error at once, nothing saved on error).
    pub async fn edit_schedule(
        &self,
        name: &str,
        cron: &str,
        timezone: &str,
        enabled: bool,
        catch_up: &str,
    ) -> Result<(), ServiceError> {
        let mut errors = scheduler::parse(cron, timezone).err().unwrap_or_default();
        if !matches!(catch_up, "once" | "skip") {
            errors.insert("catch_up", "Choose \"run once\" or \"skip\".".into());
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        let (name, cron, timezone, catch_up) =
            (name.to_string(), cron.trim().to_string(), timezone.trim().to_string(), catch_up.to_string());
        let now = self.clock.now();
        self.db
            .write(move |conn| {
                let mut schedule = schedules::schedule(conn, &name)?.ok_or(ServiceError::NotFound)?;
                schedule.cron = cron;
                schedule.timezone = timezone;
                schedule.enabled = enabled;
                schedule.catch_up = catch_up;
                schedule.updated_at = now;
                schedules::update_schedule(conn, &schedule)?;
                Ok::<_, ServiceError>(())
            })
            .await
    }

    /// Re-enqueues a dead job once.
    pub async fn retry(&self, id: i64) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let retried = match self.db.write(move |conn| Ok::<_, ServiceError>(store::retry_dead(conn, id, now)?)).await {
            // Its unique key is held by an active job enqueued since it died.
            Err(ServiceError::Db(DbError::Query(err))) if crate::db::is_unique_violation(&err) => {
                return Err(ServiceError::Conflict("An identical job is already waiting or running.".into()));
            }
            other => other?,
        };
        if !retried {
            return Err(ServiceError::Conflict("Only a dead job can be retried.".into()));
        }
        self.wake();
        self.bus.jobs_changed();
        Ok(())
    }
}
