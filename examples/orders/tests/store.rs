//! The SQLite store, on a real database file: concurrent writers meet
//! SQLite's locks and the retry policy gets every write through.

use orders::store::{Order, Store, StoreError};

fn order(id: usize) -> Order {
    Order {
        id: format!("o-{id}"),
        sku: "tea".into(),
        quantity: 1,
        amount_cents: 450,
        status: "pending".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_all_succeed_through_busy_retries() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("orders.db")).await.unwrap();
    let writers: Vec<_> = (0..40)
        .map(|id| {
            let store = store.clone();
            tokio::spawn(async move {
                store.insert(&order(id)).await?;
                store.set_status(&format!("o-{id}"), "paid").await
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    for id in 0..40 {
        assert_eq!(store.get(&format!("o-{id}")).await.unwrap().unwrap().status, "paid");
    }
    assert_eq!(store.get("missing").await.unwrap(), None);
}

#[tokio::test]
async fn a_constraint_violation_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("orders.db")).await.unwrap();
    store.insert(&order(1)).await.unwrap();
    let duplicate = store.insert(&order(1)).await.unwrap_err();
    assert!(
        matches!(&duplicate, StoreError::Sqlite(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)),
        "{duplicate}"
    );
}
