//! URLs inside free text (an error's description) made as safe as
//! `url.full`: no userinfo, no value of a sensitive query parameter.

use std::borrow::Cow;

use super::QueryRedaction;

impl QueryRedaction {
    /// `text` with each URL inside it (`scheme://...`, up to a blank, a
    /// quote or an angle bracket) made safe: its userinfo replaced by
    /// `REDACTED`, and the values of sensitive keys in its query and in its
    /// fragment (OAuth sends tokens there) replaced as
    /// [`redact`](Self::redact) does. This is what becomes of a client
    /// error's description (reqwest's names the URL it failed to reach).
    /// Borrowed when there is nothing to change.
    ///
    /// ```
    /// use throughline_tower::semconv::QueryRedaction;
    ///
    /// let error = "error sending request for url (https://me:pw@api.example.com/v1?id=7&token=abc#access_token=xyz)";
    /// assert_eq!(
    ///     QueryRedaction::default().redact_urls_in(error),
    ///     "error sending request for url (https://REDACTED@api.example.com/v1?id=7&token=REDACTED#access_token=REDACTED)",
    /// );
    /// ```
    pub fn redact_urls_in<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut redacted: Option<String> = None;
        let (mut copied, mut from) = (0, 0);
        while let Some(offset) = text[from..].find("://") {
            let start = from + offset + "://".len();
            let end = url_end(text, start);
            if let Cow::Owned(safe) = self.redact_after_scheme(&text[start..end]) {
                let out = redacted.get_or_insert_with(|| String::with_capacity(text.len()));
                out.push_str(&text[copied..start]);
                out.push_str(&safe);
                copied = end;
            }
            from = end;
        }
        match redacted {
            Some(mut out) => {
                out.push_str(&text[copied..]);
                Cow::Owned(out)
            }
            None => Cow::Borrowed(text),
        }
    }

    /// `url` (what follows `scheme://`) without userinfo and with its query
    /// and fragment redacted.
    fn redact_after_scheme<'u>(&self, url: &'u str) -> Cow<'u, str> {
        let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let host_start = url[..authority_end].rfind('@').map_or(0, |at| at + 1);
        let (before_fragment, fragment) = match url.find('#') {
            Some(at) if at >= authority_end => (&url[..at], Some(&url[at + 1..])),
            _ => (url, None),
        };
        let (before_query, query) = match before_fragment[authority_end..].find('?') {
            Some(at) => {
                (&before_fragment[..authority_end + at], Some(&before_fragment[authority_end + at + 1..]))
            }
            None => (before_fragment, None),
        };
        let query = query.map(|q| self.redact(q));
        let fragment = fragment.map(|f| self.redact(f));
        let changed =
            host_start > 0 || matches!(query, Some(Cow::Owned(_))) || matches!(fragment, Some(Cow::Owned(_)));
        if !changed {
            return Cow::Borrowed(url);
        }
        let mut safe = String::with_capacity(url.len());
        if host_start > 0 {
            safe.push_str(Self::REDACTED);
            safe.push('@');
        }
        safe.push_str(&before_query[host_start..]);
        if let Some(query) = query {
            safe.push('?');
            safe.push_str(&query);
        }
        if let Some(fragment) = fragment {
            safe.push('#');
            safe.push_str(&fragment);
        }
        Cow::Owned(safe)
    }
}

/// Where the URL starting at `start` ends: at a blank, a quote or an angle
/// bracket, less a closing parenthesis that closes one opened before it
/// (`(for url http://...)`).
fn url_end(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    let len = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
        .unwrap_or(rest.len());
    let url = &rest[..len];
    let len = if url.ends_with(')') && !url.contains('(') { len - 1 } else { len };
    start + len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_a_sensitive_url_is_borrowed() {
        let redaction = QueryRedaction::default();
        for text in ["connection refused", "for url (http://example.com/a?id=1)", "://"] {
            assert!(matches!(redaction.redact_urls_in(text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn every_url_in_the_text_is_made_safe() {
        let text = "retry of http://a.io/?sig=1 failed, then \"https://u@b.io?key=2\" too";
        assert_eq!(
            QueryRedaction::default().redact_urls_in(text),
            "retry of http://a.io/?sig=REDACTED failed, then \"https://REDACTED@b.io?key=REDACTED\" too"
        );
    }

    #[test]
    fn an_at_sign_in_the_path_or_query_is_no_userinfo() {
        let text = "http://example.com/users/a@b?next=c@d";
        assert_eq!(QueryRedaction::default().redact_urls_in(text), text);
    }

    #[test]
    fn a_parenthesis_inside_a_value_does_not_end_the_url() {
        assert_eq!(
            QueryRedaction::default().redact_urls_in("(url http://a.io/?token=ab)cd)"),
            "(url http://a.io/?token=REDACTED)"
        );
    }
}
