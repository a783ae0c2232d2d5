//! Orders in SQLite. Every statement runs on the blocking pool under a
//! [`Policy`] that retries what SQLite calls transient (the
//! database busy or a table locked by another writer) and nothing else.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use throughline::resilience::classify::{Failure, Reason};
use throughline::resilience::retry::RetryConfig;
use throughline::resilience::{Backoff, BoxError, Classify, Outcome, Policy, ResilienceError};

/// An order as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Its id, also the payment's idempotency key.
    pub id: String,
    /// What was ordered.
    pub sku: String,
    /// How many.
    pub quantity: u32,
    /// The price.
    pub amount_cents: u64,
    /// `pending`, `paid`, or `failed`.
    pub status: String,
}

/// A database error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed, after the retries transient errors get.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The statement did not finish within the policy's deadline, retries included.
    #[error("database: {0}")]
    TimedOut(String),
    /// The blocking task running the statement panicked or was cancelled.
    #[error("database task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// What one attempt can fail with: the classifier retries only the first.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
}

/// The orders table.
#[derive(Clone, Debug)]
pub struct Store {
    path: PathBuf,
    policy: Policy<Transient>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let policy = Policy::builder("orders-db")
            .timeout(Duration::from_secs(2))
            .retry(
                // Lock waits are local and bounded by the attempts: no budget to share.
                RetryConfig::new("orders-db").without_budget().max_attempts(8).backoff(
                    Backoff::exponential(Duration::from_millis(5)).max_delay(Duration::from_millis(100)),
                ),
            )
            .classifier(Transient)
            .build()
            .expect("a valid retry configuration");
        let store = Self { path: path.as_ref().to_owned(), policy };
        store
            .run(|db| {
                db.pragma_update(None, "journal_mode", "wal")?;
                db.execute_batch(
                    "CREATE TABLE IF NOT EXISTS orders (
                        id TEXT PRIMARY KEY, sku TEXT NOT NULL, quantity INTEGER NOT NULL,
                        amount_cents INTEGER NOT NULL, status TEXT NOT NULL)",
                )
            })
            .await?;
        Ok(store)
    }

    /// Stores a new order.
    pub async fn insert(&self, order: &Order) -> Result<(), StoreError> {
        let order = order.clone();
        self.run(move |db| {
            db.execute(
                "INSERT INTO orders (id, sku, quantity, amount_cents, status) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![order.id, order.sku, order.quantity, order.amount_cents as i64, order.status],
            )
            .map(drop)
        })
        .await
    }

    /// Sets an order's status.
    pub async fn set_status(&self, id: &str, status: &'static str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.run(move |db| {
            db.execute("UPDATE orders SET status = ?1 WHERE id = ?2", params![status, id]).map(drop)
        })
        .await
    }

    /// The order with this id, if any.
    pub async fn get(&self, id: &str) -> Result<Option<Order>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| {
            db.query_row(
                "SELECT id, sku, quantity, amount_cents, status FROM orders WHERE id = ?1",
                params![id],
                |row| {
                    Ok(Order {
                        id: row.get(0)?,
                        sku: row.get(1)?,
                        quantity: row.get(2)?,
                        amount_cents: row.get::<_, i64>(3)? as u64,
                        status: row.get(4)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// How many orders have `status` (`pending`, `paid`, `failed`).
    pub async fn count_with_status(&self, status: &'static str) -> Result<u64, StoreError> {
        self.run(move |db| {
            db.query_row("SELECT COUNT(*) FROM orders WHERE status = ?1", params![status], |row| {
                row.get::<_, i64>(0)
            })
        })
        .await
        .map(|count| count as u64)
    }

    /// Runs `statement` on its own connection, on the blocking pool, retrying
    /// transient errors. A connection per statement keeps writers independent,
    /// as in a service with several processes: they meet SQLite's locks, and
    /// the retry policy handles them.
    #[tracing::instrument(name = "db.statement", skip_all, fields(db.system.name = "sqlite"))]
    async fn run<T, F>(&self, statement: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<T> + Clone + Send + 'static,
    {
        let result = self
            .policy
            .call(|| {
                let (path, statement) = (self.path.clone(), statement.clone());
                async move {
                    let result = tokio::task::spawn_blocking(move || {
                        let db = Connection::open(path)?;
                        db.busy_timeout(Duration::from_millis(50))?;
                        // With WAL, NORMAL survives a process crash and syncs once per checkpoint.
                        db.pragma_update(None, "synchronous", "normal")?;
                        statement(&db)
                    })
                    .await?;
                    result.map_err(AttemptError::Sqlite)
                }
            })
            .await;
        match result {
            Ok(value) => Ok(value),
            Err(ResilienceError::Inner(AttemptError::Sqlite(error))) => Err(StoreError::Sqlite(error)),
            Err(ResilienceError::Inner(AttemptError::Task(error))) => Err(StoreError::Task(error)),
            Err(other) => Err(StoreError::TimedOut(other.to_string())),
        }
    }
}

/// Busy and locked are transient: another writer holds the lock. Anything
/// else (a constraint, a corrupt file) would fail again.
#[derive(Clone, Copy, Debug)]
struct Transient;

impl<T> Classify<T> for Transient {
    fn classify(&self, result: Result<&T, &BoxError>) -> Outcome {
        let Err(error) = result else { return Outcome::Success };
        let code = match error.downcast_ref::<AttemptError>() {
            Some(AttemptError::Sqlite(error)) => error.sqlite_error_code(),
            _ => None,
        };
        match code {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                Outcome::Failure(Failure::retryable(Reason::Custom("sqlite_busy")))
            }
            _ => Outcome::Failure(Failure::permanent(Reason::Error)),
        }
    }
}
