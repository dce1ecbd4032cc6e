//! The shapes of AWS identifiers and names: regions, ARNs, AMI ids, instance types, DNS and
//! bucket names, tags.
//!
//! These are checked offline so a typo fails `ce validate` in milliseconds instead of a
//! CloudFormation rollback minutes into a deploy. They follow AWS's documented rules, not
//! a list of what exists today, so new regions and instance families pass without a release.

/// Directions AWS region codes use (`us-east-1`, `ap-northeast-3`, `cn-northwest-1`).
const DIRECTIONS: &[&str] = &[
    "north",
    "south",
    "east",
    "west",
    "central",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
];

/// An AWS region code: an area (`us`, `us-gov`, `eusc-de`), a direction and a number.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [area @ .., direction, number] = parts.as_slice() else {
        return false;
    };
    let area_ok = matches!(area.len(), 1 | 2)
        && (2..=4).contains(&area[0].len())
        && area
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && is_lower_alpha(p));
    let number_ok = matches!(number.len(), 1 | 2)
        && number.bytes().all(|b| b.is_ascii_digit())
        && !number.starts_with('0');
    area_ok && DIRECTIONS.contains(direction) && number_ok
}

/// An account id: exactly twelve digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The parts of an ACM certificate ARN
/// (`arn:aws:acm:<region>:<account>:certificate/<uuid>`).
#[derive(Debug, PartialEq, Eq)]
pub struct AcmArn<'a> {
    /// The certificate's region.
    pub region: &'a str,
    /// The account that owns it.
    pub account: &'a str,
}

/// Splits an ACM certificate ARN, or `None` when it is not one.
pub fn acm_arn(s: &str) -> Option<AcmArn<'_>> {
    let mut parts = s.splitn(6, ':');
    let (arn, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let id = resource.strip_prefix("certificate/")?;
    let ok = arn == "arn"
        && matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
        && service == "acm"
        && is_region(region)
        && is_account_id(account)
        && is_uuid(id);
    ok.then_some(AcmArn { region, account })
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| {
            g.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// An AMI id: `ami-` and 8 or 17 lowercase hex digits.
pub fn is_ami_id(s: &str) -> bool {
    s.strip_prefix("ami-").is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// An EC2 instance type: `family.size`, e.g. `m5.large`, `m7i-flex.2xlarge`, `c7i.metal-24xl`.
pub fn is_instance_type(s: &str) -> bool {
    let Some((family, size)) = s.split_once('.') else {
        return false;
    };
    let word = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !w.starts_with('-')
            && !w.ends_with('-')
    };
    family.starts_with(|c: char| c.is_ascii_lowercase()) && word(family) && word(size)
}

/// A lowercase DNS name of at least two labels, with an optional leading `*.` wildcard.
pub fn is_dns_name(s: &str) -> bool {
    let name = s.strip_prefix("*.").unwrap_or(s);
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let tld_ok = labels
        .last()
        .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_lowercase()));
    name.len() <= 253 && labels.len() >= 2 && labels.iter().all(label_ok) && tld_ok
}

/// An email address, loosely: something, `@`, a DNS name. SNS confirms the rest.
pub fn is_email(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !local.chars().any(|c| c.is_whitespace() || c == '@')
                && is_dns_name(&domain.to_ascii_lowercase())
                && !domain.starts_with("*.")
        }
        None => false,
    }
}

/// Why a name is not a valid S3 bucket name, or `None` when it is one.
pub fn bucket_name_problem(s: &str) -> Option<&'static str> {
    const BAD_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];
    const BAD_SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    let ok_chars = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !(3..=63).contains(&s.len()) {
        Some("must be 3-63 characters long")
    } else if !ok_chars {
        Some("may hold only lowercase letters, digits, hyphens and dots")
    } else if !s.starts_with(alnum) || !s.ends_with(alnum) {
        Some("must start and end with a lowercase letter or digit")
    } else if s.contains("..") {
        Some("must not contain two dots in a row")
    } else if s.parse::<std::net::Ipv4Addr>().is_ok() {
        Some("must not look like an IP address")
    } else if BAD_PREFIXES.iter().any(|p| s.starts_with(p)) {
        Some("must not start with a prefix S3 reserves (xn--, sthree-, amzn-s3-demo-)")
    } else if BAD_SUFFIXES.iter().any(|p| s.ends_with(p)) {
        Some(
            "must not end with a suffix S3 reserves (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3)",
        )
    } else {
        None
    }
}

