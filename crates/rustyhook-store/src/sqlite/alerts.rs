//! Alert rules, alerts and the node list, on SQLite. Every write runs in the writer's
//! transaction, so an alert and its operational event commit together.

use rusqlite::{Connection, OptionalExtension, params};
use rustyhook_core::alert::{Alert, AlertRule, RuleOrigin, RuleSpec};
use rustyhook_core::id::AlertRuleId;
use rustyhook_core::time::Millis;

use super::conn::db_err;
use super::list::SqlitePage;
use super::operational;
use crate::alert::{
    self as shared, ALERT_COLS, AlertFilter, NodeRow, NodeSeen, Nodes, RULE_COLS, RULE_READ_COLS,
};
use crate::page::{Listed, Page};
use crate::{StoreError, StoreResult};

/// Runs `sql` with a rule's fields as `?1`…`?14`, in [`RULE_COLS`]' order: one binding for
/// the insert and the update.
fn execute_rule(conn: &Connection, sql: &str, r: &AlertRule) -> StoreResult<usize> {
    let s = &r.spec;
    conn.prepare_cached(sql)
        .and_then(|mut st| {
            st.execute(params![
                r.id,
                s.name,
                s.kind.as_str(),
                s.threshold,
                shared::window_ms(s),
                s.app,
                s.endpoint,
                s.handler,
                s.source,
                s.min_attempts,
                s.disabled,
                r.origin.as_str(),
                r.created_at,
                r.updated_at
            ])
        })
        .map_err(db_err)
}

