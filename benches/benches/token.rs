//! Token verification per mailing click / open / person token (`Keyring::verify`).

use common::token::{Claims, Keyring, TokenKind};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn token(c: &mut Criterion) {
    let Some(keys) = Keyring::parse("k2:fedcba9876543210fedc,k1:0123456789abcdef0123") else {
        eprintln!("SKIPPING token benches: test keyring did not parse");
        return;
    };
    let click = Claims {
        kind: TokenKind::Click,
        kid: String::new(),
        expires_at: 0,
        mailing_id: "2026-11-spring-sale".into(),
        person_id: "crm-person-00012345".into(),
        link_id: "hero-cta".into(),
        url: "https://shop.example.com/offers/spring?utm_source=newsletter&utm_medium=email".into(),
    };
    let Ok(token) = keys.sign(&click) else {
        eprintln!("SKIPPING token benches: signing failed");
        return;
    };
    let mut tampered = token.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap_or_default();

    let mut g = c.benchmark_group("token");
    g.bench_function("verify_click", |b| {
        b.iter(|| black_box(keys.verify(black_box(&token), 0)))
    });
    g.bench_function("verify_tampered", |b| {
        b.iter(|| black_box(keys.verify(black_box(&tampered), 0)))
    });
    g.bench_function("sign_click", |b| {
        b.iter(|| black_box(keys.sign(black_box(&click))))
    });
    g.finish();
}

criterion_group!(benches, token);
criterion_main!(benches);
