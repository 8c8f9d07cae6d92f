//! The hardened pull parser every metadata reader is built on.
//!
//! It wraps quick-xml's tokenizer and adds what untrusted repodata needs:
//!
//! * a DOCTYPE with an internal subset (the only place entities can be
//!   declared) is refused, and every entity reference other than the five
//!   predefined ones and numeric character references is refused, so entity
//!   expansion ("billion laughs") is impossible. A DOCTYPE with only an
//!   external identifier (as in comps.xml) is ignored; nothing is fetched;
//! * element nesting is capped at [`Limits::max_depth`];
//! * one raw token is capped at [`Limits::max_token_bytes`] *before* it is
//!   buffered (a guard sits between the tokenizer and the input), and text /
//!   attribute values at [`Limits::max_value_bytes`];
//! * errors that adapters below (decompressor, checksum verifier) smuggled
//!   through `io::Error` come back out as their [`MetadataError`] variant.
//!
//! Callers walk the tree with [`XmlReader::next_child`], then either
//! [`XmlReader::read_text`], [`XmlReader::skip`] or recurse with
//! `next_child` until it returns `None`. Elements are matched by local name
//! (namespace prefixes such as `rpm:` are ignored).

use std::io::{self, BufRead, Read};
use std::sync::Arc;

use quick_xml::Reader;
use quick_xml::errors::Error as XmlError;
use quick_xml::escape::EscapeError;
use quick_xml::events::{BytesRef, BytesStart, Event};

use super::error::MetadataError;
use super::limits::Limits;
use crate::text::clip;

/// One start tag with its attributes decoded and unescaped.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    /// Local name (prefix stripped).
    pub(crate) name: String,
    /// Attributes as (qualified name, value), in document order.
    pub(crate) attrs: Vec<(String, String)>,
    /// Byte offset of the start tag.
    pub(crate) position: u64,
}

impl Element {
    /// The value of attribute `key` (qualified name, e.g. `xml:base`).
    pub(crate) fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Move the value of attribute `key` out of the element.
    pub(crate) fn take_attr(&mut self, key: &str) -> Option<String> {
        let index = self.attrs.iter().position(|(k, _)| k == key)?;
        Some(std::mem::take(&mut self.attrs[index].1))
    }
}

/// Caps the bytes the tokenizer may consume for a single token.
struct TokenGuard<R> {
    inner: R,
    used: usize,
    limit: usize,
    total: u64,
    file: Arc<str>,
}

impl<R: BufRead> Read for TokenGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for TokenGuard<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.used > self.limit {
            return Err(MetadataError::ValueTooLarge {
                file: self.file.to_string(),
                position: self.total,
                what: "XML token",
                limit: self.limit,
            }
            .into_io());
        }
        // Hand out at most one byte past the limit, so a token that arrives
        // in one large chunk is caught too.
        let allowed = self.limit - self.used + 1;
        let available = self.inner.fill_buf()?;
        Ok(&available[..available.len().min(allowed)])
    }

    fn consume(&mut self, amt: usize) {
        self.used = self.used.saturating_add(amt);
        self.total += amt as u64;
        self.inner.consume(amt);
    }
}

/// The hardened pull parser. See the module docs.
pub(crate) struct XmlReader<R> {
    reader: Reader<TokenGuard<R>>,
    buf: Vec<u8>,
    ctx: Ctx,
}

impl<R> std::fmt::Debug for XmlReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmlReader")
            .field("file", &self.ctx.file)
            .field("position", &self.reader.buffer_position())
            .field("depth", &self.ctx.depth)
            .finish_non_exhaustive()
    }
}

/// Everything but the tokenizer and its buffer, so both can be borrowed at
/// once.
struct Ctx {
    file: Arc<str>,
    limits: Limits,
    /// Names of the open elements; `stack[..depth]` is live, the rest are
    /// spare allocations.
    stack: Vec<String>,
    depth: usize,
}

