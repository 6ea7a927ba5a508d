//! Alert rules and alerts: an alert fires once and resolves once whoever asks how often, its
//! operational event is queued with it, and the config's rules follow the config.

use std::sync::Arc;
use std::time::Duration;

use rustyhook_core::alert::{Alert, AlertRule, RuleKind, RuleOrigin, RuleSpec};
use rustyhook_core::id::{AlertId, AlertRuleId};
use rustyhook_store::*;

on_every_backend!(
    an_alert_fires_once_and_resolves_once_each_with_its_event,
    the_config_s_rules_are_upserted_by_name_and_removed_when_gone,
    rule_names_are_unique_and_deleting_a_rule_deletes_its_alerts,
    alerts_list_newest_first_by_status_and_rule,
    a_node_is_listed_as_it_last_said,
);

fn spec(name: &str, kind: RuleKind) -> RuleSpec {
    RuleSpec {
        name: name.into(),
        kind,
        threshold: 5.0,
        window: Duration::from_secs(300),
        app: None,
        endpoint: None,
        handler: None,
        source: None,
        min_attempts: 10,
        disabled: false,
    }
}

fn rule(name: &str, at: i64) -> AlertRule {
    AlertRule {
        id: AlertRuleId::generate(at).into(),
        spec: spec(name, RuleKind::DeadLetters),
        origin: RuleOrigin::Api,
        firing: 0,
        created_at: at,
        updated_at: at,
    }
}

fn alert(rule: &AlertRule, subject: &str, at: i64) -> Alert {
    Alert {
        id: AlertId::generate(at).into(),
        rule_id: rule.id.clone(),
        rule_name: rule.spec.name.clone(),
        kind: rule.spec.kind,
        subject: subject.into(),
        value: 7.0,
        threshold: rule.spec.threshold,
        summary: "This server had 7 dead letters".into(),
        fired_at: at,
        resolved_at: None,
    }
}

async fn queued(store: &Arc<dyn Store>) -> Vec<(String, serde_json::Value)> {
    store
        .pending_operational(100)
        .await
        .expect("pending")
        .into_iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.payload).expect("json");
            (e.event_type, v["data"].clone())
        })
        .collect()
}

async fn an_alert_fires_once_and_resolves_once_each_with_its_event(store: Arc<dyn Store>) {
    let r = store
        .create_alert_rule(rule("dead", 1_000))
        .await
        .expect("rule");
    let first = alert(&r, "server", 2_000);
    assert!(store.fire_alert(first.clone()).await.expect("fire"));
    // A second evaluation (or a second node) firing the same rule and subject changes nothing.
    assert!(
        !store
            .fire_alert(alert(&r, "server", 2_001))
            .await
            .expect("again")
    );
    // Another subject of the same rule fires on its own.
    assert!(
        store
            .fire_alert(alert(&r, "ep_x", 2_002))
            .await
            .expect("other")
    );
    let firing = store.firing_alerts().await.expect("firing");
    assert_eq!(firing.len(), 2);
    let got = store
        .get_alert_rule(&r.id)
        .await
        .expect("get")
        .expect("rule");
    assert_eq!(got.firing, 2);
    let resolved = Alert {
        resolved_at: Some(3_000),
        ..first.clone()
    };
    assert!(
        store
            .resolve_alert(resolved.clone())
            .await
            .expect("resolve")
    );
    assert!(!store.resolve_alert(resolved.clone()).await.expect("twice"));
    let events = queued(&store).await;
    let types: Vec<_> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["alert.fired", "alert.fired", "alert.resolved"]);
    assert_eq!(events[0].1, first.data());
    assert_eq!(events[2].1["status"], "resolved");
    assert_eq!(events[2].1, resolved.data());
    // Once resolved, the subject can fire again: a new alert, with history kept.
    assert!(
        store
            .fire_alert(alert(&r, "server", 4_000))
            .await
            .expect("refire")
    );
    let all = store
        .list_alerts(AlertFilter::default(), Page::first(10, Order::Descending))
        .await
        .expect("list");
    assert_eq!(all.items.len(), 3);
    // A rule that is gone fires nothing.
    let mut orphan = alert(&r, "other", 5_000);
    orphan.rule_id = AlertRuleId::generate(5_000).into();
    assert!(!store.fire_alert(orphan).await.expect("no rule"));
}

