//! Against a real ClickHouse: replicas that each propose their own daily salt converge on one
//! (the day's min), and a new day deletes the old day's salt.

use collector::salt::Salts;
use testkit::{query_text, shared_server};

const DAY_MS: u64 = 86_400_000;

#[tokio::test]
async fn replicas_agree_and_old_days_are_forgotten() {
    let ch = shared_server().fresh_db("salt").await;
    let day1 = 20_000 * DAY_MS + 5_000;
    let (a, b) = (Salts::new(day1), Salts::new(day1));
    assert_ne!(a.for_time(day1), b.for_time(day1), "proposals are random");
    a.sync(&ch, day1).await.unwrap_or_else(|e| panic!("{e}"));
    b.sync(&ch, day1).await.unwrap_or_else(|e| panic!("{e}"));
    // `a` re-reads on its next round and adopts the winner too.
    a.sync(&ch, day1).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.for_time(day1), b.for_time(day1));
    let stored = query_text(&ch, "SELECT day, count() FROM daily_salts GROUP BY day").await;
    assert_eq!(
        stored, "20000\t1\n",
        "b adopted a's salt instead of proposing"
    );

    let day2 = day1 + DAY_MS;
    a.sync(&ch, day2).await.unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(a.for_time(day2), b.for_time(day1));
    // ALTER ... DELETE is a mutation: applied in the background, so poll briefly.
    let mut left = String::new();
    for _ in 0..50 {
        left = query_text(&ch, "SELECT DISTINCT day FROM daily_salts ORDER BY day").await;
        if left == "20001\n" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(left, "20001\n", "yesterday's salt was not deleted");
}