impl<R: BufRead> XmlReader<R> {
    /// Parse `input`, naming it `file` in errors.
    pub(crate) fn new(input: R, file: &str, limits: &Limits) -> Self {
        let file: Arc<str> = Arc::from(file);
        let guard = TokenGuard {
            inner: input,
            used: 0,
            limit: limits.max_token_bytes,
            total: 0,
            file: file.clone(),
        };
        let mut reader = Reader::from_reader(guard);
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text_start = false;
        config.trim_text_end = false;
        XmlReader {
            reader,
            buf: Vec::with_capacity(4096),
            ctx: Ctx {
                file,
                limits: *limits,
                stack: Vec::new(),
                depth: 0,
            },
        }
    }

    /// The file name used in errors.
    pub(crate) fn file(&self) -> &str {
        &self.ctx.file
    }

    /// Byte offset just after the last token read.
    pub(crate) fn position(&self) -> u64 {
        self.reader.buffer_position()
    }

    /// Read up to the root element and check its local name.
    pub(crate) fn root(&mut self, expected: &'static str) -> Result<Element, MetadataError> {
        match self.next_child()? {
            Some(root) if root.name == expected => Ok(root),
            Some(other) => Err(MetadataError::UnexpectedContent {
                file: self.file().to_owned(),
                position: other.position,
                found: format!("root element <{}>", clip(&other.name)),
                expected,
            }),
            None => Err(MetadataError::UnexpectedContent {
                file: self.file().to_owned(),
                position: self.position(),
                found: "end of input".to_owned(),
                expected,
            }),
        }
    }

    /// After the root element was closed: read to the end of the input
    /// (so checksum verifiers below see all of it) and refuse anything but
    /// comments, processing instructions and whitespace.
    pub(crate) fn finish(&mut self) -> Result<(), MetadataError> {
        match self.next_child()? {
            None => Ok(()),
            Some(extra) => Err(MetadataError::UnexpectedContent {
                file: self.file().to_owned(),
                position: extra.position,
                found: format!("element <{}> after the root element", clip(&extra.name)),
                expected: "end of document",
            }),
        }
    }

    /// The next child element of the current element, or `None` when the
    /// current element ends (at the top level: when the input ends). Text
    /// between child elements is ignored.
    pub(crate) fn next_child(&mut self) -> Result<Option<Element>, MetadataError> {
        loop {
            let start = self.reader.buffer_position();
            let event = next_event(&mut self.reader, &mut self.buf)
                .map_err(|e| self.ctx.tokenizer_error(e, &self.reader))?;
            match event {
                Event::Start(tag) => {
                    let element = self.ctx.element(&tag, start)?;
                    self.ctx.push(&element.name, start)?;
                    return Ok(Some(element));
                }
                Event::End(_) => {
                    self.ctx.pop();
                    return Ok(None);
                }
                Event::Eof => return self.ctx.eof(self.reader.buffer_position()).map(|()| None),
                Event::GeneralRef(reference) => {
                    self.ctx.resolve(&reference, start)?;
                }
                Event::DocType(doctype) => self.ctx.doctype(&doctype.xml10_content(), start)?,
                // With `expand_empty_elements` quick-xml never yields `Empty`.
                Event::Empty(_)
                | Event::Text(_)
                | Event::CData(_)
                | Event::Comment(_)
                | Event::PI(_)
                | Event::Decl(_) => {}
            }
        }
    }

    /// The text content of the element just returned by `next_child`, up to
    /// its end tag. Nested elements are skipped.
    pub(crate) fn read_text(&mut self) -> Result<String, MetadataError> {
        let mut text = String::new();
        loop {
            let start = self.reader.buffer_position();
            let event = next_event(&mut self.reader, &mut self.buf)
                .map_err(|e| self.ctx.tokenizer_error(e, &self.reader))?;
            match event {
                Event::Text(t) => self.ctx.append(&mut text, &t.xml10_content(), start)?,
                Event::CData(c) => self.ctx.append(&mut text, &c.xml10_content(), start)?,
                Event::GeneralRef(reference) => {
                    let ch = self.ctx.resolve(&reference, start)?;
                    self.ctx
                        .append(&mut text, ch.encode_utf8(&mut [0; 4]), start)?;
                }
                Event::Start(tag) => {
                    let element = self.ctx.element(&tag, start)?;
                    self.ctx.push(&element.name, start)?;
                    self.skip()?;
                }
                Event::End(_) => {
                    self.ctx.pop();
                    return Ok(text);
                }
                Event::Eof => {
                    self.ctx.eof(self.reader.buffer_position())?;
                    return Ok(text);
                }
                Event::DocType(doctype) => self.ctx.doctype(&doctype.xml10_content(), start)?,
                Event::Empty(_) | Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
            }
        }
    }

