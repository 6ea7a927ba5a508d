//! `rustyhook pause`, `resume` and `status`: thin clients of a running server's API
//! (`/api/v1/pause`), for operators and scripts. They print what the server answered, in
//! words, and exit non-zero when it refused or could not be reached.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::cli::{PauseArgs, RemoteArgs, TargetArgs};

/// How long a call waits for the server.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A running server's API, as the flags or the environment name it.
struct Remote {
    base: Url,
    token: String,
    client: reqwest::Client,
}

impl Remote {
    fn new(args: &RemoteArgs) -> anyhow::Result<Self> {
        let base = Url::parse(&args.url).with_context(|| {
            format!(
                "--url (or RUSTYHOOK_URL) {:?} is not a URL such as http://127.0.0.1:8071",
                args.url
            )
        })?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            bail!(
                "--url (or RUSTYHOOK_URL) {:?} must be an http:// or https:// URL",
                args.url
            );
        }
        let Some(token) = args.token.clone().filter(|t| !t.is_empty()) else {
            bail!(
                "a token is needed: pass --token or set RUSTYHOOK_TOKEN (the admin token, or an API token)"
            );
        };
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .context("could not set up the HTTP client")?;
        Ok(Self {
            base,
            token,
            client,
        })
    }

    /// Calls `method` on the API path made of `segments` (each escaped), returning the JSON
    /// answer of a success, or an error that says what the server said.
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked to be a base URL")
            .pop_if_empty()
            .extend(segments);
        let mut request = self
            .client
            .request(method.clone(), url.clone())
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| {
            anyhow::anyhow!(
                "could not reach the server at {}: {e} (is it running? set --url or RUSTYHOOK_URL)",
                self.base
            )
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("the server's answer to {method} {url} could not be read"))?;
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(json);
        }
        let detail = match &json["detail"] {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|i| i["msg"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
                .join("; "),
            _ => json.to_string(),
        };
        match status {
            StatusCode::UNAUTHORIZED => bail!(
                "the server refused the token ({status}): {detail}; check --token or RUSTYHOOK_TOKEN"
            ),
            StatusCode::FORBIDDEN => bail!("this token may not do that ({status}): {detail}"),
            _ => bail!("the server answered {status}: {detail}"),
        }
    }
}

/// `rustyhook pause`.
pub async fn pause(args: &PauseArgs) -> ExitCode {
    let body = serde_json::json!({ "reason": args.reason });
    finish(
        target_call(&args.target, Method::POST, Some(body)).await,
        "paused",
    )
}

/// `rustyhook resume`.
pub async fn resume(args: &TargetArgs) -> ExitCode {
    finish(target_call(args, Method::DELETE, None).await, "resumed")
}

/// `rustyhook status`: every pause in force, with what waits behind it.
pub async fn status(args: &RemoteArgs) -> ExitCode {
    let listed = match Remote::new(args) {
        Ok(remote) => {
            remote
                .call(Method::GET, &["api", "v1", "pause"], None)
                .await
        }
        Err(e) => Err(e),
    };
    match listed {
        Ok(listed) => {
            let pauses = listed["data"].as_array().cloned().unwrap_or_default();
            if pauses.is_empty() {
                println!("nothing is paused");
            }
            for p in &pauses {
                println!("{}", describe(p));
            }
            ExitCode::SUCCESS
        }
        Err(e) => failed(&e),
    }
}

async fn target_call(
    args: &TargetArgs,
    method: Method,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let remote = Remote::new(&args.remote)?;
    let mut path = vec!["api", "v1", "pause", args.scope.as_str()];
    match (args.scope.as_str(), args.id.as_deref()) {
        ("server", Some(_)) => bail!("the server is paused as a whole: give no id"),
        ("server", None) => {}
        (scope, None) => bail!(
            "a {scope} is named by its id: rustyhook {} {scope} <id>",
            if method == Method::POST {
                "pause"
            } else {
                "resume"
            }
        ),
        (_, Some(id)) => path.push(id),
    }
    remote.call(method, &path, body).await
}

fn finish(answer: anyhow::Result<Value>, done: &str) -> ExitCode {
    match answer {
        Ok(state) => {
            println!("{done}: {}", describe(&state));
            ExitCode::SUCCESS
        }
        Err(e) => failed(&e),
    }
}

fn failed(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}

/// One line for a pause state: what, whether paused (since when, by whom, why), and how much
/// waits.
fn describe(p: &Value) -> String {
    let what = match p["id"].as_str() {
        Some(id) => format!("{} {id}", p["scope"].as_str().unwrap_or("?")),
        None => p["scope"].as_str().unwrap_or("?").to_owned(),
    };
    let mut line = if p["paused"] == true {
        format!(
            "{what} is paused since {} by {}",
            p["pausedAt"].as_str().unwrap_or("?"),
            p["pausedBy"].as_str().unwrap_or("?")
        )
    } else {
        format!("{what} is not paused")
    };
    if let Some(reason) = p["reason"].as_str() {
        line.push_str(&format!(" ({reason})"));
    }
    match p["waiting"].as_object() {
        Some(w) => {
            let count = w.get("count").and_then(Value::as_u64).unwrap_or(0);
            line.push_str(&format!("; {count} waiting"));
            if let Some(age) = w.get("oldestAgeSecs").and_then(Value::as_f64) {
                line.push_str(&format!(", the oldest for {age:.0} s"));
            }
        }
        None => line.push_str("; its messages wait in the broker"),
    }
    line
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_pause_reads_as_one_line_with_what_waits() {
        let paused = json!({"scope": "endpoint", "id": "ep_1", "paused": true,
            "pausedAt": "2026-01-01T00:00:00Z", "pausedBy": "admin", "reason": "deploy",
            "waiting": {"count": 3, "oldestAgeSecs": 12.4}});
        assert_eq!(
            describe(&paused),
            "endpoint ep_1 is paused since 2026-01-01T00:00:00Z by admin (deploy); 3 waiting, the oldest for 12 s"
        );
        let source = json!({"scope": "source", "id": "orders", "paused": false, "waiting": null});
        assert_eq!(
            describe(&source),
            "source orders is not paused; its messages wait in the broker"
        );
    }
}
