//! Spreadsheet exports: CSV written by the `csv` crate, every cell made
//! safe to open in a spreadsheet.

use csv::{QuoteStyle, Terminator, WriterBuilder};

/// A cell a spreadsheet shows as text: cells starting with `=`, `+`, `-`,
/// `@`, tab or carriage return get a leading apostrophe (OWASP's advice
/// against formula injection).
pub fn neutral(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}").into() } else { value.into() }
}

/// A CSV document being written: comma-separated, CRLF line ends, cells
/// neutralised and quoted as needed (RFC 4180: commas, quotes, line
/// breaks). A record with a `;` in any cell is quoted throughout, so a
/// spreadsheet that splits on semicolons (many locales do) still sees one
/// cell.
#[derive(Debug, Default)]
pub struct Csv {
    out: Vec<u8>,
}

impl Csv {
    /// A document starting with its header row.
    pub fn with_header(header: &[&str]) -> Csv {
        let mut csv = Csv::default();
        csv.row(header);
        csv
    }

    /// Appends one record.
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        let style =
            if cells.iter().any(|c| c.as_ref().contains(';')) { QuoteStyle::Always } else { QuoteStyle::Necessary };
        let mut writer = WriterBuilder::new()
            .quote_style(style)
            .terminator(Terminator::CRLF)
            .from_writer(std::mem::take(&mut self.out));
        // Writing into memory cannot fail; the buffer is taken back below.
        let _ = writer.write_record(cells.iter().map(|c| neutral(c.as_ref()).into_owned()));
        self.out = writer.into_inner().unwrap_or_default();
    }

    /// The document's text.
    pub fn finish(self) -> String {
        // Every cell came from a `&str`, so the bytes are UTF-8.
        String::from_utf8(self.out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(cells: &[&str]) -> String {
        let mut csv = Csv::default();
        csv.row(cells);
        csv.finish()
    }

    #[test]
    fn cells_cannot_become_formulas() {
        assert_eq!(one(&["=HYPERLINK(\"x\")"]), "\"'=HYPERLINK(\"\"x\"\")\"\r\n");
        assert_eq!(one(&["+1", "-2", "@SUM(A1)", "plain"]), "'+1,'-2,'@SUM(A1),plain\r\n");
        assert_eq!(one(&["a", "=b"]), "a,'=b\r\n");
    }

    #[test]
    fn separators_quotes_and_line_breaks_are_quoted() {
        assert_eq!(one(&["a,b", "c"]), "\"a,b\",c\r\n");
        assert_eq!(one(&["line\nbreak"]), "\"line\nbreak\"\r\n");
        assert_eq!(one(&["say \"hi\""]), "\"say \"\"hi\"\"\"\r\n");
        assert_eq!(one(&["2026-11-30", "x;=1+1"]), "\"2026-11-30\",\"x;=1+1\"\r\n");
        assert_eq!(one(&["x;y"]), "\"x;y\"\r\n");
    }

    #[test]
    fn a_document_is_header_then_rows() {
        let mut csv = Csv::with_header(&["date", "note"]);
        csv.row(&["2026-11-30".to_string(), "done".to_string()]);
        assert_eq!(csv.finish(), "date,note\r\n2026-11-30,done\r\n");
    }
}