    /// Skip the rest of the element just returned by `next_child`,
    /// including everything nested in it (still enforcing every limit).
    pub(crate) fn skip(&mut self) -> Result<(), MetadataError> {
        let target = self.ctx.depth.saturating_sub(1);
        while self.ctx.depth > target {
            let start = self.reader.buffer_position();
            let event = next_event(&mut self.reader, &mut self.buf)
                .map_err(|e| self.ctx.tokenizer_error(e, &self.reader))?;
            match event {
                Event::Start(tag) => {
                    let name = local_name(&tag);
                    self.ctx.push(&name, start)?;
                }
                Event::End(_) => self.ctx.pop(),
                Event::Eof => return self.ctx.eof(self.reader.buffer_position()),
                Event::GeneralRef(reference) => {
                    self.ctx.resolve(&reference, start)?;
                }
                Event::DocType(doctype) => self.ctx.doctype(&doctype.xml10_content(), start)?,
                Event::Empty(_)
                | Event::Text(_)
                | Event::CData(_)
                | Event::Comment(_)
                | Event::PI(_)
                | Event::Decl(_) => {}
            }
        }
        Ok(())
    }

    /// A required attribute of `element`.
    pub(crate) fn required_attr(
        &self,
        element: &mut Element,
        attribute: &'static str,
    ) -> Result<String, MetadataError> {
        element
            .take_attr(attribute)
            .ok_or_else(|| MetadataError::MissingAttribute {
                file: self.file().to_owned(),
                position: element.position,
                element: clip(&element.name),
                attribute,
            })
    }

    /// Parse an optional numeric attribute.
    pub(crate) fn num_attr<T: std::str::FromStr>(
        &self,
        element: &Element,
        attribute: &str,
    ) -> Result<Option<T>, MetadataError> {
        match element.attr(attribute) {
            None => Ok(None),
            Some(value) => self
                .number(value, element.position, || {
                    format!("{}@{}", element.name, attribute)
                })
                .map(Some),
        }
    }

    /// Parse a number found at `position`; `field` names it in the error.
    pub(crate) fn number<T: std::str::FromStr>(
        &self,
        value: &str,
        position: u64,
        field: impl FnOnce() -> String,
    ) -> Result<T, MetadataError> {
        value
            .trim()
            .parse()
            .map_err(|_| MetadataError::InvalidValue {
                file: self.file().to_owned(),
                position,
                field: field(),
                value: clip(value),
            })
    }

    /// Fail with [`MetadataError::TooManyEntries`] once `count` exceeds the
    /// entry limit.
    pub(crate) fn check_count(
        &self,
        count: usize,
        owner: impl FnOnce() -> String,
        what: &'static str,
    ) -> Result<(), MetadataError> {
        if count > self.ctx.limits.max_entries {
            return Err(MetadataError::TooManyEntries {
                file: self.file().to_owned(),
                owner: owner(),
                what,
                limit: self.ctx.limits.max_entries,
            });
        }
        Ok(())
    }

    /// [`MetadataError::MissingElement`] for this file.
    pub(crate) fn missing(
        &self,
        element: &'static str,
        context: impl Into<String>,
    ) -> MetadataError {
        MetadataError::MissingElement {
            file: self.file().to_owned(),
            element,
            context: context.into(),
        }
    }
}

