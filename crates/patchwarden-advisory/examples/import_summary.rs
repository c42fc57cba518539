//! Prints what `import_path` finds in each argument: files, advisories, affected
//! statements, enrichment entries, rejected and skipped records (with reasons).
//! `cargo run -p patchwarden-advisory --example import_summary -- PATH…`

fn main() {
    for arg in std::env::args().skip(1) {
        match patchwarden_advisory::import_path(&arg) {
            Ok(r) => {
                println!(
                    "{arg}: files={} advisories={} affected={} enrichment={} rejected={} skipped={}",
                    r.files_read,
                    r.advisories.len(),
                    r.affected_count(),
                    r.enrichment.len(),
                    r.rejected.len(),
                    r.skipped.len()
                );
                for x in r.rejected.iter().take(20) {
                    println!("  rejected {} {:?}: {}", x.file, x.record, x.reason);
                }
                if std::env::var_os("SHOW_SKIPPED").is_some() {
                    for x in r.skipped.iter().take(40) {
                        println!("  skipped {} {:?}: {}", x.file, x.record, x.reason);
                    }
                }
            }
            Err(e) => println!("{arg}: error: {e}"),
        }
    }
}
