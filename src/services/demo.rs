//! Demo data: a believable organisation to explore. Deterministic (a fixed
//! random seed) and idempotent: running it again adds nothing.
//!
//! Longer than 400 lines: it is one seeding script (people, projects, tasks
//! with their history, time and pay), read top to bottom; its parts share
//! the seed and only make sense in this order.

use chrono::{Duration, NaiveDateTime};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::{Db, now};
use crate::domain::role::Role;
use crate::domain::task::{Priority, Progress, TaskStatus};
use crate::security::{hash_password, password_work};
use crate::services::ServiceError;
use crate::store::org;
use crate::store::tasks::{self, NewAssignment, NewProgress, NewTask};
use crate::store::time_entries::{self, NewTimeEntry};
use crate::store::users::{self, NewUser};

/// A demo login to print.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    /// Role.
    pub role: Role,
    /// Username.
    pub username: String,
    /// Password.
    pub password: &'static str,
}

/// What the seeding did.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// Users created this run.
    pub users_created: usize,
    /// Tasks created this run.
    pub tasks_created: usize,
    /// Logins to try.
    pub logins: Vec<DemoLogin>,
}

const TEAMS: [&str; 5] = ["Platform", "Web", "Mobile", "Data", "Support"];
const SKILLS: [&str; 10] =
    ["rust", "sql", "frontend", "design", "devops", "testing", "python", "mobile", "analytics", "writing"];
const FIRST: [&str; 20] = [
    "Ada", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Luca", "Maya",
    "Nils", "Olga", "Priya", "Quinn", "Rosa", "Sami", "Tara",
];
const LAST: [&str; 8] = ["Novak", "Okafor", "Larsen", "Moreau", "Tanaka", "Silva", "Kowalski", "Haddad"];
const VERBS: [&str; 12] = [
    "Implement",
    "Fix",
    "Review",
    "Document",
    "Refactor",
    "Test",
    "Design",
    "Migrate",
    "Optimise",
    "Investigate",
    "Automate",
    "Update",
];
const OBJECTS: [&str; 16] = [
    "login flow",
    "billing export",
    "search index",
    "release pipeline",
    "onboarding emails",
    "report builder",
    "API rate limits",
    "dashboard charts",
    "audit trail view",
    "mobile sync",
    "backup restore",
    "permissions matrix",
    "invoice PDFs",
    "alert rules",
    "data retention",
    "help centre",
];
const AREAS: [&str; 8] = [
    "for the web app",
    "for the mobile app",
    "in the admin area",
    "for customers",
    "for the API",
    "for the EU region",
    "for enterprise accounts",
    "for the partner portal",
];

/// The demo's `i`-th task title: verb, object and area combined so that
/// every title is different (a step coprime with the number of
/// combinations visits each once), "(part n)" only beyond them.
fn demo_title(i: usize) -> String {
    let combos = VERBS.len() * OBJECTS.len() * AREAS.len();
    let c = (i * 7_919) % combos;
    let (verb, rest) = (c % VERBS.len(), c / VERBS.len());
    let (object, area) = (rest % OBJECTS.len(), rest / OBJECTS.len());
    let title = format!("{} {} {}", VERBS[verb], OBJECTS[object], AREAS[area]);
    if i < combos { title } else { format!("{title} (part {})", i / combos + 1) }
}

/// Demo passwords per role (printed at start-up; demo data is for trying
/// Taskpulse out, never for production).
pub fn demo_password(role: Role) -> &'static str {
    match role {
        Role::Admin => "Pulse-Admin-2026",
        Role::Manager => "Pulse-Manager-2026",
        Role::Lead => "Pulse-Lead-2026",
        Role::Employee => "Pulse-Employee-2026",
    }
}

struct DemoUser {
    username: String,
    full_name: String,
    role: Role,
    team: Option<usize>,
}

