//! What a deployment-wide rate-limit check costs: the time per `Throttle::check` on each store,
//! one check after another (the latency a limited request pays) and 32 at once (throughput).
//!
//! ```sh
//! cargo run --release --example rate_limit_cost -- [CHECKS]
//! MONGODB_TEST_URL=mongodb://127.0.0.1:27017 cargo run --release --example rate_limit_cost
//! ```
//!
//! Stores: SQLite in memory, a SQLite file in WAL mode behind the production pool, and MongoDB
//! when `MONGODB_TEST_URL` is set (a fresh database, dropped afterwards is left to the caller).

use std::{sync::Arc, time::Instant};

use futures_util::{StreamExt, stream};
use quiz_llm::{
    config::SecretString,
    domain::{ClientInfo, SystemClock},
    ratelimit::{Bucket, RateLimits, Throttle},
    store::{self, DatabaseUrl},
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let checks: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(5_000);
    let dir = tempfile::tempdir()?;
    let mut stores = vec![
        ("sqlite (memory)", DatabaseUrl::Sqlite(None)),
        (
            "sqlite (WAL file)",
            DatabaseUrl::Sqlite(Some(dir.path().join("limits.db"))),
        ),
    ];
    if let Ok(base) = std::env::var("MONGODB_TEST_URL") {
        let url = format!(
            "{}/rate_limit_cost_{}",
            base.trim_end_matches('/'),
            uuid::Uuid::new_v4().simple()
        );
        stores.push(("mongodb", DatabaseUrl::Mongo(SecretString::from(url))));
    } else {
        println!("MONGODB_TEST_URL is not set: MongoDB is not measured");
    }
    println!(
        "{:<18} {:>14} {:>16}",
        "store", "µs/check (1)", "checks/s (32)"
    );
    for (name, url) in stores {
        let store = store::connect(&url).await?;
        let throttle = Arc::new(Throttle::new(
            RateLimits::uniform("1000000/1h".parse().map_err(anyhow::Error::msg)?),
            store,
            Arc::new(SystemClock),
        ));
        let client = ClientInfo::default();
        let started = Instant::now();
        for i in 0..checks {
            throttle
                .check(Bucket::LoginClient, &format!("serial-{i}"), None, &client)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        let serial = started.elapsed().as_secs_f64() * 1e6 / checks as f64;
        let started = Instant::now();
        stream::iter(0..checks)
            .map(|i| {
                let (throttle, client) = (throttle.clone(), client.clone());
                async move {
                    throttle
                        .check(Bucket::LoginClient, &format!("parallel-{i}"), None, &client)
                        .await
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let per_second = checks as f64 / started.elapsed().as_secs_f64();
        println!("{name:<18} {serial:>14.1} {per_second:>16.0}");
    }
    Ok(())
}
