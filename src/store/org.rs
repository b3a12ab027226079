//! The organisation: teams, skills, user skills and projects.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::schema::{projects, skills, teams, user_skills, users};

/// A team.
#[derive(Debug, Clone, Queryable)]
pub struct Team {
    /// Primary key.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Creation time.
    pub created_at: NaiveDateTime,
}

/// Finds or creates a team by name; returns its id.
pub fn ensure_team(conn: &mut DbConn, name: &str, now: NaiveDateTime) -> QueryResult<i64> {
    if let Some(id) = teams::table.filter(teams::name.eq(name)).select(teams::id).first(conn).optional()? {
        return Ok(id);
    }
    diesel::insert_into(teams::table)
        .values((teams::name.eq(name), teams::created_at.eq(now)))
        .returning(teams::id)
        .get_result(conn)
}

/// Finds a team by name.
pub fn find_team_by_name(conn: &mut DbConn, name: &str) -> QueryResult<Option<Team>> {
    teams::table.filter(teams::name.eq(name)).first(conn).optional()
}

/// Finds a team by id.
pub fn find_team(conn: &mut DbConn, id: i64) -> QueryResult<Option<Team>> {
    teams::table.find(id).first(conn).optional()
}

/// Every team by name.
pub fn list_teams(conn: &mut DbConn) -> QueryResult<Vec<Team>> {
    teams::table.order(teams::name.asc()).load(conn)
}

/// Team sizes: (team, number of active members).
pub fn team_sizes(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    teams::table
        .inner_join(users::table)
        .filter(users::is_active.eq(true))
        .group_by(teams::name)
        .select((teams::name, diesel::dsl::count(users::id)))
        .order(teams::name.asc())
        .load(conn)
}

/// Finds or creates a skill by name; returns its id.
pub fn ensure_skill(conn: &mut DbConn, name: &str) -> QueryResult<i64> {
    if let Some(id) = skills::table.filter(skills::name.eq(name)).select(skills::id).first(conn).optional()? {
        return Ok(id);
    }
    diesel::insert_into(skills::table).values(skills::name.eq(name)).returning(skills::id).get_result(conn)
}

/// Sets a user's level (1–5) in a skill.
pub fn set_user_skill(conn: &mut DbConn, user_id: i64, skill_id: i64, level: i32) -> QueryResult<usize> {
    crate::per_backend!(conn, c => diesel::insert_into(user_skills::table)
        .values((user_skills::user_id.eq(user_id), user_skills::skill_id.eq(skill_id), user_skills::level.eq(level)))
        .on_conflict((user_skills::user_id, user_skills::skill_id))
        .do_update()
        .set(user_skills::level.eq(level))
        .execute(c))
}

/// A user's skills as (name, level), by name.
pub fn user_skills(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<(String, i32)>> {
    user_skills::table
        .inner_join(skills::table)
        .filter(user_skills::user_id.eq(user_id))
        .select((skills::name, user_skills::level))
        .order(skills::name.asc())
        .load(conn)
}

/// Finds or creates a project by name; returns its id.
pub fn ensure_project(
    conn: &mut DbConn,
    name: &str,
    description: &str,
    team_id: Option<i64>,
    manager_id: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    if let Some(id) = projects::table.filter(projects::name.eq(name)).select(projects::id).first(conn).optional()? {
        return Ok(id);
    }
    diesel::insert_into(projects::table)
        .values((
            projects::name.eq(name),
            projects::description.eq(description),
            projects::team_id.eq(team_id),
            projects::manager_id.eq(manager_id),
            projects::created_at.eq(now),
        ))
        .returning(projects::id)
        .get_result(conn)
}

/// Whether a project exists.
pub fn project_exists(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(projects::table.find(id))).get_result(conn)
}

/// Whether a skill exists.
pub fn skill_exists(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(skills::table.find(id))).get_result(conn)
}

/// Every project as (id, name), by name.
pub fn list_projects(conn: &mut DbConn) -> QueryResult<Vec<(i64, String)>> {
    projects::table.select((projects::id, projects::name)).order(projects::name.asc()).load(conn)
}

/// Every skill as (id, name), by name.
pub fn list_skills(conn: &mut DbConn) -> QueryResult<Vec<(i64, String)>> {
    skills::table.select((skills::id, skills::name)).order(skills::name.asc()).load(conn)
}
