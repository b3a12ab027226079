//! Paging of API lists: one parser for every `page` / `per_page` query, so
//! a bad value is the same 422 everywhere.

use crate::services::{FieldErrors, ServiceError};

/// The largest page number accepted.
pub const MAX_PAGE: i64 = 1_000_000;
/// The largest page size accepted.
pub const MAX_PER_PAGE: i64 = 200;

/// A checked page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Page number, from 1.
    pub page: i64,
    /// Items per page, 1 to [`MAX_PER_PAGE`].
    pub per_page: i64,
}

impl Paging {
    /// Parses the raw query values (absent or empty: page 1 and
    /// `default_per_page`); anything else must be a whole number in range.
    /// Both fields are checked, and every error is named.
    pub fn parse(page: Option<&str>, per_page: Option<&str>, default_per_page: i64) -> Result<Paging, ServiceError> {
        let mut errors = FieldErrors::new();
        let page = whole(page, 1, MAX_PAGE).unwrap_or_else(|e| {
            errors.insert("page", e);
            1
        });
        let per_page = whole(per_page, default_per_page, MAX_PER_PAGE).unwrap_or_else(|e| {
            errors.insert("per_page", e);
            default_per_page
        });
        if errors.is_empty() { Ok(Paging { page, per_page }) } else { Err(ServiceError::Invalid(errors)) }
    }

    /// The number of pages `total` items fill.
    pub fn pages(self, total: i64) -> i64 {
        (total + self.per_page - 1) / self.per_page
    }
}

fn whole(raw: Option<&str>, default: i64, max: i64) -> Result<i64, String> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("Must be a whole number from 1 to {max}.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(Paging::parse(None, None, 50).unwrap(), Paging { page: 1, per_page: 50 });
        assert_eq!(Paging::parse(Some("3"), Some(" 20 "), 50).unwrap(), Paging { page: 3, per_page: 20 });
        assert_eq!(Paging::parse(Some(""), Some(""), 50).unwrap(), Paging { page: 1, per_page: 50 });
        for (page, per_page) in [("-1", "10"), ("0", "10"), ("1", "0"), ("1", "100000"), ("x", "10"), ("1.5", "10")] {
            assert!(Paging::parse(Some(page), Some(per_page), 50).is_err(), "{page} {per_page}");
        }
        let Err(ServiceError::Invalid(errors)) = Paging::parse(Some("-1"), Some("0"), 50) else { panic!() };
        assert_eq!(errors.len(), 2, "both named");
        assert_eq!(Paging { page: 1, per_page: 50 }.pages(0), 0);
        assert_eq!(Paging { page: 1, per_page: 50 }.pages(101), 3);
    }
}