/// Read one token into `buf` (cleared first), resetting the token guard.
fn next_event<'b, R: BufRead>(
    reader: &mut Reader<TokenGuard<R>>,
    buf: &'b mut Vec<u8>,
) -> Result<Event<'b>, XmlError> {
    buf.clear();
    reader.get_mut().used = 0;
    reader.read_event_into(buf)
}

fn local_name(tag: &BytesStart<'_>) -> String {
    tag.local_name().as_ref().to_owned()
}

impl Ctx {
    fn push(&mut self, name: &str, position: u64) -> Result<(), MetadataError> {
        if self.depth >= self.limits.max_depth {
            return Err(MetadataError::TooDeep {
                file: self.file.to_string(),
                position,
                limit: self.limits.max_depth,
            });
        }
        if let Some(slot) = self.stack.get_mut(self.depth) {
            slot.clear();
            slot.push_str(name);
        } else {
            self.stack.push(name.to_owned());
        }
        self.depth += 1;
        Ok(())
    }

    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// End of input: fine at depth 0, truncation otherwise.
    fn eof(&self, position: u64) -> Result<(), MetadataError> {
        if self.depth == 0 {
            return Ok(());
        }
        Err(MetadataError::Truncated {
            file: self.file.to_string(),
            position,
            open_element: self.stack[self.depth - 1].clone(),
        })
    }

    fn doctype(&self, content: &str, position: u64) -> Result<(), MetadataError> {
        if content.contains('[') {
            return Err(MetadataError::Doctype {
                file: self.file.to_string(),
                position,
            });
        }
        Ok(())
    }

    fn append(&self, text: &mut String, more: &str, position: u64) -> Result<(), MetadataError> {
        if text.len() + more.len() > self.limits.max_value_bytes {
            return Err(MetadataError::ValueTooLarge {
                file: self.file.to_string(),
                position,
                what: "text",
                limit: self.limits.max_value_bytes,
            });
        }
        text.push_str(more);
        Ok(())
    }

    /// Resolve `&name;`: numeric character references and the five
    /// predefined entities only.
    fn resolve(&self, reference: &BytesRef<'_>, position: u64) -> Result<char, MetadataError> {
        match reference.resolve_char_ref() {
            Ok(Some(ch)) => return Ok(ch),
            Ok(None) => {}
            Err(source) => {
                return Err(MetadataError::Xml {
                    file: self.file.to_string(),
                    position,
                    source,
                });
            }
        }
        let name = reference.xml10_content();
        match predefined_entity(&name) {
            Some(ch) => Ok(ch),
            None => Err(MetadataError::Entity {
                file: self.file.to_string(),
                position,
                name: clip(&name),
            }),
        }
    }

    /// Decode a start tag: local name plus unescaped attributes.
    fn element(&self, tag: &BytesStart<'_>, position: u64) -> Result<Element, MetadataError> {
        let name = local_name(tag);
        let mut attrs = Vec::new();
        for attr in tag.attributes() {
            let attr = attr.map_err(|e| MetadataError::Xml {
                file: self.file.to_string(),
                position,
                source: XmlError::InvalidAttr(e),
            })?;
            if attr.value.len() > self.limits.max_value_bytes {
                return Err(MetadataError::ValueTooLarge {
                    file: self.file.to_string(),
                    position,
                    what: "attribute value",
                    limit: self.limits.max_value_bytes,
                });
            }
            let key = attr.key.as_ref().to_owned();
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| self.value_error(e, position))?;
            attrs.push((key, value.into_owned()));
        }
        Ok(Element {
            name,
            attrs,
            position,
        })
    }

    fn value_error(&self, err: XmlError, position: u64) -> MetadataError {
        match err {
            XmlError::Escape(EscapeError::UnrecognizedEntity(_, name)) => MetadataError::Entity {
                file: self.file.to_string(),
                position,
                name: clip(&name),
            },
            source => MetadataError::Xml {
                file: self.file.to_string(),
                position,
                source,
            },
        }
    }

    /// Map a tokenizer error, unwrapping errors carried through `io::Error`.
    fn tokenizer_error<R>(&self, err: XmlError, reader: &Reader<R>) -> MetadataError {
        match err {
            XmlError::Io(shared) => match Arc::try_unwrap(shared) {
                Ok(io_err) => MetadataError::from_io(&self.file, io_err),
                Err(shared) => MetadataError::Io {
                    file: self.file.to_string(),
                    source: io::Error::new(shared.kind(), shared.to_string()),
                },
            },
            XmlError::Escape(EscapeError::UnrecognizedEntity(_, name)) => MetadataError::Entity {
                file: self.file.to_string(),
                position: reader.error_position(),
                name: clip(&name),
            },
            source => MetadataError::Xml {
                file: self.file.to_string(),
                position: reader.error_position(),
                source,
            },
        }
    }
}

