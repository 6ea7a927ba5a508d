//! First-start and every-start chores: the data directory, the key that encrypts secrets at rest,
//! the store, and the admin token.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::distr::{Alphanumeric, SampleString};
use rustyhook_api::http::auth::{Auth, token_hash};
use rustyhook_core::crypto::{SecretBox, redact_url};
use rustyhook_core::handlers::Trigger;
use rustyhook_core::settings::Settings;
use rustyhook_core::sources::Broker;
use rustyhook_engine::targets::child_env::{BaseEnv, url_secrets};
use rustyhook_engine::targets::groups::GroupLedger;
use rustyhook_store::Store;
use rustyhook_store::postgres::{PgOptions, PostgresStore};
use rustyhook_store::sqlite::{SqliteOptions, SqliteStore};

const KEY_FILE: &str = "secret.key";
/// The meta key of the cluster's id.
const CLUSTER_ID: &str = "cluster_id";
/// A value sealed with the key, kept to detect a node started with a different key.
const KEY_CHECK: &str = "secret_key.check";
const ADMIN_HASH: &str = "admin_token_sha256";

/// Creates the data directory (owner-only) if needed.
pub fn data_dir(settings: &Settings) -> anyhow::Result<PathBuf> {
    let dir = settings.data_dir.clone();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("could not create the data directory {}", dir.display()))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("could not restrict permissions of {}", dir.display()))?;
    Ok(dir)
}

/// The key that encrypts secrets at rest: `RUSTYHOOK_SECRET_KEY` (base64 of 32 bytes) if set,
/// else `secret.key` in the data directory, created on first start.
pub fn encryption_key(dir: &Path) -> anyhow::Result<SecretBox> {
    let decode = |text: &str, origin: &str| -> anyhow::Result<SecretBox> {
        let bytes = STANDARD
            .decode(text.trim())
            .with_context(|| format!("{origin} is not base64"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{origin} must decode to exactly 32 bytes"))?;
        Ok(SecretBox::new(&key))
    };
    if let Ok(text) = std::env::var("RUSTYHOOK_SECRET_KEY") {
        return decode(&text, "RUSTYHOOK_SECRET_KEY");
    }
    let path = dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => decode(&text, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretBox::generate_key();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("could not create {}", path.display()))?;
            file.write_all(STANDARD.encode(key).as_bytes())?;
            file.sync_all()?;
            Ok(SecretBox::new(&key))
        }
        Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
    }
}

/// Opens the ledger of running commands' process groups in `dir/commands`, killing any a
/// previous process left behind (it was killed before it could).
pub fn command_ledger(dir: &Path) -> anyhow::Result<Arc<GroupLedger>> {
    let path = dir.join("commands");
    let (ledger, killed) =
        GroupLedger::open(&path).with_context(|| format!("could not open {}", path.display()))?;
    if killed > 0 {
        tracing::warn!(killed, "killed commands left running by a previous process");
    }
    Ok(Arc::new(ledger))
}

/// Which store the settings select.
enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

fn backend(settings: &Settings, dir: &Path) -> anyhow::Result<Backend> {
    Ok(match settings.database.url.as_deref() {
        None => Backend::Sqlite(dir.join("rustyhook.db")),
        Some(url) if url.starts_with("sqlite:") => {
            let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
            Backend::Sqlite(if rest.is_empty() {
                dir.join("rustyhook.db")
            } else {
                PathBuf::from(rest)
            })
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Backend::Postgres(url.to_owned())
        }
        Some(other) => bail!(
            "database.url {:?} must start with sqlite: or postgres://",
            redact_url(other)
        ),
    })
}

/// Whether the settings select a store several nodes can share.
pub fn is_shared(settings: &Settings) -> bool {
    matches!(
        backend(settings, &settings.data_dir),
        Ok(Backend::Postgres(_))
    )
}

/// Opens the store the settings select, and checks this node's encryption key is the one the
/// database was written with.
pub async fn open_store(
    settings: &Settings,
    dir: &Path,
    sbox: SecretBox,
) -> anyhow::Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match backend(settings, dir)? {
        Backend::Sqlite(path) => {
            let options = SqliteOptions {
                full_sync: !settings.database.fast_unsafe_sync,
            };
            let store = SqliteStore::open(&path, sbox.clone(), options)
                .with_context(|| format!("could not open the database {}", path.display()))?;
            Arc::new(store)
        }
        Backend::Postgres(url) => {
            let options = PgOptions {
                max_connections: settings.database.max_connections,
                acquire_timeout: settings
                    .database
                    .acquire_timeout
                    .max(Duration::from_millis(100)),
            };
            let store = PostgresStore::connect(&url, options, sbox.clone())
                .await
                .with_context(|| format!("could not open the database {}", redact_url(&url)))?;
            Arc::new(store)
        }
    };
    check_key(store.as_ref(), &sbox).await?;
    Ok(store)
}

