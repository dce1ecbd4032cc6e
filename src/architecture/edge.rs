//! The edge stack: the CloudFront distribution users reach, behind the env's web ACL (`waf`),
//! with the load balancer as its default origin (sent the secret origin header, `origin`) and
//! the private static bucket (read through an origin access control) for static assets, the
//! message of the day, admin pages and the 503 page; plus the static bucket's policy, which
//! only this distribution can satisfy.
//!
//! The shape follows the live site's distributions (reference §1.2): the app cache policy that
//! replaced `forwarded_values` so brotli comes from the origin, geo blocking, logs to the logs
//! bucket under `cloudfront/`, and a briefly cached 503 page for when the nodes are down.

use crate::model::cloudfront::{
    ALL_METHODS, CACHING_OPTIMIZED_POLICY_ID, CacheBehavior, CacheKeyParameters, CachePolicy,
    CachePolicyConfig, CookiesConfig, CustomErrorResponse, CustomOriginConfig,
    DefaultCacheBehavior, Distribution, DistributionConfig, GET_HEAD, GeoRestriction,
    HeaderBehavior, HeadersConfig, HttpVersion, KeyBehavior, Logging, Origin, OriginAccessControl,
    OriginAccessControlConfig, OriginCustomHeader, OriginProtocolPolicy, QueryStringsConfig,
    Restrictions, S3OriginConfig, SslSupportMethod, ViewerCertificate, ViewerProtocolPolicy,
};
use crate::model::iam::{PolicyDocument, Principal, Statement};
use crate::model::s3::BucketPolicy;
use crate::model::{Expr, LogicalId, Template};

use super::{Ctx, Export, origin, waf};

/// `Id` of the load balancer origin.
const ALB_ORIGIN: &str = "alb";
/// `Id` of the static bucket origin.
const STATIC_ORIGIN: &str = "static";
/// Paths served from the static bucket rather than the app (`admin/*` holds the 503 page).
pub const STATIC_PATHS: [&str; 3] = ["static/*", "motd/*", "admin/*"];
/// Page shown when the origin answers 503, served from the static bucket.
const ERROR_PAGE_503: &str = "/admin/503.html";
/// Seconds a 503 is cached: short, so recovery shows at once, but long enough to absorb a
/// stampede of retries.
const ERROR_CACHING_SECONDS: u32 = 5;
/// Seconds CloudFront waits on, and keeps idle connections to, the load balancer.
const ORIGIN_TIMEOUT_SECONDS: u32 = 60;
/// Headers the app's responses vary on, so they are in the cache key (and forwarded).
const APP_CACHE_HEADERS: [&str; 3] = ["Accept", "Host", "CloudFront-Is-Mobile-Viewer"];

pub(super) fn build(ctx: &Ctx<'_>) -> Template {
    let edge = &ctx.env.file.edge;
    let mut t = Template::new(format!(
        "ce {} edge: CloudFront distribution, origin access control, cache policy, static bucket policy",
        ctx.env_name()
    ));

    let oac = LogicalId::new("StaticOriginAccessControl");
    t.add(
        &oac,
        OriginAccessControl {
            origin_access_control_config: OriginAccessControlConfig::s3(
                ctx.resource_name("static"),
                format!("CloudFront reads the ce {} static bucket", ctx.env_name()),
            ),
        },
    );

    let app_cache = LogicalId::new("AppCachePolicy");
    t.add(
        &app_cache,
        CachePolicy {
            cache_policy_config: CachePolicyConfig {
                comment: Some("The app: all query strings, a few headers, no cookies".into()),
                default_ttl: edge.default_ttl,
                max_ttl: edge.max_ttl,
                min_ttl: 0,
                name: ctx.resource_name("app"),
                parameters_in_cache_key_and_forwarded_to_origin: CacheKeyParameters {
                    cookies_config: CookiesConfig {
                        cookie_behavior: KeyBehavior::None,
                        cookies: vec![],
                    },
                    enable_accept_encoding_brotli: Some(true),
                    enable_accept_encoding_gzip: true,
                    headers_config: HeadersConfig {
                        header_behavior: HeaderBehavior::Whitelist,
                        headers: APP_CACHE_HEADERS.map(String::from).to_vec(),
                    },
                    query_strings_config: QueryStringsConfig {
                        query_string_behavior: KeyBehavior::All,
                        query_strings: vec![],
                    },
                },
            },
        },
    );

    let web_acl = waf::available(ctx).then(|| waf::add_web_acl(ctx, &mut t));

    let distribution = LogicalId::new("Distribution");
    t.add(
        &distribution,
        Distribution {
            distribution_config: DistributionConfig {
                web_acl_id: web_acl.map(|acl| Expr::get_att(&acl, "Arn")),
                ..distribution_config(ctx, &oac, &app_cache)
            },
            tags: ctx.tags("cdn"),
        },
    );

    t.add(
        &LogicalId::new("StaticBucketPolicy"),
        BucketPolicy {
            bucket: ctx.import(Export::StaticBucketName),
            policy_document: static_bucket_policy(ctx, &distribution),
        },
    );

    ctx.export(
        &mut t,
        Export::DistributionId,
        "CloudFront distribution id",
        Expr::reference(&distribution),
    );
    // No `GetAtt DomainName` output: nothing imports it, and the local emulator fails the
    // whole CreateStack on it; the domain name is one GetDistribution call away.
    t
}

