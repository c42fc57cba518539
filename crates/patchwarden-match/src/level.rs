//! The level rule (PROCESS.md section 2) as data: an ordered list of conditions, the
//! first that holds decides, and EPSS may raise the result. Organisations change the
//! rule by editing data, not code.

use patchwarden_domain::advisory::{Advisory, CveEnrichment, SeverityLevel};
use patchwarden_domain::level::Level;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What is known about a finding when its level is decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Listed in CISA KEV (any of its CVEs).
    pub kev: bool,
    /// Highest CVSS base score: the distribution's, else generic (NVD/CVE) data.
    pub cvss: Option<f64>,
    pub vendor_severity: Option<SeverityLevel>,
    /// Highest EPSS probability of its CVEs.
    pub epss: Option<f64>,
}

impl Facts {
    /// What the advisory and the CVE enrichment say: CVSS from the distribution's own
    /// data when it gives any, else from generic CVE/NVD records; KEV if any CVE is
    /// listed; the highest EPSS.
    pub fn of(adv: &Advisory, enrichment: &HashMap<String, CveEnrichment>) -> Facts {
        let max = |it: &mut dyn Iterator<Item = f64>| {
            it.fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
        };
        let own = max(&mut adv.cvss.iter().map(|c| c.base_score));
        let enr: Vec<&CveEnrichment> = adv.cves().filter_map(|c| enrichment.get(c)).collect();
        let generic = max(&mut enr.iter().flat_map(|e| e.cvss.iter().map(|c| c.base_score)));
        Facts {
            kev: enr.iter().any(|e| e.kev.is_some()),
            cvss: own.or(generic),
            vendor_severity: adv.severity.as_ref().map(|s| s.level),
            epss: max(&mut enr
                .iter()
                .filter_map(|e| e.epss.as_ref().map(|x| x.probability))),
        }
    }
}

/// All the given conditions must hold (an empty condition always holds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub kev: Option<bool>,
    pub cvss_at_least: Option<f64>,
    pub vendor_severity_at_least: Option<SeverityLevel>,
    pub epss_at_least: Option<f64>,
}

impl Condition {
    fn holds(&self, f: &Facts) -> bool {
        self.kev.is_none_or(|k| k == f.kev)
            && self
                .cvss_at_least
                .is_none_or(|t| f.cvss.is_some_and(|c| c >= t))
            && self
                .vendor_severity_at_least
                .is_none_or(|t| f.vendor_severity.is_some_and(|s| s >= t))
            && self
                .epss_at_least
                .is_none_or(|t| f.epss.is_some_and(|e| e >= t))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub level: Level,
    /// Any of these conditions.
    pub any: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LevelPolicy {
    /// Tried in order; the first rule with a holding condition decides.
    pub rules: Vec<Rule>,
    /// Level when no rule holds.
    pub otherwise: Level,
    /// An EPSS probability at or above this raises the level one step (not to
    /// critical, which is reserved for exploitation seen in the wild).
    pub epss_raise_at: Option<f64>,
}

impl Default for LevelPolicy {
    fn default() -> Self {
        let c = |kev, cvss, sev| Condition {
            kev,
            cvss_at_least: cvss,
            vendor_severity_at_least: sev,
            epss_at_least: None,
        };
        Self {
            rules: vec![
                Rule {
                    level: Level::Critical,
                    any: vec![c(Some(true), None, None)],
                },
                Rule {
                    level: Level::High,
                    any: vec![
                        c(None, Some(9.0), None),
                        c(None, None, Some(SeverityLevel::Critical)),
                    ],
                },
                Rule {
                    level: Level::Medium,
                    any: vec![
                        c(None, Some(7.0), None),
                        c(None, None, Some(SeverityLevel::High)),
                    ],
                },
                Rule {
                    level: Level::Low,
                    any: vec![
                        c(None, Some(4.0), None),
                        c(None, None, Some(SeverityLevel::Medium)),
                    ],
                },
            ],
            otherwise: Level::Normal,
            epss_raise_at: Some(0.5),
        }
    }
}

impl LevelPolicy {
    pub fn level(&self, f: &Facts) -> Level {
        let base = self
            .rules
            .iter()
            .find(|r| r.any.iter().any(|c| c.holds(f)))
            .map_or(self.otherwise, |r| r.level);
        match (self.epss_raise_at, f.epss) {
            (Some(t), Some(e)) if e >= t && base < Level::High => base.raised(),
            (Some(t), Some(e)) if e >= t && base == Level::High => Level::High,
            _ => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rule() {
        let p = LevelPolicy::default();
        let f = |kev, cvss, sev, epss| Facts {
            kev,
            cvss,
            vendor_severity: sev,
            epss,
        };
        assert_eq!(p.level(&f(true, Some(3.0), None, None)), Level::Critical);
        assert_eq!(p.level(&f(false, Some(9.8), None, None)), Level::High);
        assert_eq!(
            p.level(&f(false, None, Some(SeverityLevel::High), None)),
            Level::Medium
        );
        assert_eq!(p.level(&f(false, Some(5.0), None, None)), Level::Low);
        assert_eq!(p.level(&f(false, None, None, None)), Level::Normal);
        assert_eq!(
            p.level(&f(false, Some(5.0), None, Some(0.7))),
            Level::Medium,
            "EPSS raises"
        );
        assert_eq!(
            p.level(&f(false, Some(9.5), None, Some(0.97))),
            Level::High,
            "not to critical"
        );
    }

    #[test]
    fn the_rule_is_data() {
        let json = serde_json::to_string(&LevelPolicy::default()).unwrap();
        let back: LevelPolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, LevelPolicy::default());
        let custom: LevelPolicy = serde_json::from_str(
            r#"{"rules":[{"level":"high","any":[{"epss_at_least":0.1}]}],"otherwise":"low","epss_raise_at":null}"#,
        )
        .unwrap();
        assert_eq!(
            custom.level(&Facts {
                epss: Some(0.2),
                ..Facts::default()
            }),
            Level::High
        );
        assert_eq!(custom.level(&Facts::default()), Level::Low);
        assert!(serde_json::from_str::<LevelPolicy>(
            r#"{"rules":[],"otherwise":"low","epss_raise_at":null,"x":1}"#
        )
        .is_err());
    }
}