fn demo_users() -> Vec<DemoUser> {
    let mut people = vec![
        DemoUser { username: "admin".into(), full_name: "Alex Admin".into(), role: Role::Admin, team: None },
        DemoUser { username: "manager".into(), full_name: "Morgan Manager".into(), role: Role::Manager, team: None },
    ];
    // Everyone below gets the next (first, last) pair: unique for the
    // first 160 people (see `demo_name`).
    let mut k = 0;
    let mut next_name = || {
        k += 1;
        demo_name(k - 1)
    };
    let mut n = 0;
    for (t, team) in TEAMS.iter().enumerate() {
        people.push(DemoUser {
            username: format!("lead.{}", team.to_lowercase()),
            full_name: next_name(),
            role: Role::Lead,
            team: Some(t),
        });
        for _ in 0..7 {
            let username = if n == 0 { "employee".to_string() } else { format!("emp{:02}", n) };
            people.push(DemoUser { username, full_name: next_name(), role: Role::Employee, team: Some(t) });
            n += 1;
        }
    }
    people
}

/// The `k`-th demo name: every first name with a last name that shifts by
/// one each round of first names, so no two of the first 160 are the same.
fn demo_name(k: usize) -> String {
    format!("{} {}", FIRST[k % FIRST.len()], LAST[(k + k / FIRST.len()) % LAST.len()])
}

/// When a demo task happened, relative to the day it is seeded: open work
/// recent and mostly due ahead (a few percent overdue), done work completed
/// over the last weeks, mostly on time.
#[derive(Debug, Clone, Copy)]
struct TaskDates {
    created_at: NaiveDateTime,
    due_at: NaiveDateTime,
    /// The last progress step (the others are spread before it).
    last_update: NaiveDateTime,
    completed_at: Option<NaiveDateTime>,
}

fn task_dates(rng: &mut StdRng, target: TaskStatus, at: NaiveDateTime) -> TaskDates {
    let minutes = |rng: &mut StdRng, from: i64, to: i64| Duration::minutes(rng.gen_range(from..to));
    const HOUR: i64 = 60;
    const DAY: i64 = 24 * HOUR;
    match target {
        TaskStatus::Done => {
            let created_at = at - minutes(rng, 5 * DAY, 45 * DAY);
            let took = minutes(rng, 2 * HOUR, (at - created_at).num_minutes().max(3 * HOUR));
            let completed_at = created_at + took;
            // Most finish before their due time; some a little late.
            let due_at = if rng.gen_range(0..100) < 15 {
                completed_at - minutes(rng, 2 * HOUR, 2 * DAY)
            } else {
                completed_at + minutes(rng, HOUR, 7 * DAY)
            };
            TaskDates { created_at, due_at, last_update: completed_at, completed_at: Some(completed_at) }
        }
        TaskStatus::Cancelled => {
            let created_at = at - minutes(rng, 5 * DAY, 40 * DAY);
            let last_update = created_at + minutes(rng, HOUR, 3 * DAY);
            TaskDates {
                created_at,
                due_at: created_at + minutes(rng, 5 * DAY, 30 * DAY),
                last_update,
                completed_at: None,
            }
        }
        TaskStatus::Pending | TaskStatus::InProgress | TaskStatus::OnHold => {
            let created_at = at - minutes(rng, 2 * HOUR, 21 * DAY);
            let due_at = match rng.gen_range(0..100) {
                0..=3 => at - minutes(rng, 2 * HOUR, 3 * DAY),
                4..=39 => at + minutes(rng, 2 * HOUR, 7 * DAY),
                _ => at + minutes(rng, 7 * DAY, 28 * DAY),
            };
            // Recent activity: a good share today, most of the rest this week.
            let ago = match rng.gen_range(0..100) {
                0..=39 => minutes(rng, 5, 8 * HOUR),
                40..=84 => minutes(rng, DAY, 6 * DAY),
                _ => minutes(rng, 7 * DAY, 14 * DAY),
            };
            let last_update = (at - ago).max(created_at + Duration::minutes(5));
            TaskDates { created_at, due_at, last_update, completed_at: None }
        }
    }
}

