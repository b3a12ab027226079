//! Building and running the application: used by `main` and by the tests.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::app::AppState;
use crate::config::{DbSettings, FORM_LIMIT, JSON_LIMIT, Settings};
use crate::db::{Db, DbError, run_migrations};
use crate::http::{access, errors, flash, headers};
use crate::live::Hub;
use crate::web::live::page::LiveRoutes;
use crate::web::live::renderer::Feed;

/// Connects to the database (a clear error naming the setting when that
/// fails) and applies pending migrations.
pub async fn connect_and_migrate(settings: &DbSettings) -> anyhow::Result<Db> {
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Db> {
        let db = Db::connect(&settings.url, &settings.options).map_err(|e| match e {
            DbError::Pool(e) => anyhow::anyhow!("DATABASE_URL: {e}"),
            other => anyhow::anyhow!("DATABASE_URL: {other}"),
        })?;
        let mut conn = db.blocking_conn().context("DATABASE_URL: no connection available")?;
        let applied = run_migrations(&mut conn).map_err(|e| anyhow::anyhow!("migrations failed: {e}"))?;
        for version in applied {
            tracing::info!(%version, "applied migration");
        }
        Ok(db)
    })
    .await
    .context("database start-up task failed")?
}

/// A built, listening application.
pub struct Application {
    port: u16,
    server: Server,
    hub: Arc<Hub>,
    db: Db,
    state: web::Data<AppState>,
    feed: web::Data<Feed>,
}

impl Application {
    /// Connects, migrates, binds the listener (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let db = connect_and_migrate(&settings.db).await?;
        Self::build_with_db(settings, db)
    }

    /// Binds the listener for an already connected database.
    pub fn build_with_db(settings: Settings, db: Db) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&settings.addr)
            .with_context(|| format!("TASKPULSE_ADDR: cannot listen on {}", settings.addr))?;
        let bound = listener.local_addr()?;
        let port = bound.port();
        let hub = Arc::new(Hub::default());
        let state = web::Data::new(AppState::new(db.clone(), settings.clone(), hub.clone(), bound));
        let app_state = state.clone();
        let feed = web::Data::new(Feed::default());
        let app_feed = feed.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(feed.clone())
                .app_data(access::RouteTable(crate::routes::ROUTES))
                .app_data(access::Navigation(crate::routes::NAV))
                .app_data(LiveRoutes(crate::routes::LIVE))
                .app_data(web::JsonConfig::default().limit(JSON_LIMIT).error_handler(errors::json_error))
                .app_data(web::FormConfig::default().limit(FORM_LIMIT).error_handler(errors::form_error))
                .app_data(web::QueryConfig::default().error_handler(errors::query_error))
                .app_data(web::PathConfig::default().error_handler(errors::path_error))
                .app_data(web::PayloadConfig::new(FORM_LIMIT.max(JSON_LIMIT)))
                .configure(crate::routes::configure)
                .wrap(from_fn(access::enforce))
                .wrap(from_fn(flash::clear_shown))
                .wrap(from_fn(crate::http::error_pages::render_errors))
                .wrap(Compress::default())
                .wrap(TracingLogger::default())
                .wrap(from_fn(headers::security_headers))
        })
        .workers(settings.workers)
        .disable_signals()
        .shutdown_timeout(settings.shutdown_grace_secs)
        .listen(listener)?
        .run();
        Ok(Application { port, server, hub, db, state: app_state, feed: app_feed })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The live bus of this server (tests publish through it as services do).
    pub fn bus(&self) -> crate::live::LiveBus {
        self.state.bus.clone()
    }

    /// The database handle the server uses.
    pub fn db(&self) -> Db {
        self.db.clone()
    }

    /// Serves until SIGINT/SIGTERM: then stops accepting, closes WebSockets,
    /// and lets in-flight requests finish within the grace period.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let hub = self.hub.clone();
        crate::web::live::renderer::start(self.state.clone().into_inner(), self.feed.clone().into_inner());
        let settings_state = self.state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(crate::services::settings::REFRESH);
            loop {
                tick.tick().await;
                if let Err(err) = settings_state.org.refresh(&settings_state.db).await {
                    tracing::warn!(error = %err, "could not re-read the organisation settings");
                }
            }
        });
        let jobs = self.state.jobs.clone();
        let job_tasks = if self.state.settings.job_workers > 0 { jobs.start() } else { Vec::new() };
        let grace = Duration::from_secs(self.state.settings.shutdown_grace_secs);
        let stopping = Arc::new(AtomicBool::new(false));
        let signalled = stopping.clone();
        let stopper = tokio::spawn(async move {
            shutdown_signal().await;
            signalled.store(true, Ordering::SeqCst);
            tracing::info!("shutdown requested; finishing in-flight requests");
            hub.close_all();
            // Jobs stop claiming, running ones get the grace period, the rest
            // go back to the queue without using an attempt.
            let jobs_done = jobs.shutdown(job_tasks, grace);
            let http_done = async {
                // Give sockets a moment to send their Close frames.
                tokio::time::sleep(Duration::from_millis(200)).await;
                handle.stop(true).await;
            };
            tokio::join!(jobs_done, http_done);
        });
        let served = self.server.await;
        if stopping.load(Ordering::SeqCst) {
            // HTTP may be done first: the jobs' hand-back must still finish
            // before the process exits.
            let _ = stopper.await;
        } else {
            stopper.abort();
        }
        served
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
