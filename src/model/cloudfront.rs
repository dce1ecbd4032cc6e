//! `AWS::CloudFront::*` resource types: the distribution in front of the site, the origin access
//! control that lets it read the private static bucket, and the app's cache policy.
//!
//! CloudFront's property names are irregular (`IPV6Enabled`, `HTTPPort`, `OriginSSLProtocols`,
//! `MinTTL`), so those fields carry explicit renames; the enums hold the few values each
//! setting accepts, spelt as CloudFormation spells them.

use serde::Serialize;

use super::{Expr, ResourceProperties, Tag};

/// Every method CloudFront can forward (the app takes POSTs).
pub const ALL_METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
/// Read-only methods: the only ones CloudFront caches by default.
pub const GET_HEAD: [&str; 2] = ["GET", "HEAD"];

/// AWS managed cache policy `CachingOptimized`: long TTLs, no cookies/headers/query strings in
/// the key, gzip and brotli.
pub const CACHING_OPTIMIZED_POLICY_ID: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

/// `AWS::CloudFront::Distribution`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Distribution {
    /// The distribution's settings.
    pub distribution_config: DistributionConfig,
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
impl ResourceProperties for Distribution {
    const TYPE: &'static str = "AWS::CloudFront::Distribution";
}

/// `DistributionConfig`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DistributionConfig {
    /// Alternate domain names (CNAMEs) the distribution answers for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<Expr>,
    /// Path-specific behaviours, matched in order before the default.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache_behaviors: Vec<CacheBehavior>,
    /// Free text shown in the console (at most 128 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Error pages served instead of origin errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_error_responses: Vec<CustomErrorResponse>,
    /// The behaviour for paths no ordered behaviour matches.
    pub default_cache_behavior: DefaultCacheBehavior,
    /// Whether the distribution serves requests.
    pub enabled: bool,
    /// Highest HTTP version offered to viewers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_version: Option<HttpVersion>,
    /// Whether viewers may connect over IPv6.
    #[serde(rename = "IPV6Enabled", skip_serializing_if = "Option::is_none")]
    pub ipv6_enabled: Option<bool>,
    /// Standard access logs to S3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// Where requests go.
    pub origins: Vec<Origin>,
    /// Which edge locations serve (`PriceClass_All`, `PriceClass_200`, `PriceClass_100`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_class: Option<String>,
    /// Geographic restrictions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restrictions: Option<Restrictions>,
    /// TLS certificate and protocol floor for viewers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer_certificate: Option<ViewerCertificate>,
    /// ARN of the WAFv2 web ACL (CLOUDFRONT scope) every request passes first.
    #[serde(rename = "WebACLId", skip_serializing_if = "Option::is_none")]
    pub web_acl_id: Option<Expr>,
}

/// `HttpVersion` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum HttpVersion {
    /// HTTP/1.1 only.
    #[serde(rename = "http1.1")]
    Http1_1,
    /// HTTP/2 and below.
    #[serde(rename = "http2")]
    Http2,
    /// HTTP/3 and below.
    #[serde(rename = "http3")]
    Http3,
    /// HTTP/2 and HTTP/3.
    #[serde(rename = "http2and3")]
    Http2And3,
}

/// One origin of a distribution: exactly one of the two origin configs is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Origin {
    /// Settings of a non-S3 (HTTP) origin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_origin_config: Option<CustomOriginConfig>,
    /// Host name CloudFront connects to.
    pub domain_name: Expr,
    /// Id that behaviours name in `TargetOriginId`.
    pub id: String,
    /// Origin access control that signs requests to an S3 origin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_access_control_id: Option<Expr>,
    /// Headers CloudFront adds to every request it sends this origin.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub origin_custom_headers: Vec<OriginCustomHeader>,
    /// Settings of an S3 bucket origin.
    #[serde(rename = "S3OriginConfig", skip_serializing_if = "Option::is_none")]
    pub s3_origin_config: Option<S3OriginConfig>,
}