/// Seeds the demo organisation, reporting progress through `progress`.
pub async fn seed(
    db: &Db,
    task_count: usize,
    progress: impl Fn(&str) + Send + Sync,
) -> Result<DemoReport, ServiceError> {
    progress("hashing demo passwords");
    let hashes = password_work(|| Role::ALL.map(|role| hash_password(demo_password(role)).map(|h| (role, h)))).await?;
    let mut role_hashes = Vec::new();
    for h in hashes {
        role_hashes.push(h.map_err(|e| ServiceError::Internal(e.to_string()))?);
    }

    progress("creating teams, users and skills");
    let people = demo_users();
    let (users_created, user_ids, project_ids) = db
        .write(move |conn| {
            let at = now();
            let team_ids = TEAMS.iter().map(|t| org::ensure_team(conn, t, at)).collect::<Result<Vec<_>, _>>()?;
            let skill_ids = SKILLS.iter().map(|s| org::ensure_skill(conn, s)).collect::<Result<Vec<_>, _>>()?;
            let mut rng = StdRng::seed_from_u64(7);
            let mut created = 0;
            let mut ids = Vec::new();
            for person in &people {
                let hash =
                    role_hashes.iter().find(|(r, _)| *r == person.role).map(|(_, h)| h.as_str()).unwrap_or_default();
                let capacity = [32.0, 36.0, 40.0, 40.0, 40.0][rng.gen_range(0..5)];
                let rate = rng.gen_range(28..=75) * 100;
                let id = match users::find_by_username(conn, &person.username)? {
                    Some(user) => user.id,
                    None => {
                        created += 1;
                        let email = format!("{}@demo.taskpulse.local", person.username);
                        users::insert(
                            conn,
                            &NewUser {
                                username: &person.username,
                                email: &email,
                                full_name: &person.full_name,
                                role: person.role.as_str(),
                                team_id: person.team.map(|t| team_ids[t]),
                                password_hash: hash,
                                capacity_hours_per_week: capacity,
                                hourly_rate_cents: rate,
                                is_active: true,
                                created_at: at,
                                updated_at: at,
                            },
                        )?
                    }
                };
                for _ in 0..3 {
                    let skill = skill_ids[rng.gen_range(0..skill_ids.len())];
                    org::set_user_skill(conn, id, skill, rng.gen_range(1..=5))?;
                }
                ids.push((id, person.role, person.team));
            }
            let manager = ids.iter().find(|(_, r, _)| *r == Role::Manager).map(|(id, _, _)| *id);
            let mut projects = Vec::new();
            for (t, team) in TEAMS.iter().enumerate() {
                for suffix in ["Roadmap", "Maintenance"] {
                    let name = format!("{team} {suffix}");
                    let description = format!("{suffix} work of the {team} team");
                    projects.push((
                        org::ensure_project(conn, &name, &description, Some(team_ids[t]), manager, at)?,
                        t,
                        skill_ids.clone(),
                    ));
                }
            }
            Ok::<_, ServiceError>((created, ids, projects))
        })
        .await?;

    let mut tasks_created = 0;
    let chunk = 50;
    let mut done = 0;
    while done < task_count {
        let range = done..(done + chunk).min(task_count);
        let users = user_ids.clone();
        let projects = project_ids.clone();
        tasks_created += db
            .write(move |conn| {
                let at = now();
                let mut created = 0;
                for i in range {
                    let mut rng = StdRng::seed_from_u64(1_000 + i as u64);
                    let (project_id, team, skills) = &projects[i % projects.len()];
                    let title = demo_title(i);
                    if tasks::exists_in_project(conn, &title, *project_id)? {
                        continue;
                    }
                    let members: Vec<i64> =
                        users.iter().filter(|(_, _, t)| *t == Some(*team)).map(|(id, _, _)| *id).collect();
                    let assignee = members[rng.gen_range(0..members.len())];
                    let creator =
                        users.iter().find(|(_, r, t)| *r == Role::Lead && *t == Some(*team)).map(|(id, _, _)| *id);
                    create_task(conn, &mut rng, at, *project_id, &title, assignee, creator, skills)?;
                    created += 1;
                }
                Ok::<_, ServiceError>(created)
            })
            .await?;
        done = (done + chunk).min(task_count);
        progress(&format!("tasks {done}/{task_count}"));
    }

    progress("logging last week's hours and computing its payroll");
    let workers: Vec<i64> = user_ids.iter().filter(|(_, r, _)| *r == Role::Employee).map(|(id, _, _)| *id).collect();
    db.write(move |conn| log_last_week(conn, &workers)).await?;

    let logins = vec![
        DemoLogin { role: Role::Admin, username: "admin".into(), password: demo_password(Role::Admin) },
        DemoLogin { role: Role::Manager, username: "manager".into(), password: demo_password(Role::Manager) },
        DemoLogin { role: Role::Lead, username: "lead.platform".into(), password: demo_password(Role::Lead) },
        DemoLogin { role: Role::Employee, username: "employee".into(), password: demo_password(Role::Employee) },
    ];
    Ok(DemoReport { users_created, tasks_created, logins })
}

