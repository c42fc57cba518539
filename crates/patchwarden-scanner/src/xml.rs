//! A small streaming layer over `quick-xml` shared by the XML parsers.
//!
//! It keeps a stack of the open elements, gathers each element's direct text (capped),
//! refuses DTDs, and reports text problems (unknown entities, oversized text, invalid
//! UTF-8) to the caller instead of failing, so one bad record can be rejected alone.

use crate::limits::{MAX_ATTRS, MAX_ATTR_BYTES, MAX_DEPTH, MAX_NAME_BYTES, MAX_TEXT_BYTES};
use crate::ScanError;
use quick_xml::events::Event;
use quick_xml::Reader;
use std::io::BufRead;

/// What the walker saw next.
#[derive(Debug)]
pub(crate) enum Node {
    /// An element opened; [`Walker::path`] ends with it.
    Start(Attrs),
    /// An element closed; [`Walker::path`] still ends with it until the next call.
    End(Text),
    /// End of input with no element open.
    Eof,
}

/// Attributes of an element, decoded; a problem with any of them is kept in `issue`.
#[derive(Debug, Default)]
pub(crate) struct Attrs {
    pub list: Vec<(String, String)>,
    pub issue: Option<String>,
}

impl Attrs {
    /// The value of attribute `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The direct text of an element (text and CDATA children), and any problem with it.
#[derive(Debug, Default)]
pub(crate) struct Text {
    pub value: String,
    pub issue: Option<String>,
}

impl Text {
    /// The text, or the problem that spoiled it.
    pub fn ok(self) -> Result<String, String> {
        match self.issue {
            Some(issue) => Err(issue),
            None => Ok(self.value),
        }
    }
}

#[derive(Debug)]
struct Open {
    name: String,
    text: Text,
}

/// Streaming walker over an XML document.
#[derive(Debug)]
pub(crate) struct Walker<R> {
    reader: Reader<R>,
    buf: Vec<u8>,
    stack: Vec<Open>,
    path: Vec<String>,
    pop_pending: bool,
}

impl<R: BufRead> Walker<R> {
    /// A walker over `input`.
    pub fn new(input: R) -> Self {
        let mut reader = Reader::from_reader(input);
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text(false);
        Self {
            reader,
            buf: Vec::new(),
            stack: Vec::new(),
            path: Vec::new(),
            pop_pending: false,
        }
    }

    /// Names of the open elements, outermost first.
    pub fn path(&self) -> &[String] {
        &self.path
    }

    /// Whether the open-element path ends with `suffix`.
    pub fn ends_with(&self, suffix: &[&str]) -> bool {
        self.path.len() >= suffix.len()
            && self.path[self.path.len() - suffix.len()..]
                .iter()
                .zip(suffix)
                .all(|(a, b)| a == b)
    }

    /// Number of open elements.
    pub fn depth(&self) -> usize {
        self.path.len()
    }

    /// The innermost open element's name ("" at top level).
    pub fn current(&self) -> &str {
        self.path.last().map(String::as_str).unwrap_or("")
    }

    fn position(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn xml_error(&self, message: impl Into<String>) -> ScanError {
        ScanError::Xml {
            position: self.position(),
            message: message.into(),
        }
    }

    /// The next start or end of an element.
    pub fn next(&mut self) -> Result<Node, ScanError> {
        if self.pop_pending {
            self.pop_pending = false;
            self.path.pop();
        }
        loop {
            self.buf.clear();
            let event = match self.reader.read_event_into(&mut self.buf) {
                Ok(e) => e,
                Err(e) => {
                    let message = e.to_string();
                    return Err(self.xml_error(message));
                }
            };
            match event {
                Event::DocType(_) => return Err(ScanError::Dtd),
                Event::Start(start) => {
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(ScanError::Limit(format!(
                            "elements nested deeper than {MAX_DEPTH}"
                        )));
                    }
                    let local = start.local_name();
                    if local.as_ref().len() > MAX_NAME_BYTES {
                        return Err(ScanError::Limit(format!(
                            "element name longer than {MAX_NAME_BYTES} bytes"
                        )));
                    }
                    let name = String::from_utf8_lossy(local.as_ref()).into_owned();
                    let attrs = decode_attrs(&start);
                    self.stack.push(Open {
                        name: name.clone(),
                        text: Text::default(),
                    });
                    self.path.push(name);
                    return Ok(Node::Start(attrs));
                }
                Event::End(_) => {
                    let Some(open) = self.stack.pop() else {
                        return Err(self.xml_error("end tag without start tag"));
                    };
                    self.pop_pending = true;
                    return Ok(Node::End(open.text));
                }
                Event::Text(t) => {
                    if let Some(open) = self.stack.last_mut() {
                        if open.text.issue.is_none() {
                            if open.text.value.len() + t.len() > MAX_TEXT_BYTES {
                                open.text.issue =
                                    Some(format!("text larger than {MAX_TEXT_BYTES} bytes"));
                            } else {
                                match t.unescape() {
                                    Ok(s) => open.text.value.push_str(&s),
                                    Err(e) => open.text.issue = Some(format!("bad text: {e}")),
                                }
                            }
                        }
                    }
                }
                Event::CData(c) => {
                    if let Some(open) = self.stack.last_mut() {
                        if open.text.issue.is_none() {
                            if open.text.value.len() + c.len() > MAX_TEXT_BYTES {
                                open.text.issue =
                                    Some(format!("text larger than {MAX_TEXT_BYTES} bytes"));
                            } else {
                                match std::str::from_utf8(&c) {
                                    Ok(s) => open.text.value.push_str(s),
                                    Err(_) => open.text.issue = Some("CDATA is not UTF-8".into()),
                                }
                            }
                        }
                    }
                }
                Event::Eof => {
                    if let Some(open) = self.stack.last() {
                        let message = format!(
                            "unexpected end of input inside <{}> (truncated file?)",
                            open.name
                        );
                        return Err(self.xml_error(message));
                    }
                    return Ok(Node::Eof);
                }
                Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            }
        }
    }
}

fn decode_attrs(start: &quick_xml::events::BytesStart<'_>) -> Attrs {
    let mut attrs = Attrs::default();
    for (i, attr) in start.attributes().enumerate() {
        if i >= MAX_ATTRS {
            attrs.issue = Some(format!("more than {MAX_ATTRS} attributes"));
            break;
        }
        let attr = match attr {
            Ok(a) => a,
            Err(e) => {
                attrs.issue = Some(format!("bad attribute: {e}"));
                break;
            }
        };
        if attr.value.len() > MAX_ATTR_BYTES {
            attrs.issue = Some(format!(
                "attribute value larger than {MAX_ATTR_BYTES} bytes"
            ));
            continue;
        }
        let key = String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned();
        match attr.unescape_value() {
            Ok(v) => attrs.list.push((key, v.into_owned())),
            Err(e) => attrs.issue = Some(format!("bad attribute {key}: {e}")),
        }
    }
    attrs
}
