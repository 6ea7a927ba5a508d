//! Reading rows into domain records, for both backends. Each backend lets its row type answer
//! [`Columns`]; the readers here then turn columns into records the same way everywhere, so a
//! record stored by SQLite and one stored by PostgreSQL read back alike. Column lists are
//! constants so every query selects the same columns in the same order as the readers expect.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::{AppId, AttemptId, DeliveryId, EndpointId, MessageId, RunId, TaskId};
use rustyhook_core::model::{
    App, Attempt, Delivery, DeliveryStatus, Endpoint, EndpointSecret, EventType, Message,
    TriggerType,
};
use rustyhook_core::names::{Channel, EventTypeName, Uid};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::run::{Run, RunAttempt, RunStep};
use rustyhook_core::signing::{HeaderStyle, SigningSecret};

use crate::task::{BackgroundTask, TaskKind, TaskStatus};
use crate::{Claimed, Due, IdempotencyBegin};

pub(crate) const APP_COLS: &str =
    "id, uid, name, rate_limit, metadata, created_at, updated_at, header_style";
/// The condition on `apps` that keeps only apps with at least one endpoint (Svix's
/// `exclude_apps_with_no_endpoints`); the same SQL on both backends.
pub(crate) const APP_HAS_ENDPOINTS: &str =
    "EXISTS (SELECT 1 FROM endpoints WHERE endpoints.app_id = apps.id)";
pub(crate) const EVENT_TYPE_COLS: &str = "name, description, schemas, archived, deprecated, \
     feature_flag, created_at, updated_at, feature_flags, group_name";
pub(crate) const ENDPOINT_COLS: &str = "id, app_id, uid, url, description, version, disabled, \
     rate_limit, filter_types, channels, metadata, headers, secrets, header_style, max_in_flight, \
     created_at, updated_at";
pub(crate) const MESSAGE_COLS: &str =
    "m.id, m.app_id, m.event_id, m.event_type, m.payload, m.channels, m.created_at, m.tags";
/// How many columns [`MESSAGE_COLS`] has, for reading what follows them in a join.
pub(crate) const MESSAGE_COL_COUNT: usize = 8;
pub(crate) const DELIVERY_COLS: &str = "d.id, d.msg_id, d.endpoint_id, d.app_id, d.status, \
     d.attempts, d.next_attempt_at, d.created_at, d.updated_at";
pub(crate) const ATTEMPT_COLS: &str = "a.id, a.delivery_id, a.msg_id, a.endpoint_id, a.app_id, \
     a.url, a.outcome, a.status_code, a.response, a.duration_ms, a.trigger_type, a.created_at";
/// A run's columns: a delivery row whose target is a handler step.
pub(crate) const RUN_COLS: &str = "id, handler_id, step, status, attempts, next_attempt_at, \
     triggered_by, parent_id, event, exit_code, output, created_at, updated_at";
/// What a claim reads of due work of either kind: [`DELIVERY_COLS`], the message's event type
/// and payload (none for a run), the `manual` flag, then the run's own columns (none for a
/// delivery to an endpoint). The claim joins the message as `m`, if any.
pub(crate) const DUE_COLS: &str = "d.id, d.msg_id, d.endpoint_id, d.app_id, d.status, \
     d.attempts, d.next_attempt_at, d.created_at, d.updated_at, m.event_type, m.payload, \
     d.manual, d.handler_id, d.step, d.triggered_by, d.parent_id, d.event, d.exit_code, d.output";
/// A run attempt's columns: an attempt row of a handler step, its output kept in `response`.
pub(crate) const RUN_ATTEMPT_COLS: &str =
    "id, delivery_id, handler_id, outcome, exit_code, response, duration_ms, created_at";

pub(crate) const REJECTED_COLS: &str = "id, source, broker_id, reason, body, created_at";
pub(crate) const TASK_COLS: &str = "id, app_id, task, status, data, created_at, updated_at";

