//! Settings, from command-line flags or environment variables (every flag has
//! one), with defaults that run out of the box.

use std::path::{Path, PathBuf};

use crate::db::{DatabaseUrl, DbOptions, Synchronous};
use crate::domain::login::SessionPolicy;

/// Largest JSON body accepted.
pub const JSON_LIMIT: usize = 64 * 1024;
/// Largest form body accepted.
pub const FORM_LIMIT: usize = 16 * 1024;

/// Password hashes and verifications run at once, process-wide. Each argon2id
/// run holds 19 MiB and a core for tens of milliseconds; more at once only
/// queue for the cores, grow the heap of every thread that ran one, and let a
/// login flood take the whole machine.
pub const PASSWORD_HASHING_PERMITS: usize = 2;

/// Where the data lives.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Directory for the SQLite database and other files.
    #[arg(long, env = "TASKPULSE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL: postgres://… for PostgreSQL, or sqlite://path; default
    /// <data dir>/taskpulse.db.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// SQLite durability: full (survives power loss) or normal (about 4×
    /// faster writes; the last commits may be lost on power loss, the
    /// database is never corrupted).
    #[arg(long, env = "TASKPULSE_SQLITE_SYNCHRONOUS", value_enum, default_value = "full")]
    pub sqlite_synchronous: Synchronous,
    /// Connections in the reader pool (all connections on PostgreSQL).
    #[arg(long, env = "TASKPULSE_DB_POOL_SIZE", default_value_t = 8)]
    pub db_pool_size: u32,
}

/// A setting that cannot be used; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Database settings, resolved.
#[derive(Debug, Clone)]
pub struct DbSettings {
    /// Where to connect.
    pub url: DatabaseUrl,
    /// Pool and durability.
    pub options: DbOptions,
}

impl DbArgs {
    /// Resolves the database location, creating the data directory (and
    /// checking it is writable) when SQLite is used.
    pub fn resolve(&self) -> Result<DbSettings, ConfigError> {
        let url = match &self.database_url {
            Some(raw) => DatabaseUrl::parse(raw).map_err(|e| ConfigError(e.to_string()))?,
            None => DatabaseUrl::Sqlite(self.data_dir.join("taskpulse.db")),
        };
        if let DatabaseUrl::Sqlite(path) = &url {
            let setting = if self.database_url.is_some() { "DATABASE_URL" } else { "TASKPULSE_DATA_DIR" };
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            ensure_writable_dir(dir).map_err(|e| ConfigError(format!("{setting}: {e}")))?;
        }
        if self.db_pool_size == 0 || self.db_pool_size > 256 {
            return Err(ConfigError("TASKPULSE_DB_POOL_SIZE: must be between 1 and 256".into()));
        }
        Ok(DbSettings {
            url,
            options: DbOptions { pool_size: self.db_pool_size, synchronous: self.sqlite_synchronous },
        })
    }
}

