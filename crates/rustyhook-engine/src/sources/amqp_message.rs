//! What a RabbitMQ delivery is to the intake ([`incoming`]), and what the copy of a rejected
//! one carries to the dead-letter queue ([`dead_letter_properties`]).

use std::collections::BTreeMap;

use lapin::BasicProperties;
use lapin::types::AMQPValue;

use super::intake::Incoming;

/// The header a dead-lettered copy carries: why rustyhook rejected it.
pub const REASON_HEADER: &str = "x-rustyhook-reason";
/// The header a dead-lettered copy carries: the source that rejected it.
pub const SOURCE_HEADER: &str = "x-rustyhook-source";

/// The intake's view of a delivery: its body, its text headers, and its `message_id` (when
/// set) as the id stable across redeliveries.
pub fn incoming(delivery_tag: u64, properties: &BasicProperties, body: Vec<u8>) -> Incoming {
    let message_id = properties
        .message_id()
        .as_ref()
        .map(|m| m.as_str().to_owned())
        .filter(|m| !m.is_empty());
    let mut fields = BTreeMap::new();
    if let Some(headers) = properties.headers() {
        for (key, value) in headers.inner() {
            if let Some(text) = header_text(value) {
                fields.insert(key.as_str().to_owned(), text);
            }
        }
    }
    Incoming {
        id: message_id
            .clone()
            .unwrap_or_else(|| delivery_tag.to_string()),
        stable_id: message_id,
        body: Some(body),
        fields,
    }
}

/// A header's value if it is text.
fn header_text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(s) => String::from_utf8(s.as_bytes().to_vec()).ok(),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// The properties of a dead-lettered copy: the original's headers plus [`REASON_HEADER`] and
/// [`SOURCE_HEADER`], its descriptive properties, persistent. Not its `expiration` (the copy
/// must stay until someone looks) nor its `user_id` (RabbitMQ refuses one that is not the
/// connection's user).
pub fn dead_letter_properties(
    original: &BasicProperties,
    source: &str,
    reason: &str,
) -> BasicProperties {
    let mut headers = original.headers().clone().unwrap_or_default();
    headers.insert(REASON_HEADER.into(), AMQPValue::LongString(reason.into()));
    headers.insert(SOURCE_HEADER.into(), AMQPValue::LongString(source.into()));
    let mut copy = BasicProperties::default()
        .with_headers(headers)
        .with_delivery_mode(2);
    if let Some(v) = original.content_type() {
        copy = copy.with_content_type(v.clone());
    }
    if let Some(v) = original.content_encoding() {
        copy = copy.with_content_encoding(v.clone());
    }
    if let Some(v) = original.message_id() {
        copy = copy.with_message_id(v.clone());
    }
    if let Some(v) = original.correlation_id() {
        copy = copy.with_correlation_id(v.clone());
    }
    if let Some(v) = original.kind() {
        copy = copy.with_type(v.clone());
    }
    if let Some(v) = original.app_id() {
        copy = copy.with_app_id(v.clone());
    }
    if let Some(t) = original.timestamp() {
        copy = copy.with_timestamp(*t);
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::{FieldTable, ShortString};

    #[test]
    fn a_delivery_gives_its_body_text_headers_and_message_id() {
        let mut headers = FieldTable::default();
        headers.insert("tenant".into(), AMQPValue::LongString("acme".into()));
        headers.insert("attempt".into(), AMQPValue::LongInt(3));
        let props = BasicProperties::default()
            .with_message_id("m-1".into())
            .with_headers(headers);
        let msg = incoming(7, &props, b"{}".to_vec());
        assert_eq!(
            (msg.id.as_str(), msg.stable_id.as_deref()),
            ("m-1", Some("m-1"))
        );
        assert_eq!(msg.body.as_deref(), Some(&b"{}"[..]));
        assert_eq!(msg.fields.len(), 1);
        assert_eq!(msg.fields["tenant"], "acme");
        let bare = incoming(7, &BasicProperties::default(), Vec::new());
        assert_eq!((bare.id.as_str(), bare.stable_id), ("7", None));
    }

    #[test]
    fn a_dead_lettered_copy_keeps_headers_adds_the_reason_and_drops_expiry_and_user() {
        let mut headers = FieldTable::default();
        headers.insert("tenant".into(), AMQPValue::LongString("acme".into()));
        let original = BasicProperties::default()
            .with_headers(headers)
            .with_content_type("text/plain".into())
            .with_message_id("m-1".into())
            .with_expiration("60000".into())
            .with_user_id("guest".into());
        let copy = dead_letter_properties(&original, "rabbitmq-orders", "not JSON");
        let headers = copy.headers().clone().expect("headers").inner().clone();
        let text = |k: &str| match headers.get(k) {
            Some(AMQPValue::LongString(s)) => s.to_string(),
            other => panic!("{k}: {other:?}"),
        };
        assert_eq!(text("tenant"), "acme");
        assert_eq!(text(REASON_HEADER), "not JSON");
        assert_eq!(text(SOURCE_HEADER), "rabbitmq-orders");
        assert_eq!(
            copy.content_type().as_ref().map(ShortString::as_str),
            Some("text/plain")
        );
        assert_eq!(
            copy.message_id().as_ref().map(ShortString::as_str),
            Some("m-1")
        );
        assert_eq!(*copy.delivery_mode(), Some(2));
        assert_eq!((copy.expiration(), copy.user_id()), (&None, &None));
    }
}
