//! Plain-text tables for the operations commands: left-aligned columns sized to their widest
//! cell, two spaces apart, no trailing blanks, so the output diffs and greps cleanly.

/// Lays out `rows` under `headers`; each row has one cell per header.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(
                ' ',
                width.saturating_sub(cell.chars().count()),
            ));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_lines_have_no_trailing_blanks() {
        let text = render(
            &["A", "Bee", "C"],
            &[
                vec!["long-cell".into(), "x".into(), "".into()],
                vec!["y".into(), "zz".into(), "end".into()],
            ],
        );
        assert_eq!(
            text,
            "A          Bee  C\nlong-cell  x\ny          zz   end\n"
        );
    }

    #[test]
    fn an_empty_table_is_its_header() {
        assert_eq!(render(&["Live", "Branch"], &[]), "Live  Branch\n");
    }
}