/// Characters AWS allows in tag keys and values: letters, digits, spaces and `_ . : / = + - @`.
pub fn is_tag_text(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

fn is_lower_alpha(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes_of_every_partition_pass() {
        for r in [
            "us-east-1",
            "eu-west-2",
            "ap-southeast-1",
            "us-gov-west-1",
            "cn-northwest-1",
            "me-central-1",
            "us-isob-east-1",
            "eusc-de-east-1",
        ] {
            assert!(is_region(r), "{r}");
        }
    }

    #[test]
    fn malformed_region_codes_fail() {
        for r in [
            "",
            "us-east",
            "us-east1",
            "US-EAST-1",
            "us-middle-1",
            "us-east-01",
            "useast-1",
            "virginia",
        ] {
            assert!(!is_region(r), "{r}");
        }
    }

    #[test]
    fn acm_arns_split_into_region_and_account() {
        let arn =
            "arn:aws:acm:eu-west-1:123456789012:certificate/6d1e0c9a-31c5-4be6-9a0e-2f1b8c0d4e71";
        assert_eq!(
            acm_arn(arn),
            Some(AcmArn {
                region: "eu-west-1",
                account: "123456789012"
            })
        );
        assert_eq!(
            acm_arn("arn:aws:iam::123456789012:server-certificate/x"),
            None
        );
        assert_eq!(
            acm_arn("arn:aws:acm:us-east-1:12345:certificate/6d1e0c9a-31c5-4be6-9a0e-2f1b8c0d4e71"),
            None
        );
    }

    #[test]
    fn ami_ids_have_8_or_17_hex_digits() {
        assert!(is_ami_id("ami-0f2092af088f26ebc"));
        assert!(is_ami_id("ami-12345678"));
        assert!(!is_ami_id("ami-123456789"));
        assert!(!is_ami_id("ami-0F2092AF088F26EBC"));
        assert!(!is_ami_id("0f2092af088f26ebc"));
    }

    #[test]
    fn instance_types_are_family_dot_size() {
        for t in [
            "m5.large",
            "m7i-flex.large",
            "c7i.metal-24xl",
            "t3.2xlarge",
            "u-6tb1.metal",
        ] {
            assert!(is_instance_type(t), "{t}");
        }
        for t in ["m5", "m5.", ".large", "M5.large", "m5.large.x", "5m.large"] {
            assert!(!is_instance_type(t), "{t}");
        }
    }

    #[test]
    fn dns_names_allow_one_leading_wildcard() {
        assert!(is_dns_name("godbolt.org"));
        assert!(is_dns_name("*.godbolt.org"));
        assert!(!is_dns_name("godbolt"));
        assert!(!is_dns_name("a.*.godbolt.org"));
        assert!(!is_dns_name("-a.org"));
        assert!(!is_dns_name("Godbolt.org"));
        assert!(!is_dns_name("1.2.3.4"));
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert_eq!(bucket_name_problem("compiler-explorer-prod-builds"), None);
        assert_eq!(bucket_name_problem("logs.example.com"), None);
        for bad in [
            "ab",
            "Upper",
            "-start",
            "end-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "thing-s3alias",
            "under_score",
        ] {
            assert!(bucket_name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert!(is_email("alerts@compiler-explorer.com"));
        assert!(is_email("Ops.Team+ce@Example.COM"));
        assert!(!is_email("alerts"));
        assert!(!is_email("@example.com"));
        assert!(!is_email("a b@example.com"));
        assert!(!is_email("alerts@localhost"));
    }
}