/// Refuses a key other than the one the database's secrets were sealed with: on PostgreSQL,
/// every node must be given the same `RUSTYHOOK_SECRET_KEY`.
async fn check_key(store: &dyn Store, sbox: &SecretBox) -> anyhow::Result<()> {
    match store.get_meta(KEY_CHECK).await? {
        Some(sealed) => {
            if sbox.open(&sealed).is_err() {
                bail!(
                    "this node's encryption key is not the one the database was written with; \
                     give every node the same RUSTYHOOK_SECRET_KEY (or the same {KEY_FILE})"
                );
            }
        }
        None => store.set_meta(KEY_CHECK, &sbox.seal(b"rustyhook")).await?,
    }
    Ok(())
}

/// The cluster's id, made on the first start: the nodes of one database share it, and it keeps
/// their keys in a shared Redis apart from other clusters'.
pub async fn cluster_id(store: &dyn Store) -> anyhow::Result<String> {
    if let Some(id) = store.get_meta(CLUSTER_ID).await? {
        return Ok(id);
    }
    // Nodes starting for the first time together: one wins the claim (a once-only write) and
    // makes the id; the others wait for it.
    let claimed = store
        .create_tick_runs(&format!("{CLUSTER_ID}.claim"), 1, Vec::new(), None)
        .await?;
    if !claimed {
        for _ in 0..100 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            if let Some(id) = store.get_meta(CLUSTER_ID).await? {
                return Ok(id);
            }
        }
        tracing::warn!("the node that claimed the cluster id never wrote it; writing one");
    }
    let id = Alphanumeric.sample_string(&mut rand::rng(), 12);
    store.set_meta(CLUSTER_ID, &id).await?;
    Ok(id)
}

/// The admin token check, and the token itself if it was generated now (to be shown once).
pub async fn admin_auth(
    store: &dyn Store,
    settings: &Settings,
) -> anyhow::Result<(Auth, Option<String>)> {
    if let Some(token) = &settings.auth.admin_token {
        return Ok((Auth::new(token_hash(token)), None));
    }
    if let Some(stored) = store.get_meta(ADMIN_HASH).await? {
        let bytes: [u8; 32] = hex::decode(&stored)
            .ok()
            .and_then(|b| b.try_into().ok())
            .context("the stored admin token hash is corrupt")?;
        return Ok((Auth::new(bytes), None));
    }
    let token = format!(
        "rh_admin_{}",
        Alphanumeric.sample_string(&mut rand::rng(), 40)
    );
    let hash = token_hash(&token);
    store.set_meta(ADMIN_HASH, &hex::encode(hash)).await?;
    Ok((Auth::new(hash), Some(token)))
}

/// What commands and plugins start from: this process's environment without rustyhook's own
/// settings (`RUSTYHOOK_*`) and without any variable holding a secret the server was given —
/// the admin token, the secret key, the database, coordinator and broker URLs and their
/// passwords, webhook handlers' tokens, passwords and signing secrets.
pub fn child_env(settings: &Settings) -> BaseEnv {
    let mut secrets = Vec::new();
    secrets.extend(settings.auth.admin_token.clone());
    secrets.extend(std::env::var("RUSTYHOOK_SECRET_KEY").ok());
    for url in [&settings.database.url, &settings.cluster.coordinator]
        .into_iter()
        .flatten()
    {
        secrets.extend(url_secrets(url));
    }
    for source in &settings.sources {
        let url = match &source.broker {
            Broker::Redis(r) => &r.url,
            Broker::Rabbitmq(a) => &a.url,
            Broker::Nats(n) => &n.url,
        };
        secrets.extend(url_secrets(url));
    }
    // A webhook handler's credentials: another handler's command must not print them.
    for h in &settings.handlers {
        if let Trigger::Webhook(w) = &h.trigger {
            secrets.extend(w.auth_token.clone());
            secrets.extend(w.hmac_secret.clone());
            secrets.extend(w.signing_secret.clone());
            secrets.extend(w.basic_auth.as_ref().map(|b| b.password.clone()));
        }
    }
    BaseEnv::from_process(&secrets)
}