/// One header of `OriginCustomHeaders`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginCustomHeader {
    /// Header name.
    pub header_name: String,
    /// Header value (a dynamic reference for a secret).
    pub header_value: Expr,
}

/// `CustomOriginConfig`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomOriginConfig {
    /// HTTP port of the origin.
    #[serde(rename = "HTTPPort", skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
    /// HTTPS port of the origin.
    #[serde(rename = "HTTPSPort", skip_serializing_if = "Option::is_none")]
    pub https_port: Option<u16>,
    /// Seconds an idle origin connection is kept open (1-60).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_keepalive_timeout: Option<u32>,
    /// Protocol CloudFront uses to the origin.
    pub origin_protocol_policy: OriginProtocolPolicy,
    /// Seconds CloudFront waits for a response (1-60 without a quota increase).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_read_timeout: Option<u32>,
    /// TLS versions CloudFront offers the origin (`TLSv1.2`, …).
    #[serde(rename = "OriginSSLProtocols", skip_serializing_if = "Vec::is_empty")]
    pub origin_ssl_protocols: Vec<String>,
}

/// `OriginProtocolPolicy` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OriginProtocolPolicy {
    /// Always HTTP.
    HttpOnly,
    /// The viewer's protocol.
    MatchViewer,
    /// Always HTTPS.
    HttpsOnly,
}

/// `S3OriginConfig`. With an origin access control the identity must be present and empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3OriginConfig {
    /// Legacy origin access identity; `""` when an origin access control is used instead.
    pub origin_access_identity: String,
}

/// `DefaultCacheBehavior`: what every behaviour has.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DefaultCacheBehavior {
    /// Methods CloudFront forwards.
    pub allowed_methods: Vec<String>,
    /// Cache policy (cache key and TTLs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_policy_id: Option<Expr>,
    /// Methods whose responses are cached (a subset of the allowed ones).
    pub cached_methods: Vec<String>,
    /// Whether CloudFront compresses responses itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compress: Option<bool>,
    /// Origin request policy (what is forwarded beyond the cache key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_request_policy_id: Option<Expr>,
    /// `Id` of the origin requests go to.
    pub target_origin_id: String,
    /// What viewers on plain HTTP get.
    pub viewer_protocol_policy: ViewerProtocolPolicy,
}

/// `CacheBehavior`: a behaviour for one path pattern.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CacheBehavior {
    /// Path pattern, e.g. `static/*`.
    pub path_pattern: String,
    /// The behaviour's settings.
    #[serde(flatten)]
    pub behavior: DefaultCacheBehavior,
}

/// `ViewerProtocolPolicy` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViewerProtocolPolicy {
    /// HTTP and HTTPS.
    AllowAll,
    /// HTTPS only; HTTP gets 403.
    HttpsOnly,
    /// HTTP gets a 301 to HTTPS.
    RedirectToHttps,
}

/// `Logging`: standard access logs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Logging {
    /// Bucket domain, `<bucket>.s3.amazonaws.com`.
    pub bucket: Expr,
    /// Whether cookies are logged.
    pub include_cookies: bool,
    /// Key prefix of the log files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// `Restrictions`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Restrictions {
    /// Country-based restriction.
    pub geo_restriction: GeoRestriction,
}

/// `GeoRestriction`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GeoRestriction {
    /// ISO 3166-1 alpha-2 country codes (empty with `none`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
    /// Deny-list, allow-list or none.
    pub restriction_type: RestrictionType,
}

impl GeoRestriction {
    /// Denies the given countries; no restriction when the list is empty.
    pub fn deny(countries: &[String]) -> Self {
        GeoRestriction {
            restriction_type: if countries.is_empty() {
                RestrictionType::None
            } else {
                RestrictionType::Blacklist
            },
            locations: countries.to_vec(),
        }
    }
}