/// Last week's time entries (6–8 h a working day per employee, over their
/// open tasks) unless the employee has entries that week, then the week's
/// pending pay period.
fn log_last_week(conn: &mut crate::db::DbConn, workers: &[i64]) -> Result<(), ServiceError> {
    let at = now();
    let (monday, _) = crate::domain::payroll::previous_week(at.date());
    for (n, user) in workers.iter().enumerate() {
        let week = time_entries::for_user(conn, *user, monday, monday + Duration::days(6))?;
        let open = tasks::open_for_user(conn, *user, 5)?;
        if !week.is_empty() || open.is_empty() {
            continue;
        }
        let mut rng = StdRng::seed_from_u64(5_000 + n as u64);
        for day in 0..5 {
            let mut left = rng.gen_range(24..=32) * 15;
            while left > 0 {
                let minutes = left.min(rng.gen_range(4..=16) * 15);
                let task = &open[rng.gen_range(0..open.len())];
                let entry = NewTimeEntry {
                    user_id: *user,
                    task_id: task.id,
                    work_date: monday + Duration::days(day),
                    minutes,
                    note: String::new(),
                    created_at: at,
                    updated_at: at,
                };
                time_entries::insert(conn, &entry)?;
                time_entries::refresh_actual_hours(conn, task.id, *user)?;
                left -= minutes;
            }
        }
    }
    crate::services::payroll::generate(conn, monday, at)?;
    Ok(())
}

