//! Alert rules, alerts and the node list, on PostgreSQL. A fire or a resolve and its
//! operational event commit in one transaction; the partial unique index and the conditional
//! update make each happen once however many nodes try (see [`crate::alert`]).

use rustyhook_core::alert::{Alert, AlertRule, RuleOrigin, RuleSpec};
use rustyhook_core::id::AlertRuleId;
use rustyhook_core::time::Millis;
use sqlx::{PgConnection, PgPool, Row};

use super::conn::db_err;
use super::list::PgPage;
use super::nodes::DB_NOW;
use super::operational;
use crate::alert::{
    self as shared, ALERT_COLS, AlertFilter, FORGET_NODES_AFTER, NodeRow, NodeSeen, Nodes,
    RULE_COLS, RULE_READ_COLS,
};
use crate::page::{Listed, Page};
use crate::{StoreError, StoreResult};

/// Runs `sql` with a rule's fields as `$1`…`$14`, in [`RULE_COLS`]' order: one binding for
/// the insert and the update. Returns the rows it touched.
async fn execute_rule(conn: &mut PgConnection, sql: &str, r: &AlertRule) -> StoreResult<u64> {
    let s = &r.spec;
    let done = sqlx::query(sql)
        .bind(&r.id)
        .bind(&s.name)
        .bind(s.kind.as_str())
        .bind(s.threshold)
        .bind(shared::window_ms(s))
        .bind(&s.app)
        .bind(&s.endpoint)
        .bind(&s.handler)
        .bind(&s.source)
        .bind(i64::from(s.min_attempts))
        .bind(s.disabled)
        .bind(r.origin.as_str())
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected())
}

pub(crate) async fn insert_rule(conn: &mut PgConnection, r: &AlertRule) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO alert_rules ({RULE_COLS})\n\
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    );
    execute_rule(conn, &sql, r).await?;
    Ok(())
}

