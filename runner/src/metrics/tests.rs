//! The cardinality cap and the exposition.

use super::*;

/// The first `max` pairs keep their names; later ones are `_other`, and a
/// known pair stays named.
#[test]
fn pairs_past_the_cap_are_other() {
    let metrics = Metrics::new(2);
    let a = metrics.series("acme", "one");
    assert_eq!((a.tenant(), a.action()), ("acme", "one"));
    let b = metrics.series("acme", "two");
    assert_eq!((b.tenant(), b.action()), ("acme", "two"));
    let c = metrics.series("acme", "three");
    assert_eq!((c.tenant(), c.action()), (OTHER, OTHER));
    let d = metrics.series("globex", "one");
    assert_eq!((d.tenant(), d.action()), (OTHER, OTHER));
    assert_eq!(metrics.series("acme", "one"), a);
}

/// A tenant with thousands of actions adds no series past the cap.
#[test]
fn a_hostile_tenant_cannot_grow_the_series() {
    let metrics = Metrics::new(10);
    for n in 0..5_000 {
        let series = metrics.series("hostile", &format!("a{n}"));
        metrics.invoked(&series, "success", None, Duration::from_millis(1), None);
    }
    let text = metrics.encode();
    let named = text
        .lines()
        .filter(|l| l.starts_with("docket_invocations_total{"))
        .count();
    assert_eq!(named, 11, "{text}");
    assert!(text.contains(
        "docket_invocations_total{tenant=\"_other\",action=\"_other\",outcome=\"success\"} 4990"
    ));
}

/// A zero cap puts everything under `_other`.
#[test]
fn a_zero_cap_names_nothing() {
    let metrics = Metrics::new(0);
    let series = metrics.series("acme", "one");
    assert_eq!((series.tenant(), series.action()), (OTHER, OTHER));
}

/// Every family is in the exposition with HELP text, and histograms count
/// what they observed.
#[test]
fn the_exposition_has_help_and_counts() {
    let metrics = Metrics::new(5);
    let series = metrics.series("acme", "greet");
    let _running = metrics.enter(&series);
    metrics.invoked(
        &series,
        "limit",
        Some("time"),
        Duration::from_millis(20),
        Some(Duration::from_millis(1)),
    );
    metrics.refused(&series, Refused::Concurrency);
    metrics.outbound(OutboundOutcome::Denied);
    metrics.kv("increment", true);
    metrics.module_loaded(ModuleSource::Artifact);
    metrics.compiled(Duration::from_millis(300), true, "optimized");
    metrics.deployment(true, false);
    metrics.set_pool_usage(3, 2);
    let text = metrics.encode();
    for line in [
        "# HELP docket_invocations_total ",
        "docket_invocations_total{tenant=\"acme\",action=\"greet\",outcome=\"limit\"} 1",
        "docket_invocation_duration_seconds_count{tenant=\"acme\",action=\"greet\"} 1",
        "docket_invocation_queue_seconds_count{tenant=\"acme\",action=\"greet\"} 1",
        "docket_limit_hits_total{kind=\"time\"} 1",
        "docket_refused_total{tenant=\"acme\",reason=\"concurrency\"} 1",
        "docket_in_flight{tenant=\"acme\"} 1",
        "docket_outbound_requests_total{outcome=\"denied\"} 1",
        "docket_kv_operations_total{op=\"increment\",result=\"ok\"} 1",
        "docket_modules_loaded_total{source=\"artifact\"} 1",
        "docket_compile_duration_seconds_count{outcome=\"ok\",tier=\"optimized\"} 1",
        "docket_deployments_total{kind=\"rollback\",outcome=\"error\"} 1",
        "docket_pool_instances_in_use 3",
        "docket_pool_memories_in_use 2",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    drop(_running);
    assert!(
        metrics
            .encode()
            .contains("docket_in_flight{tenant=\"acme\"} 0")
    );
}

/// Metrics that are off record nothing, whatever is reported to them.
#[test]
fn metrics_that_are_off_record_nothing() {
    let metrics = Metrics::off();
    assert!(!metrics.is_on());
    let series = metrics.series("acme", "greet");
    let _in_flight = metrics.enter(&series);
    metrics.invoked(
        &series,
        "limit",
        Some("time"),
        Duration::from_millis(3),
        None,
    );
    metrics.instantiated(&series, Duration::from_millis(1));
    metrics.refused(&series, Refused::Memory);
    metrics.outbound(OutboundOutcome::Allowed);
    metrics.kv("get", true);
    metrics.module_loaded(ModuleSource::Compiled);
    metrics.compiled(Duration::from_millis(5), true, "optimized");
    metrics.deployment(false, true);
    let text = metrics.encode();
    let samples: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("docket_pool_"))
        .collect();
    assert!(samples.is_empty(), "{text}");
}

/// A tenant past its share is counted under its own name and `_other`, and
/// leaves other tenants their named series.
#[test]
fn one_tenant_cannot_take_every_named_series() {
    let metrics = Metrics::with_tenant_share(10, 3);
    for n in 0..50 {
        metrics.series("hostile", &format!("a{n}"));
    }
    let past = metrics.series("hostile", "a49");
    assert_eq!((past.tenant(), past.action()), ("hostile", OTHER));
    let named = metrics.series("hostile", "a1");
    assert_eq!((named.tenant(), named.action()), ("hostile", "a1"));
    for tenant in ["b", "c"] {
        let theirs = metrics.series(tenant, "greet");
        assert_eq!((theirs.tenant(), theirs.action()), (tenant, "greet"));
    }
}

/// A deleted tenant's series leave the exposition and free their places.
#[test]
fn a_forgotten_tenant_leaves_the_exposition_and_the_cap() {
    let metrics = Metrics::new(1);
    let series = metrics.series("acme", "greet");
    metrics.invoked(&series, "success", None, Duration::from_millis(1), None);
    metrics.refused(&series, Refused::Memory);
    assert!(metrics.encode().contains("tenant=\"acme\""));
    metrics.forget_tenant("acme");
    assert!(
        !metrics.encode().contains("tenant=\"acme\""),
        "{}",
        metrics.encode()
    );
    let next = metrics.series("globex", "greet");
    assert_eq!((next.tenant(), next.action()), ("globex", "greet"));
}
