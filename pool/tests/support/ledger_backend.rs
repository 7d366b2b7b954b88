//! The databases the ledger tests run against: a fresh SQLite file in a
//! temporary directory, or a fresh schema in the PostgreSQL server that
//! `POOL_TEST_POSTGRES_URL` names (`.ci/run` starts one). Every test gets
//! its own, and removes it afterwards, so runs never collide.

use futures::FutureExt;
use sqlx::{Connection, PgConnection, SqliteConnection};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub const POSTGRES_ENV: &str = "POOL_TEST_POSTGRES_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A test's own database, as the test body sees it.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub backend: Backend,
    /// What `Ledger::open` takes.
    pub url: String,
}

/// Runs `body` on a fresh database of `backend` and removes the database
/// afterwards, also when the body panics. PostgreSQL tests are skipped
/// (recorded by `test_skip`; a failure where `POOL_TEST_REQUIRE` names
/// postgres) when `POOL_TEST_POSTGRES_URL` is not set. The harness names
/// the test in every message; `_test` stays for the callers' readability.
pub async fn run<F, Fut>(backend: Backend, _test: &str, body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let place = match backend {
        Backend::Sqlite => Place::sqlite(),
        Backend::Postgres => match postgres_server() {
            Some(server) => Place::postgres(server).await,
            None => return,
        },
    };
    let outcome = AssertUnwindSafe(body(place.db.clone()))
        .catch_unwind()
        .await;
    place.remove().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The PostgreSQL server the tests may use, or `None` with the calling
/// test's skip recorded.
pub fn postgres_server() -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(server) if !server.is_empty() => Some(server),
        _ => {
            test_skip::skip!(
                test_skip::Service::Postgres,
                "{POSTGRES_ENV} is not set; .ci/run starts a PostgreSQL and sets it"
            );
            None
        }
    }
}

struct Place {
    db: TestDb,
    /// SQLite: the directory; PostgreSQL: the server URL and the schema.
    dir: Option<PathBuf>,
    schema: Option<(String, String)>,
}

/// Unique within this process; the pid and clock make it unique across runs.
fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Place {
    fn sqlite() -> Place {
        let dir = std::env::temp_dir().join(unique_name("pool_ledger_test"));
        // `Ledger::open` creates the directory and the file.
        let url = format!("sqlite://{}/ledger.db", dir.display());
        Place {
            db: TestDb {
                backend: Backend::Sqlite,
                url,
            },
            dir: Some(dir),
            schema: None,
        }
    }

    async fn postgres(server: String) -> Place {
        let schema = unique_name("ledger_test");
        let mut admin = PgConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV}: cannot connect: {e}"));
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .expect("create the test schema");
        let _ = admin.close().await;
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options[search_path]={schema}");
        Place {
            db: TestDb {
                backend: Backend::Postgres,
                url,
            },
            dir: None,
            schema: Some((server, schema)),
        }
    }

    async fn remove(self) {
        if let Some(dir) = self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((server, schema)) = self.schema {
            if let Ok(mut admin) = PgConnection::connect(&server).await {
                let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&mut admin)
                    .await;
                let _ = admin.close().await;
            }
        }
    }
}

/// Keeps the ledger from writing until released: SQLite's write lock held
/// by another connection (a locked file), or PostgreSQL's `shares` table
/// renamed away (a dropped table, [`TestDb::block_writes`]: writes fail at
/// once) or locked by another session ([`TestDb::hold_writes`]: writes wait).
pub enum WriteBlock {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    PostgresLock(PgConnection),
}

impl TestDb {
    pub async fn block_writes(&self) -> WriteBlock {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = SqliteConnection::connect(&self.url)
                    .await
                    .expect("second SQLite connection");
                sqlx::raw_sql("BEGIN IMMEDIATE")
                    .execute(&mut conn)
                    .await
                    .expect("take the write lock");
                WriteBlock::Sqlite(conn)
            }
            Backend::Postgres => {
                let mut conn = PgConnection::connect(&self.url)
                    .await
                    .expect("second PostgreSQL connection");
                sqlx::raw_sql("ALTER TABLE shares RENAME TO shares_away")
                    .execute(&mut conn)
                    .await
                    .expect("rename the shares table away");
                WriteBlock::Postgres(conn)
            }
        }
    }
}

impl TestDb {
    /// Makes the ledger's writes wait (up to its write timeout) until
    /// released: SQLite's write lock, or PostgreSQL's `shares` table locked
    /// in another session's transaction.
    pub async fn hold_writes(&self) -> WriteBlock {
        match self.backend {
            Backend::Sqlite => self.block_writes().await,
            Backend::Postgres => {
                let mut conn = PgConnection::connect(&self.url)
                    .await
                    .expect("second PostgreSQL connection");
                sqlx::raw_sql("BEGIN; LOCK TABLE shares IN ACCESS EXCLUSIVE MODE")
                    .execute(&mut conn)
                    .await
                    .expect("lock the shares table");
                WriteBlock::PostgresLock(conn)
            }
        }
    }
}

impl WriteBlock {
    pub async fn release(self) {
        match self {
            WriteBlock::Sqlite(mut conn) => {
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut conn)
                    .await
                    .expect("release the write lock");
                let _ = conn.close().await;
            }
            WriteBlock::Postgres(mut conn) => {
                sqlx::raw_sql("ALTER TABLE shares_away RENAME TO shares")
                    .execute(&mut conn)
                    .await
                    .expect("rename the shares table back");
                let _ = conn.close().await;
            }
            WriteBlock::PostgresLock(mut conn) => {
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut conn)
                    .await
                    .expect("release the table lock");
                let _ = conn.close().await;
            }
        }
    }
}

/// Generates, for each test body `async fn name(db: TestDb)` of the test
/// file, `sqlite::name` and `postgres::name`. The file declares this
/// module as `mod ledger_backend;`. Files that only use the helpers above
/// leave it unused.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::ledger_backend::run(
                        super::ledger_backend::Backend::Sqlite,
                        stringify!($name),
                        super::$name,
                    )
                    .await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::ledger_backend::run(
                        super::ledger_backend::Backend::Postgres,
                        stringify!($name),
                        super::$name,
                    )
                    .await;
                }
            )*
        }
    };
}
#[allow(unused_imports)] // a test file uses it or not
pub(crate) use on_both_backends;
