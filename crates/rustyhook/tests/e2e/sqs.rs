//! SQS handlers against the machine's SQS-compatible server (moto, started by `.ci/moto.sh`),
//! through a proxy of the test's own that can refuse `DeleteMessage`, as a crash between
//! storing a run and deleting its message would leave things.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rustyhook_engine::triggers::sqs_client::{SqsClient, SqsConfig, create_queue};

use crate::handlers::{spawn, wait_file};
use crate::wait::eventually;

/// How long a test waits for the handler (and moto) to get somewhere.
const WAIT: Duration = Duration::from_secs(20);

/// The SQS-compatible server the tests use.
fn endpoint() -> String {
    std::env::var("RUSTYHOOK_TEST_SQS_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5000".into())
}

/// Passes requests on to [`endpoint`], answering `DeleteMessage` with a 500 while deletes are
/// refused.
#[derive(Clone)]
struct DeleteRefuser {
    url: String,
    state: Arc<RefuserState>,
}

struct RefuserState {
    upstream: String,
    http: reqwest::Client,
    refusing: AtomicBool,
    refused: AtomicUsize,
    deleted: AtomicUsize,
}

impl DeleteRefuser {
    async fn start() -> Self {
        let state = Arc::new(RefuserState {
            upstream: endpoint(),
            http: reqwest::Client::new(),
            refusing: AtomicBool::new(true),
            refused: AtomicUsize::new(0),
            deleted: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .fallback(pass_on)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("proxy serves");
        });
        Self { url, state }
    }

    /// Lets deletes through from now on.
    fn allow_deletes(&self) {
        self.state.refusing.store(false, Ordering::SeqCst);
    }

    fn refused(&self) -> usize {
        self.state.refused.load(Ordering::SeqCst)
    }

    fn deleted(&self) -> usize {
        self.state.deleted.load(Ordering::SeqCst)
    }
}

async fn pass_on(
    State(state): State<Arc<RefuserState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let delete = headers
        .get("x-amz-target")
        .is_some_and(|t| t == "AmazonSQS.DeleteMessage");
    if delete && state.refusing.load(Ordering::SeqCst) {
        state.refused.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::INTERNAL_SERVER_ERROR, "refused by the test").into_response();
    }
    let mut request = state
        .http
        .request(method, format!("{}{uri}", state.upstream))
        .body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let answer = request.send().await.expect("the SQS server answers");
    let status = StatusCode::from_u16(answer.status().as_u16()).expect("a status");
    let content_type = answer.headers().get("content-type").cloned();
    let bytes = answer.bytes().await.expect("the SQS server's body");
    if delete && status.is_success() {
        state.deleted.fetch_add(1, Ordering::SeqCst);
    }
    let mut response = (status, bytes).into_response();
    if let Some(t) = content_type {
        response.headers_mut().insert("content-type", t);
    }
    response
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sqs_message_delivered_again_after_its_delete_failed_runs_the_command_once() {
    let creds = Some(("test".to_owned(), "test".to_owned()));
    let http = reqwest::Client::new();
    let name = format!("rh-once-{}", rand::random::<u32>());
    let url = create_queue(&http, &endpoint(), "us-east-1", &name, creds.clone())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "no SQS-compatible server at {} (start one with .ci/moto.sh): {e}",
                endpoint()
            )
        });
    let proxy = DeleteRefuser::start().await;
    let (app, dir) = spawn(&format!(
        r#"
handlers:
  - type: SQS
    id: queue-processor
    name: Queue Processor
    options:
      queue_url: "{url}"
      endpoint_url: "{}"
      aws_region: us-east-1
      aws_access_key_id: test
      aws_secret_access_key: test
      wait_time_seconds: 1
      visibility_timeout: 1
      poll_interval: 1
    shell: 'echo "$RUSTYHOOK_RUN_ID $MESSAGE_ID" >> {{dir}}/ran'
"#,
        proxy.url
    ))
    .await;
    let sender = SqsClient::new(
        SqsConfig {
            queue_url: url.clone(),
            region: Some("us-east-1".into()),
            endpoint_url: Some(endpoint()),
            wait_time_seconds: 1,
            max_messages: 10,
            visibility_timeout: None,
            static_credentials: creds,
        },
        http,
    )
    .expect("client");
    let message_id = sender.send("one").await.expect("send");
    // Each refused delete leaves the message to come back after its visibility timeout.
    eventually("the message to be delivered twice", WAIT, async || {
        proxy.refused() >= 2
    })
    .await;
    proxy.allow_deletes();
    eventually("the message to be deleted", WAIT, async || {
        proxy.deleted() >= 1
    })
    .await;
    let runs = app.get("/api/v1/handler/queue-processor/run").await;
    let runs = runs["data"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let ran = wait_file(&dir.path().join("ran"), |t| t.ends_with('\n')).await;
    assert_eq!(
        ran,
        format!("{} {message_id}\n", runs[0]["id"].as_str().expect("run id")),
        "the command ran once"
    );
}
