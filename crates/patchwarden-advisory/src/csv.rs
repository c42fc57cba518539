//! A small RFC 4180 CSV reader (quoted fields, doubled quotes, newlines inside quotes).

const MAX_FIELDS: usize = 256;
const MAX_FIELD_LEN: usize = 1 << 20;

/// One CSV record with the 1-based line it starts on.
pub(crate) struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Splits `text` into records. A malformed record (unterminated quote, text after a
/// closing quote, too many or too long fields) is returned as an error with its line;
/// reading resumes at the next line.
pub(crate) fn records(text: &str) -> Vec<Result<Record, (usize, String)>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut err: Option<String> = None;
        loop {
            // one field
            if chars.peek() == Some(&'"') {
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            field.push('"');
                        } else {
                            closed = true;
                            break;
                        }
                    } else {
                        if c == '\n' {
                            line += 1;
                        }
                        field.push(c);
                    }
                }
                if !closed {
                    err = Some("unterminated quoted field".into());
                }
                if !matches!(chars.peek(), None | Some(',') | Some('\n') | Some('\r')) {
                    err.get_or_insert_with(|| "text after a closing quote".into());
                    while matches!(chars.peek(), Some(c) if *c != ',' && *c != '\n') {
                        chars.next();
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' || c == '\n' {
                        break;
                    }
                    chars.next();
                    if c != '\r' {
                        field.push(c);
                    }
                }
            }
            if field.len() > MAX_FIELD_LEN {
                err.get_or_insert_with(|| format!("field longer than {MAX_FIELD_LEN} bytes"));
                field.clear();
            }
            fields.push(std::mem::take(&mut field));
            if fields.len() > MAX_FIELDS {
                err.get_or_insert_with(|| format!("more than {MAX_FIELDS} fields"));
                fields.clear();
            }
            match chars.next() {
                Some(',') => continue,
                Some('\r') => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    break;
                }
                Some('\n') => {
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        let blank = fields.len() == 1 && fields[0].trim().is_empty();
        match err {
            Some(e) => out.push(Err((start, e))),
            None if blank => {}
            None => out.push(Ok(Record {
                line: start,
                fields,
            })),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted() {
        let r = records("a,\"b,\"\"c\"\"\nd\",e\r\n\nx,y\n\"open");
        let ok: Vec<_> = r.iter().filter_map(|x| x.as_ref().ok()).collect();
        assert_eq!(ok[0].fields, vec!["a", "b,\"c\"\nd", "e"]);
        assert_eq!(
            (ok[1].line, ok[1].fields.clone()),
            (4, vec!["x".to_owned(), "y".into()])
        );
        assert!(r.last().is_some_and(|x| x.is_err()));
    }
}
