//! What a change means for traffic, said in words where the resource diff cannot say it: the
//! first deploy of the web ACL, and of the origin lock that makes the load balancer refuse
//! everything that does not come through the env's distribution; and whether that lock would
//! arrive before the distribution sends the header it checks.

use serde_json::Value;

use super::normalise::NormTemplate;
use crate::architecture::ORIGIN_HEADER;

/// Notes on the changes from `old` to `new`.
pub fn traffic_notes(old: &NormTemplate, new: &NormTemplate) -> Vec<String> {
    let mut notes = Vec::new();
    // A stack being created changes no traffic that flowed before.
    if old.resources.is_empty() {
        return notes;
    }
    if has_web_acl(new) && !has_web_acl(old) {
        notes.push(
            "A web ACL starts screening every request to the distribution: addresses in \
             waf.block_ips and requests whose Host is not one of the env's aliases get 403, and \
             an address over waf.post_rate_limit POSTs in five minutes gets 429."
                .to_owned(),
        );
    }
    if requires_origin_header(new) && !requires_origin_header(old) {
        notes.push(format!(
            "The load balancer starts answering 403 to every request without the {ORIGIN_HEADER} \
             header: direct access to its DNS name stops, and only the env's CloudFront \
             distribution gets through. The distribution must send the header first: on an env \
             deployed without it, deploy the network and edge stacks before compute (README: \
             Origin protection)."
        ));
    }
    notes
}

/// Whether the compute stack's change (`old` deployed, `new` rendered) locks the load balancer
/// to the origin header for the first time on a stack that served traffic (one being created
/// had none to lose).
pub fn origin_lock_begins(old: &NormTemplate, new: &NormTemplate) -> bool {
    !old.resources.is_empty() && requires_origin_header(new) && !requires_origin_header(old)
}

fn has_web_acl(t: &NormTemplate) -> bool {
    t.resources.values().any(|r| r.ty == "AWS::WAFv2::WebACL")
}

/// A listener rule that matches the origin header.
fn requires_origin_header(t: &NormTemplate) -> bool {
    t.resources
        .values()
        .filter(|r| r.ty == "AWS::ElasticLoadBalancingV2::ListenerRule")
        .flat_map(|r| r.properties.get("Conditions").and_then(Value::as_array))
        .flatten()
        .any(|c| {
            c.pointer("/HttpHeaderConfig/HttpHeaderName")
                .and_then(Value::as_str)
                .is_some_and(|h| h.eq_ignore_ascii_case(ORIGIN_HEADER))
        })
}

/// Whether a distribution sends the origin header to one of its origins. Until the deployed
/// one does, a first origin lock ([`origin_lock_begins`]) would arrive before the header:
/// deployed in dependency order, compute goes before edge, and every request through
/// CloudFront would get 403 until the distribution is updated.
pub fn sends_origin_header(t: &NormTemplate) -> bool {
    t.resources
        .values()
        .filter(|r| r.ty == "AWS::CloudFront::Distribution")
        .flat_map(|r| {
            r.properties
                .pointer("/DistributionConfig/Origins")
                .and_then(Value::as_array)
        })
        .flatten()
        .flat_map(|o| o.get("OriginCustomHeaders").and_then(Value::as_array))
        .flatten()
        .any(|h| {
            h.get("HeaderName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(ORIGIN_HEADER))
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::diff::normalise::normalise_template;

    fn template(resources: Value) -> NormTemplate {
        normalise_template(&json!({ "Resources": resources }), "rendered").unwrap()
    }

    fn origin_rule() -> Value {
        json!({"Rule": {"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": {
            "ListenerArn": {"Ref": "Https"}, "Priority": 100,
            "Conditions": [{"Field": "http-header", "HttpHeaderConfig": {
                "HttpHeaderName": "X-Origin-Verify", "Values": ["{{resolve:secretsmanager:s}}"]}}],
            "Actions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Tg"}}]}}})
    }

    #[test]
    fn the_first_origin_rule_explains_that_direct_access_stops() {
        let before = template(
            json!({"Https": {"Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Properties": {"Port": 443}}}),
        );
        let mut after = origin_rule();
        after["Https"] =
            json!({"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {"Port": 443}});
        let notes = traffic_notes(&before, &template(after));
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("direct access to its DNS name stops"),
            "{notes:?}"
        );
        assert!(traffic_notes(&template(origin_rule()), &template(origin_rule())).is_empty());
    }

    fn distribution(headers: Value) -> NormTemplate {
        template(
            json!({"Cdn": {"Type": "AWS::CloudFront::Distribution", "Properties": {
            "DistributionConfig": {"Origins": [
                {"Id": "static", "DomainName": "b.s3.amazonaws.com"},
                {"Id": "alb", "DomainName": "lb.example", "OriginCustomHeaders": headers}]}}}}),
        )
    }

    #[test]
    fn the_origin_lock_waits_for_a_distribution_that_sends_the_header() {
        let listener = json!({"Https": {"Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Properties": {"Port": 443}}});
        let unlocked = template(listener.clone());
        let mut locked = origin_rule();
        locked["Https"] = listener["Https"].clone();
        let locked = template(locked);
        let silent = distribution(json!([{"HeaderName": "X-Other", "HeaderValue": "v"}]));
        let sending = distribution(
            json!([{"HeaderName": "x-origin-verify", "HeaderValue": "{{resolve:secretsmanager:s}}"}]),
        );

        // The lock is new on a stack that served traffic.
        assert!(origin_lock_begins(&unlocked, &locked));
        // A compute stack being created, a lock already in place, or no lock in the new
        // template: nothing to cut.
        assert!(!origin_lock_begins(&template(json!({})), &locked));
        assert!(!origin_lock_begins(&locked, &locked));
        assert!(!origin_lock_begins(&unlocked, &unlocked));
        // A distribution that sends nothing (or another header) would be cut off; one that
        // sends it (the header's name in any case) is safe; no distribution sends nothing.
        assert!(!sends_origin_header(&silent));
        assert!(sends_origin_header(&sending));
        assert!(!sends_origin_header(&template(json!({}))));
    }

    #[test]
    fn a_stack_being_created_gets_no_notes() {
        assert!(traffic_notes(&template(json!({})), &template(origin_rule())).is_empty());
    }

    #[test]
    fn the_first_web_acl_explains_what_it_blocks() {
        let topic = json!({"Type": "AWS::SNS::Topic", "Properties": {}});
        let acl = json!({"Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {}}, "T": topic});
        let notes = traffic_notes(&template(json!({"T": topic})), &template(acl.clone()));
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("429"), "{notes:?}");
        assert!(traffic_notes(&template(acl.clone()), &template(acl)).is_empty());
    }
}
