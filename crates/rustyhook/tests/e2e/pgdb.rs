//! A PostgreSQL database of its own for one test, on the server `RUSTYHOOK_TEST_DATABASE_URL`
//! names (the machine's, `postgres://postgres@127.0.0.1:5432/postgres`, by default), dropped when
//! the test ends.

use rand::distr::{Alphanumeric, SampleString};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The server tests create their databases on.
pub fn server_url() -> String {
    std::env::var("RUSTYHOOK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database, dropped (with its connections) when this is dropped.
pub struct TempDatabase {
    /// The database's URL, for `database.url`.
    pub url: String,
    name: String,
}

impl TempDatabase {
    /// Creates the database; panics, naming the server, if PostgreSQL cannot be reached.
    pub async fn create() -> Self {
        let server = server_url();
        let name = format!(
            "rh_e2e_{}",
            Alphanumeric
                .sample_string(&mut rand::rng(), 12)
                .to_lowercase()
        );
        let mut conn = PgConnection::connect(&server).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {server} is needed for this test (.ci/services.sh starts it): {e}"
            )
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("the test database is created");
        let _ = conn.close().await;
        let url = match server.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("{server} names no database"),
        };
        Self { url, name }
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let (server, name) = (server_url(), self.name.clone());
        // Drop may run inside a runtime: do the async work on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&server).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}
