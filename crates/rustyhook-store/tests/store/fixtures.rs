//! Fresh stores for the tests: a SQLite file in a temporary folder, or a PostgreSQL database
//! created for the test and dropped after it.

use std::sync::Arc;

use rustyhook_core::crypto::SecretBox;
use rustyhook_store::Store;
use rustyhook_store::postgres::{PgOptions, PostgresStore};
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

/// The server the PostgreSQL tests use, as an admin URL (a database the tests do not touch
/// beyond creating and dropping their own).
pub fn admin_url() -> String {
    std::env::var("RUSTYHOOK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let path_start = url[authority_start..]
        .find('/')
        .map_or(url.len(), |i| authority_start + i);
    let query = url[path_start..]
        .find('?')
        .map_or("", |i| &url[path_start + i..]);
    format!("{}/{database}{query}", &url[..path_start])
}

/// A database created for one test, dropped (with any session still on it) when this is
/// dropped — after a failing test too.
pub struct TestDatabase {
    /// The URL of the test's database.
    pub url: String,
    name: String,
}

impl TestDatabase {
    /// Creates `rh_test_<random>`. Fails the test, naming the server, if it is unreachable.
    pub async fn create() -> Self {
        let admin = admin_url();
        let name = format!("rh_test_{:016x}", rand::random::<u64>());
        let mut conn = admin_connection(&admin).await;
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("could not create database {name} on {admin}: {e}"));
        let _ = sqlx::Connection::close(conn).await;
        Self {
            url: with_database(&admin, &name),
            name,
        }
    }
}

async fn admin_connection(admin: &str) -> sqlx::PgConnection {
    <sqlx::PgConnection as sqlx::Connection>::connect(admin)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {admin} is unreachable ({e}); the PostgreSQL store tests need a \
                 server: start one or set RUSTYHOOK_TEST_DATABASE_URL"
            )
        })
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (admin_url(), self.name.clone());
        // A fresh thread with its own runtime: this may run inside the test's runtime, which
        // cannot block on a future itself.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(async {
                let mut conn = admin_connection(&admin).await;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .map(|_| ())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("dropping test database {} panicked", self.name),
        }
    }
}

/// A PostgreSQL store on a fresh database, and what it takes to open more nodes on it.
pub struct Postgres {
    pub store: Arc<dyn Store>,
    pub key: [u8; 32],
    /// Declared last: dropped after the store.
    pub db: TestDatabase,
}

impl Postgres {
    pub async fn new() -> Self {
        let db = TestDatabase::create().await;
        let key = SecretBox::generate_key();
        Self {
            store: Arc::new(connect(&db.url, &key).await),
            key,
            db,
        }
    }

    /// Another node on the same database, with the same encryption key.
    pub async fn another_node(&self) -> Arc<dyn Store> {
        Arc::new(connect(&self.db.url, &self.key).await)
    }

    /// A plain connection to the test database, to look at what the store wrote.
    pub async fn raw(&self) -> sqlx::PgConnection {
        <sqlx::PgConnection as sqlx::Connection>::connect(&self.db.url)
            .await
            .expect("connect to the test database")
    }
}

/// Connects a store to `url` with a small pool (tests run side by side on one server).
pub async fn connect(url: &str, key: &[u8; 32]) -> PostgresStore {
    PostgresStore::connect(
        url,
        PgOptions {
            max_connections: 4,
            ..PgOptions::default()
        },
        SecretBox::new(key),
    )
    .await
    .unwrap_or_else(|e| panic!("the PostgreSQL store opens at {url}: {}", chain(&e)))
}

/// An error with its sources, as one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[test]
fn the_test_database_replaces_only_the_path_of_the_url() {
    assert_eq!(
        with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
        "postgres://u:p@h:5432/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
