//! The password policy (length and a list of common passwords). Hashing lives
//! in `crate::security`; this module only decides what is acceptable.

/// Minimum password length, in characters.
pub const MIN_LENGTH: usize = 10;
/// Maximum password length, in characters (bounds hashing cost).
pub const MAX_LENGTH: usize = 128;

const COMMON: &str = include_str!("common_passwords.txt");

/// Checks a new password; the error is a sentence to show next to the field.
pub fn check_policy(password: &str, username: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(format!("Password must be at least {MIN_LENGTH} characters long."));
    }
    if length > MAX_LENGTH {
        return Err(format!("Password must be at most {MAX_LENGTH} characters long."));
    }
    let lowered = password.to_lowercase();
    if COMMON.lines().any(|common| common == lowered) {
        return Err("This password is too common; choose another.".into());
    }
    if !username.is_empty() && lowered.contains(&username.to_lowercase()) {
        return Err("Password must not contain the username.".into());
    }
    if password.chars().collect::<std::collections::HashSet<_>>().len() < 4 {
        return Err("Password is too repetitive; use more different characters.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_table() {
        let cases = [
            ("short", false),
            ("password123", false),
            ("Password123", false),
            ("qwertyuiop", false),
            ("aaaaaaaaaaaa", false),
            ("alice-is-great", false),
            ("correct horse battery", true),
            ("Tr1cky-Lemur-42", true),
        ];
        for (pw, ok) in cases {
            assert_eq!(check_policy(pw, "alice").is_ok(), ok, "{pw}");
        }
        assert!(check_policy(&"x1y2".repeat(40), "bob").is_err(), "too long");
    }
}