fn distribution_config(
    ctx: &Ctx<'_>,
    oac: &LogicalId,
    app_cache: &LogicalId,
) -> DistributionConfig {
    let edge = &ctx.env.file.edge;
    let domain = &ctx.env.file.domain;
    let origins = vec![
        Origin {
            domain_name: ctx.import(Export::LoadBalancerDnsName),
            id: ALB_ORIGIN.into(),
            custom_origin_config: Some(CustomOriginConfig {
                http_port: Some(80),
                https_port: Some(443),
                origin_protocol_policy: OriginProtocolPolicy::HttpsOnly,
                origin_ssl_protocols: vec!["TLSv1.2".into()],
                origin_read_timeout: Some(ORIGIN_TIMEOUT_SECONDS),
                origin_keepalive_timeout: Some(ORIGIN_TIMEOUT_SECONDS),
            }),
            // The load balancer forwards only requests carrying it.
            origin_custom_headers: vec![OriginCustomHeader {
                header_name: origin::HEADER.into(),
                header_value: origin::sent_value(ctx),
            }],
            ..Default::default()
        },
        Origin {
            domain_name: ctx.import(Export::StaticBucketDomainName),
            id: STATIC_ORIGIN.into(),
            // Present but empty: the origin access control signs instead of a legacy identity.
            s3_origin_config: Some(S3OriginConfig::default()),
            // Ref is the control's id; the emulator cannot GetAtt it.
            origin_access_control_id: Some(Expr::reference(oac)),
            ..Default::default()
        },
    ];

    // The app's cache policy puts Host, Accept and all query strings in the key, and CloudFront
    // forwards whatever is in the key. No origin request policy is added: forwarding cookies
    // or headers that are not in the key would let one viewer's response be cached for all.
    let default_cache_behavior = DefaultCacheBehavior {
        allowed_methods: ALL_METHODS.map(String::from).to_vec(),
        cached_methods: GET_HEAD.map(String::from).to_vec(),
        cache_policy_id: Some(Expr::reference(app_cache)),
        compress: Some(true),
        origin_request_policy_id: None,
        target_origin_id: ALB_ORIGIN.into(),
        viewer_protocol_policy: ViewerProtocolPolicy::RedirectToHttps,
    };
    let cache_behaviors = STATIC_PATHS
        .iter()
        .map(|path| CacheBehavior {
            path_pattern: (*path).to_owned(),
            behavior: DefaultCacheBehavior {
                allowed_methods: GET_HEAD.map(String::from).to_vec(),
                cached_methods: GET_HEAD.map(String::from).to_vec(),
                cache_policy_id: Some(CACHING_OPTIMIZED_POLICY_ID.into()),
                compress: Some(true),
                origin_request_policy_id: None,
                target_origin_id: STATIC_ORIGIN.into(),
                viewer_protocol_policy: ViewerProtocolPolicy::RedirectToHttps,
            },
        })
        .collect();

    DistributionConfig {
        aliases: domain.aliases.iter().map(Expr::from).collect(),
        cache_behaviors,
        comment: Some(format!("ce {}", ctx.env_name())),
        custom_error_responses: vec![CustomErrorResponse {
            error_caching_min_ttl: Some(ERROR_CACHING_SECONDS),
            error_code: 503,
            response_code: Some(503),
            response_page_path: Some(ERROR_PAGE_503.into()),
        }],
        default_cache_behavior,
        enabled: true,
        http_version: Some(HttpVersion::Http2And3),
        ipv6_enabled: Some(true),
        logging: Some(Logging {
            // Standard logging names the bucket by its global (not regional) endpoint.
            bucket: Expr::sub_with(
                "${LogsBucketName}.s3.amazonaws.com",
                [("LogsBucketName", ctx.import(Export::LogsBucketName))],
            ),
            include_cookies: false,
            prefix: Some("cloudfront/".into()),
        }),
        origins,
        price_class: Some(edge.price_class.clone()),
        restrictions: Some(Restrictions {
            geo_restriction: GeoRestriction::deny(&edge.geo_blocklist),
        }),
        viewer_certificate: Some(ViewerCertificate {
            acm_certificate_arn: Some(domain.certificate_arn.as_str().into()),
            minimum_protocol_version: Some(edge.minimum_protocol_version.clone()),
            ssl_support_method: Some(SslSupportMethod::SniOnly),
        }),
        web_acl_id: None,
    }
}

