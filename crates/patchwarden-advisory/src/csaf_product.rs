//! The CSAF product tree: product ids → package (name, EVR, arch) and platform
//! (distribution release), via `product_identification_helper` purls/CPEs and
//! `default_component_of` relationships.

use patchwarden_domain::advisory::DistroRelease;
use serde_json::Value;
use std::collections::HashMap;

const MAX_DEPTH: usize = 32;

/// What a product id resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Component {
    pub name: String,
    /// `epoch:version-release` (epoch only when the source gives one), if known.
    pub evr: Option<String>,
    /// RPM arch (`x86_64`, `noarch`, `src`), if known.
    pub arch: Option<String>,
}

#[derive(Default)]
pub(crate) struct ProductTree {
    /// product id → purl / cpe of leaf products.
    purl: HashMap<String, String>,
    cpe: HashMap<String, String>,
    /// full product id → (component id, platform id).
    rel: HashMap<String, (String, String)>,
}

impl ProductTree {
    pub fn new(tree: Option<&Value>) -> Self {
        let mut t = ProductTree::default();
        let Some(tree) = tree else { return t };
        if let Some(b) = tree.get("branches").and_then(Value::as_array) {
            for b in b {
                t.branch(b, 0);
            }
        }
        for p in tree
            .get("full_product_names")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            t.product(p);
        }
        for r in tree
            .get("relationships")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let cat = r.get("category").and_then(Value::as_str);
            if !matches!(
                cat,
                Some("default_component_of") | Some("optional_component_of")
            ) {
                continue;
            }
            let full = r
                .pointer("/full_product_name/product_id")
                .and_then(Value::as_str);
            let comp = r.get("product_reference").and_then(Value::as_str);
            let plat = r
                .get("relates_to_product_reference")
                .and_then(Value::as_str);
            if let (Some(full), Some(comp), Some(plat)) = (full, comp, plat) {
                t.rel
                    .insert(full.to_owned(), (comp.to_owned(), plat.to_owned()));
            }
        }
        t
    }

    fn branch(&mut self, b: &Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        if let Some(p) = b.get("product") {
            self.product(p);
        }
        for c in b
            .get("branches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.branch(c, depth + 1);
        }
    }

    fn product(&mut self, p: &Value) {
        let Some(id) = p.get("product_id").and_then(Value::as_str) else {
            return;
        };
        let helper = p.get("product_identification_helper");
        if let Some(purl) = helper.and_then(|h| h.get("purl")).and_then(Value::as_str) {
            self.purl.insert(id.to_owned(), purl.to_owned());
        }
        if let Some(cpe) = helper.and_then(|h| h.get("cpe")).and_then(Value::as_str) {
            self.cpe.insert(id.to_owned(), cpe.to_owned());
        }
    }

    /// Resolves a (full) product id to its platform's distribution release and the
    /// package component. `None` when it is not an RPM component of a known platform.
    pub fn resolve(&self, product_id: &str) -> Option<(DistroRelease, Component)> {
        let (comp_id, plat_id) = match self.rel.get(product_id) {
            Some((c, p)) => (c.as_str(), p.as_str()),
            // Red Hat ids look like `AppStream-9.2.0.Z.MAIN:openssl-1:3.0.7-18.el9_2.x86_64`
            // even without a relationship entry.
            None => {
                let (plat, comp) = product_id.split_once(':')?;
                (comp, plat)
            }
        };
        let distro = cpe_distro(self.cpe.get(plat_id)?)?;
        let comp = match self.purl.get(comp_id) {
            Some(purl) => rpm_purl(purl)?,
            None => nevra(comp_id)?,
        };
        Some((distro, comp))
    }
}

/// `cpe:/o:redhat:enterprise_linux:9::baseos` → rhel 9; `cpe:/a:redhat:rhel_eus:9.2`
/// → rhel 9.2 (minor-release streams stay distinct); `rhel_els:6` → rhel 6; other
/// products → (cpe product, version).
pub(crate) fn cpe_distro(cpe: &str) -> Option<DistroRelease> {
    let rest = cpe
        .strip_prefix("cpe:/")
        .or_else(|| cpe.strip_prefix("cpe:2.3:"))?;
    let parts: Vec<&str> = rest.split(':').collect();
    let (product, version) = (*parts.get(2)?, *parts.get(3)?);
    if version.is_empty() || version.len() > 16 || product.is_empty() || product.len() > 64 {
        return None;
    }
    let (eco, release) = match product {
        "enterprise_linux" | "rhel_els" => ("rhel", version.split('.').next()?),
        p if p.starts_with("rhel_") => ("rhel", version),
        p => (p, version),
    };
    Some(DistroRelease {
        ecosystem: eco.to_ascii_lowercase(),
        release: release.to_owned(),
    })
}

