//! Times on pages and fragments, in the viewer's zone: each renders as a
//! `<time>` element whose text reads naturally ("Due tomorrow 13:42",
//! "5 min ago"), whose `title` gives the exact local time on hover, and
//! whose `datetime` is the UTC instant.

use chrono::NaiveDateTime;
use chrono_tz::Tz;

use crate::domain::when;

/// A stored time, however templates hold it (by value or by reference).
pub trait Moment {
    /// The UTC time.
    fn moment(&self) -> NaiveDateTime;
}

impl Moment for NaiveDateTime {
    fn moment(&self) -> NaiveDateTime {
        *self
    }
}

impl<T: Moment + ?Sized> Moment for &T {
    fn moment(&self) -> NaiveDateTime {
        (**self).moment()
    }
}

/// How one viewer reads times: their zone, and the moment "now" means for
/// relative phrases (one moment per rendering, so a page agrees with itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// The viewer's zone.
    pub zone: Tz,
    /// Now, in UTC.
    pub now: NaiveDateTime,
}

impl Times {
    /// Times in `zone`, as of now.
    pub fn in_zone(zone: Tz) -> Times {
        Times { zone, now: crate::db::now() }
    }

    fn element(&self, at: NaiveDateTime, text: &str) -> String {
        // Every part is generated from numbers, month and zone names: no
        // markup can come through.
        format!(r#"<time datetime="{}" title="{}">{text}</time>"#, when::iso(at), when::exact(at, self.zone))
    }

    /// A due time: "Due tomorrow 13:42", or how overdue an open task is.
    pub fn due(&self, at: impl Moment, open: bool) -> String {
        let at = at.moment();
        self.element(at, &when::due(at, self.now, self.zone, open))
    }

    /// The due phrase alone, as text.
    pub fn due_text(&self, at: impl Moment, open: bool) -> String {
        when::due(at.moment(), self.now, self.zone, open)
    }

    /// A past moment: "5 min ago", "yesterday 17:40".
    pub fn ago(&self, at: impl Moment) -> String {
        let at = at.moment();
        self.element(at, &when::ago(at, self.now, self.zone))
    }

    /// A moment exactly, in the viewer's zone ("2026-12-03 13:42 CET").
    pub fn exact(&self, at: impl Moment) -> String {
        let at = at.moment();
        self.element(at, &when::exact(at, self.zone))
    }

    /// The local date ("2026-12-03").
    pub fn date(&self, at: impl Moment) -> String {
        when::date(at.moment(), self.zone)
    }

    /// The zone's name, for labels ("Times in Europe/Berlin").
    pub fn zone_name(&self) -> &'static str {
        self.zone.name()
    }
}

impl Default for Times {
    fn default() -> Self {
        Times::in_zone(chrono_tz::UTC)
    }
}
