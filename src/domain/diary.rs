//! Diarienummer: the registry number a submitted matter has in the municipality's diary
//! ("KS 2027/123"). Found in what people write with a submission ("inlämnad, dnr KS 2027/123")
//! or typed in a form field, and always kept in one spelling. Pure.

/// The words that may introduce a number and are not part of it.
const INTRODUCERS: [&str; 4] = ["dnr", "diarienummer", "diarienr", "nr"];

/// The first diarienummer in `text`, in its one spelling: the body's letters in upper case, a
/// space, the year, a slash and the number ("KS 2027/123", or "2027/123" without letters).
/// Links and dates are not diarienummer.
pub fn find(text: &str) -> Option<String> {
    let tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | ':'))
        .filter(|t| !t.is_empty())
        .collect();
    tokens.iter().enumerate().find_map(|(i, token)| {
        let (letters, year, number) = split(token.trim_end_matches('.'))?;
        let letters = match letters {
            "" => i
                .checked_sub(1)
                .map(|before| tokens[before])
                .filter(|word| is_body(word) && !INTRODUCERS.contains(&word.to_lowercase().as_str()))
                .unwrap_or(""),
            glued => glued,
        };
        Some(spelled(letters, year, number))
    })
}

/// A diarienummer typed in a form field: `None` when left blank, the number in its one
/// spelling, or why it is not one (in Swedish and English).
pub fn check(field: &str) -> Result<Option<String>, (&'static str, &'static str)> {
    let field = field.trim();
    if field.is_empty() {
        return Ok(None);
    }
    find(field).map(Some).ok_or((
        "Skriv diarienumret som KS 2027/123.",
        "Write the registry number as KS 2027/123.",
    ))
}

/// `token` as (letters, year, number) when it is `[LETTERS]YYYY/N` or `[LETTERS]YYYY.N`.
fn split(token: &str) -> Option<(&str, &str, &str)> {
    if token.contains("//") {
        return None;
    }
    let digits_from = token.find(|c: char| c.is_ascii_digit())?;
    let (letters, rest) = token.split_at(digits_from);
    let (year, number) = rest.split_once(['/', '.'])?;
    let year_ok = year.len() == 4 && year.starts_with(['1', '2']) && year.bytes().all(|b| b.is_ascii_digit());
    let number_ok = (1..=6).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit());
    (year_ok && number_ok && (letters.is_empty() || is_body(letters))).then_some((letters, year, number))
}

/// Whether `word` can be a body's letters: one to eight letters ("KS", "BUN", "KLK").
fn is_body(word: &str) -> bool {
    (1..=8).contains(&word.chars().count()) && word.chars().all(char::is_alphabetic)
}

fn spelled(letters: &str, year: &str, number: &str) -> String {
    let number = number.trim_start_matches('0');
    let number = if number.is_empty() { "0" } else { number };
    match letters {
        "" => format!("{year}/{number}"),
        letters => format!("{} {year}/{number}", letters.to_uppercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diarienummer_is_found_in_what_people_write_and_kept_in_one_spelling() {
        for (text, expected) in [
            ("inlämnad KS 2027/123", Some("KS 2027/123")),
            ("klar, dnr ks 2027/123", Some("KS 2027/123")),
            ("Dnr: BUN 2027.45", Some("BUN 2027/45")),
            ("submitted (KS2027/0123).", Some("KS 2027/123")),
            ("diarienummer 2027/9", Some("2027/9")),
            ("klar, se KLK 2026/1 och KS 2027/2", Some("KLK 2026/1")),
            ("Överförmyndarnämnden ÖFN 2027/3", Some("ÖFN 2027/3")),
        ] {
            assert_eq!(find(text).as_deref(), expected, "{text}");
        }
    }

    #[test]
    fn links_dates_and_amounts_are_not_diarienummer() {
        for text in [
            "inlämnad https://docs.example.org/2027/123",
            "klar till 2027-03-01",
            "klar 1/3",
            "budget 12.5",
            "ok tack",
            "",
            "KS 27/123",
            "KS 2027/1234567",
        ] {
            assert_eq!(find(text), None, "{text}");
        }
    }

    #[test]
    fn a_form_field_is_blank_a_diarienummer_or_a_clear_error() {
        assert_eq!(check("  "), Ok(None));
        assert_eq!(check(" ks 2027/123 "), Ok(Some("KS 2027/123".into())));
        assert_eq!(check("vet ej").unwrap_err().0, "Skriv diarienumret som KS 2027/123.");
    }
}
