//! Limits that keep hostile input from exhausting memory or time.

/// Largest direct text of one element that is kept (a Nessus package list is ~20 KiB).
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// Largest attribute value.
pub const MAX_ATTR_BYTES: usize = 64 << 10;
/// Most attributes on one element.
pub const MAX_ATTRS: usize = 64;
/// Deepest element nesting.
pub const MAX_DEPTH: usize = 64;
/// Longest element name.
pub const MAX_NAME_BYTES: usize = 256;
/// Largest file `parse_file` opens.
pub const MAX_FILE_BYTES: u64 = 2 << 30;
/// Description and output excerpts are cut to this many characters.
pub const EXCERPT_CHARS: usize = 4000;
/// Longest plugin id / OID, name, host field.
pub const MAX_FIELD_CHARS: usize = 1024;
/// Most rejected records kept per report (the count goes on in the last entry).
pub const MAX_REJECTED: usize = 10_000;
/// Most CSV rows in one file.
pub const MAX_CSV_ROWS: usize = 5_000_000;
