//! The four roles and what each may see.

use std::fmt;
use std::str::FromStr;

/// A user's role. Admins run the system; managers read everything and
/// assign work; a lead manages one team; employees work on their tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Full access, including users, jobs and payroll.
    Admin,
    /// Reads everything, assigns work.
    Manager,
    /// Leads one team.
    Lead,
    /// Works on their own tasks.
    Employee,
}

impl Role {
    /// Every role, in order of decreasing privilege.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Manager, Role::Lead, Role::Employee];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Lead => "lead",
            Role::Employee => "employee",
        }
    }

    /// A label for pages.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Manager => "Manager",
            Role::Lead => "Team lead",
            Role::Employee => "Employee",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown role name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown role '{0}' (expected admin, manager, lead or employee)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }
}
