//! Rules for text people type that others will read.

/// Whether `c` changes the direction text is shown in (the Unicode bidi
/// embedding, override and isolate controls and the directional marks).
/// In a name or title they can make one thing look like another (a
/// right-to-left override turns `exe.txt` around), so such text is refused.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `text` holds a control character or a direction control.
pub fn has_hidden_controls(text: &str) -> bool {
    text.chars().any(|c| c.is_control() || is_bidi_control(c))
}

/// Up to two initials of a name, for an avatar ("Ada Novak" → "AN").
pub fn initials(name: &str) -> String {
    name.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect::<String>().to_uppercase()
}

/// Which of the avatar colours a person gets (stable per person).
pub fn avatar_colour(user_id: i64) -> i64 {
    user_id.rem_euclid(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_controls_are_found() {
        for hostile in ["invoice\u{202E}fdp.exe", "a\u{2066}b", "\u{200F}x", "x\u{061C}", "tab\there", "nul\0"] {
            assert!(has_hidden_controls(hostile), "{hostile:?}");
        }
        for fine in ["Ada Lovelace", "Zoë Müller", "محمد", "李雷", "Fix the <script> bug"] {
            assert!(!has_hidden_controls(fine), "{fine:?}");
        }
    }
}
