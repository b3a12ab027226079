//! A task change as the live feed carries it: the card, its API form, and
//! its page fragments, rendered once per time zone among the viewers.

use std::sync::Arc;

use bytestring::ByteString;
use chrono::NaiveDateTime;
use chrono_tz::Tz;

use crate::http::times::Times;
use crate::services::task_views::TaskCard;
use crate::web::partials;

/// A task change: the card, its API form, and its fragments rendered
/// once per time zone among the viewers (the first socket of a zone renders
/// them, every other socket of that zone shares the bytes).
#[derive(Debug)]
pub struct TaskUpdate {
    /// The task as cards show it.
    pub card: TaskCard,
    /// The same change for API clients.
    pub json: String,
    /// Refreshed counters over all tasks, on the last update of a batch
    /// (unfiltered admin and manager monitors append them to the card, so
    /// one frame carries both).
    pub all_counters: Option<String>,
    /// "Now" for relative times in every zone's fragments.
    at: NaiveDateTime,
    by_zone: std::sync::Mutex<Vec<(Tz, Arc<Fragments>)>>,
}

/// A task change's fragments for every kind of page, in one time zone.
#[derive(Debug)]
pub struct Fragments {
    /// Monitor card, swapped in place, as a ready frame (shared by every
    /// socket, never copied).
    pub card_frame: ByteString,
    /// The card followed by the all-task counters when this update carries
    /// them (else the card alone).
    pub card_counters_frame: ByteString,
    /// Monitor card, inserted at the top of the grid.
    pub monitor_new_html: String,
    /// The board's compact card, plain (to insert into a column).
    pub board_html: String,
    /// The same, swapped in place.
    pub board_frame: ByteString,
    /// The in-place board card followed by the all-task counters.
    pub board_counters_frame: ByteString,
    /// The table's row, plain (to insert).
    pub row_html: String,
    /// The same, swapped in place.
    pub row_frame: ByteString,
    /// The in-place row followed by the all-task counters.
    pub row_counters_frame: ByteString,
    /// The live state block of My tasks and the detail page, as a frame.
    pub state_frame: ByteString,
}

impl TaskUpdate {
    /// A change of `card` as of `at` (fragments are rendered on demand).
    pub fn new(card: TaskCard, json: String, at: NaiveDateTime) -> TaskUpdate {
        TaskUpdate { card, json, all_counters: None, at, by_zone: std::sync::Mutex::default() }
    }

    /// The fragments in `zone`, rendered on the first call for that zone.
    pub fn fragments(&self, zone: Tz) -> Arc<Fragments> {
        let mut rendered = self.by_zone.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, fragments)) = rendered.iter().find(|(z, _)| *z == zone) {
            return fragments.clone();
        }
        let fragments = Arc::new(self.render(&Times { zone, now: self.at }));
        rendered.push((zone, fragments.clone()));
        fragments
    }

    fn render(&self, times: &Times) -> Fragments {
        let card = &self.card;
        let monitor_html = partials::monitor_card(card, times, Some("true"));
        let board_frame = partials::board_card(card, times, Some("true"));
        let row_frame = partials::row_frame(&partials::task_row(card, times, Some("true")));
        let counters = self.all_counters.as_deref().unwrap_or("");
        Fragments {
            card_counters_frame: ByteString::from(format!("{monitor_html}{counters}")),
            card_frame: ByteString::from(monitor_html),
            monitor_new_html: partials::insert_first("#monitor-grid", &partials::monitor_card(card, times, None)),
            board_html: partials::board_card(card, times, None),
            board_counters_frame: ByteString::from(format!("{board_frame}{counters}")),
            board_frame: ByteString::from(board_frame),
            row_html: partials::task_row(card, times, None),
            row_counters_frame: ByteString::from(format!("{row_frame}{counters}")),
            row_frame: ByteString::from(row_frame),
            state_frame: ByteString::from(partials::task_state(card, times, true)),
        }
    }
}
