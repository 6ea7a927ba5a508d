//! A client of `GET /api/v1/stream` for tests: reads the Server-Sent Events of a streamed
//! response as a browser's `fetch` reader would, with a token in the `Authorization` header.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

/// How long a test waits for an event that is due.
pub const WAIT: Duration = Duration::from_secs(10);

/// One event of the stream.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: String,
    pub id: Option<String>,
    pub data: Value,
}

impl Event {
    /// The message the event's attempt was of.
    pub fn msg_id(&self) -> String {
        self.data["msgId"].as_str().expect("a msgId").to_owned()
    }
}

/// A client reading the stream as `EventSource` would, through `fetch` with a token.
pub struct Stream {
    response: reqwest::Response,
    buffer: String,
    /// The last `id:` seen, what a reconnect sends as `Last-Event-ID`.
    pub last_id: Option<String>,
    /// Whether the server ended the stream.
    pub ended: bool,
}

impl Stream {
    /// Opens the stream with `query`; panics unless it is a 200 event stream.
    pub async fn open(base: &str, token: &str, query: &str, last_id: Option<&str>) -> Self {
        let response = request(base, token, query, last_id).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "GET /api/v1/stream?{query}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "the stream's content type"
        );
        Self {
            response,
            buffer: String::new(),
            last_id: last_id.map(str::to_owned),
            ended: false,
        }
    }

    /// The next event (comments and `retry:` skipped); `None` if none came within `within`,
    /// or the stream ended ([`Self::ended`]).
    pub async fn next_within(&mut self, within: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(event) = self.parse_one() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .expect("the stream reads");
            match chunk {
                Some(chunk) => self
                    .buffer
                    .push_str(std::str::from_utf8(&chunk).expect("UTF-8")),
                None => self.ended = true,
            }
        }
    }

    /// Panics if an event arrives within `within`, or the stream ends: nothing more is due.
    pub async fn quiet_for(&mut self, within: Duration) {
        if let Some(event) = self.next_within(within).await {
            panic!("an event that was not due: {event:?}");
        }
        assert!(!self.ended, "the stream ended");
    }

    /// The next event, which must come within [`WAIT`].
    pub async fn next(&mut self) -> Event {
        self.next_within(WAIT)
            .await
            .expect("an event within the wait")
    }

    /// The next `n` events of kind `kind`, others skipped.
    pub async fn take(&mut self, kind: &str, n: usize) -> Vec<Event> {
        let mut out = Vec::new();
        while out.len() < n {
            let event = self.next().await;
            if event.kind == kind {
                out.push(event);
            }
        }
        out
    }

    fn parse_one(&mut self) -> Option<Event> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let (mut kind, mut data) = (None, None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    kind = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("id: ") {
                    self.last_id = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(v).expect("JSON data"));
                }
            }
            if let Some(kind) = kind {
                let id = block
                    .lines()
                    .find_map(|l| l.strip_prefix("id: "))
                    .map(str::to_owned);
                return Some(Event {
                    kind,
                    id,
                    data: data.unwrap_or(Value::Null),
                });
            }
        }
    }
}

/// Sends the stream request, resuming after `last_id` when given.
pub async fn request(
    base: &str,
    token: &str,
    query: &str,
    last_id: Option<&str>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .get(format!("{base}/api/v1/stream?{query}"))
        .bearer_auth(token);
    if let Some(id) = last_id {
        req = req.header("last-event-id", id);
    }
    req.send().await.expect("the stream request is sent")
}
