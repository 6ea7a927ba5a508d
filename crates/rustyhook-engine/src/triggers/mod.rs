//! Triggers: what starts handler runs. Each turns what it sees into runs through
//! [`Automation`](crate::automation::Automation), which returns once the run is stored; only
//! then is the event acknowledged (an SQS message deleted, a plugin's event acked). Inbound
//! webhooks are triggers too, but they arrive through HTTP and live in the API crate
//! (`rustyhook_api::hooks`); broker messages that become messages or runs are in
//! [`sources`](crate::sources).
//!
//! - [`start()`]: starts a task for every handler whose trigger runs in-process.
//! - [`cron`]: ticks of a cron schedule, with the misfire policy after downtime.
//! - [`files`]: debounced batches of file changes, filtered relative to the watched folder.
//! - [`sqs`]: an SQS queue, long-polled, each message deleted once its run is stored.
//! - [`sqs_client`]: the small SQS client it uses (AWS JSON protocol, SigV4 signing).
//! - [`plugin`]: a long-lived child process whose JSON lines are events.

pub mod cron;
pub mod files;
pub mod plugin;
pub mod sqs;
pub mod sqs_client;
mod start;

pub use self::start::start;
