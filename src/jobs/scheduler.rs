//! The cron scheduler: on each tick, every enabled schedule's due slot is
//! claimed with a unique (schedule, slot) row and its job enqueued in the
//! same transaction, so several instances never run a slot twice. After
//! downtime a schedule follows its catch-up policy: run the latest missed
//! slot once, or skip it.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use croner::Cron;

use super::engine::Jobs;
use crate::services::{FieldErrors, ServiceError};
use crate::store::enqueue::{EnqueueOptions, new_job};
use crate::store::jobs as store;
use crate::store::schedules::{self, Schedule};

/// Most slots looked at per schedule and tick (a minutely schedule after a
/// week of downtime is still bounded).
const MAX_SLOTS: usize = 20_000;
/// A slot this late still counts as on time for "skip" schedules.
const ON_TIME: chrono::Duration = chrono::Duration::minutes(2);

/// Checks a cron expression and a time zone; every problem at once.
pub fn parse(cron: &str, timezone: &str) -> Result<(Cron, Tz), FieldErrors> {
    let mut errors = FieldErrors::new();
    let parsed = Cron::from_str(cron.trim())
        .map_err(|e| errors.insert("cron", format!("Not a valid cron expression: {e}.")))
        .ok();
    let zone = Tz::from_str(timezone.trim())
        .map_err(|_| errors.insert("timezone", "Not a known time zone (e.g. UTC, Europe/Berlin).".into()))
        .ok();
    match (parsed, zone) {
        (Some(cron), Some(zone)) => Ok((cron, zone)),
        _ => Err(errors),
    }
}

/// What a tick does for one schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The slot to run, if any (UTC).
    pub run: Option<NaiveDateTime>,
    /// The new "handled up to" mark (UTC), if it moves.
    pub handled: Option<NaiveDateTime>,
}

/// The slots of a schedule between its mark and `now` (both UTC). A new
/// schedule starts at the latest slot before now without running it.
pub fn due(cron: &Cron, zone: Tz, catch_up: &str, last: Option<NaiveDateTime>, now: NaiveDateTime) -> Due {
    let local_now = zone.from_utc_datetime(&now);
    let Some(last) = last else {
        let previous = cron.find_previous_occurrence(&local_now, true).ok().map(|t| t.naive_utc());
        return Due { run: None, handled: previous };
    };
    let mut cursor = zone.from_utc_datetime(&last);
    let mut latest = None;
    for _ in 0..MAX_SLOTS {
        match cron.find_next_occurrence(&cursor, false) {
            Ok(next) if next <= local_now => {
                latest = Some(next.naive_utc());
                cursor = next;
            }
            _ => break,
        }
    }
    let Some(latest) = latest else { return Due { run: None, handled: None } };
    let on_time = now - latest <= ON_TIME;
    let run = (catch_up == "once" || on_time).then_some(latest);
    Due { run, handled: Some(latest) }
}

/// A schedule's next slot after `now` (UTC).
pub fn next_run(schedule: &Schedule, now: NaiveDateTime) -> Option<NaiveDateTime> {
    let (cron, zone) = parse(&schedule.cron, &schedule.timezone).ok()?;
    cron.find_next_occurrence(&zone.from_utc_datetime(&now), false).ok().map(|t| t.naive_utc())
}

/// Enqueues every due slot now; returns the jobs enqueued.
pub async fn tick(engine: &Jobs) -> Result<Vec<i64>, ServiceError> {
    let now = engine.now();
    let all = engine.db().read(|conn| Ok::<_, ServiceError>(schedules::schedules(conn)?)).await?;
    let mut enqueued = Vec::new();
    for schedule in all.into_iter().filter(|s| s.enabled) {
        let (cron, zone) = match parse(&schedule.cron, &schedule.timezone) {
            Ok(parsed) => parsed,
            Err(errors) => {
                tracing::warn!(schedule = %schedule.name, ?errors, "schedule cannot be read; skipped");
                continue;
            }
        };
        let due = due(&cron, zone, &schedule.catch_up, schedule.last_slot, now);
        let Some(handled) = due.handled else { continue };
        let job = due.run.map(|slot| {
            let payload = serde_json::json!({ "schedule": schedule.name, "slot": slot.and_utc().to_rfc3339() });
            let options =
                EnqueueOptions { unique_key: Some(format!("{}@{slot}", schedule.name)), ..Default::default() };
            (slot, new_job(&schedule.job_kind, &payload, &options, now))
        });
        let name = schedule.name.clone();
        let id = engine
            .db()
            .write(move |conn| {
                let mut id = None;
                if let Some((slot, job)) = job
                    && schedules::claim_slot(conn, &name, slot, now)?
                {
                    id = store::enqueue(conn, &job)?;
                    if let Some(id) = id {
                        schedules::link_slot(conn, &name, slot, id)?;
                    }
                }
                schedules::advance_schedule(conn, &name, handled)?;
                Ok::<_, ServiceError>(id)
            })
            .await?;
        enqueued.extend(id);
    }
    if !enqueued.is_empty() {
        engine.wake();
    }
    Ok(enqueued)
}

