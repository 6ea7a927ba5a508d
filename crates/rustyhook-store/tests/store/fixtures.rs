//! Fresh stores for the tests: a SQLite file in a temporary folder, or a PostgreSQL database
//! created for the test and dropped after it.

use std::sync::Arc;

use rustyhook_core::crypto::SecretBox;
use rustyhook_store::Store;
use rustyhook_store::sqlite::{SqliteOptions, SqliteStore};

/// A SQLite store in its own folder, with the key it was opened with.
pub struct Sqlite {
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
    pub key: [u8; 32],
}

impl Sqlite {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = SecretBox::generate_key();
        Self {
            store: Self::open_at(dir.path(), &key),
            dir,
            key,
        }
    }

    /// Opens the store at `dir` again (after the first was dropped).
    pub fn open_at(dir: &std::path::Path, key: &[u8; 32]) -> Arc<dyn Store> {
        Arc::new(
            SqliteStore::open(
                &dir.join("db.sqlite"),
                SecretBox::new(key),
                SqliteOptions { full_sync: false },
            )
            .expect("store opens"),
        )
    }
}
