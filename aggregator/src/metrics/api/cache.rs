//! A small in-process cache of metric answers, keyed by the request and the committed
//! generations the answer was read from. A result table's rows of a committed generation
//! never change, so an answer stays right for as long as its key's generations are the
//! committed ones; a new commit gives new keys and the old entries are simply never asked
//! for again. It complements the result tables (a first request, or one after every refresh,
//! still pays for the query), and holds at most [`CAPACITY`] answers, emptied when full.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

/// Most answers kept (the largest, a page table of 100 000 rows, is some tens of MB; typical
/// ones are a few kB).
pub const CAPACITY: usize = 256;

fn store() -> &'static Mutex<HashMap<String, Arc<Value>>> {
    static STORE: OnceLock<Mutex<HashMap<String, Arc<Value>>>> = OnceLock::new();
    STORE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The key of an answer: the database it came from, the request and the generations.
pub fn key(ch: &common::ch::ChSettings, parts: &[&str]) -> String {
    let mut k = format!("{}\u{1f}{}", ch.url, ch.database);
    for p in parts {
        k.push('\u{1f}');
        k.push_str(p);
    }
    k
}

/// The cached answer for `key`, if any.
pub fn get(key: &str) -> Option<Arc<Value>> {
    store().lock().ok()?.get(key).cloned()
}

/// Keeps `value` under `key`, emptying the cache first when it is full.
pub fn put(key: String, value: Value) {
    if let Ok(mut m) = store().lock() {
        if m.len() >= CAPACITY {
            m.clear();
        }
        m.insert(key, Arc::new(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_databases_and_generations() {
        let a = common::ch::ChSettings {
            url: "http://h:1".into(),
            database: "a".into(),
            user: String::new(),
            password: String::new(),
        };
        let mut b = a.clone();
        b.database = "b".into();
        assert_ne!(key(&a, &["pages", "g1"]), key(&b, &["pages", "g1"]));
        assert_ne!(key(&a, &["pages", "g1"]), key(&a, &["pages", "g2"]));
        assert_ne!(key(&a, &["x", "yz"]), key(&a, &["xy", "z"]));
        let k = key(&a, &["cache-test", "g1"]);
        assert!(get(&k).is_none());
        put(k.clone(), serde_json::json!({"n": 1}));
        assert_eq!(get(&k).as_deref(), Some(&serde_json::json!({"n": 1})));
    }
}
