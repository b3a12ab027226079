//! What each role sees on its home page.

use crate::db::Db;
use crate::domain::role::Role;
use crate::services::{Actor, ServiceError};
use crate::store::tasks::{self, TaskSummary};
use crate::store::{org, users};

/// Counts and lists for a home page.
#[derive(Debug, Clone, Default)]
pub struct HomeData {
    /// Tasks per status (the actor's own for employees and leads, all otherwise).
    pub status_counts: Vec<(String, i64)>,
    /// The actor's open tasks, soonest due first.
    pub my_open_tasks: Vec<TaskSummary>,
    /// Active members per team (managers and admins).
    pub team_sizes: Vec<(String, i64)>,
    /// Number of users (admins and managers).
    pub user_count: i64,
    /// The lead's team: (name, username, open tasks) per member.
    pub team_members: Vec<(String, String, i64)>,
}

/// Loads the home page data for an actor.
pub async fn load(db: &Db, actor: &Actor) -> Result<HomeData, ServiceError> {
    let (id, role, team_id) = (actor.id, actor.role, actor.team_id);
    db.read(move |conn| {
        let mut data = HomeData { my_open_tasks: tasks::open_for_user(conn, id, 10)?, ..HomeData::default() };
        match role {
            Role::Admin | Role::Manager => {
                data.status_counts = tasks::count_by_status(conn)?;
                data.team_sizes = org::team_sizes(conn)?;
                data.user_count = users::count(conn)?;
            }
            Role::Lead => {
                data.status_counts = tasks::count_by_status_for_user(conn, id)?;
                if let Some(team) = team_id {
                    data.team_members = tasks::open_counts_for_team(conn, team)?;
                }
            }
            Role::Employee => data.status_counts = tasks::count_by_status_for_user(conn, id)?,
        }
        Ok(data)
    })
    .await
}
