//! Which endpoints a message fans out to: enabled endpoints whose event type filter (if any)
//! includes the message's type and whose channel filter (if any) shares a channel with it.

use crate::model::{Endpoint, Message};

/// Whether `endpoint` should receive `message`.
pub fn endpoint_receives(endpoint: &Endpoint, message: &Message) -> bool {
    if endpoint.disabled {
        return false;
    }
    let type_ok = endpoint
        .filter_types
        .as_ref()
        .is_none_or(|types| types.contains(&message.event_type));
    let channel_ok = match (&endpoint.channels, &message.channels) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(wanted), Some(sent)) => wanted.iter().any(|c| sent.contains(c)),
    };
    type_ok && channel_ok
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::id::{AppId, EndpointId, MessageId};
    use crate::names::{Channel, EventTypeName};
    use crate::signing::HeaderStyle;

    fn endpoint(types: Option<&[&str]>, channels: Option<&[&str]>) -> Endpoint {
        Endpoint {
            id: EndpointId::generate(0),
            app_id: AppId::generate(0),
            uid: None,
            url: "https://example.com".into(),
            description: String::new(),
            version: 1,
            disabled: false,
            rate_limit: None,
            filter_types: types.map(|t| {
                t.iter()
                    .map(|s| EventTypeName::parse(*s).expect("valid"))
                    .collect()
            }),
            channels: channels.map(|c| {
                c.iter()
                    .map(|s| Channel::parse(*s).expect("valid"))
                    .collect()
            }),
            metadata: BTreeMap::new(),
            headers: BTreeMap::new(),
            secrets: vec![],
            header_style: Some(HeaderStyle::Standard),
            max_in_flight: 32,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn message(event_type: &str, channels: Option<&[&str]>) -> Message {
        Message {
            id: MessageId::generate(0),
            app_id: AppId::generate(0),
            event_id: None,
            event_type: EventTypeName::parse(event_type).expect("valid"),
            payload: None,
            channels: channels.map(|c| {
                c.iter()
                    .map(|s| Channel::parse(*s).expect("valid"))
                    .collect()
            }),
            tags: None,
            created_at: 0,
        }
    }

    #[test]
    fn fans_out_by_event_type_and_channel() {
        let all = endpoint(None, None);
        let invoices = endpoint(Some(&["invoice.paid"]), None);
        let eu = endpoint(None, Some(&["eu"]));
        let paid_eu = message("invoice.paid", Some(&["eu", "x"]));
        let signup = message("user.signup", None);

        assert!(endpoint_receives(&all, &paid_eu));
        assert!(endpoint_receives(&invoices, &paid_eu));
        assert!(endpoint_receives(&eu, &paid_eu));
        assert!(endpoint_receives(&all, &signup));
        assert!(!endpoint_receives(&invoices, &signup));
        assert!(!endpoint_receives(&eu, &signup));
    }

    #[test]
    fn disabled_endpoints_receive_nothing() {
        let mut ep = endpoint(None, None);
        ep.disabled = true;
        assert!(!endpoint_receives(&ep, &message("a", None)));
    }
}
