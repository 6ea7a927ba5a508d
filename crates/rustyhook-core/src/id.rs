//! Typed ids. Each is a prefix and 22 base62 characters encoding 48 bits of milliseconds and
//! 80 random bits, so ids sort by creation time as plain strings and list pagination can use them
//! as cursors.

use std::fmt;
use std::sync::Mutex;

use rand::RngCore;

use crate::time::Millis;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_LEN: usize = 22;

/// Encodes a 128-bit value as exactly [`BODY_LEN`] base62 digits, most significant first.
fn encode(mut value: u128) -> String {
    let mut out = [b'0'; BODY_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    out.iter().map(|&b| b as char).collect()
}

/// The last id value handed out by this process, so ids made in the same millisecond still sort
/// in creation order (the next one is the previous plus one, as monotonic ULIDs do).
static LAST: Mutex<u128> = Mutex::new(0);

/// The id value that follows `last` for a fresh `candidate` (48-bit milliseconds, then random):
/// the candidate, unless it is in the same millisecond and not above `last`.
fn next_value(last: &mut u128, candidate: u128) -> u128 {
    let same_ms = (*last >> 80) == (candidate >> 80);
    let value = if same_ms && candidate <= *last {
        *last + 1
    } else {
        candidate
    };
    *last = value;
    value
}

/// A fresh id body for the given time, ordered after the last one this process made.
fn body(now: Millis, rng: &mut impl RngCore) -> String {
    let candidate = fresh_value(now, rng);
    // A poisoned lock only means another thread panicked mid-update; the value is still sound.
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    encode(next_value(&mut last, candidate))
}

/// A body for the given time with a random part of its own, not ordered after the last id.
fn fresh_body(now: Millis, rng: &mut impl RngCore) -> String {
    encode(fresh_value(now, rng))
}

/// 48 bits of milliseconds, then 80 random bits.
fn fresh_value(now: Millis, rng: &mut impl RngCore) -> u128 {
    let mut random = [0u8; 16];
    rng.fill_bytes(&mut random[6..]);
    let ts = (now.max(0) as u64) & 0xFFFF_FFFF_FFFF;
    random[..6].copy_from_slice(&ts.to_be_bytes()[2..]);
    u128::from_be_bytes(random)
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A new id for something created at `now`.
            pub fn generate(now: Millis) -> Self {
                Self(format!("{}{}", $prefix, body(now, &mut rand::rng())))
            }

            /// The start of the ids of rows that one statement creates in bulk, which appends
            /// each row's number as `digits` decimal digits (at most 21): the kind's prefix and
            /// the first `22 - digits` characters of a fresh body for `now`. Its random part is
            /// always drawn anew (never the last id plus one), so two bulks made in the same
            /// millisecond start differently, and their ids sort by time, then row.
            pub fn bulk_prefix(now: Millis, digits: usize) -> String {
                let fresh = fresh_body(now, &mut rand::rng());
                format!("{}{}", $prefix, &fresh[..BODY_LEN - digits.min(BODY_LEN - 1)])
            }

            /// The smallest id of this kind made at `at`: every id made at `at` or later sorts
            /// above it, every id made earlier below. A cursor for "since `at`".
            pub fn floor(at: Millis) -> String {
                let ts = (at.max(0) as u64) & 0xFFFF_FFFF_FFFF;
                format!("{}{}", $prefix, encode(u128::from(ts) << 80))
            }

            /// Accepts a string that has this kind's prefix and a well-formed body.
            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix($prefix)?;
                (rest.len() == BODY_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
                    .then(|| Self(s.to_owned()))
            }

            /// Wraps a value read back from the store, which only holds ids this type produced.
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(
    /// An application (tenant).
    AppId,
    "app_"
);
typed_id!(
    /// An endpoint of an application.
    EndpointId,
    "ep_"
);
typed_id!(
    /// A message; also the `webhook-id` of every attempt to deliver it.
    MessageId,
    "msg_"
);
typed_id!(
    /// One message × one endpoint: the unit of queue work.
    DeliveryId,
    "dlv_"
);
typed_id!(
    /// One run of a handler: a trigger event × one handler, the automation side's delivery.
    RunId,
    "run_"
);

typed_id!(
    /// One try of a delivery.
    AttemptId,
    "atmpt_"
);

typed_id!(
    /// An API token other than the admin token.
    TokenId,
    "tok_"
);

typed_id!(
    /// One entry of the audit log of API writes.
    AuditId,
    "aud_"
);

typed_id!(
    /// A broker message that could not be stored, kept for the operator.
    RejectedId,
    "rej_"
);

typed_id!(
    /// A background task (Svix's `QueueBackgroundTask`): a recover or a replay of an endpoint.
    TaskId,
    "qtask_"
);

typed_id!(
    /// An alert rule.
    AlertRuleId,
    "alr_"
);

typed_id!(
    /// An alert: a rule's subject over its threshold, from firing to resolving.
    AlertId,
    "alt_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation_time() {
        let a = MessageId::generate(1_000);
        let b = MessageId::generate(1_001);
        let c = MessageId::generate(90_000_000_000);
        assert!(a < b && b < c, "{a} {b} {c}");
    }

    #[test]
    fn a_floor_sorts_between_the_ids_made_before_and_at_its_time() {
        let floor = AttemptId::floor(5_000);
        assert!(AttemptId::generate(4_999).as_str() < floor.as_str());
        assert!(floor.as_str() <= AttemptId::generate(5_000).as_str());
        assert!(
            AttemptId::parse(&floor).is_some(),
            "a floor is a well-formed id"
        );
    }

    #[test]
    fn ids_have_their_prefix_and_parse_back() {
        let id = AppId::generate(5);
        assert!(id.as_str().starts_with("app_"));
        assert_eq!(id.as_str().len(), 4 + BODY_LEN);
        assert_eq!(AppId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(EndpointId::parse(id.as_str()), None);
        assert_eq!(AppId::parse("app_short"), None);
    }

    #[test]
    fn bulk_prefixes_of_one_millisecond_differ_and_make_well_formed_ids() {
        let (a, b) = (DeliveryId::bulk_prefix(7, 6), DeliveryId::bulk_prefix(7, 6));
        assert_ne!(a, b, "each bulk has a random part of its own");
        let id = DeliveryId::parse(&format!("{a}000001")).expect("a well-formed id");
        assert!(DeliveryId::generate(6) < id && id < DeliveryId::generate(8));
    }

    #[test]
    fn values_in_the_same_millisecond_increase_even_when_the_random_part_does_not() {
        let ms = |t: u128, r: u128| (t << 80) | r;
        let mut last = 0;
        assert_eq!(next_value(&mut last, ms(7, 500)), ms(7, 500));
        assert_eq!(next_value(&mut last, ms(7, 100)), ms(7, 501));
        assert_eq!(next_value(&mut last, ms(7, 900)), ms(7, 900));
        assert_eq!(next_value(&mut last, ms(8, 1)), ms(8, 1));
    }
}