fn predefined_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(xml: &str) -> XmlReader<&[u8]> {
        XmlReader::new(xml.as_bytes(), "test.xml", &Limits::default())
    }

    #[test]
    fn walks_a_tree() {
        let mut x = reader(
            "<?xml version=\"1.0\"?><!-- c --><r a=\"1 &amp; 2\"><t>x &lt;&#65;&#x42;<![CDATA[<z>]]></t><e/><s><deep><er/></deep></s></r>",
        );
        let root = x.root("r").unwrap();
        assert_eq!(root.attr("a"), Some("1 & 2"));
        let t = x.next_child().unwrap().unwrap();
        assert_eq!(t.name, "t");
        assert_eq!(x.read_text().unwrap(), "x <AB<z>");
        let e = x.next_child().unwrap().unwrap();
        assert_eq!(e.name, "e");
        assert_eq!(x.read_text().unwrap(), "");
        let s = x.next_child().unwrap().unwrap();
        assert_eq!(s.name, "s");
        x.skip().unwrap();
        assert!(x.next_child().unwrap().is_none());
        x.finish().unwrap();
    }

    #[test]
    fn refuses_internal_subset_and_unknown_entities() {
        let mut x = reader("<!DOCTYPE r [<!ENTITY a \"b\">]><r>&a;</r>");
        assert!(matches!(x.root("r"), Err(MetadataError::Doctype { .. })));
        let mut x = reader("<r>&a;</r>");
        x.root("r").unwrap();
        assert!(matches!(x.read_text(), Err(MetadataError::Entity { .. })));
        let mut x = reader("<r><e a=\"&foo;\"/></r>");
        x.root("r").unwrap();
        assert!(matches!(x.next_child(), Err(MetadataError::Entity { .. })));
        // An external DOCTYPE is harmless and ignored.
        let mut x = reader("<!DOCTYPE comps PUBLIC \"-//x//EN\" \"comps.dtd\"><comps/>");
        x.root("comps").unwrap();
    }

    #[test]
    fn limits() {
        let deep = "<a>".repeat(100);
        let mut x = reader(&deep);
        let err = x.root("a").and_then(|_| x.skip()).unwrap_err();
        assert!(
            matches!(err, MetadataError::TooDeep { limit: 64, .. }),
            "{err}"
        );

        let mut x = reader("<r><a>abc");
        x.root("r").unwrap();
        x.next_child().unwrap();
        assert!(matches!(
            x.read_text(),
            Err(MetadataError::Truncated { ref open_element, .. }) if open_element == "a"
        ));

        let small = Limits {
            max_value_bytes: 10,
            max_token_bytes: 100,
            ..Limits::default()
        };
        let mut x = XmlReader::new(&b"<r><t>0123456789ab</t></r>"[..], "t", &small);
        x.root("r").unwrap();
        x.next_child().unwrap();
        assert!(matches!(
            x.read_text(),
            Err(MetadataError::ValueTooLarge { what: "text", .. })
        ));
        let huge = format!("<r a=\"{}\"/>", "x".repeat(1000));
        let mut x = XmlReader::new(huge.as_bytes(), "t", &small);
        assert!(matches!(
            x.root("r"),
            Err(MetadataError::ValueTooLarge {
                what: "XML token",
                ..
            })
        ));
    }
}
