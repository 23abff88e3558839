use std::cmp::Ordering;

use changeover_core::version::Version;
use proptest::prelude::*;

fn segments() -> impl Strategy<Value = Vec<(u32, usize)>> {
    // (value, extra leading zeros)
    prop::collection::vec((prop_oneof![0u32..20, any::<u32>()], 0usize..2), 1..=4)
}

fn text(segs: &[(u32, usize)], prefix: bool, suffix: Option<&str>) -> String {
    let body = segs
        .iter()
        .map(|(v, zeros)| format!("{}{v}", "0".repeat(*zeros)))
        .collect::<Vec<_>>()
        .join(".");
    format!(
        "{}{body}{}",
        if prefix { "V" } else { "" },
        suffix.map(|s| format!("-{s}")).unwrap_or_default()
    )
}

fn version() -> impl Strategy<Value = Version> {
    (
        segments(),
        any::<bool>(),
        prop::option::of(prop_oneof![Just("CE"), Just("EE")]),
    )
        .prop_map(|(s, p, x)| text(&s, p, x).parse().expect("generated versions parse"))
}

proptest! {
    #[test]
    fn parse_print_round_trips(segs in segments(), prefix in any::<bool>(), suffix in prop::option::of(prop_oneof![Just("CE"), Just("EE")])) {
        let written = text(&segs, prefix, suffix);
        let parsed: Version = written.parse().unwrap();
        let canonical = text(&segs, false, suffix);
        prop_assert_eq!(parsed.to_string(), canonical.clone());
        let again: Version = canonical.parse().unwrap();
        prop_assert_eq!(again, parsed);
    }

    #[test]
    fn order_is_antisymmetric_and_agrees_with_eq(a in version(), b in version()) {
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a.cmp(&b) == Ordering::Equal, a == b);
        prop_assert_eq!(a == b, a.to_string() == b.to_string());
    }

    #[test]
    fn order_is_transitive(a in version(), b in version(), c in version()) {
        let mut sorted = [a, b, c];
        sorted.sort();
        prop_assert!(sorted[0] <= sorted[1] && sorted[1] <= sorted[2] && sorted[0] <= sorted[2]);
    }

    #[test]
    fn order_agrees_with_numeric_segments(a in version(), b in version()) {
        let len = a.segments().len().max(b.segments().len());
        let numeric = (0..len).map(|i| a.segment(i).cmp(&b.segment(i))).find(|o| o.is_ne()).unwrap_or(Ordering::Equal);
        if numeric != Ordering::Equal {
            prop_assert_eq!(a.cmp(&b), numeric);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,20}") {
        let _ = s.parse::<Version>();
    }
}

#[test]
fn unquoted_yaml_versions_stay_text() {
    #[derive(serde::Deserialize)]
    struct Doc {
        a: Version,
        b: Version,
        c: Version,
    }
    let doc: Doc = serde_saphyr::from_str("a: 1.10\nb: 5\nc: V5.1.2.04\n").unwrap();
    assert_eq!(doc.a.to_string(), "1.10", "not the float 1.1");
    assert_eq!(doc.b.to_string(), "5");
    assert_eq!(doc.c.to_string(), "5.1.2.04");
}
