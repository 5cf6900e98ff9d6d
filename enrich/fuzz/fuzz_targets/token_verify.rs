//! Fuzzes token verification (`/r/`, `/o/`, `pt`): any text is refused or verified, never a
//! panic; and a token that verifies must re-sign to the same claims.
#![no_main]

use common::token::Keyring;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static KEYS: LazyLock<Option<Keyring>> =
    LazyLock::new(|| Keyring::parse("k1:0123456789abcdef0123,k2:fedcba9876543210fedc"));

fuzz_target!(|data: &[u8]| {
    let (Some(keys), Ok(token)) = (KEYS.as_ref(), std::str::from_utf8(data)) else {
        return;
    };
    if let Ok(claims) = keys.verify(token, 0) {
        let again = keys.sign(&claims).ok().and_then(|t| keys.verify(&t, 0).ok());
        assert_eq!(again.map(|c| c.person_id), Some(claims.person_id));
    }
});