/// `RestrictionType` values (CloudFront's own words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RestrictionType {
    /// The listed countries are denied.
    Blacklist,
    /// Only the listed countries are served.
    Whitelist,
    /// Everyone is served.
    None,
}

/// `ViewerCertificate`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ViewerCertificate {
    /// ACM certificate (in us-east-1) covering the aliases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acm_certificate_arn: Option<Expr>,
    /// Lowest TLS version offered to viewers, e.g. `TLSv1.2_2021`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_protocol_version: Option<String>,
    /// How viewers without SNI are served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_support_method: Option<SslSupportMethod>,
}

/// `SslSupportMethod` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslSupportMethod {
    /// SNI clients only (no extra charge).
    SniOnly,
    /// Dedicated IPs for non-SNI clients (expensive).
    Vip,
}

/// `CustomErrorResponse`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomErrorResponse {
    /// Seconds CloudFront caches the error before asking the origin again.
    #[serde(rename = "ErrorCachingMinTTL", skip_serializing_if = "Option::is_none")]
    pub error_caching_min_ttl: Option<u32>,
    /// The origin's HTTP status this applies to.
    pub error_code: u16,
    /// Status returned to the viewer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_code: Option<u16>,
    /// Page served instead, a path some behaviour routes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_page_path: Option<String>,
}

/// `AWS::CloudFront::OriginAccessControl`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginAccessControl {
    /// The control's settings.
    pub origin_access_control_config: OriginAccessControlConfig,
}
impl ResourceProperties for OriginAccessControl {
    const TYPE: &'static str = "AWS::CloudFront::OriginAccessControl";
}

/// `OriginAccessControlConfig`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OriginAccessControlConfig {
    /// What it is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Account-unique name (at most 64 characters).
    pub name: String,
    /// Kind of origin it signs for.
    pub origin_access_control_origin_type: OacOriginType,
    /// When requests are signed.
    pub signing_behavior: SigningBehavior,
    /// Signing protocol.
    pub signing_protocol: SigningProtocol,
}

impl OriginAccessControlConfig {
    /// Signs every request to an S3 origin with SigV4: the bucket can stay private.
    pub fn s3(name: impl Into<String>, description: impl Into<String>) -> Self {
        OriginAccessControlConfig {
            description: Some(description.into()),
            name: name.into(),
            origin_access_control_origin_type: OacOriginType::S3,
            signing_behavior: SigningBehavior::Always,
            signing_protocol: SigningProtocol::Sigv4,
        }
    }
}

/// `OriginAccessControlOriginType` values used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OacOriginType {
    /// An S3 bucket.
    S3,
}

/// `SigningBehavior` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigningBehavior {
    /// Sign every request (overriding a viewer's `Authorization`).
    Always,
    /// Never sign.
    Never,
    /// Sign only when the viewer sent no `Authorization`.
    NoOverride,
}

/// `SigningProtocol` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningProtocol {
    /// AWS Signature Version 4.
    Sigv4,
}

/// `AWS::CloudFront::CachePolicy`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CachePolicy {
    /// The policy's settings.
    pub cache_policy_config: CachePolicyConfig,
}
impl ResourceProperties for CachePolicy {
    const TYPE: &'static str = "AWS::CloudFront::CachePolicy";
}

/// `CachePolicyConfig`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CachePolicyConfig {
    /// What it is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// TTL in seconds when the origin sends no `Cache-Control`/`Expires`.
    #[serde(rename = "DefaultTTL")]
    pub default_ttl: u32,
    /// Longest TTL in seconds, whatever the origin says.
    #[serde(rename = "MaxTTL")]
    pub max_ttl: u32,
    /// Shortest TTL in seconds.
    #[serde(rename = "MinTTL")]
    pub min_ttl: u32,
    /// Account-unique name.
    pub name: String,
    /// What goes into the cache key (and hence to the origin).
    pub parameters_in_cache_key_and_forwarded_to_origin: CacheKeyParameters,
}

