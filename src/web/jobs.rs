//! The Jobs page (admins): jobs by state, schedules with their next run
//! (edit, pause, run now), recent runs with duration, result and error, and
//! retry for dead jobs.

use actix_web::{HttpResponse, web};
use askama::Template;
use bytestring::ByteString;
use chrono::NaiveDateTime;
use futures_util::future::BoxFuture;
use serde::Deserialize;

use crate::app::AppState;
use crate::http::access::CurrentUser;
use crate::http::errors::AppError;
use crate::http::flash::{self, Level, PendingFlash};
use crate::http::layout::Layout;
use crate::http::times::Times;
use crate::services::ServiceError;
use crate::services::jobs_admin::{self, JobsOverview};
use crate::store::jobs::Job;
use crate::store::schedules::Schedule;
use crate::web::live::page::{LiveRequest, LiveView, PageCtx};
use crate::web::live::renderer::JobsViewer;

/// A job's JSON result as people read it: `key: value` pairs, joined
/// ("queued: 2 · sent: 2"); anything else as it is.
pub fn result_text(result: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(result) {
        Ok(serde_json::Value::Object(fields)) if fields.is_empty() => "done".into(),
        Ok(serde_json::Value::Object(fields)) => fields
            .iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => format!("{}: {text}", key.replace('_', " ")),
                other => format!("{}: {other}", key.replace('_', " ")),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        _ => result.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_read_as_key_value_pairs() {
        assert_eq!(super::result_text(r#"{"queued":2,"notifications_sent":1}"#), "notifications sent: 1 · queued: 2");
        assert_eq!(super::result_text(r#"{"date":"2026-12-03"}"#), "date: 2026-12-03");
        assert_eq!(super::result_text("{}"), "done");
        assert_eq!(super::result_text("plain"), "plain");
    }
}

/// A job's run time, for people.
pub fn duration(job: &Job) -> String {
    match (job.started_at, job.finished_at) {
        (Some(start), Some(end)) if end >= start => format!("{} ms", (end - start).num_milliseconds()),
        _ => "—".into(),
    }
}

#[derive(Template)]
#[template(path = "jobs/_live.html")]
struct JobsLiveFragment<'a> {
    overview: &'a JobsOverview,
    csrf: &'a str,
    times: &'a Times,
    oob: bool,
}

/// The live part of the Jobs page (`oob`: as an out-of-band swap for the
/// page's socket), with the viewer's CSRF token in its forms.
pub fn live_fragment(overview: &JobsOverview, csrf: &str, times: &Times, oob: bool) -> String {
    JobsLiveFragment { overview, csrf, times, oob }.render().unwrap_or_else(|err| {
        tracing::error!(error = %err, "the jobs fragment failed to render");
        String::new()
    })
}

#[derive(Template)]
#[template(path = "jobs/page.html")]
struct JobsPage {
    layout: Layout,
    live: String,
    schedules: Vec<(Schedule, Option<NaiveDateTime>)>,
    /// When each schedule last started a job.
    last_runs: std::collections::HashMap<String, NaiveDateTime>,
    /// Where mail goes.
    mail: String,
}

/// GET /jobs.
pub async fn page(
    state: web::Data<AppState>,
    user: CurrentUser,
    flash: PendingFlash,
) -> Result<HttpResponse, AppError> {
    let overview = jobs_admin::overview(&state.db).await?;
    let schedules = state.jobs.schedules().await?;
    let last_runs = state.jobs.last_runs().await?;
    let layout = Layout::for_user(&user, "Jobs", "jobs", flash.0);
    let live = live_fragment(&overview, &layout.csrf, &layout.times, false);
    let page = JobsPage { layout, live, schedules, last_runs, mail: state.settings.mail.describe() };
    crate::http::render::html_page(&page)
}

/// The run-now form.
#[derive(Debug, Deserialize)]
pub struct RunForm {
    #[serde(default)]
    name: String,
}

/// POST /jobs/run: enqueues a schedule's job now (the workers pick it up).
pub async fn run_now(state: web::Data<AppState>, form: web::Form<RunForm>) -> Result<HttpResponse, AppError> {
    let kind = match state.jobs.kind_of(&form.name).await {
        Ok(kind) => kind,
        Err(err) => return flash::refused("/jobs", err),
    };
    let payload = serde_json::json!({ "manual": true });
    match state.jobs.enqueue(&kind, payload, Default::default()).await {
        Ok(Some(id)) => Ok(flash::redirect("/jobs", Level::Success, format!("Job #{id} ({kind}) queued."))),
        Ok(None) => Ok(flash::redirect("/jobs", Level::Info, "That job is already waiting or running.")),
        Err(err) => flash::refused("/jobs", err),
    }
}

/// POST /jobs/{id}/retry: a dead job goes back to the queue once.
pub async fn retry(state: web::Data<AppState>, path: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    match state.jobs.retry(id).await {
        Ok(()) => Ok(flash::redirect("/jobs", Level::Success, format!("Job #{id} queued again."))),
        Err(err) => flash::refused("/jobs", err),
    }
}

/// The schedule form.
#[derive(Debug, Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    cron: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    catch_up: String,
    #[serde(default)]
    enabled: Option<String>,
}

/// POST /jobs/schedules/{name}: edits a schedule (validated).
pub async fn edit_schedule(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ScheduleForm>,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let enabled = form.enabled.is_some();
    match state.jobs.edit_schedule(&name, &form.cron, &form.timezone, enabled, &form.catch_up).await {
        Ok(()) => Ok(flash::redirect("/jobs", Level::Success, format!("Schedule {name} saved."))),
        Err(err) => flash::refused("/jobs", err),
    }
}

/// POST /jobs/test-email: sends a message to the admin's own address now.
pub async fn test_email(
    state: web::Data<AppState>,
    user: CurrentUser,
    meta: crate::services::RequestMeta,
) -> Result<HttpResponse, AppError> {
    match crate::services::mail::send_test(&state.db, &state.settings.mail, &user.actor, &meta).await {
        Ok(message) => Ok(flash::redirect("/jobs", Level::Success, message)),
        Err(err) => flash::refused("/jobs", err),
    }
}

/// The Jobs page, live: the queue's counts and recent jobs, re-rendered
/// while the page is open (it counts itself as a viewer so the queue is
/// only loaded while someone looks).
pub struct JobsLive {
    _viewer: JobsViewer,
}

/// Opens the Jobs page's live view.
pub fn live_view(request: &LiveRequest<'_>) -> Box<dyn LiveView> {
    Box::new(JobsLive { _viewer: JobsViewer::enter(request.feed) })
}

impl LiveView for JobsLive {
    fn jobs_frame(&mut self, ctx: &PageCtx, overview: &JobsOverview) -> ByteString {
        live_fragment(overview, &ctx.csrf, &ctx.times(), true).into()
    }

    fn resync_on_connect(&self) -> bool {
        // The page carries no event sequence: it is refreshed on connect.
        true
    }

    fn resync<'a>(&'a mut self, state: &'a AppState, ctx: &'a PageCtx) -> BoxFuture<'a, Result<String, ServiceError>> {
        Box::pin(async move {
            let overview = jobs_admin::overview(&state.db).await?;
            Ok(live_fragment(&overview, &ctx.csrf, &ctx.times(), true))
        })
    }
}
