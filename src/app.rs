//! The application's shared state, built once per server and handed to
//! every handler: database, settings, live bus and hub, jobs, the login
//! limiter and the origin policy.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Settings;
use crate::db::Db;
use crate::domain::origin::OriginPolicy;

/// Shared state of the app.
pub struct AppState {
    /// Database handle.
    pub db: Db,
    /// Resolved settings.
    pub settings: Settings,
    /// Login attempts per client IP.
    pub login_limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// Live connections (for closing a disabled user's sockets).
    pub hub: Arc<crate::live::Hub>,
    /// Where services announce changes for open pages.
    pub bus: crate::live::LiveBus,
    /// Background jobs and schedules.
    pub jobs: Arc<crate::jobs::Jobs>,
    /// Which origins state changes are accepted from.
    pub origins: OriginPolicy,
    /// Organisation settings (the default time zone), kept in memory.
    pub org: Arc<crate::services::settings::OrgSettings>,
}

impl AppState {
    /// Builds the state for a server listening on `bound`.
    pub fn new(db: Db, settings: Settings, hub: Arc<crate::live::Hub>, bound: std::net::SocketAddr) -> AppState {
        let per_minute = NonZeroU32::new(settings.login_per_ip_per_minute).unwrap_or(NonZeroU32::MIN);
        let bus = crate::live::LiveBus::default();
        let job_settings = crate::jobs::JobSettings {
            workers: settings.job_workers,
            mail: settings.mail.clone(),
            lease: settings.job_timing.lease,
            poll: settings.job_timing.poll,
            tick: settings.job_timing.tick,
            ..Default::default()
        };
        let jobs = crate::jobs::Jobs::new(db.clone(), bus.clone(), Arc::new(crate::jobs::SystemClock), job_settings);
        AppState {
            origins: OriginPolicy::new(settings.public_origin.as_deref(), &settings.trusted_proxies, bound),
            org: Arc::default(),
            jobs,
            db,
            login_limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            settings,
            hub,
            bus,
        }
    }
}