/// `pkg:rpm/redhat/openssl@3.0.7-18.el9_2?arch=x86_64&epoch=1` → openssl, `1:3.0.7-18.el9_2`,
/// x86_64. Non-rpm purls give `None`.
pub(crate) fn rpm_purl(purl: &str) -> Option<Component> {
    let rest = purl.strip_prefix("pkg:rpm/")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = path.split('#').next().unwrap_or(path);
    let (path, version) = match path.rsplit_once('@') {
        Some((p, v)) => (p, Some(decode(v)?)),
        None => (path, None),
    };
    let name = decode(path.rsplit('/').next()?)?;
    let mut arch = None;
    let mut epoch = None;
    for kv in query.split('&') {
        match kv.split_once('=') {
            Some(("arch", a)) => arch = Some(decode(a)?),
            Some(("epoch", e)) => epoch = Some(decode(e)?),
            _ => {}
        }
    }
    let evr = version.map(|v| match epoch.as_deref() {
        Some(e) if !e.is_empty() && !v.contains(':') => format!("{e}:{v}"),
        _ => v,
    });
    (!name.is_empty()).then_some(Component { name, evr, arch })
}

/// `openssl-1:3.0.7-18.el9_2.x86_64` → openssl, `1:3.0.7-18.el9_2`, x86_64.
pub(crate) fn nevra(s: &str) -> Option<Component> {
    let (nevr, arch) = s.rsplit_once('.')?;
    const ARCHES: [&str; 12] = [
        "x86_64", "i686", "i386", "noarch", "src", "aarch64", "ppc64le", "ppc64", "s390x", "s390",
        "ppc", "ia64",
    ];
    if !ARCHES.contains(&arch) {
        return None;
    }
    let (nev, release) = nevr.rsplit_once('-')?;
    let (name, ev) = nev.rsplit_once('-')?;
    if name.is_empty() || ev.is_empty() || release.is_empty() {
        return None;
    }
    Some(Component {
        name: name.to_owned(),
        evr: Some(format!("{ev}-{release}")),
        arch: Some(arch.to_owned()),
    })
}

/// Percent-decoding for purl segments; `None` on a bad escape or non-UTF-8 result.
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn red_hat_ids() {
        let c = rpm_purl("pkg:rpm/redhat/openssl@3.0.7-18.el9_2?arch=x86_64&epoch=1").unwrap();
        assert_eq!(
            (c.name.as_str(), c.evr.as_deref()),
            ("openssl", Some("1:3.0.7-18.el9_2"))
        );
        let c = rpm_purl("pkg:rpm/redhat/ruby@2.5.9-111.module%2Bel8.9.0?arch=i686").unwrap();
        assert_eq!(c.evr.as_deref(), Some("2.5.9-111.module+el8.9.0"));
        assert!(rpm_purl("pkg:oci/ubi9@sha256:x").is_none());
        let n = nevra("openssl-1:3.0.7-18.el9_2.x86_64").unwrap();
        assert_eq!(
            (n.name.as_str(), n.evr.as_deref()),
            ("openssl", Some("1:3.0.7-18.el9_2"))
        );
        assert_eq!(
            cpe_distro("cpe:/o:redhat:enterprise_linux:9::baseos")
                .unwrap()
                .to_string(),
            "rhel:9"
        );
        assert_eq!(
            cpe_distro("cpe:/a:redhat:rhel_eus:9.2::appstream")
                .unwrap()
                .to_string(),
            "rhel:9.2"
        );
        assert_eq!(
            cpe_distro("cpe:/o:redhat:rhel_els:6").unwrap().to_string(),
            "rhel:6"
        );
        let t = ProductTree {
            cpe: [(
                "AppStream-9.2.0.Z.MAIN".to_owned(),
                "cpe:/a:redhat:enterprise_linux:9::appstream".to_owned(),
            )]
            .into(),
            ..Default::default()
        };
        let (d, c) = t
            .resolve("AppStream-9.2.0.Z.MAIN:openssl-1:3.0.7-18.el9_2.x86_64")
            .unwrap();
        assert_eq!(
            (d.to_string(), c.arch.as_deref()),
            ("rhel:9".to_owned(), Some("x86_64"))
        );
    }
}