pub(crate) fn insert_rule(conn: &Connection, r: &AlertRule) -> StoreResult<()> {
    execute_rule(
        conn,
        &format!(
            "INSERT INTO alert_rules ({RULE_COLS})\n\
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ),
        r,
    )?;
    Ok(())
}

pub(crate) fn get_rule(conn: &Connection, id: &str) -> StoreResult<Option<AlertRule>> {
    conn.prepare_cached(&format!(
        "SELECT {RULE_READ_COLS}\nFROM alert_rules r\nWHERE r.id = ?"
    ))
    .and_then(|mut s| s.query_row([id], |r| shared::rule(r)).optional())
    .map_err(db_err)
}

pub(crate) fn list_rules(conn: &Connection, page: &Page) -> StoreResult<Listed<AlertRule>> {
    shared::rules_query().page(conn, "r.id", page, |r| shared::rule(r))
}

/// Replaces a rule's spec (and origin); `NotFound` if it is gone.
pub(crate) fn update_rule(conn: &Connection, r: &AlertRule) -> StoreResult<()> {
    // Every field but the id (?1) and created_at (?13).
    let changed = execute_rule(
        conn,
        r#"UPDATE alert_rules
        SET name = ?2, kind = ?3, threshold = ?4, window_ms = ?5, app = ?6, endpoint = ?7,
            handler = ?8, source = ?9, min_attempts = ?10, disabled = ?11, origin = ?12,
            updated_at = ?14
        WHERE id = ?1"#,
        r,
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes a rule and its alerts; `NotFound` if there is no such rule.
pub(crate) fn delete_rule(conn: &Connection, id: &str) -> StoreResult<()> {
    conn.execute(
        r#"DELETE FROM alerts
        WHERE rule_id = ?"#,
        [id],
    )
    .map_err(db_err)?;
    let n = conn
        .execute(
            r#"DELETE FROM alert_rules
            WHERE id = ?"#,
            [id],
        )
        .map_err(db_err)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Brings the config's rules in step with `wanted`: upserted by name, the config rules not in
/// it deleted. A name taken by a rule made through the API is a `Conflict`.
pub(crate) fn sync_config(conn: &Connection, wanted: &[RuleSpec], now: Millis) -> StoreResult<()> {
    for spec in wanted {
        let found: Option<String> = conn
            .query_row(
                r#"SELECT id
                FROM alert_rules
                WHERE name = ?"#,
                [&spec.name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        let mut rule = AlertRule {
            id: found
                .clone()
                .unwrap_or_else(|| AlertRuleId::generate(now).into()),
            spec: spec.clone(),
            origin: RuleOrigin::Config,
            firing: 0,
            created_at: now,
            updated_at: now,
        };
        match found {
            None => insert_rule(conn, &rule)?,
            Some(id) => {
                let Some(before) = get_rule(conn, &id)? else {
                    continue;
                };
                if before.origin != RuleOrigin::Config {
                    return Err(StoreError::Conflict(format!(
                        "an alert rule named {:?} was made through the API",
                        spec.name
                    )));
                }
                if before.spec != *spec {
                    rule.created_at = before.created_at;
                    update_rule(conn, &rule)?;
                }
            }
        }
    }
    let names = serde_json::to_string(&wanted.iter().map(|r| &r.name).collect::<Vec<_>>())
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let gone = "SELECT id FROM alert_rules WHERE origin = 'config' \
        AND name NOT IN (SELECT value FROM json_each(?))";
    conn.execute(
        &format!("DELETE FROM alerts\nWHERE rule_id IN ({gone})"),
        [&names],
    )
    .map_err(db_err)?;
    conn.execute(
        &format!("DELETE FROM alert_rules\nWHERE id IN ({gone})"),
        [&names],
    )
    .map_err(db_err)?;
    Ok(())
}

/// Stores a firing alert and queues `alert.fired`, unless the rule already has one firing for
/// the subject (or is gone). Returns whether it fired.
pub(crate) fn fire(conn: &Connection, a: &Alert) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(&format!(
            "INSERT INTO alerts ({ALERT_COLS})\n\
             SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL\n\
             WHERE EXISTS (SELECT 1 FROM alert_rules WHERE id = ?)\n\
             ON CONFLICT DO NOTHING"
        ))
        .and_then(|mut s| {
            s.execute(params![
                a.id,
                a.rule_id,
                a.rule_name,
                a.kind.as_str(),
                a.subject,
                a.value,
                a.threshold,
                a.summary,
                a.fired_at,
                a.rule_id
            ])
        })
        .map_err(db_err)?;
    if n == 0 {
        return Ok(false);
    }
    operational::insert(conn, &[shared::event(a)])?;
    Ok(true)
}

/// Resolves a firing alert (`a` as resolved) and queues `alert.resolved`, unless it is
/// already resolved or gone. Returns whether it resolved.
pub(crate) fn resolve(conn: &Connection, a: &Alert) -> StoreResult<bool> {
    let n = conn
        .execute(
            r#"UPDATE alerts
            SET resolved_at = ?
            WHERE id = ? AND resolved_at IS NULL"#,
            params![a.resolved_at, a.id],
        )
        .map_err(db_err)?;
    if n == 0 {
        return Ok(false);
    }
    operational::insert(conn, &[shared::event(a)])?;
    Ok(true)
}

pub(crate) fn list_alerts(
    conn: &Connection,
    filter: AlertFilter,
    page: &Page,
) -> StoreResult<Listed<Alert>> {
    shared::alerts_query(filter).page(conn, "id", page, |r| shared::alert(r))
}

/// Every alert firing now.
pub(crate) fn firing(conn: &Connection) -> StoreResult<Vec<Alert>> {
    conn.prepare_cached(&format!(
        "SELECT {ALERT_COLS}\nFROM alerts\nWHERE resolved_at IS NULL\nORDER BY id"
    ))
    .and_then(|mut s| {
        s.query_map([], |r| shared::alert(r))?
            .collect::<Result<Vec<_>, _>>()
    })
    .map_err(db_err)
}

/// Records this node as the only one: one process uses a SQLite store, so any other name is
/// a former start of it.
pub(crate) fn record_node(conn: &Connection, node: &NodeSeen, now: Millis) -> StoreResult<()> {
    conn.execute(
        r#"DELETE FROM nodes_seen
        WHERE name <> ?"#,
        [&node.name],
    )
    .map_err(db_err)?;
    conn.execute(
        r#"INSERT INTO nodes_seen (name, role, leader, last_seen)
        VALUES (?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE
        SET role = excluded.role, leader = excluded.leader, last_seen = excluded.last_seen"#,
        params![node.name, node.role, node.leader, now],
    )
    .map_err(db_err)?;
    Ok(())
}

pub(crate) fn list_nodes(conn: &Connection, now: Millis) -> StoreResult<Nodes> {
    let nodes = conn
        .prepare_cached(
            r#"SELECT name, role, leader, last_seen
            FROM nodes_seen
            ORDER BY name"#,
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok(NodeRow {
                    seen: NodeSeen {
                        name: r.get(0)?,
                        role: r.get(1)?,
                        leader: r.get(2)?,
                    },
                    last_seen: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(db_err)?;
    Ok(Nodes { now, nodes })
}