pub(crate) async fn get_rule(conn: &mut PgConnection, id: &str) -> StoreResult<Option<AlertRule>> {
    let row = sqlx::query(&format!(
        "SELECT {RULE_READ_COLS}\nFROM alert_rules r\nWHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    row.as_ref().map(shared::rule).transpose()
}

pub(crate) async fn list_rules(pool: &PgPool, page: &Page) -> StoreResult<Listed<AlertRule>> {
    shared::rules_query()
        .page(pool, "r.id", page, shared::rule)
        .await
}

/// Replaces a rule's spec (and origin); `NotFound` if it is gone.
pub(crate) async fn update_rule(conn: &mut PgConnection, r: &AlertRule) -> StoreResult<()> {
    // Every field but the id ($1) and created_at ($13, typed so it may go unused).
    let sql = r#"UPDATE alert_rules
        SET name = $2, kind = $3, threshold = $4, window_ms = $5, app = $6, endpoint = $7,
            handler = $8, source = $9, min_attempts = $10, disabled = $11, origin = $12,
            updated_at = $14
        WHERE id = $1 AND $13::BIGINT IS NOT NULL"#;
    if execute_rule(conn, sql, r).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes a rule and its alerts; `NotFound` if there is no such rule.
pub(crate) async fn delete_rule(pool: &PgPool, id: &str) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    sqlx::query(
        r#"DELETE FROM alerts
        WHERE rule_id = $1"#,
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    let done = sqlx::query(
        r#"DELETE FROM alert_rules
        WHERE id = $1"#,
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit().await.map_err(db_err)
}

/// The advisory lock (transaction-scoped) that serializes the config's rules being brought in
/// step by nodes starting at once: "rhalerts" in ASCII.
const SYNC_LOCK: i64 = 0x7268_616c_6572_7473;

/// Brings the config's rules in step with `wanted`, in one transaction: upserted by name, the
/// config rules not in it deleted. A name taken by a rule made through the API is a
/// `Conflict`. Two nodes starting at once both arrive at the same rules: the transaction holds
/// [`SYNC_LOCK`], so the second waits for the first and then finds its rules there (without it,
/// both found a name missing and one failed to start on the unique name).
pub(crate) async fn sync_config(
    pool: &PgPool,
    wanted: &[RuleSpec],
    now: Millis,
) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SYNC_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    for spec in wanted {
        let rule = AlertRule {
            id: AlertRuleId::generate(now).into(),
            spec: spec.clone(),
            origin: RuleOrigin::Config,
            firing: 0,
            created_at: now,
            updated_at: now,
        };
        let found: Option<String> = sqlx::query_scalar(
            r#"SELECT id
            FROM alert_rules
            WHERE name = $1
            FOR UPDATE"#,
        )
        .bind(&spec.name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(id) = found else {
            insert_rule(&mut tx, &rule).await?;
            continue;
        };
        let Some(before) = get_rule(&mut tx, &id).await? else {
            continue;
        };
        if before.origin != RuleOrigin::Config {
            return Err(StoreError::Conflict(format!(
                "an alert rule named {:?} was made through the API",
                spec.name
            )));
        }
        if before.spec != *spec {
            let rule = AlertRule {
                id,
                created_at: before.created_at,
                ..rule
            };
            update_rule(&mut tx, &rule).await?;
        }
    }
    let names: Vec<&str> = wanted.iter().map(|r| r.name.as_str()).collect();
    let gone = "SELECT id FROM alert_rules WHERE origin = 'config' AND name <> ALL($1::TEXT[])";
    for table in ["alerts\nWHERE rule_id", "alert_rules\nWHERE id"] {
        sqlx::query(&format!("DELETE FROM {table} IN ({gone})"))
            .bind(&names)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)
}

/// Stores a firing alert and queues `alert.fired`, unless the rule already has one firing for
/// the subject (or is gone). Returns whether it fired.
pub(crate) async fn fire(pool: &PgPool, a: &Alert) -> StoreResult<bool> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let done = sqlx::query(&format!(
        "INSERT INTO alerts ({ALERT_COLS})\n\
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, NULL\n\
         WHERE EXISTS (SELECT 1 FROM alert_rules WHERE id = $2)\n\
         ON CONFLICT DO NOTHING"
    ))
    .bind(&a.id)
    .bind(&a.rule_id)
    .bind(&a.rule_name)
    .bind(a.kind.as_str())
    .bind(&a.subject)
    .bind(a.value)
    .bind(a.threshold)
    .bind(&a.summary)
    .bind(a.fired_at)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    operational::insert(&mut tx, &[shared::event(a)]).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

/// Resolves a firing alert (`a` as resolved) and queues `alert.resolved`, unless it is
/// already resolved or gone. Returns whether it resolved.
pub(crate) async fn resolve(pool: &PgPool, a: &Alert) -> StoreResult<bool> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let done = sqlx::query(
        r#"UPDATE alerts
        SET resolved_at = $1
        WHERE id = $2 AND resolved_at IS NULL"#,
    )
    .bind(a.resolved_at)
    .bind(&a.id)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    operational::insert(&mut tx, &[shared::event(a)]).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

pub(crate) async fn list_alerts(
    pool: &PgPool,
    filter: AlertFilter,
    page: &Page,
) -> StoreResult<Listed<Alert>> {
    shared::alerts_query(filter)
        .page(pool, "id", page, shared::alert)
        .await
}

/// Every alert firing now.
pub(crate) async fn firing(pool: &PgPool) -> StoreResult<Vec<Alert>> {
    let rows = sqlx::query(&format!(
        "SELECT {ALERT_COLS}\nFROM alerts\nWHERE resolved_at IS NULL\nORDER BY id"
    ))
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    rows.iter().map(shared::alert).collect()
}

/// Records what a node says of itself, by the database's clock, and forgets nodes not seen
/// for [`FORGET_NODES_AFTER`].
pub(crate) async fn record_node(pool: &PgPool, node: &NodeSeen) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    sqlx::query(&format!(
        "INSERT INTO nodes_seen (name, role, leader, last_seen)\n\
         VALUES ($1, $2, $3, {DB_NOW})\n\
         ON CONFLICT (name) DO UPDATE\n\
         SET role = EXCLUDED.role, leader = EXCLUDED.leader, last_seen = EXCLUDED.last_seen"
    ))
    .bind(&node.name)
    .bind(&node.role)
    .bind(node.leader)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    sqlx::query(&format!(
        "DELETE FROM nodes_seen\nWHERE last_seen < {DB_NOW} - $1"
    ))
    .bind(FORGET_NODES_AFTER)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)
}

pub(crate) async fn list_nodes(pool: &PgPool) -> StoreResult<Nodes> {
    let now: i64 = sqlx::query_scalar(&format!("SELECT {DB_NOW}"))
        .fetch_one(pool)
        .await
        .map_err(db_err)?;
    let rows = sqlx::query(
        r#"SELECT name, role, leader, last_seen
        FROM nodes_seen
        ORDER BY name"#,
    )
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    let nodes = rows
        .iter()
        .map(|r| {
            Ok(NodeRow {
                seen: NodeSeen {
                    name: r.try_get(0)?,
                    role: r.try_get(1)?,
                    leader: r.try_get(2)?,
                },
                last_seen: r.try_get(3)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(db_err)?;
    Ok(Nodes { now, nodes })
}
