//! The enabled endpoints of each app, cached for fan-out. Every change to endpoints goes through
//! the writer thread, and this cache is read and invalidated only inside write jobs, so it is
//! never stale: a message sees exactly the endpoints committed before it. A failed commit clears
//! it (a rolled-back job may have loaded rows that never became durable).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use rustyhook_core::crypto::SecretBox;
use rustyhook_core::id::AppId;
use rustyhook_core::model::Endpoint;

use super::endpoints;
use crate::StoreResult;

/// App id → its enabled endpoints.
#[derive(Clone, Default)]
pub(crate) struct FanoutCache(Arc<Mutex<HashMap<AppId, Arc<Vec<Endpoint>>>>>);

impl FanoutCache {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<AppId, Arc<Vec<Endpoint>>>> {
        // A poisoned lock means a job panicked mid-update; start from empty rather than trust it.
        self.0.lock().unwrap_or_else(|e| {
            let mut guard = e.into_inner();
            guard.clear();
            guard
        })
    }

    /// The app's enabled endpoints. Call only inside a write job.
    pub fn enabled(
        &self,
        conn: &Connection,
        app: &AppId,
        sbox: &SecretBox,
    ) -> StoreResult<Arc<Vec<Endpoint>>> {
        if let Some(found) = self.map().get(app) {
            return Ok(found.clone());
        }
        let loaded = Arc::new(endpoints::enabled_of_app(conn, app, sbox)?);
        self.map().insert(app.clone(), loaded.clone());
        Ok(loaded)
    }

    /// Forgets one app's endpoints (one of them changed).
    pub fn forget(&self, app: &AppId) {
        self.map().remove(app);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.map().clear();
    }
}