/// Creates `dir` if needed and proves it is writable.
pub fn ensure_writable_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(|e| format!("directory {} is not writable: {e}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Where links in messages point, for commands that send mail without
/// serving (`jobs run`).
#[derive(Debug, Clone, clap::Args)]
pub struct LinkArgs {
    /// The public URL links in messages start with.
    #[arg(long, env = "TASKPULSE_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
}

/// Outgoing mail.
#[derive(Debug, Clone, clap::Args)]
pub struct MailArgs {
    /// SMTP server, e.g. smtp://user:password@mail.example.com:587?tls=required
    /// or smtps://…:465; without it, mail is written as .eml files under
    /// <data dir>/mail.
    #[arg(long, env = "TASKPULSE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From header of outgoing mail.
    #[arg(long, env = "TASKPULSE_MAIL_FROM", default_value = "Taskpulse <taskpulse@localhost>")]
    pub mail_from: String,
}

impl MailArgs {
    /// Resolves and checks mail settings; links in messages start with `base_url`.
    pub fn resolve(&self, data_dir: &Path, base_url: &str) -> Result<crate::mail::MailSettings, ConfigError> {
        let mut mail = crate::mail::MailSettings::files(data_dir.join("mail"), base_url);
        mail.smtp_url = self.smtp_url.clone().filter(|u| !u.trim().is_empty());
        mail.from = self.mail_from.clone();
        mail.check().map_err(ConfigError)?;
        Ok(mail)
    }
}

/// Settings of the web server.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "TASKPULSE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Seed the demo organisation before serving (idempotent).
    #[arg(long, env = "TASKPULSE_DEMO")]
    pub demo: bool,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "TASKPULSE_WORKERS")]
    pub workers: Option<usize>,
    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "TASKPULSE_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: i64,
    /// Hours after login at which a session ends regardless of use.
    #[arg(long, env = "TASKPULSE_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: i64,
    /// The public URL when served behind a TLS proxy (e.g.
    /// https://tasks.example.com): cookies become Secure.
    #[arg(long, env = "TASKPULSE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The currency pay is shown in (an ISO 4217 code such as USD or EUR).
    #[arg(long, env = "TASKPULSE_CURRENCY", default_value = "USD")]
    pub currency: String,
    /// Addresses of reverse proxies whose forwarded headers (Forwarded,
    /// X-Forwarded-Host, X-Forwarded-Proto) are believed, comma-separated.
    /// Without it, forwarded headers are ignored.
    #[arg(long, env = "TASKPULSE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Login attempts allowed per client IP per minute.
    #[arg(long, env = "TASKPULSE_LOGIN_PER_IP_PER_MINUTE", default_value_t = 30)]
    pub login_per_ip_per_minute: u32,
    /// Seconds to let requests finish on shutdown.
    #[arg(long, env = "TASKPULSE_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// Background job workers (0: run no jobs and no scheduler in this process).
    #[arg(long, env = "TASKPULSE_JOB_WORKERS", default_value_t = 2)]
    pub job_workers: usize,
    /// How long a job claim holds, in milliseconds (a job whose server died
    /// runs again this long after its last renewal).
    #[arg(long, env = "TASKPULSE_JOB_LEASE_MS", default_value_t = 20_000)]
    pub job_lease_ms: u64,
    /// Fallback poll interval of idle job workers, in milliseconds.
    #[arg(long, env = "TASKPULSE_JOB_POLL_MS", default_value_t = 5_000)]
    pub job_poll_ms: u64,
    /// Scheduler tick, in milliseconds.
    #[arg(long, env = "TASKPULSE_JOB_TICK_MS", default_value_t = 15_000)]
    pub job_tick_ms: u64,
    /// Outgoing mail.
    #[command(flatten)]
    pub mail: MailArgs,
}

/// The job engine's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobTiming {
    /// How long a claim holds.
    pub lease: std::time::Duration,
    /// Fallback poll interval.
    pub poll: std::time::Duration,
    /// Scheduler tick.
    pub tick: std::time::Duration,
}

impl JobTiming {
    /// The defaults: a 20 s lease, a 5 s poll, a 15 s tick.
    pub const DEFAULT: JobTiming = JobTiming {
        lease: std::time::Duration::from_secs(20),
        poll: std::time::Duration::from_secs(5),
        tick: std::time::Duration::from_secs(15),
    };
}

impl Default for JobTiming {
    fn default() -> Self {
        JobTiming::DEFAULT
    }
}

/// Everything `serve` needs, resolved and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address.
    pub addr: String,
    /// Database.
    pub db: DbSettings,
    /// Worker threads.
    pub workers: usize,
    /// Session lifetimes.
    pub session: SessionPolicy,
    /// Mark cookies Secure (served over TLS).
    pub secure_cookies: bool,
    /// The origin (`scheme://host[:port]`) of the public URL, when set: the
    /// only origin state changes are accepted from.
    pub public_origin: Option<String>,
    /// Reverse proxies whose forwarded headers count.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Login attempts per IP per minute.
    pub login_per_ip_per_minute: u32,
    /// Shutdown grace period in seconds.
    pub shutdown_grace_secs: u64,
    /// Background job workers (0: none, and no scheduler).
    pub job_workers: usize,
    /// Job claim lease, idle poll and scheduler tick.
    pub job_timing: JobTiming,
    /// Outgoing mail.
    pub mail: crate::mail::MailSettings,
    /// The currency pay is shown in (ISO 4217 code).
    pub currency: String,
}