/// `ParametersInCacheKeyAndForwardedToOrigin`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CacheKeyParameters {
    /// Cookies in the key.
    pub cookies_config: CookiesConfig,
    /// Cache brotli-compressed objects separately for viewers that accept them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_accept_encoding_brotli: Option<bool>,
    /// Cache gzip-compressed objects separately for viewers that accept them.
    pub enable_accept_encoding_gzip: bool,
    /// Headers in the key.
    pub headers_config: HeadersConfig,
    /// Query strings in the key.
    pub query_strings_config: QueryStringsConfig,
}

/// `HeadersConfig`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HeadersConfig {
    /// None, or the listed headers.
    pub header_behavior: HeaderBehavior,
    /// Header names when whitelisting.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
}

/// `HeaderBehavior` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HeaderBehavior {
    /// No headers.
    None,
    /// The listed headers.
    Whitelist,
}

/// `QueryStringsConfig`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryStringsConfig {
    /// Which query strings.
    pub query_string_behavior: KeyBehavior,
    /// Names for `whitelist`/`allExcept`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query_strings: Vec<String>,
}

/// `CookiesConfig`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CookiesConfig {
    /// Which cookies.
    pub cookie_behavior: KeyBehavior,
    /// Names for `whitelist`/`allExcept`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cookies: Vec<String>,
}

