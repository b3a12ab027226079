//! Who may see and change what: the one place the role-scoping rules are
//! written (task access, assigning, seeing someone's presence).

use super::role::Role;

/// Who is looking at or changing a task.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    /// User id.
    pub id: i64,
    /// Role.
    pub role: Role,
    /// Team.
    pub team_id: Option<i64>,
}

/// Whether a viewer may see and update a task with these assignees (user
/// id, team id): its assignees, admins, managers, and the lead of an
/// assignee's team. Everyone else is told the task does not exist.
pub fn may_access(viewer: Viewer, assignees: &[(i64, Option<i64>)]) -> bool {
    match viewer.role {
        Role::Admin | Role::Manager => true,
        Role::Lead => assignees.iter().any(|person| may_assign(viewer, *person)),
        Role::Employee => assignees.iter().any(|(id, _)| *id == viewer.id),
    }
}

/// Whether a viewer may assign work to (or take it from) a person (user
/// id, team id): admins and managers anyone, a lead themselves and their
/// team, an employee no one.
pub fn may_assign(viewer: Viewer, (id, team): (i64, Option<i64>)) -> bool {
    match viewer.role {
        Role::Admin | Role::Manager => true,
        Role::Lead => id == viewer.id || (team.is_some() && team == viewer.team_id),
        Role::Employee => false,
    }
}

/// Whether a viewer may see a person's presence (user id, team id): their
/// own, and anyone they may assign.
pub fn sees_presence(viewer: Viewer, person: (i64, Option<i64>)) -> bool {
    person.0 == viewer.id || may_assign(viewer, person)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_follows_assignment_and_team() {
        let assignees = [(10, Some(1)), (11, Some(2))];
        let v = |id, role, team| Viewer { id, role, team_id: team };
        assert!(may_access(v(10, Role::Employee, Some(1)), &assignees));
        assert!(!may_access(v(12, Role::Employee, Some(1)), &assignees), "same team, not assigned");
        assert!(may_access(v(20, Role::Lead, Some(2)), &assignees), "lead of an assignee's team");
        assert!(!may_access(v(21, Role::Lead, Some(3)), &assignees));
        assert!(!may_access(v(22, Role::Lead, None), &[(5, None)]), "no team is not a shared team");
        assert!(may_access(v(1, Role::Admin, None), &[]));
        assert!(may_access(v(2, Role::Manager, None), &[]));
    }

    #[test]
    fn leads_assign_within_their_team() {
        let v = |id, role, team| Viewer { id, role, team_id: team };
        assert!(may_assign(v(20, Role::Lead, Some(2)), (20, None)), "themselves");
        assert!(may_assign(v(20, Role::Lead, Some(2)), (5, Some(2))));
        assert!(!may_assign(v(20, Role::Lead, Some(2)), (6, Some(3))), "another team");
        assert!(!may_assign(v(22, Role::Lead, None), (6, None)), "no team is not a shared team");
        assert!(may_assign(v(1, Role::Manager, None), (6, Some(3))));
        assert!(!may_assign(v(10, Role::Employee, Some(2)), (11, Some(2))));
    }

    #[test]
    fn presence_is_seen_by_oneself_and_whoever_may_assign() {
        let v = |id, role, team| Viewer { id, role, team_id: team };
        assert!(sees_presence(v(10, Role::Employee, Some(1)), (10, Some(1))));
        assert!(!sees_presence(v(10, Role::Employee, Some(1)), (11, Some(1))));
        assert!(sees_presence(v(20, Role::Lead, Some(1)), (11, Some(1))));
        assert!(!sees_presence(v(20, Role::Lead, Some(1)), (12, Some(2))));
        assert!(sees_presence(v(1, Role::Admin, None), (12, Some(2))));
    }
}
