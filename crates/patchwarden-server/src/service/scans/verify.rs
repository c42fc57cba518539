//! The verdict of a credentialed local check against the asset's own inventory.

use patchwarden_scanner::{LocalCheck, Severity};
use patchwarden_store::{ScanSeverity, ScanVerdict};
use patchwarden_version::Scheme;
use std::collections::HashMap;

/// The scanner's fixed version as it compares with the installed `have`. Nessus' rpm
/// checks print versions without the epoch and compare them so: an rpm fix without
/// an epoch takes the installed version's (`dhclient 12:4.1.1-31.P1.el6` against the
/// fix `4.1.1-31.P1.el6_3.1`). Elsewhere a missing epoch is 0, as dpkg reads it.
fn fixed_for(scheme: Scheme, fixed: &str, have: &str) -> String {
    match (scheme, fixed.contains(':'), have.split_once(':')) {
        (Scheme::Rpm, false, Some((epoch, _))) => format!("{epoch}:{fixed}"),
        _ => fixed.to_owned(),
    }
}

pub(super) fn severity(s: Severity) -> ScanSeverity {
    match s {
        Severity::Info => ScanSeverity::Info,
        Severity::Low => ScanSeverity::Low,
        Severity::Medium => ScanSeverity::Medium,
        Severity::High => ScanSeverity::High,
        Severity::Critical => ScanSeverity::Critical,
    }
}

/// What one host's local checks are compared with.
pub(super) struct Check<'a> {
    pub scheme: Option<Scheme>,
    /// Installed versions by package name; `None` without an inventory.
    pub versions: Option<&'a HashMap<&'a str, Vec<&'a str>>>,
    /// The inventory is the report's own package list.
    pub from_report: bool,
}

impl Check<'_> {
    pub fn verdict(&self, lc: &LocalCheck) -> (ScanVerdict, String) {
        let says = format!(
            "scanner says {} {} < {}",
            lc.package, lc.installed, lc.fixed
        );
        let done = |v: ScanVerdict, why: String| (v, format!("{says}; {why} → {v}"));
        let Some(versions) = self.versions else {
            return done(
                ScanVerdict::Unverified,
                "no inventory for this asset".into(),
            );
        };
        let inv = if self.from_report {
            "inventory (this report's package list)"
        } else {
            "inventory"
        };
        let Some(scheme) = self.scheme else {
            return done(ScanVerdict::Unverified, "unknown version scheme".into());
        };
        if let Err(e) = patchwarden_version::parse(scheme, &lc.fixed) {
            return done(ScanVerdict::Unverified, format!("cannot compare: {e}"));
        }
        let Some(have) = versions.get(lc.package.as_str()) else {
            return done(
                ScanVerdict::Contradicted,
                format!("{inv} has no {}", lc.package),
            );
        };
        let mut older = false;
        for v in have {
            let pair = patchwarden_version::parse(scheme, v).and_then(|installed| {
                let fixed = patchwarden_version::parse(scheme, &fixed_for(scheme, &lc.fixed, v))?;
                Ok(installed.compare(&fixed))
            });
            match pair {
                Ok(order) => older |= order == Some(std::cmp::Ordering::Less),
                Err(e) => return done(ScanVerdict::Unverified, format!("cannot compare: {e}")),
            }
        }
        let verdict = if older {
            ScanVerdict::Confirmed
        } else {
            ScanVerdict::Contradicted
        };
        done(verdict, format!("{inv} has {}", have.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lc(p: &str, i: &str, f: &str) -> LocalCheck {
        LocalCheck {
            package: p.into(),
            installed: i.into(),
            fixed: f.into(),
        }
    }

    #[test]
    fn verdicts_with_evidence() {
        let mut inv: HashMap<&str, Vec<&str>> = HashMap::new();
        inv.insert("openssl", vec!["1.0.1e-16.el6"]);
        inv.insert("kernel", vec!["2.6.32-279.el6", "2.6.32-431.el6"]);
        inv.insert("bash", vec!["not a version!"]);
        let check = Check {
            scheme: Some(Scheme::Rpm),
            versions: Some(&inv),
            from_report: false,
        };
        let ssl = lc("openssl", "1.0.0-20.el6_2.5", "1.0.1e-15.el6");
        assert_eq!(
            check.verdict(&ssl),
            (
                ScanVerdict::Contradicted,
                "scanner says openssl 1.0.0-20.el6_2.5 < 1.0.1e-15.el6; inventory has 1.0.1e-16.el6 → contradicted".into()
            )
        );
        // One installed kernel is still older than the fix.
        let k = check.verdict(&lc("kernel", "2.6.32-279.el6", "2.6.32-358.el6"));
        assert_eq!(k.0, ScanVerdict::Confirmed);
        assert!(
            k.1.ends_with("inventory has 2.6.32-279.el6, 2.6.32-431.el6 → confirmed"),
            "{}",
            k.1
        );
        let gone = check.verdict(&lc("pixman", "0.26.2-5.el6_4", "0.26.2-5.1.el6_5"));
        assert_eq!(gone.0, ScanVerdict::Contradicted);
        assert!(
            gone.1.ends_with("inventory has no pixman → contradicted"),
            "{}",
            gone.1
        );
        assert_eq!(
            check.verdict(&lc("bash", "4.1-1", "4.1-2")).0,
            ScanVerdict::Unverified
        );
        // An rpm fix without an epoch takes the installed one (Nessus drops epochs) ...
        let mut e: HashMap<&str, Vec<&str>> = HashMap::new();
        e.insert("dhclient", vec!["12:4.1.1-31.P1.el6"]);
        e.insert("ntp", vec!["1:0.9-1"]);
        let ce = Check {
            versions: Some(&e),
            ..check
        };
        let dh = lc("dhclient", "4.1.1-31.P1.el6", "4.1.1-31.P1.el6_3.1");
        assert_eq!(ce.verdict(&dh).0, ScanVerdict::Confirmed);
        // ... an explicit one counts.
        assert_eq!(
            ce.verdict(&lc("ntp", "0.8-1", "0:1.0-1")).0,
            ScanVerdict::Contradicted
        );
        assert_eq!(
            ce.verdict(&lc("ntp", "0.8-1", "2:0.1-1")).0,
            ScanVerdict::Confirmed
        );
        // dpkg reads a missing epoch as 0.
        let deb = Check {
            scheme: Some(Scheme::Deb),
            ..ce
        };
        assert_eq!(
            deb.verdict(&lc("ntp", "0.8-1", "1.0-1")).0,
            ScanVerdict::Contradicted
        );
        let none = Check {
            scheme: Some(Scheme::Rpm),
            versions: None,
            from_report: false,
        };
        let u = none.verdict(&ssl);
        assert_eq!(u.0, ScanVerdict::Unverified);
        assert!(
            u.1.ends_with("no inventory for this asset → unverified"),
            "{}",
            u.1
        );
        let unknown = Check {
            scheme: None,
            versions: Some(&inv),
            from_report: true,
        };
        assert_eq!(unknown.verdict(&ssl).0, ScanVerdict::Unverified);
    }
}
