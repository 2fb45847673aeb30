//! Prints a query exactly as pamps runs it, for `bench/explain.sh` (which
//! then times the current SQL, not a copy that drifts):
//! `cargo run --release --example sql -- timeline` (the query over follows)
//! or `-- home` (the home feed's page as read with the fan-out caught up)
//! or `-- home-tail` (the page with the tail of events not fanned out yet).

use std::process::ExitCode;

fn main() -> ExitCode {
    let name = std::env::args().nth(1).unwrap_or_default();
    match name.as_str() {
        "timeline" => {
            println!("{}", pamps::models::post::TIMELINE_SQL);
            ExitCode::SUCCESS
        }
        "home" => {
            println!("{}", pamps::models::home_feed::FEED_PAGE);
            ExitCode::SUCCESS
        }
        "home-tail" => {
            println!("{}", pamps::models::home_feed::PAGE);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: sql timeline|home|home-tail");
            ExitCode::FAILURE
        }
    }
}
