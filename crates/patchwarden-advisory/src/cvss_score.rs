//! CVSS vectors to [`Cvss`] with a base score computed by the `cvss` crate (v2.0, v3.0,
//! v3.1 and v4.0 are supported by `cvss` 3.x).

use patchwarden_domain::advisory::{Cvss, CvssVersion};

/// Parses a vector and computes its base score.
///
/// For v3 the base score is used (not temporal/environmental); for v4 the score of the
/// metrics given (CVSS-B for a base vector).
pub fn score_vector(vector: &str) -> Result<Cvss, String> {
    let vector = vector.trim();
    if vector.len() > 512 {
        return Err("CVSS vector longer than 512 bytes".into());
    }
    let parsed: cvss::Cvss = vector
        .parse()
        .map_err(|e| format!("CVSS vector {vector:?} does not parse: {e}"))?;
    let (version, base_score) = match &parsed {
        cvss::Cvss::CvssV20(v) => (CvssVersion::V2, v.score().value()),
        cvss::Cvss::CvssV30(v) => (CvssVersion::V3_0, v.base_score().value()),
        cvss::Cvss::CvssV31(v) => (CvssVersion::V3_1, v.base_score().value()),
        cvss::Cvss::CvssV40(v) => (CvssVersion::V4, v.score().value()),
        _ => return Err(format!("CVSS vector {vector:?} has an unsupported version")),
    };
    Ok(Cvss {
        version,
        vector: vector.to_owned(),
        base_score,
    })
}

/// Like [`score_vector`], but when the vector cannot be parsed and the feed states a
/// score and a version, that score is kept (the vector is kept verbatim). Without a
/// usable feed score the error is returned and the caller rejects the record.
pub fn score_with_fallback(
    vector: &str,
    feed_score: Option<f64>,
    feed_version: Option<&str>,
) -> Result<Cvss, String> {
    match score_vector(vector) {
        Ok(c) => Ok(c),
        Err(e) => {
            let version = feed_version
                .and_then(version_from_str)
                .or_else(|| version_of(vector));
            match (feed_score, version) {
                (Some(s), Some(version)) if (0.0..=10.0).contains(&s) => Ok(Cvss {
                    version,
                    vector: vector.trim().to_owned(),
                    base_score: s,
                }),
                _ => Err(e),
            }
        }
    }
}

fn version_from_str(s: &str) -> Option<CvssVersion> {
    match s.trim() {
        "2.0" | "2" => Some(CvssVersion::V2),
        "3.0" => Some(CvssVersion::V3_0),
        "3.1" => Some(CvssVersion::V3_1),
        "4.0" | "4" => Some(CvssVersion::V4),
        _ => None,
    }
}

fn version_of(vector: &str) -> Option<CvssVersion> {
    let v = vector.trim();
    if v.starts_with("CVSS:3.1/") {
        Some(CvssVersion::V3_1)
    } else if v.starts_with("CVSS:3.0/") {
        Some(CvssVersion::V3_0)
    } else if v.starts_with("CVSS:4.0/") {
        Some(CvssVersion::V4)
    } else if v.starts_with("AV:") {
        Some(CvssVersion::V2)
    } else {
        None
    }
}

/// Appends `c` unless the same vector is already present.
pub(crate) fn push_unique(list: &mut Vec<Cvss>, c: Cvss) {
    if !list.iter().any(|x| x.vector == c.vector) {
        list.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores() {
        let c = score_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H").unwrap();
        assert_eq!((c.version, c.base_score), (CvssVersion::V3_1, 10.0));
        let c = score_vector("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:N/I:N/A:H").unwrap();
        assert_eq!(c.base_score, 5.3);
        let c = score_vector("AV:N/AC:L/Au:N/C:P/I:P/A:P").unwrap();
        assert_eq!((c.version, c.base_score), (CvssVersion::V2, 7.5));
        let v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
        assert_eq!(score_vector(v4).unwrap().base_score, 9.3);
        assert!(score_vector("CVSS:3.1/AV:X").is_err());
        let kept = score_with_fallback("CVSS:3.1/AV:X", Some(7.0), None).unwrap();
        assert_eq!((kept.version, kept.base_score), (CvssVersion::V3_1, 7.0));
        assert!(score_with_fallback("garbage", None, None).is_err());
    }
}
