//! Version-string generators shared by the property and oracle tests: a mix
//! of realistic shapes (`1:2.3~rc1-4+deb12u1`, `5.14.0-427.el9_4`,
//! `1.2.3_rc1-r0`) and soup built from digits, letters, `~ ^ . + - _ :`.
#![allow(dead_code)]

use patchwarden_version::{parse, Scheme};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

const DEB_FIRST: &[&str] = &["0", "1", "2", "9", "10", "01", "00", "2024"];
const DEB_UP: &[&str] = &[
    "0", "1", "2", "9", "10", "01", "007", "100", "a", "b", "z", "A", "Z", "rc", "beta", "dfsg",
    "git", "~", "~~", ".", ".", ".", "+", "~rc1", "+dfsg", "+b1", ".0", ":", "-", "+really",
];
const DEB_REV: &[&str] = &[
    "0", "1", "2", "10", "01", "a", "b", "Z", "deb12u1", "ubuntu", "~", "+", ".", "+b1", "~bpo11",
    "build", "0.1",
];
const DEB_EPOCH: &[&str] = &["", "", "", "", "0:", "1:", "2:", "10:", "01:"];

fn join(parts: Vec<&'static str>) -> String {
    parts.concat()
}

/// Realistic Debian shapes: `[e:]1.2[.3][~rc1|+dfsg][-4[+deb12u1|ubuntu0.1|~bpo11+1]]`.
fn deb_realistic() -> impl Strategy<Value = String> {
    let n = || select(&["0", "1", "2", "3", "9", "10", "12", "36", "100", "01"][..]);
    let pre = select(
        &[
            "",
            "",
            "",
            "~rc1",
            "~rc2",
            "~beta1",
            "+dfsg",
            "+dfsg1",
            "+git20240101",
            "a",
            "b",
            "~",
        ][..],
    );
    let rev = select(
        &[
            "",
            "-1",
            "-2",
            "-10",
            "-1+deb12u1",
            "-1+deb12u2",
            "-0ubuntu0.22.04.1",
            "-1~bpo11+1",
            "-3+b1",
            "-1.1",
        ][..],
    );
    (
        select(&["", "", "", "1:", "2:"][..]),
        n(),
        n(),
        prop::option::of(n()),
        pre,
        rev,
    )
        .prop_map(|(e, a, b, c, p, r)| {
            let c = c.map(|c| format!(".{c}")).unwrap_or_default();
            format!("{e}{a}.{b}{c}{p}{r}")
        })
}

/// A Debian version (valid per dpkg; invalid candidates are dropped): half
/// realistic shapes, half soup.
pub fn deb() -> impl Strategy<Value = String> {
    prop_oneof![deb_realistic(), deb_soup()]
}

fn deb_soup() -> impl Strategy<Value = String> {
    let upstream = (
        select(DEB_FIRST),
        prop::collection::vec(select(DEB_UP), 0..7),
    )
        .prop_map(|(f, r)| f.to_owned() + &join(r));
    let revision = prop::option::weighted(
        0.6,
        prop::collection::vec(select(DEB_REV), 1..5).prop_map(join),
    );
    (select(DEB_EPOCH), upstream, revision)
        .prop_map(|(e, u, r)| match r {
            Some(r) => format!("{e}{u}-{r}"),
            None => format!("{e}{u}"),
        })
        .prop_filter("valid for dpkg", |s| parse(Scheme::Deb, s).is_ok())
}

const RPM_ATOMS: &[&str] = &[
    "0", "1", "2", "9", "10", "01", "00", "123", "a", "b", "z", "A", "Z", "rc", "fc", "el",
    "el9_4", "~", "^", ".", ".", ".", "_", "+", "git", "p", "α", ":", "-", "%",
];
const RPM_EPOCH: &[&str] = &["", "", "", "", "0:", "1:", "2:", "01:", ":", "10:"];

/// Realistic EL/Fedora shapes: `[e:]5.14.0[~rc1|^git1]-427.24.1.el9_4[.1]`.
fn rpm_realistic() -> impl Strategy<Value = String> {
    let n = || select(&["0", "1", "2", "3", "9", "10", "14", "427", "01"][..]);
    let pre = select(
        &[
            "",
            "",
            "",
            "~rc1",
            "~beta",
            "^20240101git1",
            "^git1",
            "p1",
            "a",
            "b",
        ][..],
    );
    let dist = select(
        &[
            "",
            ".el9",
            ".el9_4",
            ".el8_8",
            ".el6",
            ".fc40",
            ".el7.centos",
            ".amzn2",
        ][..],
    );
    (
        select(&["", "", "", "0:", "1:", "2:"][..]),
        n(),
        n(),
        prop::option::of(n()),
        pre,
        n(),
        prop::option::of(n()),
        dist,
    )
        .prop_map(|(e, a, b, c, p, r, r2, d)| {
            let c = c.map(|c| format!(".{c}")).unwrap_or_default();
            let r2 = r2.map(|c| format!(".{c}")).unwrap_or_default();
            format!("{e}{a}.{b}{c}{p}-{r}{r2}{d}")
        })
}