/// Objects are readable only by this distribution, and only over TLS.
fn static_bucket_policy(ctx: &Ctx<'_>, distribution: &LogicalId) -> PolicyDocument {
    let bucket_arn = ctx.import(Export::StaticBucketArn);
    let objects = Expr::sub_with("${BucketArn}/*", [("BucketArn", bucket_arn.clone())]);
    let distribution_arn = Expr::sub(format!(
        "arn:${{AWS::Partition}}:cloudfront::${{AWS::AccountId}}:distribution/${{{distribution}}}"
    ));
    PolicyDocument::new(vec![
        Statement::allow(&["s3:GetObject"], vec![objects.clone()])
            .sid("CloudFrontReadsObjects")
            .principal(Principal::Service(vec!["cloudfront.amazonaws.com".into()]))
            .condition("StringEquals", "AWS:SourceArn", distribution_arn),
        // CloudFront reaches S3 over HTTPS (viewers are redirected to HTTPS and S3 origins
        // match the viewer), so this only stops others.
        Statement::deny(&["s3:*"], vec![bucket_arn, objects])
            .sid("DenyInsecureTransport")
            .principal(Principal::Aws(vec!["*".into()]))
            .condition("Bool", "aws:SecureTransport", "false".into()),
    ])
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Value, json};

    use super::*;
    use crate::config;

    fn render(env: &str) -> Value {
        let env = config::load(Path::new("envs"), env).expect("env loads");
        serde_json::to_value(build(&Ctx { env: &env })).expect("template serialises")
    }

    fn config_of(t: &Value) -> &Value {
        &t["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    }

    #[test]
    fn static_origin_reads_the_bucket_through_the_origin_access_control() {
        let t = render("prod");
        let origins = config_of(&t)["Origins"].as_array().unwrap();
        let s3 = origins.iter().find(|o| o["Id"] == STATIC_ORIGIN).unwrap();
        assert_eq!(
            s3["OriginAccessControlId"],
            json!({"Ref": "StaticOriginAccessControl"})
        );
        assert_eq!(s3["S3OriginConfig"]["OriginAccessIdentity"], "");
        let oac = &t["Resources"]["StaticOriginAccessControl"];
        assert_eq!(oac["Type"], "AWS::CloudFront::OriginAccessControl");
        assert_eq!(
            oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"],
            "always"
        );
    }

    #[test]
    fn load_balancer_origin_is_https_only_with_tls_1_2() {
        let t = render("prod");
        let alb = &config_of(&t)["Origins"][0];
        assert_eq!(alb["Id"], ALB_ORIGIN);
        assert_eq!(
            alb["DomainName"],
            json!({"Fn::ImportValue": "ce-prod-compute-LoadBalancerDnsName"})
        );
        let custom = &alb["CustomOriginConfig"];
        assert_eq!(custom["OriginProtocolPolicy"], "https-only");
        assert_eq!(custom["OriginSSLProtocols"], json!(["TLSv1.2"]));
        assert_eq!(custom["OriginReadTimeout"], 60);
    }

    #[test]
    fn every_behaviour_redirects_viewers_to_https() {
        let t = render("staging");
        let c = config_of(&t);
        assert_eq!(
            c["DefaultCacheBehavior"]["ViewerProtocolPolicy"],
            "redirect-to-https"
        );
        for b in c["CacheBehaviors"].as_array().unwrap() {
            assert_eq!(
                b["ViewerProtocolPolicy"], "redirect-to-https",
                "{}",
                b["PathPattern"]
            );
        }
    }

    #[test]
    fn app_goes_to_the_load_balancer_and_static_paths_to_the_bucket() {
        let t = render("prod");
        let c = config_of(&t);
        let default = &c["DefaultCacheBehavior"];
        assert_eq!(default["TargetOriginId"], ALB_ORIGIN);
        assert_eq!(default["AllowedMethods"].as_array().unwrap().len(), 7);
        assert_eq!(default["CachePolicyId"], json!({"Ref": "AppCachePolicy"}));
        let paths: Vec<&str> = c["CacheBehaviors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                assert_eq!(b["TargetOriginId"], STATIC_ORIGIN);
                assert_eq!(b["CachePolicyId"], CACHING_OPTIMIZED_POLICY_ID);
                assert_eq!(b["AllowedMethods"], json!(["GET", "HEAD"]));
                b["PathPattern"].as_str().unwrap()
            })
            .collect();
        assert_eq!(paths, STATIC_PATHS);
    }

    #[test]
    fn app_cache_policy_keys_on_query_strings_and_three_headers_only() {
        let t = render("prod");
        let config = &t["Resources"]["AppCachePolicy"]["Properties"]["CachePolicyConfig"];
        assert_eq!(config["MinTTL"], 0);
        assert_eq!(config["DefaultTTL"], 86_400);
        let key = &config["ParametersInCacheKeyAndForwardedToOrigin"];
        assert_eq!(key["QueryStringsConfig"]["QueryStringBehavior"], "all");
        assert_eq!(key["CookiesConfig"]["CookieBehavior"], "none");
        assert_eq!(key["HeadersConfig"]["Headers"], json!(APP_CACHE_HEADERS));
        assert_eq!(key["EnableAcceptEncodingBrotli"], true);
        assert_eq!(key["EnableAcceptEncodingGzip"], true);
    }

    #[test]
    fn geo_restriction_follows_the_env_blocklist() {
        let prod = render("prod");
        let geo = &config_of(&prod)["Restrictions"]["GeoRestriction"];
        assert_eq!(geo["RestrictionType"], "blacklist");
        assert_eq!(geo["Locations"], json!(["CU", "IR", "KP", "SD", "SY"]));
        let beta = render("beta");
        let geo = &config_of(&beta)["Restrictions"]["GeoRestriction"];
        assert_eq!(geo, &json!({"RestrictionType": "none"}));
    }

    #[test]
    fn viewer_certificate_and_aliases_come_from_the_domain_section() {
        let t = render("staging");
        let c = config_of(&t);
        assert_eq!(c["Aliases"], json!(["staging.godbolt.org"]));
        assert_eq!(c["ViewerCertificate"]["SslSupportMethod"], "sni-only");
        assert_eq!(
            c["ViewerCertificate"]["MinimumProtocolVersion"],
            "TLSv1.2_2021"
        );
        assert_eq!(c["PriceClass"], "PriceClass_100");
    }

    #[test]
    fn logs_go_to_the_logs_bucket_under_cloudfront_prefix() {
        let t = render("prod");
        let logging = &config_of(&t)["Logging"];
        assert_eq!(logging["Prefix"], "cloudfront/");
        assert_eq!(logging["IncludeCookies"], false);
        assert_eq!(
            logging["Bucket"],
            json!({"Fn::Sub": ["${LogsBucketName}.s3.amazonaws.com",
                {"LogsBucketName": {"Fn::ImportValue": "ce-prod-storage-LogsBucketName"}}]})
        );
    }

    #[test]
    fn a_503_shows_the_admin_page_cached_for_five_seconds() {
        let t = render("prod");
        let errors = &config_of(&t)["CustomErrorResponses"];
        assert_eq!(
            errors,
            &json!([{"ErrorCode": 503, "ResponseCode": 503,
                "ResponsePagePath": "/admin/503.html", "ErrorCachingMinTTL": 5}])
        );
    }

    #[test]
    fn bucket_policy_lets_only_this_distribution_read_objects() {
        let t = render("prod");
        let policy = &t["Resources"]["StaticBucketPolicy"]["Properties"];
        assert_eq!(
            policy["Bucket"],
            json!({"Fn::ImportValue": "ce-prod-storage-StaticBucketName"})
        );
        let allow = &policy["PolicyDocument"]["Statement"][0];
        assert_eq!(allow["Effect"], "Allow");
        assert_eq!(allow["Action"], json!(["s3:GetObject"]));
        assert_eq!(
            allow["Principal"],
            json!({"Service": ["cloudfront.amazonaws.com"]})
        );
        assert_eq!(
            allow["Condition"]["StringEquals"]["AWS:SourceArn"],
            json!({"Fn::Sub":
                "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"})
        );
    }

    #[test]
    fn bucket_policy_denies_requests_without_tls() {
        let t = render("prod");
        let deny =
            &t["Resources"]["StaticBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][1];
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
    }

    #[test]
    fn distribution_id_is_exported() {
        let t = render("beta");
        let id = &t["Outputs"]["DistributionId"];
        assert_eq!(id["Value"], json!({"Ref": "Distribution"}));
        assert_eq!(id["Export"]["Name"], "ce-beta-edge-DistributionId");
    }

    #[test]
    fn the_load_balancer_origin_sends_the_secret_by_dynamic_reference() {
        let t = render("prod");
        let alb = &config_of(&t)["Origins"][0];
        assert_eq!(
            alb["OriginCustomHeaders"],
            json!([{"HeaderName": "X-Origin-Verify",
                "HeaderValue": "{{resolve:secretsmanager:ce-prod/origin-verify}}"}])
        );
    }

    #[test]
    fn the_distribution_sits_behind_the_envs_web_acl() {
        let t = render("prod");
        assert_eq!(
            config_of(&t)["WebACLId"],
            json!({"Fn::GetAtt": ["WebAcl", "Arn"]})
        );
        let acl = &t["Resources"]["WebAcl"]["Properties"];
        assert_eq!(acl["Scope"], "CLOUDFRONT");
        assert_eq!(acl["DefaultAction"], json!({"Allow": {}}));
        let names: Vec<&str> = acl["Rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "deny-ipv4",
                "deny-ipv6",
                "rate-limit-post",
                "deny-bogus-host",
                "AWSManagedRulesKnownBadInputsRuleSet",
                "AWSManagedRulesAmazonIpReputationList"
            ]
        );
    }

    fn rule<'a>(t: &'a Value, name: &str) -> &'a Value {
        t["Resources"]["WebAcl"]["Properties"]["Rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["Name"] == name)
            .unwrap()
    }

    #[test]
    fn posts_over_the_env_limit_get_429_with_retry_after() {
        let t = render("prod");
        let r = rule(&t, "rate-limit-post");
        let rate = &r["Statement"]["RateBasedStatement"];
        assert_eq!(rate["Limit"], 12000);
        assert_eq!(rate["EvaluationWindowSec"], 300);
        assert_eq!(
            rate["ScopeDownStatement"]["ByteMatchStatement"]["SearchString"],
            "POST"
        );
        let response = &r["Action"]["Block"]["CustomResponse"];
        assert_eq!(response["ResponseCode"], 429);
        assert_eq!(
            response["ResponseHeaders"],
            json!([{"Name": "Retry-After", "Value": "300"}])
        );
    }

    #[test]
    fn hosts_outside_the_aliases_are_blocked() {
        let t = render("staging");
        let aliases = config_of(&t)["Aliases"].clone();
        let r = rule(&t, "deny-bogus-host");
        let allowed = &r["Statement"]["NotStatement"]["Statement"];
        let matches: Vec<Value> = match allowed.get("OrStatement") {
            Some(or) => or["Statements"].as_array().unwrap().clone(),
            None => vec![allowed.clone()],
        };
        assert_eq!(matches.len(), aliases.as_array().unwrap().len());
        for (m, alias) in matches.iter().zip(aliases.as_array().unwrap()) {
            let b = &m["ByteMatchStatement"];
            assert_eq!(b["FieldToMatch"], json!({"SingleHeader": {"Name": "host"}}));
            let alias = alias.as_str().unwrap();
            match alias.strip_prefix('*') {
                Some(suffix) => {
                    assert_eq!(b["PositionalConstraint"], "ENDS_WITH");
                    assert_eq!(b["SearchString"], suffix);
                }
                None => {
                    assert_eq!(b["PositionalConstraint"], "EXACTLY");
                    assert_eq!(b["SearchString"], alias);
                }
            }
        }
    }

    #[test]
    fn blocked_addresses_go_to_the_ip_set_of_their_family() {
        let mut env = config::load(Path::new("envs"), "beta").unwrap();
        env.file.waf.block_ips = vec!["192.0.2.0/24".into(), "2001:db8::/32".into()];
        let t = serde_json::to_value(build(&Ctx { env: &env })).unwrap();
        let set = |id: &str| t["Resources"][id]["Properties"].clone();
        assert_eq!(set("BlockedIpv4Set")["Addresses"], json!(["192.0.2.0/24"]));
        assert_eq!(set("BlockedIpv4Set")["IPAddressVersion"], "IPV4");
        assert_eq!(set("BlockedIpv6Set")["Addresses"], json!(["2001:db8::/32"]));
        assert_eq!(
            rule(&t, "deny-ipv6")["Statement"],
            json!({"IPSetReferenceStatement": {"Arn": {"Fn::GetAtt": ["BlockedIpv6Set", "Arn"]}}})
        );
    }
}