impl Settings {
    /// Resolves flags into settings, failing with the name of a bad setting.
    pub fn from_args(serve: &ServeArgs, db: &DbArgs) -> Result<Settings, ConfigError> {
        if !(1..=24 * 60).contains(&serve.session_idle_minutes) {
            return Err(ConfigError("TASKPULSE_SESSION_IDLE_MINUTES: must be between 1 and 1440".into()));
        }
        if !(1..=24 * 30).contains(&serve.session_max_hours) {
            return Err(ConfigError("TASKPULSE_SESSION_MAX_HOURS: must be between 1 and 720".into()));
        }
        if serve.login_per_ip_per_minute == 0 {
            return Err(ConfigError("TASKPULSE_LOGIN_PER_IP_PER_MINUTE: must be at least 1".into()));
        }
        let public_url = match &serve.public_url {
            Some(raw) => {
                let url = url::Url::parse(raw).map_err(|e| ConfigError(format!("TASKPULSE_PUBLIC_URL: {e}")))?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(ConfigError("TASKPULSE_PUBLIC_URL: must be an http:// or https:// URL".into()));
                }
                Some(url)
            }
            None => None,
        };
        let secure_cookies = public_url.as_ref().is_some_and(|url| url.scheme() == "https");
        let public_origin = public_url.map(|url| url.origin().ascii_serialization());
        let trusted_proxies = serve
            .trusted_proxies
            .iter()
            .map(|raw| raw.trim())
            .filter(|raw| !raw.is_empty())
            .map(|raw| {
                raw.parse::<std::net::IpAddr>()
                    .map_err(|_| ConfigError(format!("TASKPULSE_TRUSTED_PROXIES: '{raw}' is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let workers =
            serve.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get));
        if workers == 0 || workers > 512 {
            return Err(ConfigError("TASKPULSE_WORKERS: must be between 1 and 512".into()));
        }
        if serve.job_workers > 64 {
            return Err(ConfigError("TASKPULSE_JOB_WORKERS: must be between 0 and 64".into()));
        }
        let millis = |name: &str, ms: u64| {
            if ms == 0 {
                Err(ConfigError(format!("{name}: must be a positive number of milliseconds")))
            } else {
                Ok(std::time::Duration::from_millis(ms))
            }
        };
        let job_timing = JobTiming {
            lease: millis("TASKPULSE_JOB_LEASE_MS", serve.job_lease_ms)?,
            poll: millis("TASKPULSE_JOB_POLL_MS", serve.job_poll_ms)?,
            tick: millis("TASKPULSE_JOB_TICK_MS", serve.job_tick_ms)?,
        };
        let base_url = serve.public_url.clone().unwrap_or_else(|| format!("http://{}", serve.addr));
        let mail = serve.mail.resolve(&db.data_dir, &base_url)?;
        let currency = serve.currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(ConfigError("TASKPULSE_CURRENCY: must be a three-letter code such as USD or EUR".into()));
        }
        Ok(Settings {
            mail,
            currency,
            addr: serve.addr.clone(),
            db: db.resolve()?,
            workers,
            session: SessionPolicy {
                idle: chrono::Duration::minutes(serve.session_idle_minutes),
                absolute: chrono::Duration::hours(serve.session_max_hours),
            },
            secure_cookies,
            public_origin,
            trusted_proxies,
            login_per_ip_per_minute: serve.login_per_ip_per_minute,
            shutdown_grace_secs: serve.shutdown_grace_secs,
            job_workers: serve.job_workers,
            job_timing,
        })
    }

    /// Settings for tests: a given database, one worker, defaults otherwise.
    pub fn for_tests(url: DatabaseUrl) -> Settings {
        Settings {
            addr: "127.0.0.1:0".into(),
            db: DbSettings { url, options: DbOptions { pool_size: 4, synchronous: Synchronous::Normal } },
            workers: 2,
            session: SessionPolicy::default(),
            secure_cookies: false,
            public_origin: None,
            trusted_proxies: Vec::new(),
            login_per_ip_per_minute: 1_000,
            shutdown_grace_secs: 2,
            // Tests drive jobs themselves (manual clock, run_due_now).
            job_workers: 0,
            job_timing: JobTiming::default(),
            currency: "USD".into(),
            mail: crate::mail::MailSettings::files(
                std::env::temp_dir().join(format!("taskpulse-mail-{:08x}", rand::random::<u32>())),
                "http://127.0.0.1",
            ),
        }
    }
}
