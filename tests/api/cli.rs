//! The `taskpulse` command line: start-up errors that name the setting, user
//! administration, and idempotent demo data.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn taskpulse(args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_taskpulse"));
    command.args(args).env_remove("DATABASE_URL").env_remove("TASKPULSE_DATA_DIR").env("RUST_LOG", "warn");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("run taskpulse");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("taskpulse finished")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn bad_database_settings_are_named_at_start_up() {
    let out = taskpulse(&["migrate"], &[("DATABASE_URL", "mysql://db/tasks")], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("DATABASE_URL") && stderr(&out).contains("mysql"), "{}", stderr(&out));

    let out = taskpulse(&["migrate"], &[("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("DATABASE_URL"), "{}", stderr(&out));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let unusable = file.join("data");
    let out = taskpulse(&["migrate"], &[("TASKPULSE_DATA_DIR", unusable.to_str().unwrap())], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("TASKPULSE_DATA_DIR"), "{}", stderr(&out));

    let out = taskpulse(
        &["serve", "--session-idle-minutes", "0"],
        &[("TASKPULSE_DATA_DIR", dir.path().to_str().unwrap())],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("TASKPULSE_SESSION_IDLE_MINUTES"), "{}", stderr(&out));
}

#[test]
fn users_are_created_changed_disabled_and_given_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let env = [("TASKPULSE_DATA_DIR", data)];
    let out = taskpulse(
        &["user", "create", "--username", "Olivia", "--email", "olivia@example.com", "--role", "admin"],
        &env,
        Some("short\n"),
    );
    assert!(!out.status.success(), "weak password refused");
    assert!(stderr(&out).contains("password"), "{}", stderr(&out));

    let out = taskpulse(
        &[
            "user",
            "create",
            "--username",
            "Olivia",
            "--email",
            "olivia@example.com",
            "--role",
            "admin",
            "--full-name",
            "Olivia Admin",
        ],
        &env,
        Some("a long enough passphrase\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = taskpulse(
        &["user", "create", "--username", "olivia", "--email", "o2@example.com"],
        &env,
        Some("another long passphrase\n"),
    );
    assert!(!out.status.success(), "duplicate username refused");
    assert!(stderr(&out).contains("taken"), "{}", stderr(&out));

    let out = taskpulse(&["user", "token", "--username", "olivia", "--name", "ci"], &env, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_string();
    assert!(token.starts_with("tp_") && token.len() > 20, "{token}");
    assert!(stderr(&out).contains("shown once"));

    let out = taskpulse(
        &["user", "passwd", "--username", "olivia"],
        &[("TASKPULSE_DATA_DIR", data), ("TASKPULSE_USER_PASSWORD", "a different passphrase")],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = taskpulse(&["user", "disable", "--username", "olivia"], &env, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = taskpulse(&["user", "disable", "--username", "nobody"], &env, None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no such user"));
}

#[test]
fn demo_data_is_seeded_once_and_prints_logins() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("TASKPULSE_DATA_DIR", dir.path().to_str().unwrap())];
    let first = taskpulse(&["demo", "--tasks", "120"], &env, None);
    assert!(first.status.success(), "{}", stderr(&first));
    let out = stdout(&first);
    assert!(out.contains("Created 42 users and 120 tasks."), "{out}");
    assert!(out.contains("admin") && out.contains("Pulse-Admin-2026"), "{out}");
    assert!(stderr(&first).contains("tasks 120/120"), "progress is shown");
    let second = taskpulse(&["demo", "--tasks", "120"], &env, None);
    assert!(second.status.success());
    assert!(stdout(&second).contains("Created 0 users and 0 tasks."), "{}", stdout(&second));
    // Last week's hours were logged once: the payroll of that week has
    // employees, and running it again by hand recomputes the same period.
    let payroll = taskpulse(&["jobs", "run", "weekly-payroll"], &env, None);
    assert!(payroll.status.success(), "{}", stderr(&payroll));
    let out = stdout(&payroll);
    assert!(out.contains("weekly-payroll — succeeded") && out.contains("\"status\":\"pending\""), "{out}");
    assert!(out.contains("\"employees\":") && !out.contains("\"employees\":0"), "{out}");
    assert!(out.contains("\"period_id\":1"), "the demo's period, not a second one: {out}");
}

#[test]
fn jobs_are_listed_run_by_name_inspected_and_unknown_names_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let env = [("TASKPULSE_DATA_DIR", data)];
    let out = taskpulse(&["jobs", "list"], &env, None);
    assert!(out.status.success(), "{}", stderr(&out));
    for schedule in ["overdue-tasks", "cleanup-jobs"] {
        assert!(stdout(&out).contains(schedule), "schedule {schedule} listed: {}", stdout(&out));
    }

    let out = taskpulse(&["jobs", "run", "cleanup-jobs"], &env, None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("job #1 cleanup-jobs — succeeded"), "{}", stdout(&out));
    assert!(stdout(&out).contains("\"pruned\":0"), "the result summary is shown: {}", stdout(&out));

    let out = taskpulse(&["jobs", "status", "1"], &env, None);
    assert!(out.status.success() && stdout(&out).contains("succeeded"), "{}", stdout(&out));

    let out = taskpulse(&["jobs", "run", "no-such-job"], &env, None);
    assert!(!out.status.success(), "an unknown job is refused");
    assert!(stderr(&out).contains("Unknown job 'no-such-job'"), "{}", stderr(&out));
    let out = taskpulse(&["jobs", "list"], &env, None);
    assert!(stdout(&out).contains("succeeded 1"), "nothing was enqueued for the unknown name: {}", stdout(&out));

    let out = taskpulse(&["jobs", "retry", "1"], &env, None);
    assert!(!out.status.success() && stderr(&out).contains("Only a dead job"), "{}", stderr(&out));
}
