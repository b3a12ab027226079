//! The `taskpulse` command: serve, migrate, demo data, user administration.

use std::io::BufRead;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use taskpulse::config::{DbArgs, LinkArgs, MailArgs, ServeArgs, Settings};
use taskpulse::domain::role::Role;
use taskpulse::mail::MailSettings;
use taskpulse::services::{RequestMeta, ServiceError, accounts, demo};
use taskpulse::startup::{Application, connect_and_migrate};

/// jemalloc hands freed memory back to the OS within seconds (background
/// purge threads), where glibc's per-thread arenas keep argon2's buffers.
#[cfg(all(unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Taskpulse: a self-hosted team task dashboard with live tracking and automation.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (applies pending migrations first).
    Serve {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Apply pending database migrations.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Seed the demo organisation (idempotent) and print its logins.
    Demo {
        /// Number of demo tasks.
        #[arg(long, env = "TASKPULSE_DEMO_TASKS", default_value_t = 500)]
        tasks: usize,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserCommand,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Background jobs and schedules.
    Jobs {
        #[command(subcommand)]
        action: JobsCommand,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        mail: MailArgs,
        #[command(flatten)]
        links: LinkArgs,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Schedules with their next run, jobs per state, the latest jobs.
    List,
    /// Run a job now (a schedule's job, by name), inline, and print its result.
    Run {
        /// Job name, e.g. overdue-tasks.
        name: String,
    },
    /// A job's status, result and error.
    Status {
        /// Job id.
        id: i64,
    },
    /// Put a dead job back in the queue once.
    Retry {
        /// Job id.
        id: i64,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. The password comes from --password / TASKPULSE_USER_PASSWORD or one line on stdin.
    Create {
        /// Login name.
        #[arg(long, env = "TASKPULSE_USER_NAME")]
        username: String,
        /// E-mail address.
        #[arg(long, env = "TASKPULSE_USER_EMAIL")]
        email: String,
        /// Display name (default: the username).
        #[arg(long, env = "TASKPULSE_USER_FULL_NAME")]
        full_name: Option<String>,
        /// Role.
        #[arg(long, env = "TASKPULSE_USER_ROLE", value_enum, default_value = "employee")]
        role: Role,
        /// Team name (created if new).
        #[arg(long, env = "TASKPULSE_USER_TEAM")]
        team: Option<String>,
        /// Weekly capacity in hours.
        #[arg(long, env = "TASKPULSE_USER_CAPACITY", default_value_t = 40.0)]
        capacity: f64,
        /// Hourly rate in cents.
        #[arg(long, env = "TASKPULSE_USER_RATE_CENTS", default_value_t = 0)]
        rate_cents: i64,
        /// Password (prefer stdin or the env var: flags show in `ps`).
        #[arg(long, env = "TASKPULSE_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Set a user's password (ends their sessions).
    Passwd {
        /// Login name.
        #[arg(long, env = "TASKPULSE_USER_NAME")]
        username: String,
        /// New password (or one line on stdin).
        #[arg(long, env = "TASKPULSE_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Disable a user: sessions end, tokens stop working.
    Disable {
        /// Login name.
        #[arg(long, env = "TASKPULSE_USER_NAME")]
        username: String,
    },
    /// Create an API token for a user and print it (shown once).
    Token {
        /// Login name.
        #[arg(long, env = "TASKPULSE_USER_NAME")]
        username: String,
        /// Label of the token.
        #[arg(long, env = "TASKPULSE_TOKEN_NAME", default_value = "cli")]
        name: String,
    },
}

fn cli_meta() -> RequestMeta {
    RequestMeta { request_id: Some("cli".into()), ip: None }
}

fn password_or_stdin(password: Option<String>) -> anyhow::Result<String> {
    if let Some(password) = password {
        return Ok(password);
    }
    eprintln!("Password (one line on stdin):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn describe(err: ServiceError) -> anyhow::Error {
    match err {
        ServiceError::Invalid(fields) => {
            let lines: Vec<String> =
                fields.into_iter().map(|(field, message)| format!("  {field}: {message}")).collect();
            anyhow::anyhow!("invalid input:\n{}", lines.join("\n"))
        }
        ServiceError::NotFound => anyhow::anyhow!("no such user"),
        other => anyhow::anyhow!(other),
    }
}

fn print_logins(report: &demo::DemoReport, url: Option<&str>) {
    println!();
    if let Some(url) = url {
        println!("Taskpulse is running at {url}");
    }
    println!("Demo logins (username / password):");
    for login in &report.logins {
        println!("  {:<10} {:<16} {}", login.role.label(), login.username, login.password);
    }
    println!("  (every lead.<team> and emp01…emp34 share their role's password)");
    println!();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { serve, db } => {
            let settings = Settings::from_args(&serve, &db)?;
            let database = connect_and_migrate(&settings.db).await?;
            let report = if serve.demo {
                Some(demo::seed(&database, 500, |step| eprintln!("demo data: {step}")).await.map_err(describe)?)
            } else {
                None
            };
            let app = Application::build_with_db(settings.clone(), database)?;
            let host = settings.addr.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
            let url = format!("http://{}:{}/", if host == "0.0.0.0" { "127.0.0.1" } else { host }, app.port());
            match &report {
                Some(report) => print_logins(report, Some(&url)),
                None => println!("Taskpulse is running at {url}"),
            }
            tracing::info!(%url, "listening");
            app.run_until_stopped().await?;
        }
        Command::Jobs { action, db, mail, links } => {
            let settings = db.resolve()?;
            let mail = mail.resolve(&db.data_dir, &links.public_url)?;
            let database = connect_and_migrate(&settings).await?;
            jobs_command(action, database, mail).await?;
        }
        Command::Migrate { db } => {
            let settings = db.resolve()?;
            connect_and_migrate(&settings).await?;
            println!("Database is up to date ({}).", settings.url.redacted());
        }
        Command::Demo { tasks, db } => {
            let settings = db.resolve()?;
            let database = connect_and_migrate(&settings).await?;
            let report = demo::seed(&database, tasks, |step| eprintln!("demo data: {step}")).await.map_err(describe)?;
            println!("Created {} users and {} tasks.", report.users_created, report.tasks_created);
            print_logins(&report, None);
        }
        Command::User { action, db } => {
            let settings = db.resolve()?;
            let database = connect_and_migrate(&settings).await?;
            match action {
                UserCommand::Create { username, email, full_name, role, team, capacity, rate_cents, password } => {
                    let password = password_or_stdin(password)?;
                    let input = accounts::CreateUser {
                        full_name: full_name.unwrap_or_else(|| username.clone()),
                        username,
                        email,
                        role,
                        team,
                        password,
                        capacity_hours_per_week: capacity,
                        hourly_rate_cents: rate_cents,
                    };
                    let id = accounts::create_user(&database, input, cli_meta()).await.map_err(describe)?;
                    println!("Created user {id}.");
                }
                UserCommand::Passwd { username, password } => {
                    let password = password_or_stdin(password)?;
                    accounts::reset_password(&database, &username, &password, cli_meta()).await.map_err(describe)?;
                    println!("Password changed; the user's sessions have ended.");
                }
                UserCommand::Disable { username } => {
                    let id = accounts::user_id_by_name(&database, &username).await.map_err(describe)?;
                    accounts::set_active(&database, &taskpulse::live::Hub::default(), None, id, false, cli_meta())
                        .await
                        .map_err(describe)?;
                    println!("User disabled; their sessions have ended and their tokens no longer work.");
                }
                UserCommand::Token { username, name } => {
                    let id = accounts::user_id_by_name(&database, &username).await.map_err(describe)?;
                    let token = accounts::create_token(&database, id, &name, cli_meta()).await.map_err(describe)?;
                    eprintln!("Token {} created. It is shown once; store it now:", token.id);
                    println!("{}", token.secret);
                }
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    taskpulse::telemetry::init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn jobs_command(action: JobsCommand, db: taskpulse::db::Db, mail: MailSettings) -> anyhow::Result<()> {
    use std::sync::Arc;
    use taskpulse::jobs::{EnqueueOptions, JobSettings, Jobs, SystemClock, scheduler};
    let settings = JobSettings { mail, ..JobSettings::default() };
    let engine = Jobs::new(db, Default::default(), Arc::new(SystemClock), settings);
    scheduler::ensure_defaults(&engine).await.map_err(describe)?;
    match action {
        JobsCommand::List => {
            let schedules = engine.schedules().await.map_err(describe)?;
            println!("{:<22} {:<14} {:<16} {:<8} NEXT RUN (UTC)", "SCHEDULE", "CRON", "ZONE", "ENABLED");
            for (schedule, next) in schedules {
                let next = next.map_or_else(|| "-".to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string());
                println!(
                    "{:<22} {:<14} {:<16} {:<8} {next}",
                    schedule.name, schedule.cron, schedule.timezone, schedule.enabled
                );
            }
            let (counts, recent) = engine.overview(20).await.map_err(describe)?;
            let counts: Vec<String> = counts.into_iter().map(|(state, n)| format!("{state} {n}")).collect();
            println!("\nJobs: {}", if counts.is_empty() { "none".to_string() } else { counts.join(", ") });
            for job in recent {
                println!(
                    "  #{:<6} {:<22} {:<10} attempt {}/{}",
                    job.id, job.kind, job.state, job.attempt, job.max_attempts
                );
            }
        }
        JobsCommand::Run { name } => {
            let kind = engine.kind_of(&name).await.map_err(describe)?;
            let payload = serde_json::json!({ "manual": true });
            let id = engine.enqueue(&kind, payload, EnqueueOptions::default()).await.map_err(describe)?;
            engine.run_due_now().await.map_err(describe)?;
            if let Some(id) = id {
                print_job(&engine, id).await?;
            }
        }
        JobsCommand::Status { id } => print_job(&engine, id).await?,
        JobsCommand::Retry { id } => {
            engine.retry(id).await.map_err(describe)?;
            println!("Job #{id} is queued again.");
        }
    }
    Ok(())
}

async fn print_job(engine: &taskpulse::jobs::Jobs, id: i64) -> anyhow::Result<()> {
    let job = engine.find(id).await.map_err(describe)?.ok_or_else(|| anyhow::anyhow!("no job #{id}"))?;
    println!("job #{} {} — {} (attempt {}/{})", job.id, job.kind, job.state, job.attempt, job.max_attempts);
    if let Some(result) = job.result {
        println!("result: {result}");
    }
    if let Some(error) = job.last_error {
        println!("last error: {error}");
    }
    Ok(())
}