/// An RPM EVR: half realistic shapes, half soup.
pub fn rpm() -> impl Strategy<Value = String> {
    prop_oneof![rpm_realistic(), rpm_soup()]
}

fn rpm_soup() -> impl Strategy<Value = String> {
    let part = |n| prop::collection::vec(select(RPM_ATOMS), 1..n).prop_map(join);
    (
        select(RPM_EPOCH),
        part(8),
        prop::option::weighted(0.6, part(5)),
    )
        .prop_map(|(e, v, r)| match r {
            Some(r) => format!("{e}{v}-{r}"),
            None => format!("{e}{v}"),
        })
        .prop_filter("valid rpm", |s| parse(Scheme::Rpm, s).is_ok())
}

const APK_NUM: &[&str] = &[
    "0", "1", "2", "9", "10", "01", "006", "123", "00", "20240101",
];
const APK_SUFFIX: &[&str] = &[
    "_alpha", "_beta", "_pre", "_rc", "_cvs", "_svn", "_git", "_hg", "_p",
];

/// An apk version following apk-tools' grammar (plus letter-numbers).
pub fn apk() -> impl Strategy<Value = String> {
    let nums = prop::collection::vec(select(APK_NUM), 0..4)
        .prop_map(|v| v.iter().map(|n| format!(".{n}")).collect::<String>());
    let letter =
        prop::option::weighted(0.3, ("[a-z]", prop::option::weighted(0.2, select(APK_NUM))));
    let suffixes = prop::collection::vec(
        (select(APK_SUFFIX), prop::option::of(select(APK_NUM))),
        0..3,
    );
    let hash = prop::option::weighted(0.15, "[0-9a-f]{1,6}");
    let rev = prop::option::weighted(0.6, select(APK_NUM));
    (select(APK_NUM), nums, letter, suffixes, hash, rev).prop_map(
        |(first, nums, letter, sufs, hash, rev)| {
            let mut s = format!("{first}{nums}");
            if let Some((l, n)) = letter {
                s += &l;
                s += n.unwrap_or("");
            }
            for (suf, n) in sufs {
                s += suf;
                s += n.unwrap_or("");
            }
            if let Some(h) = hash {
                s += "~";
                s += &h;
            }
            if let Some(r) = rev {
                s += "-r";
                s += r;
            }
            s
        },
    )
}

/// A version of `scheme`.
pub fn version(scheme: Scheme) -> BoxedStrategy<String> {
    match scheme {
        Scheme::Deb => deb().boxed(),
        Scheme::Rpm => rpm().boxed(),
        Scheme::Apk => apk().boxed(),
    }
}

/// Pairs: independent, or sharing a prefix (so most of the string is
/// compared before the difference), or one extending the other.
pub fn pair(scheme: Scheme) -> BoxedStrategy<(String, String)> {
    let v = version(scheme);
    prop_oneof![
        (v.clone(), v.clone()),
        (v.clone(), v.clone(), v.clone())
            .prop_map(move |(p, a, b)| (join_prefix(scheme, &p, &a), join_prefix(scheme, &p, &b))),
        (v.clone(), v).prop_map(move |(a, b)| {
            let ext = join_prefix(scheme, &a, &b);
            (a, ext)
        }),
    ]
    .boxed()
}

/// `p` followed by the tail of `t` (after its first character), when that is
/// still valid; otherwise `p`.
fn join_prefix(scheme: Scheme, p: &str, t: &str) -> String {
    let tail: String = t.chars().skip(1).collect();
    let s = format!("{p}{tail}");
    if parse(scheme, &s).is_ok() {
        s
    } else {
        p.to_owned()
    }
}

/// `n` pairs drawn with a fixed seed (reproducible), as proptest would.
pub fn sample_pairs(scheme: Scheme, seed: u64, n: usize) -> Vec<(String, String)> {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = pair(scheme);
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).expect("generate").current())
        .collect()
}
