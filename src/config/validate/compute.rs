//! Rules for `[compute]`: the launch template, the Auto Scaling group, its spot mix and the
//! target group's health check. Sizes and timings that AWS would reject, or that would make
//! a deploy fight the scaling policy, are refused here.

use super::{Problems, shapes};
use crate::config::Compute;

/// Spot allocation strategies an Auto Scaling mixed instances policy accepts.
const SPOT_STRATEGIES: &[&str] = &[
    "lowest-price",
    "capacity-optimized",
    "capacity-optimized-prioritized",
    "price-capacity-optimized",
];

/// Launch template, group sizes and timings, load balancer settings.
pub(super) fn check_compute(c: &Compute, p: &mut Problems) {
    if !shapes::is_ami_id(&c.ami) {
        p.add(
            "compute.ami",
            format!("{:?} is not an AMI id: ami- and 8 or 17 hex digits", c.ami),
        );
    }
    if !shapes::is_instance_type(&c.instance_type) {
        p.add(
            "compute.instance_type",
            format!(
                "{:?} is not an instance type such as m5.large",
                c.instance_type
            ),
        );
    }
    if c.min_size > c.max_size {
        p.add(
            "compute.min_size",
            format!("min_size {} is above max_size {}", c.min_size, c.max_size),
        );
    }
    p.range("compute.max_size", c.max_size, 1, 1000, " instances");
    if let Some(d) = c.desired_capacity {
        if d < c.min_size || d > c.max_size {
            p.add(
                "compute.desired_capacity",
                format!(
                    "desired_capacity {d} is outside min_size..=max_size ({}..={})",
                    c.min_size, c.max_size
                ),
            );
        }
        if c.cpu_target_percent.is_some() {
            p.add(
                "compute.desired_capacity",
                "set together with cpu_target_percent: every deploy would reset the size the scaling policy chose; remove desired_capacity",
            );
        }
    }
    let grace = c.health_check_grace_period;
    p.range(
        "compute.health_check_grace_period",
        grace,
        0,
        7200,
        " seconds",
    );
    if grace < 60 {
        p.add(
            "compute.health_check_grace_period",
            format!("{grace} seconds is too short: nodes take minutes to boot and would be replaced before serving; use at least 60"),
        );
    }
    if let Some(cpu) = c.cpu_target_percent {
        p.positive_up_to("compute.cpu_target_percent", cpu, 100.0);
    }
    p.range(
        "compute.root_volume_gib",
        c.root_volume_gib,
        8,
        16384,
        " GiB",
    );
    if c.key_name.as_deref().is_some_and(|k| k.trim().is_empty()) {
        p.add(
            "compute.key_name",
            "empty key pair name; remove the key to launch without one",
        );
    }
    p.range(
        "compute.deregistration_delay",
        c.deregistration_delay,
        0,
        3600,
        " seconds",
    );
    p.range("compute.idle_timeout", c.idle_timeout, 1, 4000, " seconds");
}

/// The mixed instances policy and the target group health check.
pub(super) fn check_spot_and_health(c: &Compute, p: &mut Problems) {
    if let Some(spot) = &c.spot {
        if spot.instance_types.is_empty() {
            p.add(
                "compute.spot.instance_types",
                "at least one instance type is needed",
            );
        }
        if spot.instance_types.len() > 40 {
            p.add(
                "compute.spot.instance_types",
                "at most 40 instance types per Auto Scaling group",
            );
        }
        for (i, t) in spot.instance_types.iter().enumerate() {
            if !shapes::is_instance_type(t) {
                p.add(
                    format!("compute.spot.instance_types[{i}]"),
                    format!("{t:?} is not an instance type such as m5.large"),
                );
            }
        }
        p.unique("compute.spot.instance_types", &spot.instance_types, false);
        p.range(
            "compute.spot.on_demand_percentage_above_base",
            spot.on_demand_percentage_above_base,
            0,
            100,
            " percent",
        );
        if spot.on_demand_base_capacity > c.max_size {
            p.add(
                "compute.spot.on_demand_base_capacity",
                format!(
                    "{} is above max_size {}",
                    spot.on_demand_base_capacity, c.max_size
                ),
            );
        }
        if !SPOT_STRATEGIES.contains(&spot.allocation_strategy.as_str()) {
            p.add(
                "compute.spot.allocation_strategy",
                format!(
                    "{:?} is not a spot allocation strategy; use one of {}",
                    spot.allocation_strategy,
                    SPOT_STRATEGIES.join(", ")
                ),
            );
        }
    }
    let h = &c.health_check;
    if !h.path.starts_with('/') {
        p.add(
            "compute.health_check.path",
            format!("{:?} must start with /", h.path),
        );
    }
    p.range(
        "compute.health_check.interval",
        h.interval,
        5,
        300,
        " seconds",
    );
    p.range(
        "compute.health_check.timeout",
        h.timeout,
        2,
        120,
        " seconds",
    );
    if h.timeout >= h.interval {
        p.add(
            "compute.health_check.timeout",
            format!(
                "timeout {} must be shorter than interval {}",
                h.timeout, h.interval
            ),
        );
    }
    p.range(
        "compute.health_check.healthy_threshold",
        h.healthy_threshold,
        2,
        10,
        "",
    );
    p.range(
        "compute.health_check.unhealthy_threshold",
        h.unhealthy_threshold,
        2,
        10,
        "",
    );
}
