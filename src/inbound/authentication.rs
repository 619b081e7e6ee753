//! Whether the municipality's own mail server vouches for an email's sender: an
//! `Authentication-Results` header (RFC 8601) that the trusted `authserv-id` added, showing
//! `dmarc=pass` for the From domain or a `dkim=pass` whose signing domain is aligned with it.
//!
//! Only the topmost header carrying the trusted id counts: the border server adds its own
//! on top (and must remove any that arrived carrying its id, as RFC 8601 §5 requires), so a
//! header a sender forged lies below it.

/// Whether the first `Authentication-Results` among `headers` (raw values, top first) that
/// `trusted` added shows a pass aligned with `from_domain`.
pub fn vouched<'a>(headers: impl IntoIterator<Item = &'a str>, trusted: &str, from_domain: &str) -> bool {
    if trusted.is_empty() || from_domain.is_empty() {
        return false;
    }
    let Some(results) = headers
        .into_iter()
        .map(|value| without_comments(&unfold(value)))
        .find(|value| authserv_id(value).is_some_and(|id| id.eq_ignore_ascii_case(trusted)))
    else {
        return false;
    };
    results
        .split(';')
        .skip(1)
        .any(|result| passes_aligned(result, from_domain))
}

/// The header's authserv-id: what comes before the first `;` (an optional version after it).
fn authserv_id(value: &str) -> Option<&str> {
    value.split(';').next()?.split_whitespace().next()
}

/// Whether one `method=result prop=value…` statement is a dmarc or dkim pass for `from_domain`.
fn passes_aligned(result: &str, from_domain: &str) -> bool {
    let mut words = result.split_whitespace();
    let Some((method, outcome)) = words.next().and_then(|w| w.split_once('=')) else {
        return false;
    };
    let method = method.split('/').next().unwrap_or_default().to_ascii_lowercase();
    if !outcome.eq_ignore_ascii_case("pass") {
        return false;
    }
    let property = |name: &str| {
        result
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim_matches('"').to_ascii_lowercase())
    };
    match method.as_str() {
        "dmarc" => property("header.from").is_some_and(|domain| domain.eq_ignore_ascii_case(from_domain)),
        "dkim" => property("header.d").is_some_and(|signer| aligned(&signer, from_domain)),
        _ => false,
    }
}

/// Relaxed DKIM alignment (RFC 7489 §3.1.1): the signing domain is the From domain or a parent
/// of it, never a bare top-level domain.
fn aligned(signer: &str, from_domain: &str) -> bool {
    let from = from_domain.to_ascii_lowercase();
    signer.contains('.') && (from == signer || from.ends_with(&format!(".{signer}")))
}

/// Folded header lines as one.
fn unfold(value: &str) -> String {
    value.split(['\r', '\n']).collect::<Vec<_>>().join(" ")
}

/// `value` without its parenthesised comments (which may nest).
fn without_comments(value: &str) -> String {
    let mut depth = 0usize;
    value
        .chars()
        .filter(|&c| match c {
            '(' => {
                depth += 1;
                false
            }
            ')' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::vouched;

    const TRUSTED: &str = "mx.kommun.se";

    #[test]
    fn a_pass_from_the_trusted_server_for_the_from_domain_vouches() {
        for header in [
            " mx.kommun.se; dmarc=pass (p=reject) header.from=kommun.se",
            " mx.kommun.se 1; spf=fail smtp.mailfrom=x.example;\r\n dmarc=pass header.from=kommun.se",
            " MX.kommun.se; dkim=pass (2048-bit key) header.d=kommun.se header.s=sel1",
            " mx.kommun.se; dkim=pass header.d=kommun.se; dmarc=fail header.from=kommun.se",
        ] {
            assert!(vouched([header], TRUSTED, "kommun.se"), "{header}");
        }
        assert!(
            vouched(
                [" mx.kommun.se; dkim=pass header.d=kommun.se"],
                TRUSTED,
                "tekniska.kommun.se"
            ),
            "a parent domain's signature is aligned"
        );
    }

    #[test]
    fn anything_else_does_not() {
        for header in [
            " mx.kommun.se; dmarc=fail header.from=kommun.se",
            " mx.kommun.se; dmarc=pass header.from=evil.example",
            " mx.kommun.se; dkim=pass header.d=evil.example",
            " mx.kommun.se; dkim=pass header.d=se",
            " mx.kommun.se; dkim=pass header.d=kommun.se.evil.example",
            " mx.kommun.se; spf=pass smtp.mailfrom=kommun.se",
            " mx.kommun.se; dmarc=pass",
            " mx.kommun.se; (dmarc=pass header.from=kommun.se) dmarc=none",
            " other.example; dmarc=pass header.from=kommun.se",
            " mx.kommun.se.evil.example; dmarc=pass header.from=kommun.se",
            "",
            ";;;=",
        ] {
            assert!(!vouched([header], TRUSTED, "kommun.se"), "{header}");
        }
        assert!(!vouched(
            [" mx.kommun.se; dmarc=pass header.from=kommun.se"],
            "",
            "kommun.se"
        ));
    }

    #[test]
    fn only_the_topmost_header_of_the_trusted_server_counts() {
        let ours = " mx.kommun.se; dmarc=fail header.from=kommun.se";
        let forged = " mx.kommun.se; dmarc=pass header.from=kommun.se";
        assert!(!vouched([ours, forged], TRUSTED, "kommun.se"));
        let elsewhere = " relay.example; dmarc=fail header.from=kommun.se";
        assert!(vouched([elsewhere, forged], TRUSTED, "kommun.se"));
    }
}
