//! Free text that reaches the database (a citizen's feedback comment, an
//! admin's reason for an exception) is kept without the personal data
//! people type into it: Finnish identity codes, e-mail addresses and phone
//! numbers become `[removed]` before the text is stored.

use std::sync::LazyLock;

use regex::Regex;

/// What replaces each piece of personal data.
pub const REMOVED: &str = "[removed]";

static PATTERNS: LazyLock<[Regex; 3]> = LazyLock::new(|| {
    [
        // A Finnish personal identity code: DDMMYY, the century sign (incl.
        // the 2023 additions), an individual number and a check character.
        Regex::new(r"(?i)\b\d{6}[-+ABCDEFYXWVU]\d{3}[0-9A-Y]\b").expect("a valid pattern"),
        // An e-mail address.
        Regex::new(r"(?i)[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}").expect("a valid pattern"),
        // A phone number: international (+…) or national (0…), seven or
        // more digits with spaces, dashes or brackets between (a date such
        // as 2026-12-02 starts with neither).
        Regex::new(r"(?:\+|\b0)[\d\s()\-]{6,}\d").expect("a valid pattern"),
    ]
});

/// `text` with identity codes, e-mail addresses and phone numbers removed.
pub fn scrub(text: &str) -> String {
    let mut clean = text.to_owned();
    for pattern in PATTERNS.iter() {
        clean = pattern.replace_all(&clean, REMOVED).into_owned();
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_codes_addresses_and_numbers_are_removed() {
        let typed = "Maija 131052-308T (maija.testinen@example.fi, +358 40 123 4567 / 040-1234567) \
                     ja 010101A123B kävi 2.12.2026 klo 10.30, kuva pätki";
        let clean = scrub(typed);
        for gone in ["131052-308T", "010101A123B", "maija.testinen", "example.fi", "4567", "1234567"] {
            assert!(!clean.contains(gone), "{gone} in {clean}");
        }
        assert!(clean.contains("Maija") && clean.contains("kuva pätki"), "{clean}");
        assert!(clean.contains("2.12.2026 klo 10.30"), "dates and times stay: {clean}");
    }

    #[test]
    fn text_without_personal_data_is_kept_as_it_is() {
        for text in ["Kiitos, palvelu oli hyvää!", "Open 9–16 on 2026-12-24 for 30 minutes.", "Score 5/5, room 12", ""]
        {
            assert_eq!(scrub(text), text);
        }
    }
}