/// Adds the default schedules that are missing.
pub async fn ensure_defaults(engine: &Jobs) -> Result<(), ServiceError> {
    let defaults = super::kinds::default_schedules(engine.now());
    engine
        .db()
        .write(move |conn| {
            for schedule in &defaults {
                schedules::ensure_schedule(conn, schedule)?;
            }
            Ok::<_, ServiceError>(())
        })
        .await
}

/// Ticks until the engine stops.
pub async fn run(engine: Arc<Jobs>) {
    let mut stop = engine.stop.subscribe();
    if let Err(err) = ensure_defaults(&engine).await {
        tracing::warn!(error = %err, "could not add the default schedules");
    }
    // Checked each round: a stop sent before this task listened is seen too.
    while !*stop.borrow() {
        if let Err(err) = tick(&engine).await {
            tracing::warn!(error = %err, "scheduler tick failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(engine.settings.tick) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn bad_expressions_and_zones_are_named() {
        let errors = parse("61 * * *", "Mars/Olympus").unwrap_err();
        assert!(errors.contains_key("cron") && errors.contains_key("timezone"));
        assert!(parse("0 6 * * *", "Europe/Berlin").is_ok());
    }

    #[test]
    fn a_new_schedule_starts_at_the_previous_slot_without_running() {
        let (cron, zone) = parse("0 6 * * *", "UTC").unwrap();
        let due = due(&cron, zone, "once", None, at("2026-03-10 07:00"));
        assert_eq!(due, Due { run: None, handled: Some(at("2026-03-10 06:00")) });
    }

    #[test]
    fn catch_up_once_runs_the_latest_missed_slot_and_skip_drops_it() {
        let (cron, zone) = parse("0 6 * * *", "UTC").unwrap();
        let last = Some(at("2026-03-07 06:00"));
        let now = at("2026-03-10 09:00");
        assert_eq!(due(&cron, zone, "once", last, now).run, Some(at("2026-03-10 06:00")));
        assert_eq!(due(&cron, zone, "skip", last, now), Due { run: None, handled: Some(at("2026-03-10 06:00")) });
        // On time, "skip" runs too.
        assert_eq!(due(&cron, zone, "skip", last, at("2026-03-10 06:00")).run, Some(at("2026-03-10 06:00")));
    }

    #[test]
    fn a_daily_0230_job_runs_once_on_both_dst_change_days() {
        // Europe/Berlin: 2026-03-29 02:00 → 03:00 (02:30 does not exist),
        // 2026-10-25 03:00 → 02:00 (02:30 happens twice).
        let (cron, zone) = parse("30 2 * * *", "Europe/Berlin").unwrap();
        for (start, end) in [("2026-03-27 12:00", "2026-03-31 12:00"), ("2026-10-23 12:00", "2026-10-27 12:00")] {
            let mut last = due(&cron, zone, "once", None, at(start)).handled;
            let mut runs = Vec::new();
            let mut now = at(start);
            while now < at(end) {
                now += chrono::Duration::minutes(15);
                let step = due(&cron, zone, "once", last, now);
                runs.extend(step.run);
                last = step.handled.or(last);
            }
            let mut days: Vec<_> = runs.iter().map(chrono::NaiveDateTime::date).collect();
            days.dedup();
            assert_eq!(runs.len(), 4, "one run per day from {start}: {runs:?}");
            assert_eq!(days.len(), 4, "on four different days: {runs:?}");
        }
    }
}
