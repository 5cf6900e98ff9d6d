//! Prints the classification of each user agent read from stdin (one a line), as a corpus
//! line: `UA \t browser \t os \t device \t is_bot`. A helper for extending the UA corpus.
use std::io::BufRead;

fn main() {
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let i = enrich::ua::classify(&line);
        println!(
            "{line}\t{}\t{}\t{}\t{}",
            i.browser,
            i.os,
            i.device,
            u8::from(i.is_bot())
        );
    }
}