/// [`ENDPOINT_COLS`] qualified with the table alias `e`, for joins.
pub(crate) fn endpoint_cols_of_e() -> String {
    ENDPOINT_COLS
        .split(", ")
        .map(|c| format!("e.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One result row, read by column position. Integers are read as `i64` and narrowed here, so a
/// value out of range reads as corrupt rather than wrapping.
pub(crate) trait Columns {
    /// The backend's error, so readers slot into its row callbacks.
    type Error;
    /// A `TEXT NOT NULL` column.
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    /// A nullable text column.
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    /// An integer column.
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    /// A nullable integer column.
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    /// A boolean column (0/1 in SQLite).
    fn flag(&self, i: usize) -> Result<bool, Self::Error>;
    /// A floating-point column (`REAL`, `DOUBLE PRECISION`).
    fn real(&self, i: usize) -> Result<f64, Self::Error>;
    /// The error for a value that is present but cannot be what the record needs.
    fn corrupt(what: &str) -> Self::Error;

    /// An integer column narrowed to `T`.
    fn num<T: TryFrom<i64>>(&self, i: usize) -> Result<T, Self::Error> {
        T::try_from(self.int(i)?).map_err(|_| Self::corrupt("an integer out of range"))
    }

    /// A nullable integer column narrowed to `T`.
    fn opt_num<T: TryFrom<i64>>(&self, i: usize) -> Result<Option<T>, Self::Error> {
        self.opt_int(i)?
            .map(|v| T::try_from(v).map_err(|_| Self::corrupt("an integer out of range")))
            .transpose()
    }

    /// A JSON text column.
    fn json<T: serde::de::DeserializeOwned>(&self, i: usize) -> Result<T, Self::Error> {
        serde_json::from_str(&self.text(i)?).map_err(|_| Self::corrupt("a JSON column"))
    }

    /// A nullable JSON text column.
    fn opt_json<T: serde::de::DeserializeOwned>(&self, i: usize) -> Result<Option<T>, Self::Error> {
        self.opt_text(i)?
            .map(|t| serde_json::from_str(&t).map_err(|_| Self::corrupt("a JSON column")))
            .transpose()
    }

    /// A nullable uid column.
    fn uid(&self, i: usize) -> Result<Option<Uid>, Self::Error> {
        self.opt_text(i)?
            .map(|t| Uid::parse(t).map_err(|_| Self::corrupt("a uid")))
            .transpose()
    }

    /// An event type name column.
    fn event_type(&self, i: usize) -> Result<EventTypeName, Self::Error> {
        EventTypeName::parse(self.text(i)?).map_err(|_| Self::corrupt("an event type"))
    }

    /// A delivery (or run) status column.
    fn status(&self, i: usize) -> Result<DeliveryStatus, Self::Error> {
        DeliveryStatus::parse(&self.text(i)?).ok_or_else(|| Self::corrupt("a delivery status"))
    }

    /// An outcome code column.
    fn outcome(&self, i: usize) -> Result<OutcomeCode, Self::Error> {
        OutcomeCode::parse(&self.text(i)?).ok_or_else(|| Self::corrupt("an outcome code"))
    }
}

/// Serializes a value stored as JSON text.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("maps and lists of strings always serialize")
}

/// How a trigger is stored: 1 for manual, 0 for scheduled.
fn trigger(manual: bool) -> TriggerType {
    if manual {
        TriggerType::Manual
    } else {
        TriggerType::Scheduled
    }
}

pub(crate) fn app<R: Columns>(row: &R) -> Result<App, R::Error> {
    Ok(App {
        id: AppId::from_trusted(row.text(0)?),
        uid: row.uid(1)?,
        name: row.text(2)?,
        rate_limit: row.opt_num(3)?,
        metadata: row.json(4)?,
        created_at: row.int(5)?,
        updated_at: row.int(6)?,
        header_style: row.opt_text(7)?.map(|s| HeaderStyle::parse(&s)),
    })
}

pub(crate) fn event_type<R: Columns>(row: &R) -> Result<EventType, R::Error> {
    Ok(EventType {
        name: row.event_type(0)?,
        description: row.text(1)?,
        schemas: row.opt_json(2)?,
        archived: row.flag(3)?,
        deprecated: row.flag(4)?,
        feature_flag: row.opt_text(5)?,
        created_at: row.int(6)?,
        updated_at: row.int(7)?,
        feature_flags: row.opt_json(8)?,
        group_name: row.opt_text(9)?,
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredSecret {
    key: String,
    expires_at: Option<i64>,
}

/// Seals an endpoint's secrets for storage.
pub(crate) fn seal_secrets(secrets: &[EndpointSecret], sbox: &SecretBox) -> String {
    let stored: Vec<StoredSecret> = secrets
        .iter()
        .map(|s| StoredSecret {
            key: s.secret.expose(),
            expires_at: s.expires_at,
        })
        .collect();
    sbox.seal(to_json(&stored).as_bytes())
}

fn open_secrets<R: Columns>(
    sealed: &str,
    sbox: &SecretBox,
) -> Result<Vec<EndpointSecret>, R::Error> {
    let plain = sbox
        .open(sealed)
        .map_err(|_| R::corrupt("an endpoint secret (is the encryption key the right one?)"))?;
    let stored: Vec<StoredSecret> =
        serde_json::from_slice(&plain).map_err(|_| R::corrupt("endpoint secrets"))?;
    stored
        .into_iter()
        .map(|s| {
            Ok(EndpointSecret {
                secret: SigningSecret::parse(&s.key).map_err(|_| R::corrupt("a signing secret"))?,
                expires_at: s.expires_at,
            })
        })
        .collect()
}

/// Seals an endpoint's headers for storage: they often carry an `Authorization` value, which
/// must no more be readable from a copied database than a signing secret.
pub(crate) fn seal_headers(headers: &BTreeMap<String, String>, sbox: &SecretBox) -> String {
    sbox.seal(to_json(headers).as_bytes())
}

/// Opens what [`seal_headers`] stored. A JSON object in clear is a row written before headers
/// were sealed (no released version did, but development databases may hold one); it is read
/// as is and sealed at the endpoint's next update.
fn open_headers<R: Columns>(
    sealed: &str,
    sbox: &SecretBox,
) -> Result<BTreeMap<String, String>, R::Error> {
    if sealed.starts_with('{') {
        return serde_json::from_str(sealed).map_err(|_| R::corrupt("endpoint headers"));
    }
    let plain = sbox
        .open(sealed)
        .map_err(|_| R::corrupt("endpoint headers (is the encryption key the right one?)"))?;
    serde_json::from_slice(&plain).map_err(|_| R::corrupt("endpoint headers"))
}

/// Seals a saved idempotent response: it may hold a secret (the new key of a rotation).
pub(crate) fn seal_response(body: &[u8], sbox: &SecretBox) -> Vec<u8> {
    sbox.seal(body).into_bytes()
}

/// Opens the saved response inside `found`, if it holds one.
pub(crate) fn open_response(
    found: IdempotencyBegin,
    sbox: &SecretBox,
) -> crate::StoreResult<IdempotencyBegin> {
    match found {
        IdempotencyBegin::Completed { status, body } => {
            let text = std::str::from_utf8(&body)
                .map_err(|_| crate::StoreError::Corrupt("a saved idempotent response".into()))?;
            let body = sbox.open(text).map_err(|_| {
                crate::StoreError::Corrupt(
                    "a saved idempotent response (is the encryption key the right one?)".into(),
                )
            })?;
            Ok(IdempotencyBegin::Completed { status, body })
        }
        other => Ok(other),
    }
}

/// Reads an endpoint from [`ENDPOINT_COLS`] starting at `at`.
pub(crate) fn endpoint_at<R: Columns>(
    row: &R,
    at: usize,
    sbox: &SecretBox,
) -> Result<Endpoint, R::Error> {
    Ok(Endpoint {
        id: EndpointId::from_trusted(row.text(at)?),
        app_id: AppId::from_trusted(row.text(at + 1)?),
        uid: row.uid(at + 2)?,
        url: row.text(at + 3)?,
        description: row.text(at + 4)?,
        version: row.num(at + 5)?,
        disabled: row.flag(at + 6)?,
        rate_limit: row.opt_num(at + 7)?,
        filter_types: row.opt_json::<Vec<EventTypeName>>(at + 8)?,
        channels: row.opt_json::<Vec<Channel>>(at + 9)?,
        metadata: row.json::<BTreeMap<String, String>>(at + 10)?,
        headers: open_headers::<R>(&row.text(at + 11)?, sbox)?,
        secrets: open_secrets::<R>(&row.text(at + 12)?, sbox)?,
        header_style: row.opt_text(at + 13)?.map(|s| HeaderStyle::parse(&s)),
        max_in_flight: row.num(at + 14)?,
        created_at: row.int(at + 15)?,
        updated_at: row.int(at + 16)?,
    })
}

/// Reads a message from [`MESSAGE_COLS`] starting at `at`.
pub(crate) fn message_at<R: Columns>(row: &R, at: usize) -> Result<Message, R::Error> {
    Ok(Message {
        id: MessageId::from_trusted(row.text(at)?),
        app_id: AppId::from_trusted(row.text(at + 1)?),
        event_id: row.uid(at + 2)?,
        event_type: row.event_type(at + 3)?,
        payload: row.opt_text(at + 4)?.map(Arc::from),
        channels: row.opt_json::<Vec<Channel>>(at + 5)?,
        created_at: row.int(at + 6)?,
        tags: row.opt_json::<Vec<String>>(at + 7)?,
    })
}

/// Reads a delivery from [`DELIVERY_COLS`] starting at `at`.
pub(crate) fn delivery_at<R: Columns>(row: &R, at: usize) -> Result<Delivery, R::Error> {
    Ok(Delivery {
        id: DeliveryId::from_trusted(row.text(at)?),
        msg_id: MessageId::from_trusted(row.text(at + 1)?),
        endpoint_id: EndpointId::from_trusted(row.text(at + 2)?),
        app_id: AppId::from_trusted(row.text(at + 3)?),
        status: row.status(at + 4)?,
        attempts: row.num(at + 5)?,
        next_attempt_at: row.opt_int(at + 6)?,
        created_at: row.int(at + 7)?,
        updated_at: row.int(at + 8)?,
    })
}

/// Reads claimed work of either kind from [`DUE_COLS`].
pub(crate) fn due<R: Columns>(row: &R) -> Result<Due, R::Error> {
    let Some(handler_id) = row.opt_text(12)? else {
        return Ok(Due::Endpoint(Claimed {
            delivery: delivery_at(row, 0)?,
            event_type: row.event_type(9)?,
            payload: row.opt_text(10)?.map(Arc::from),
            trigger: trigger(row.flag(11)?),
        }));
    };
    Ok(Due::Handler(Run {
        id: RunId::from_trusted(row.text(0)?),
        handler_id,
        step: step::<_, R>(&row.opt_text(13)?.unwrap_or_default())?,
        status: row.status(4)?,
        attempts: row.num(5)?,
        next_attempt_at: row.opt_int(6)?,
        triggered_by: row.opt_text(14)?.unwrap_or_default(),
        parent_id: row.opt_text(15)?.map(RunId::from_trusted),
        event: row.json(16)?,
        exit_code: row.opt_num(17)?,
        output: row.opt_text(18)?,
        created_at: row.int(7)?,
        updated_at: row.int(8)?,
    }))
}

fn step<E, R: Columns<Error = E>>(text: &str) -> Result<RunStep, E> {
    RunStep::parse(text).ok_or_else(|| R::corrupt("a run step"))
}

pub(crate) fn attempt<R: Columns>(row: &R) -> Result<Attempt, R::Error> {
    Ok(Attempt {
        id: AttemptId::from_trusted(row.text(0)?),
        delivery_id: DeliveryId::from_trusted(row.text(1)?),
        msg_id: MessageId::from_trusted(row.text(2)?),
        endpoint_id: EndpointId::from_trusted(row.text(3)?),
        app_id: AppId::from_trusted(row.text(4)?),
        url: row.text(5)?,
        outcome: row.outcome(6)?,
        status_code: row.num(7)?,
        response: row.opt_text(8)?,
        duration_ms: row.int(9)?,
        trigger: trigger(row.int(10)? == 1),
        created_at: row.int(11)?,
    })
}

pub(crate) fn run<R: Columns>(row: &R) -> Result<Run, R::Error> {
    Ok(Run {
        id: RunId::from_trusted(row.text(0)?),
        handler_id: row.text(1)?,
        step: step::<_, R>(&row.text(2)?)?,
        status: row.status(3)?,
        attempts: row.num(4)?,
        next_attempt_at: row.opt_int(5)?,
        triggered_by: row.text(6)?,
        parent_id: row.opt_text(7)?.map(RunId::from_trusted),
        event: row.json(8)?,
        exit_code: row.opt_num(9)?,
        output: row.opt_text(10)?,
        created_at: row.int(11)?,
        updated_at: row.int(12)?,
    })
}

pub(crate) fn run_attempt<R: Columns>(row: &R) -> Result<RunAttempt, R::Error> {
    Ok(RunAttempt {
        id: AttemptId::from_trusted(row.text(0)?),
        run_id: RunId::from_trusted(row.text(1)?),
        handler_id: row.text(2)?,
        outcome: row.outcome(3)?,
        exit_code: row.opt_num(4)?,
        output: row.opt_text(5)?.unwrap_or_default(),
        duration_ms: row.int(6)?,
        created_at: row.int(7)?,
    })
}

pub(crate) fn rejected<R: Columns>(row: &R) -> Result<crate::RejectedMessage, R::Error> {
    Ok(crate::RejectedMessage {
        id: row.text(0)?,
        source: row.text(1)?,
        broker_id: row.text(2)?,
        reason: row.text(3)?,
        body: row.text(4)?,
        created_at: row.int(5)?,
    })
}

pub(crate) fn task<R: Columns>(row: &R) -> Result<BackgroundTask, R::Error> {
    Ok(BackgroundTask {
        id: TaskId::from_trusted(row.text(0)?),
        app_id: AppId::from_trusted(row.text(1)?),
        kind: TaskKind::parse(&row.text(2)?).ok_or_else(|| R::corrupt("a task kind"))?,
        status: TaskStatus::parse(&row.text(3)?).ok_or_else(|| R::corrupt("a task status"))?,
        data: row.json(4)?,
        created_at: row.int(5)?,
        updated_at: row.int(6)?,
    })
}

pub(crate) fn pause<R: Columns>(row: &R) -> Result<crate::Pause, R::Error> {
    Ok(crate::Pause {
        scope: crate::PauseScope::parse(&row.text(0)?)
            .ok_or_else(|| R::corrupt("a pause scope"))?,
        target: row.text(1)?,
        reason: row.opt_text(2)?,
        paused_by: row.text(3)?,
        paused_at: row.int(4)?,
    })
}
