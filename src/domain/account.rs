//! Account fields parsed once at the edge.

/// A username: 3–32 characters of lowercase letters, digits, `.`, `_`, `-`,
/// starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Normalises (trim, lowercase) and checks a username.
    pub fn parse(raw: &str) -> Result<Username, String> {
        let name = raw.trim().to_lowercase();
        if name.len() < 3 || name.len() > 32 {
            return Err("Username must be 3 to 32 characters long.".into());
        }
        let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        let all_ok = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if !first_ok || !all_ok {
            return Err(
                "Username may hold only letters, digits, '.', '_' and '-', and must start with a letter or digit."
                    .into(),
            );
        }
        Ok(Username(name))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address, checked for plausible shape only (delivery is the
/// real test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Trims and checks an address.
    pub fn parse(raw: &str) -> Result<Email, String> {
        let email = raw.trim();
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                    && email.matches('@').count() == 1
            });
        if valid { Ok(Email(email.to_string())) } else { Err("Enter a valid e-mail address.".into()) }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1–100 characters, no control or text-direction
/// characters.
pub fn parse_full_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("Full name must be 1 to 100 characters long.".into());
    }
    if super::text::has_hidden_controls(name) {
        return Err("Full name may not contain control or text-direction characters.".into());
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        let cases = [
            ("alice", Some("alice")),
            ("  Bob.Smith ", Some("bob.smith")),
            ("ab", None),
            ("_x1", None),
            ("a b c", None),
            ("<script>", None),
            ("émile", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(Username::parse(raw).ok().as_ref().map(Username::as_str), expected, "{raw}");
        }
    }

    #[test]
    fn emails() {
        assert!(Email::parse("a@example.com").is_ok());
        for bad in ["", "a", "a@b", "@b.com", "a@@b.com", "a b@c.com", "a@.com"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn full_names() {
        assert_eq!(parse_full_name("  Ada Lovelace "), Ok("Ada Lovelace".into()));
        assert!(parse_full_name("").is_err());
        assert!(parse_full_name("a\u{0}b").is_err());
        assert!(parse_full_name("Ada\u{202E}ecalevoL").is_err(), "right-to-left override");
        assert!(parse_full_name(&"x".repeat(101)).is_err());
    }
}
