//! Display width: how many terminal columns text takes, so that the input row and the
//! status row fit the screen and the cursor lands where the terminal draws it. Wide
//! characters (CJK, most emoji) take two columns, combining marks none (`unicode-width`,
//! the tables terminals and `wcwidth` follow). Text reaching these functions has already
//! been made safe to draw, so control characters do not occur; one would count as one
//! column, as the `?` that stands for it.

use unicode_width::UnicodeWidthChar;

/// Columns `c` takes.
pub(crate) fn char_cols(c: char) -> usize {
    c.width().unwrap_or(1)
}

/// Columns `text` takes.
pub(crate) fn str_cols(text: &str) -> usize {
    text.chars().map(char_cols).sum()
}

/// The longest start of `text` that fits in `cols` columns.
pub(crate) fn prefix_within(text: &str, cols: usize) -> &str {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += char_cols(c);
        if used > cols {
            return &text[..i];
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_narrow_and_combining_characters() {
        assert_eq!(str_cols("abc"), 3);
        assert_eq!(str_cols("日本語"), 6);
        assert_eq!(str_cols("😀"), 2);
        assert_eq!(
            str_cols("e\u{301}"),
            1,
            "a combining accent takes no column"
        );
        assert_eq!(str_cols("⇄ ↑ ↓ …"), 7);
    }

    #[test]
    fn prefix_within_never_splits_a_wide_character() {
        assert_eq!(prefix_within("日本語", 5), "日本");
        assert_eq!(prefix_within("日本語", 6), "日本語");
        assert_eq!(prefix_within("a日", 2), "a");
        assert_eq!(prefix_within("abc", 0), "");
    }
}