/// `QueryStringBehavior` / `CookieBehavior` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum KeyBehavior {
    /// None.
    None,
    /// Only the listed names.
    Whitelist,
    /// All but the listed names.
    AllExcept,
    /// All.
    All,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn behavior() -> DefaultCacheBehavior {
        DefaultCacheBehavior {
            allowed_methods: GET_HEAD.map(String::from).to_vec(),
            cached_methods: GET_HEAD.map(String::from).to_vec(),
            cache_policy_id: Some(CACHING_OPTIMIZED_POLICY_ID.into()),
            compress: Some(true),
            origin_request_policy_id: None,
            target_origin_id: "static".into(),
            viewer_protocol_policy: ViewerProtocolPolicy::RedirectToHttps,
        }
    }

    #[test]
    fn s3_origin_with_oac_keeps_an_empty_origin_access_identity() {
        let origin = Origin {
            domain_name: "b.s3.us-east-1.amazonaws.com".into(),
            id: "static".into(),
            s3_origin_config: Some(S3OriginConfig::default()),
            origin_access_control_id: Some(Expr::Ref("Oac".into())),
            ..Default::default()
        };
        let v = serde_json::to_value(origin).unwrap();
        assert_eq!(v["S3OriginConfig"], json!({"OriginAccessIdentity": ""}));
        assert_eq!(v["OriginAccessControlId"], json!({"Ref": "Oac"}));
        assert!(v.get("CustomOriginConfig").is_none());
    }

    #[test]
    fn irregular_property_names_are_cloudformations() {
        let custom = CustomOriginConfig {
            http_port: Some(80),
            https_port: Some(443),
            origin_protocol_policy: OriginProtocolPolicy::HttpsOnly,
            origin_ssl_protocols: vec!["TLSv1.2".into()],
            origin_read_timeout: Some(60),
            origin_keepalive_timeout: Some(60),
        };
        let v = serde_json::to_value(custom).unwrap();
        assert_eq!(v["HTTPPort"], 80);
        assert_eq!(v["HTTPSPort"], 443);
        assert_eq!(v["OriginProtocolPolicy"], "https-only");
        assert_eq!(v["OriginSSLProtocols"], json!(["TLSv1.2"]));
        let error = CustomErrorResponse {
            error_caching_min_ttl: Some(5),
            error_code: 503,
            response_code: Some(503),
            response_page_path: Some("/admin/503.html".into()),
        };
        assert_eq!(
            serde_json::to_value(error).unwrap()["ErrorCachingMinTTL"],
            5
        );
    }

    #[test]
    fn ordered_behavior_flattens_its_settings_beside_the_path_pattern() {
        let b = CacheBehavior {
            path_pattern: "static/*".into(),
            behavior: behavior(),
        };
        let v = serde_json::to_value(b).unwrap();
        assert_eq!(v["PathPattern"], "static/*");
        assert_eq!(v["TargetOriginId"], "static");
        assert_eq!(v["ViewerProtocolPolicy"], "redirect-to-https");
        assert!(v.get("Behavior").is_none());
    }

    #[test]
    fn geo_restriction_is_none_without_countries_and_a_blacklist_with_them() {
        let none = serde_json::to_value(GeoRestriction::deny(&[])).unwrap();
        assert_eq!(none, json!({"RestrictionType": "none"}));
        let some = serde_json::to_value(GeoRestriction::deny(&["KP".into()])).unwrap();
        assert_eq!(
            some,
            json!({"RestrictionType": "blacklist", "Locations": ["KP"]})
        );
    }

    #[test]
    fn cache_policy_uses_ttl_and_camel_case_behaviour_spellings() {
        let config = CachePolicyConfig {
            comment: None,
            default_ttl: 86_400,
            max_ttl: 31_536_000,
            min_ttl: 0,
            name: "app".into(),
            parameters_in_cache_key_and_forwarded_to_origin: CacheKeyParameters {
                cookies_config: CookiesConfig {
                    cookie_behavior: KeyBehavior::None,
                    cookies: vec![],
                },
                enable_accept_encoding_brotli: Some(true),
                enable_accept_encoding_gzip: true,
                headers_config: HeadersConfig {
                    header_behavior: HeaderBehavior::Whitelist,
                    headers: vec!["Host".into()],
                },
                query_strings_config: QueryStringsConfig {
                    query_string_behavior: KeyBehavior::AllExcept,
                    query_strings: vec!["x".into()],
                },
            },
        };
        let v = serde_json::to_value(config).unwrap();
        assert_eq!(v["MinTTL"], 0);
        assert_eq!(v["DefaultTTL"], 86_400);
        assert_eq!(v["MaxTTL"], 31_536_000);
        let p = &v["ParametersInCacheKeyAndForwardedToOrigin"];
        assert_eq!(p["QueryStringsConfig"]["QueryStringBehavior"], "allExcept");
        assert_eq!(p["HeadersConfig"]["HeaderBehavior"], "whitelist");
        assert_eq!(p["CookiesConfig"], json!({"CookieBehavior": "none"}));
    }

    #[test]
    fn distribution_flags_use_cloudformation_spellings() {
        let config = DistributionConfig {
            aliases: vec![],
            cache_behaviors: vec![],
            comment: None,
            custom_error_responses: vec![],
            default_cache_behavior: behavior(),
            enabled: true,
            http_version: Some(HttpVersion::Http2And3),
            ipv6_enabled: Some(true),
            logging: None,
            origins: vec![],
            price_class: None,
            restrictions: None,
            web_acl_id: None,
            viewer_certificate: Some(ViewerCertificate {
                acm_certificate_arn: Some("arn".into()),
                minimum_protocol_version: Some("TLSv1.2_2021".into()),
                ssl_support_method: Some(SslSupportMethod::SniOnly),
            }),
        };
        let v = serde_json::to_value(config).unwrap();
        assert_eq!(v["HttpVersion"], "http2and3");
        assert_eq!(v["IPV6Enabled"], true);
        assert_eq!(v["ViewerCertificate"]["SslSupportMethod"], "sni-only");
        assert_eq!(v["ViewerCertificate"]["AcmCertificateArn"], "arn");
    }

    #[test]
    fn s3_origin_access_control_signs_always_with_sigv4() {
        let v = serde_json::to_value(OriginAccessControlConfig::s3("n", "d")).unwrap();
        assert_eq!(v["OriginAccessControlOriginType"], "s3");
        assert_eq!(v["SigningBehavior"], "always");
        assert_eq!(v["SigningProtocol"], "sigv4");
    }
}
