//! Database URLs without their secrets, for logs and error messages.

/// `url` with the password (in the user-info part, or a `password=` query parameter)
/// replaced by `***`. Text that does not parse as a URL is returned with any
/// `password=` value redacted.
pub fn redact_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let Some(i) = url.find("://") else {
        return redact_params(url);
    };
    let (head, rest) = url.split_at(i + 3);
    out.push_str(head);
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    out.push_str(&redact_params(tail));
    out
}

/// Redacts the value of every `…password=` parameter (case-insensitive), whether the
/// parameters are separated by `&` (URL query) or spaces (key/value strings).
fn redact_params(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    while let Some(found) = lower[pos..].find("password=") {
        let start = pos + found;
        let value_start = start + "password=".len();
        out.push_str(&s[pos..value_start]);
        let value_len = s[value_start..]
            .find(['&', ' ', '#', ';'])
            .unwrap_or(s.len() - value_start);
        if value_len > 0 {
            out.push_str("***");
        } else {
            out.push_str(&s[value_start..value_start + value_len]);
        }
        pos = value_start + value_len;
    }
    out.push_str(&s[pos..]);
    out
}

/// The password of `url`, if it has one, so that it can be scrubbed from driver
/// messages that might echo it.
pub(crate) fn password_of(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let pw = &userinfo[userinfo.find(':')? + 1..];
    (!pw.is_empty()).then_some(pw)
}

/// `text` with every occurrence of the URL's password replaced by `***`.
pub(crate) fn scrub(text: &str, url: &str) -> String {
    let text = redact_params(text);
    match password_of(url) {
        Some(pw) => text.replace(pw, "***"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_passwords() {
        assert_eq!(
            redact_url("postgres://pw:s3cr%40t@db.example:5432/pw?sslmode=require"),
            "postgres://pw:***@db.example:5432/pw?sslmode=require"
        );
        assert_eq!(redact_url("postgres://u:p@h/d"), "postgres://u:***@h/d");
        assert_eq!(redact_url("postgresql://u@h/d"), "postgresql://u@h/d");
        assert_eq!(
            redact_url("postgres://h/d?user=u&password=hunter2&x=1"),
            "postgres://h/d?user=u&password=***&x=1"
        );
        assert_eq!(redact_url("postgres://a:b:c@d@h/x"), "postgres://a:***@h/x");
        assert_eq!(
            redact_url("host=h password=hunter2 user=u"),
            "host=h password=*** user=u"
        );
        assert_eq!(
            redact_url("postgres://h/d?sslpassword=k"),
            "postgres://h/d?sslpassword=***"
        );
        assert_eq!(redact_url(""), "");
    }

    #[test]
    fn scrubs_echoed_passwords() {
        let url = "postgres://u:hunter2@h/d";
        assert_eq!(password_of(url), Some("hunter2"));
        assert_eq!(
            scrub("bad url postgres://u:hunter2@h/d", url),
            "bad url postgres://u:***@h/d"
        );
        assert_eq!(password_of("postgres://u@h/d"), None);
    }
}