/// Creates one task with a plausible history: a status drawn with realistic
/// weights, progress steps spread over past days, each step in the trail.
#[expect(clippy::too_many_arguments, reason = "one task's whole recipe, passed once")]
fn create_task(
    conn: &mut crate::db::DbConn,
    rng: &mut StdRng,
    at: NaiveDateTime,
    project_id: i64,
    title: &str,
    assignee: i64,
    creator: Option<i64>,
    skills: &[i64],
) -> Result<(), ServiceError> {
    let priority = match rng.gen_range(0..100) {
        0..=24 => Priority::Low,
        25..=64 => Priority::Medium,
        65..=89 => Priority::High,
        _ => Priority::Urgent,
    };
    let target = match rng.gen_range(0..100) {
        0..=24 => TaskStatus::Pending,
        25..=59 => TaskStatus::InProgress,
        60..=89 => TaskStatus::Done,
        90..=95 => TaskStatus::OnHold,
        _ => TaskStatus::Cancelled,
    };
    let dates = task_dates(rng, target, at);
    let created_at = dates.created_at;
    let due_at = Some(dates.due_at);
    let final_progress = match target {
        TaskStatus::Pending => 0,
        TaskStatus::Done => 100,
        _ => rng.gen_range(5..95),
    };
    // Progress steps: increasing values ending at the final progress.
    let mut steps = Vec::new();
    if final_progress > 0 {
        let count = rng.gen_range(1..=4);
        for s in 1..=count {
            let value = if s == count { final_progress } else { (final_progress * s / count).max(1) };
            if steps.last() != Some(&value) {
                steps.push(value);
            }
        }
    }
    // Steps spread from creation to the last update, which comes last.
    let span = (dates.last_update - created_at).num_minutes().max(1);
    let step_time = |k: usize, n: usize| created_at + Duration::minutes(span * (k as i64 + 1) / n as i64);
    let last_update = (!steps.is_empty()).then_some(dates.last_update);
    let completed_at = dates.completed_at;
    let task_id = tasks::insert(
        conn,
        &NewTask {
            title: title.to_string(),
            description: format!("{title}. Created for the demo organisation."),
            project_id: Some(project_id),
            priority: priority.as_str().into(),
            status: target.as_str().into(),
            progress: final_progress,
            difficulty: rng.gen_range(1..=10),
            estimated_hours: f64::from(rng.gen_range(1..=40)),
            due_at,
            completed_at,
            created_by: creator,
            last_progress_update_at: last_update,
            last_progress_updated_by: last_update.map(|_| assignee),
            created_at,
            updated_at: last_update.unwrap_or(created_at),
        },
    )?;
    tasks::add_skill(conn, task_id, skills[rng.gen_range(0..skills.len())], rng.gen_range(1..=4))?;
    let assignment_status = match target {
        TaskStatus::Pending | TaskStatus::Cancelled => "assigned",
        TaskStatus::InProgress => "in_progress",
        TaskStatus::Done => "completed",
        TaskStatus::OnHold => "on_hold",
    };
    tasks::insert_assignment(
        conn,
        &NewAssignment {
            task_id,
            user_id: assignee,
            status: assignment_status.into(),
            source: "manual".into(),
            estimated_hours: f64::from(rng.gen_range(1..=40)),
            actual_hours: 0.0,
            skill_match: Some(f64::from(rng.gen_range(40..=100)) / 100.0),
            assigned_by: creator,
            assigned_at: created_at,
            completed_at,
        },
    )?;
    let mut previous = (0, TaskStatus::Pending);
    for (k, value) in steps.iter().enumerate() {
        let progress = Progress::parse(i64::from(*value)).map_err(ServiceError::Internal)?;
        let status = progress.implied_status();
        tasks::append_progress(
            conn,
            &NewProgress {
                task_id,
                user_id: Some(assignee),
                previous_progress: previous.0,
                new_progress: progress.value(),
                previous_status: previous.1.as_str().into(),
                new_status: status.as_str().into(),
                notes: if k == 0 { "Started".into() } else { String::new() },
                occupancy_status: Some("ACTIVE".into()),
                created_at: step_time(k, steps.len()),
            },
        )?;
        previous = (progress.value(), status);
    }
    if matches!(target, TaskStatus::OnHold | TaskStatus::Cancelled) {
        tasks::append_progress(
            conn,
            &NewProgress {
                task_id,
                user_id: creator,
                previous_progress: previous.0,
                new_progress: previous.0,
                previous_status: previous.1.as_str().into(),
                new_status: target.as_str().into(),
                notes: "Status set by the team lead".into(),
                occupancy_status: None,
                created_at: last_update.map_or(created_at, |t| t + Duration::minutes(5)),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_names_are_unique() {
        let names: std::collections::HashSet<String> = demo_users().into_iter().map(|u| u.full_name).collect();
        assert_eq!(names.len(), demo_users().len());
        let many: std::collections::HashSet<String> = (0..160).map(demo_name).collect();
        assert_eq!(many.len(), 160);
    }

    #[test]
    fn demo_task_titles_are_unique_and_carry_no_numbers() {
        let titles: std::collections::HashSet<String> = (0..1_536).map(demo_title).collect();
        assert_eq!(titles.len(), 1_536, "every combination once");
        assert!(titles.iter().all(|t| !t.contains('#') && !t.contains("(part")));
        assert_eq!(demo_title(1_536 + 4), format!("{} (part 2)", demo_title(4)));
    }

    #[test]
    fn demo_dates_look_like_a_normal_week() {
        let at = NaiveDateTime::parse_from_str("2026-12-02 12:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let open = [TaskStatus::Pending, TaskStatus::InProgress, TaskStatus::OnHold];
        let (mut overdue, mut today, n) = (0, 0, 2_000);
        for i in 0..n {
            let d = task_dates(&mut rng, open[i % 3], at);
            assert!(d.created_at < at && d.created_at < d.last_update && d.last_update <= at);
            overdue += usize::from(d.due_at < at);
            today += usize::from(at - d.last_update < Duration::hours(12));
        }
        assert!(overdue * 100 / n <= 8, "a few percent of open work is overdue: {overdue} of {n}");
        assert!(overdue > 0, "but some is");
        assert!(today * 100 / n >= 30, "much of it moved today: {today} of {n}");
        for _ in 0..500 {
            let d = task_dates(&mut rng, TaskStatus::Done, at);
            let done = d.completed_at.expect("completed");
            assert!(d.created_at < done && done <= at);
        }
    }
}
