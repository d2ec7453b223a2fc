//! The database: one pool over SQLite (the embedded default) or PostgreSQL
//! (the cluster), with the migrations of the backend in use.
//!
//! Queries use the `Any` driver with one SQL dialect that both databases
//! accept (`$1` placeholders, `ON CONFLICT`, `RETURNING`); times are Unix
//! seconds and ids are text, the types `Any` carries faithfully.

use std::path::Path;
use std::str::FromStr;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{AnyPool, Transaction};

use crate::directory_cache::{Directory, DirectoryCache};
use crate::error::AppError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long connecting (and later, waiting for a pooled connection) may
/// take before it is an error.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Why the store could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL names another database.
    #[error("unsupported database URL (use sqlite://PATH or postgres://…)")]
    UnsupportedUrl,
    /// Connecting failed (the cause is the source, not repeated here).
    #[error("cannot connect to the database")]
    Connect(#[source] sqlx::Error),
    /// The database did not answer in time (a closed port, a firewall).
    #[error("the database did not answer within {0} s (is it running, and is the URL's host and port right?)")]
    ConnectTimeout(u64),
    /// A migration failed.
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The schema has a migration of this version that differs from this
    /// build's (edited after it was applied).
    #[error(
        "the database's migration {0} differs from this build's: the schema was changed by hand or by another build"
    )]
    Modified(i64),
}

/// What a booking process does with the database schema when it starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Migrations {
    /// Bring the schema up to date (`silta dev`, one booking process).
    #[default]
    Apply,
    /// Change nothing: wait until `silta migrate` (run once per upgrade, e.g.
    /// a Kubernetes Job) has brought the schema to this build's version.
    Expect,
}

/// How often a process that expects the schema checks it again.
const SCHEMA_POLL: Duration = Duration::from_secs(2);

/// The pool and its backend.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    directory: Arc<DirectoryCache>,
}

impl Store {
    /// Connects, then applies the migrations or waits for them
    /// (`migrations`).
    pub async fn connect(url: &str, max_connections: u32, migrations: Migrations) -> Result<Self, StoreError> {
        let store = Self::open(url, max_connections).await?;
        match migrations {
            Migrations::Apply => store.migrator().run(&store.pool).await.map_err(StoreError::Migrate)?,
            Migrations::Expect => store.wait_for_schema().await?,
        }
        Ok(store)
    }

    /// Connects and leaves the schema as it is (see [`Store::migrate`]).
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let (backend, options) = Self::check_url(url)?;
        // Said, since an unreachable server takes up to CONNECT_WAIT to
        // report (the URL is not logged: it may hold a password).
        tracing::info!(?backend, "connecting to the database");
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers proceed during a write; foreign
                        // keys are off by default in SQLite.
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *connection).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *connection).await?;
                        sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *connection).await?;
                    }
                    Ok(())
                })
            })
            .acquire_timeout(CONNECT_WAIT)
            .connect_with(options);
        let pool = tokio::time::timeout(CONNECT_WAIT, pool)
            .await
            .map_err(|_| StoreError::ConnectTimeout(CONNECT_WAIT.as_secs()))?
            .map_err(|err| match err {
                sqlx::Error::PoolTimedOut => StoreError::ConnectTimeout(CONNECT_WAIT.as_secs()),
                err => StoreError::Connect(err),
            })?;
        Ok(Self { pool, backend, directory: Arc::default() })
    }

    /// Checks a database URL without connecting: its scheme and its form.
    pub fn check_url(url: &str) -> Result<(Backend, AnyConnectOptions), StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let options = AnyConnectOptions::from_str(url).map_err(StoreError::Connect)?;
        Ok((backend, options))
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Versions of this build's migrations the database lacks (all of them
    /// when it has no migrations table yet). A database ahead of this build
    /// (a newer build migrated it during a rolling upgrade) lacks none:
    /// migrations only add, so an older build runs on a newer schema.
    pub async fn missing_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let migrator = self.migrator();
        let mut connection = self.pool.acquire().await.map_err(StoreError::Connect)?;
        let applied = match connection.list_applied_migrations(&migrator.table_name).await {
            Ok(applied) => applied,
            // No table yet: nothing was ever applied.
            Err(sqlx::migrate::MigrateError::Execute(sqlx::Error::Database(_))) => Vec::new(),
            Err(err) => return Err(StoreError::Migrate(err)),
        };
        let mut missing = Vec::new();
        for migration in migrator.iter().filter(|migration| migration.migration_type.is_up_migration()) {
            match applied.iter().find(|done| done.version == migration.version) {
                Some(done) if done.checksum != migration.checksum => return Err(StoreError::Modified(done.version)),
                Some(_) => {}
                None => missing.push(migration.version),
            }
        }
        Ok(missing)
    }

    /// Waits, saying so every 10 s, until no migration is missing.
    async fn wait_for_schema(&self) -> Result<(), StoreError> {
        let mut said = None::<Instant>;
        loop {
            let missing = self.missing_migrations().await?;
            if missing.is_empty() {
                if said.is_some() {
                    tracing::info!("the database schema is up to date");
                }
                return Ok(());
            }
            if said.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                tracing::warn!(
                    ?missing,
                    "waiting for the database schema: run `silta migrate` (booking.migrations = expect)"
                );
                said = Some(Instant::now());
            }
            tokio::time::sleep(SCHEMA_POLL).await;
        }
    }

    /// Brings the schema up to date; returns the versions it applied.
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        let missing = self.missing_migrations().await?;
        self.migrator().run(&self.pool).await.map_err(StoreError::Migrate)?;
        Ok(missing)
    }

    /// Whether the database answers a trivial query (readiness).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// The URL of an SQLite file, created when missing.
    pub fn sqlite_url(path: &Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }

    /// The pool, for reads.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The directory as the database holds it now, from memory while it is
    /// unchanged (one read of its version), see [`crate::directory_cache`].
    pub async fn directory(&self) -> Result<Arc<Directory>, AppError> {
        self.directory.get(self).await
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction that will write. On SQLite it takes the write
    /// lock up front (`BEGIN IMMEDIATE`), so two writers queue on the busy
    /// timeout instead of failing when one upgrades from reading.
    pub async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }
}
