//! `patchwarden vercmp`: compare package versions the way dpkg, rpm or apk would.

use patchwarden_version::{compare_str, Scheme};
use std::cmp::Ordering;
use std::io::{BufRead, Write};
use std::process::ExitCode;

fn symbol(o: Ordering) -> &'static str {
    match o {
        Ordering::Less => "<",
        Ordering::Equal => "=",
        Ordering::Greater => ">",
    }
}

/// Whether `o` satisfies the operator (`<`, `<=`, `=`, `>=`, `>`, `!=`, or dpkg's
/// `lt le eq ge gt ne`, also `<<`/`>>`).
fn holds(op: &str, o: Ordering) -> Option<bool> {
    Some(match op {
        "<" | "<<" | "lt" => o == Ordering::Less,
        "<=" | "le" => o != Ordering::Greater,
        "=" | "==" | "eq" => o == Ordering::Equal,
        ">=" | "ge" => o != Ordering::Less,
        ">" | ">>" | "gt" => o == Ordering::Greater,
        "!=" | "ne" => o != Ordering::Equal,
        _ => return None,
    })
}

/// Runs the command. With no arguments, reads `A B` pairs from standard input and
/// prints `<`, `=` or `>` per line; with `A B`, prints the one answer; with `A OP B`,
/// prints nothing and exits 0 when the relation holds, 1 when not. An invalid version
/// exits 2 with the scheme's own message.
pub fn run(scheme: Scheme, args: &[String]) -> ExitCode {
    match args {
        [] => stdin_pairs(scheme),
        [a, b] => match compare_str(scheme, a, b) {
            Ok(o) => {
                println!("{}", symbol(o));
                ExitCode::SUCCESS
            }
            Err(e) => invalid(&e.to_string()),
        },
        [a, op, b] => {
            let o = match compare_str(scheme, a, b) {
                Ok(o) => o,
                Err(e) => return invalid(&e.to_string()),
            };
            match holds(op, o) {
                Some(true) => ExitCode::SUCCESS,
                Some(false) => ExitCode::from(1),
                None => invalid(&format!(
                    "unknown operator '{op}' (use < <= = >= > != or lt le eq ge gt ne)"
                )),
            }
        }
        _ => invalid("give no arguments (pairs on standard input), `A B`, or `A OP B`"),
    }
}

fn invalid(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn stdin_pairs(scheme: Scheme) -> ExitCode {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (n, line) in stdin.lock().lines().enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => return invalid(&format!("line {}: {e}", n + 1)),
        };
        let mut parts = line.split_whitespace();
        let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
            if line.trim().is_empty() {
                continue;
            }
            let _ = out.flush();
            return invalid(&format!("line {}: expected two versions `A B`", n + 1));
        };
        match compare_str(scheme, a, b) {
            Ok(o) => {
                if writeln!(out, "{}", symbol(o)).is_err() {
                    return ExitCode::SUCCESS; // reader went away
                }
            }
            Err(e) => {
                let _ = out.flush();
                return invalid(&format!("line {}: {e}", n + 1));
            }
        }
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}