async fn the_config_s_rules_are_upserted_by_name_and_removed_when_gone(store: Arc<dyn Store>) {
    let a = spec("a", RuleKind::NodeGone);
    let b = spec("b", RuleKind::OldestPending);
    store
        .sync_config_alert_rules(vec![a.clone(), b.clone()], 1_000)
        .await
        .expect("sync");
    let listed = |store: Arc<dyn Store>| async move {
        store
            .list_alert_rules(Page::first(10, Order::Ascending))
            .await
            .expect("list")
            .items
    };
    let rules = listed(store.clone()).await;
    assert_eq!(rules.len(), 2);
    assert!(rules.iter().all(|r| r.origin == RuleOrigin::Config));
    let a_id = rules[0].id.clone();
    let changed = RuleSpec {
        threshold: 99.0,
        ..a.clone()
    };
    store
        .sync_config_alert_rules(vec![changed], 2_000)
        .await
        .expect("again");
    let rules = listed(store.clone()).await;
    assert_eq!(rules.len(), 1, "b is gone from the config");
    assert_eq!(rules[0].id, a_id, "a kept its id");
    assert_eq!(rules[0].spec.threshold, 99.0);
    assert_eq!(rules[0].updated_at, 2_000);
    store
        .create_alert_rule(rule("api", 3_000))
        .await
        .expect("api rule");
    let taken = store
        .sync_config_alert_rules(vec![spec("api", RuleKind::NodeGone)], 4_000)
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    store
        .sync_config_alert_rules(Vec::new(), 5_000)
        .await
        .expect("empty");
    let rules = listed(store.clone()).await;
    assert_eq!(rules.len(), 1, "the API's rule stays");
    assert_eq!(rules[0].origin, RuleOrigin::Api);
}

async fn rule_names_are_unique_and_deleting_a_rule_deletes_its_alerts(store: Arc<dyn Store>) {
    let r = store
        .create_alert_rule(rule("x", 1_000))
        .await
        .expect("rule");
    let twice = store.create_alert_rule(rule("x", 1_001)).await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    let other = store.create_alert_rule(rule("y", 1_002)).await.expect("y");
    let renamed = AlertRule {
        spec: spec("x", RuleKind::DeadLetters),
        ..other.clone()
    };
    let taken = store.update_alert_rule(renamed).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    assert!(
        store
            .fire_alert(alert(&r, "server", 2_000))
            .await
            .expect("fire")
    );
    store.delete_alert_rule(&r.id).await.expect("delete");
    assert!(store.get_alert_rule(&r.id).await.expect("get").is_none());
    assert!(store.firing_alerts().await.expect("firing").is_empty());
    let again = store.delete_alert_rule(&r.id).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
}

async fn alerts_list_newest_first_by_status_and_rule(store: Arc<dyn Store>) {
    let r1 = store
        .create_alert_rule(rule("one", 1_000))
        .await
        .expect("1");
    let r2 = store
        .create_alert_rule(rule("two", 1_001))
        .await
        .expect("2");
    let a1 = alert(&r1, "server", 2_000);
    let a2 = alert(&r2, "server", 3_000);
    store.fire_alert(a1.clone()).await.expect("fire 1");
    store.fire_alert(a2.clone()).await.expect("fire 2");
    store
        .resolve_alert(Alert {
            resolved_at: Some(4_000),
            ..a1.clone()
        })
        .await
        .expect("resolve");
    let list = |filter: AlertFilter| {
        let store = store.clone();
        async move {
            store
                .list_alerts(filter, Page::first(10, Order::Descending))
                .await
                .expect("list")
                .items
                .into_iter()
                .map(|a| a.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(AlertFilter::default()).await,
        [a2.id.clone(), a1.id.clone()]
    );
    let firing = AlertFilter {
        firing: Some(true),
        ..Default::default()
    };
    assert_eq!(list(firing).await, std::slice::from_ref(&a2.id));
    let resolved = AlertFilter {
        firing: Some(false),
        ..Default::default()
    };
    assert_eq!(list(resolved).await, std::slice::from_ref(&a1.id));
    let of_one = AlertFilter {
        rule_id: Some(r1.id.clone()),
        ..Default::default()
    };
    assert_eq!(list(of_one).await, [a1.id]);
}

async fn a_node_is_listed_as_it_last_said(store: Arc<dyn Store>) {
    let seen = NodeSeen {
        name: "node-a".into(),
        role: "all".into(),
        leader: false,
    };
    store.record_node(seen.clone()).await.expect("record");
    store
        .record_node(NodeSeen {
            leader: true,
            ..seen.clone()
        })
        .await
        .expect("again");
    let nodes = store.list_nodes().await.expect("nodes");
    assert_eq!(nodes.nodes.len(), 1);
    assert_eq!(nodes.nodes[0].seen.name, "node-a");
    assert!(nodes.nodes[0].seen.leader);
    assert!(nodes.now >= nodes.nodes[0].last_seen);
}

/// Two nodes starting at once bring the same config rules in step: both succeed and the rules
/// are there once (before the sync held a lock, one node failed to start on the unique name).
#[tokio::test]
async fn two_nodes_syncing_the_config_s_rules_at_once_both_succeed() {
    let f = crate::fixtures::Postgres::new().await;
    let other = f.another_node().await;
    for round in 0..5 {
        let wanted = vec![
            spec(&format!("gone-{round}"), RuleKind::NodeGone),
            spec(&format!("stuck-{round}"), RuleKind::OldestPending),
        ];
        let (a, b) = tokio::join!(
            f.store.sync_config_alert_rules(wanted.clone(), 1_000),
            other.sync_config_alert_rules(wanted, 1_000)
        );
        a.expect("one node");
        b.expect("the other");
        let rules = f
            .store
            .list_alert_rules(Page::first(10, Order::Ascending))
            .await
            .expect("list")
            .items;
        assert_eq!(rules.len(), 2, "round {round}: {rules:?}");
    }
}
