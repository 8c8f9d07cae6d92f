//! The part of the package-stream readers (primary, filelists, other,
//! updateinfo) that is the same for all of them: open the root element,
//! read its count attribute, hand out one record element at a time, and
//! read to the end of the input after the root element closes.

use std::io::BufRead;

use super::error::MetadataError;
use super::limits::Limits;
use super::xml::{Element, XmlReader};
use crate::plugins::rpm::model::{FileKind, Nevra};
use crate::text::clip;

#[derive(Debug)]
pub(crate) struct RecordStream<R> {
    pub(crate) xml: XmlReader<R>,
    record: &'static str,
    declared: Option<u64>,
    seen: u64,
    done: bool,
}

impl<R: BufRead> RecordStream<R> {
    /// Read up to the root element `root`, whose children named `record`
    /// are handed out by [`RecordStream::next_record`].
    pub(crate) fn open(
        input: R,
        file: &str,
        limits: &Limits,
        root: &'static str,
        record: &'static str,
    ) -> Result<Self, MetadataError> {
        let mut xml = XmlReader::new(input, file, limits);
        let root_element = xml.root(root)?;
        let declared = xml.num_attr::<u64>(&root_element, "packages")?;
        Ok(RecordStream {
            xml,
            record,
            declared,
            seen: 0,
            done: false,
        })
    }

    /// The root's `packages="N"` attribute, if present.
    pub(crate) fn declared(&self) -> Option<u64> {
        self.declared
    }

    /// Records handed out so far.
    pub(crate) fn seen(&self) -> u64 {
        self.seen
    }

    /// The next record element, skipping other children of the root.
    /// `None` once the document has been read to the end.
    pub(crate) fn next_record(&mut self) -> Result<Option<Element>, MetadataError> {
        if self.done {
            return Ok(None);
        }
        loop {
            match self.xml.next_child() {
                Ok(Some(element)) if element.name == self.record => {
                    self.seen += 1;
                    return Ok(Some(element));
                }
                Ok(Some(_)) => self.xml.skip().inspect_err(|_| self.done = true)?,
                Ok(None) => {
                    self.done = true;
                    self.xml.finish()?;
                    return Ok(None);
                }
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            }
        }
    }

    /// The next record, parsed by `read` (given the tokenizer, the record's
    /// element and its 1-based index), or `None` once the document has been
    /// read to the end. After an error no more records are handed out.
    pub(crate) fn next_with<T>(
        &mut self,
        read: impl FnOnce(&mut XmlReader<R>, &mut Element, u64) -> Result<T, MetadataError>,
    ) -> Result<Option<T>, MetadataError> {
        let Some(mut element) = self.next_record()? else {
            return Ok(None);
        };
        let result = read(&mut self.xml, &mut element, self.seen);
        if result.is_err() {
            self.done = true;
        }
        result.map(Some)
    }
}

/// `<file type="dir|ghost">`: absent means a regular file.
pub(crate) fn file_kind<R: BufRead>(
    xml: &XmlReader<R>,
    element: &Element,
) -> Result<FileKind, MetadataError> {
    match element.attr("type") {
        None | Some("file") => Ok(FileKind::File),
        Some("dir") => Ok(FileKind::Dir),
        Some("ghost") => Ok(FileKind::Ghost),
        Some(other) => Err(MetadataError::InvalidValue {
            file: xml.file().to_owned(),
            position: element.position,
            field: "file@type".to_owned(),
            value: clip(other),
        }),
    }
}

/// The `<package pkgid name arch><version epoch ver rel/>` header shared
/// by filelists.xml and other.xml. `version` is filled in by the caller.
pub(crate) fn package_identity<R: BufRead>(
    xml: &XmlReader<R>,
    element: &mut Element,
) -> Result<(String, Nevra), MetadataError> {
    let pkg_id = xml.required_attr(element, "pkgid")?;
    let name = xml.required_attr(element, "name")?;
    let arch = element.take_attr("arch").unwrap_or_default();
    Ok((
        pkg_id,
        Nevra {
            name,
            epoch: "0".to_owned(),
            version: String::new(),
            release: String::new(),
            arch,
        },
    ))
}

/// Fill `nevra` from a `<version epoch ver rel/>` element and consume it.
pub(crate) fn read_version<R: BufRead>(
    xml: &mut XmlReader<R>,
    mut element: Element,
    nevra: &mut Nevra,
) -> Result<(), MetadataError> {
    nevra.epoch = element
        .take_attr("epoch")
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "0".to_owned());
    nevra.version = xml.required_attr(&mut element, "ver")?;
    nevra.release = element.take_attr("rel").unwrap_or_default();
    xml.skip()
}
