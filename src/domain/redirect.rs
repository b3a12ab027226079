//! Where a form may send the browser next: a path on this site only.

/// `raw` when it is a local path, `None` otherwise. The check runs on the
/// percent-decoded text, so an encoded line break, tab or second slash is
/// caught too: one leading `/`, no `/` or `\` right after it, and no
/// control character, direction control or whitespace anywhere. A redirect is never built from
/// anything this refuses.
pub fn local_path(raw: &str) -> Option<&str> {
    let decoded = urlencoding::decode(raw).ok()?;
    let safe = |text: &str| {
        let mut chars = text.chars();
        chars.next() == Some('/')
            && !matches!(chars.next(), Some('/' | '\\'))
            && !text.chars().any(|c| c.is_whitespace() || super::text::is_bidi_control(c) || c.is_control())
    };
    (safe(raw) && safe(&decoded)).then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn local_paths_pass() {
        for path in ["/", "/tasks", "/tasks?status=DONE&page=2", "/tasks/7#trail", "/a-b/c"] {
            assert_eq!(local_path(path), Some(path), "{path}");
        }
    }

    #[test]
    fn other_hosts_and_control_characters_are_refused() {
        for path in [
            "",
            "tasks",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/%09/evil.example",
            "/\t/evil.example",
            "/%0a/x",
            "/tasks\n",
            "/tasks\r\nSet-Cookie: x=1",
            "/%2F/evil.example",
            "/%5cevil.example",
            "/a b",
            "/a%20b",
            "/%E2%80%AE",
            "/%ff",
        ] {
            assert_eq!(local_path(path), None, "{path:?}");
        }
    }
}
