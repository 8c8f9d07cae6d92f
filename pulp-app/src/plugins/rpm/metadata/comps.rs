//! comps.xml: package groups, categories, environments and langpacks.
//!
//! Comps files are small (a few hundred KiB for Fedora), so [`Comps::parse`]
//! reads the whole document into a typed model, with every limit of
//! [`Limits`] still enforced. Comps are re-emitted by **re-serializing the
//! typed model** ([`Comps::to_xml`]), not by keeping the original bytes: the
//! output has the same groups, categories, environments, translations and
//! langpacks, while elements this module does not model (`<blacklist>`,
//! `<whiteout>`, comments) are dropped.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use super::error::MetadataError;
use super::escape::{self, attribute, element};
use super::limits::Limits;
use super::xml::XmlReader;
use crate::text::clip;

/// A whole comps document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Comps {
    /// `<group>` elements.
    pub groups: Vec<Group>,
    /// `<category>` elements.
    pub categories: Vec<Category>,
    /// `<environment>` elements.
    pub environments: Vec<Environment>,
    /// `<langpacks><match/></langpacks>` entries.
    pub langpacks: Vec<Langpack>,
}

/// A localized value: `<name xml:lang="de">...</name>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Translation {
    /// The `xml:lang` code.
    pub lang: String,
    /// The translated text.
    pub text: String,
}

/// A package group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// `<id>`.
    pub id: String,
    /// `<name>` without `xml:lang`.
    pub name: String,
    /// `<name xml:lang>` values.
    pub name_translations: Vec<Translation>,
    /// `<description>` without `xml:lang`.
    pub description: String,
    /// `<description xml:lang>` values.
    pub description_translations: Vec<Translation>,
    /// `<default>`: installed by default. Default `false`.
    pub default: bool,
    /// `<uservisible>`: shown to users. Default `true`.
    pub uservisible: bool,
    /// `<biarchonly>`. Default `false`.
    pub biarchonly: bool,
    /// `<display_order>`.
    pub display_order: Option<i64>,
    /// `<langonly>`, empty if absent.
    pub langonly: String,
    /// `<packagelist>`.
    pub packages: Vec<PackageReq>,
}

impl Default for Group {
    fn default() -> Self {
        Group {
            id: String::new(),
            name: String::new(),
            name_translations: Vec::new(),
            description: String::new(),
            description_translations: Vec::new(),
            default: false,
            uservisible: true,
            biarchonly: false,
            display_order: None,
            langonly: String::new(),
            packages: Vec::new(),
        }
    }
}

/// How strongly a group wants a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageReqType {
    /// Always installed with the group (also the meaning of a missing `type`).
    Mandatory,
    /// Installed unless excluded.
    Default,
    /// Only installed on request.
    Optional,
    /// Installed when the package named in `requires` is installed.
    Conditional,
}

impl PackageReqType {
    /// The `type` attribute value.
    pub fn name(self) -> &'static str {
        match self {
            PackageReqType::Mandatory => "mandatory",
            PackageReqType::Default => "default",
            PackageReqType::Optional => "optional",
            PackageReqType::Conditional => "conditional",
        }
    }
}

/// `<packagereq type="..." requires="...">name</packagereq>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageReq {
    /// Package name.
    pub name: String,
    /// Requirement type.
    pub req_type: PackageReqType,
    /// For conditional requirements: the package that triggers it; empty otherwise.
    pub requires: String,
    /// `basearchonly="true"`.
    pub basearchonly: bool,
}

/// A category of groups.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Category {
    /// `<id>`.
    pub id: String,
    /// `<name>`.
    pub name: String,
    /// `<name xml:lang>` values.
    pub name_translations: Vec<Translation>,
    /// `<description>`.
    pub description: String,
    /// `<description xml:lang>` values.
    pub description_translations: Vec<Translation>,
    /// `<display_order>`.
    pub display_order: Option<i64>,
    /// `<grouplist><groupid>` values.
    pub group_ids: Vec<String>,
}

/// An environment (a set of groups plus optional groups).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Environment {
    /// `<id>`.
    pub id: String,
    /// `<name>`.
    pub name: String,
    /// `<name xml:lang>` values.
    pub name_translations: Vec<Translation>,
    /// `<description>`.
    pub description: String,
    /// `<description xml:lang>` values.
    pub description_translations: Vec<Translation>,
    /// `<display_order>`.
    pub display_order: Option<i64>,
    /// `<grouplist><groupid>` values.
    pub group_ids: Vec<String>,
    /// `<optionlist><groupid default="...">` values.
    pub options: Vec<EnvironmentOption>,
}

/// One `<optionlist>` entry of an environment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EnvironmentOption {
    /// The group id.
    pub group_id: String,
    /// `default="true"`.
    pub default: bool,
}

/// `<langpacks><match name="..." install="..."/></langpacks>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Langpack {
    /// Package name that triggers the langpack.
    pub name: String,
    /// Pattern of the langpack package to install (e.g. `foo-langpack-%s`).
    pub install: String,
}

fn parse_bool(text: &str) -> bool {
    matches!(text.trim(), "true" | "True" | "TRUE" | "1" | "yes")
}

/// The shared `id`/`name`/`description`/`display_order` children.
#[derive(Default)]
struct Common {
    id: String,
    name: String,
    name_translations: Vec<Translation>,
    description: String,
    description_translations: Vec<Translation>,
    display_order: Option<i64>,
}

impl Comps {
    /// Parse comps.xml with default [`Limits`].
    ///
    /// ```
    /// let xml = r#"<comps><group><id>g</id><name>G</name><name xml:lang="de">Gruppe</name>
    ///   <packagelist><packagereq type="optional">p</packagereq></packagelist></group></comps>"#;
    /// let comps = pulp_app::plugins::rpm::metadata::Comps::parse(xml.as_bytes()).unwrap();
    /// assert_eq!(comps.groups[0].name_translations[0].text, "Gruppe");
    /// assert_eq!(comps.groups[0].packages[0].req_type, pulp_app::plugins::rpm::metadata::PackageReqType::Optional);
    /// ```
    ///
    /// # Errors
    ///
    /// Malformed or hostile XML, a group/category/environment without
    /// `<id>`, an unknown `packagereq` type, more entries than
    /// [`Limits::max_entries`].
    pub fn parse<R: BufRead>(input: R) -> Result<Self, MetadataError> {
        Self::parse_with(input, "comps.xml", &Limits::default())
    }

    /// Parse with explicit limits, naming the input `file` in errors.
    ///
    /// # Errors
    ///
    /// As [`Comps::parse`].
    pub fn parse_with<R: BufRead>(
        input: R,
        file: &str,
        limits: &Limits,
    ) -> Result<Self, MetadataError> {
        let mut xml = XmlReader::new(input, file, limits);
        xml.root("comps")?;
        let mut comps = Comps::default();
        while let Some(child) = xml.next_child()? {
            match child.name.as_str() {
                "group" => comps.groups.push(read_group(&mut xml)?),
                "category" => comps.categories.push(read_category(&mut xml)?),
                "environment" => comps.environments.push(read_environment(&mut xml)?),
                "langpacks" => read_langpacks(&mut xml, &mut comps.langpacks)?,
                _ => xml.skip()?,
            }
            let total = comps.groups.len() + comps.categories.len() + comps.environments.len();
            xml.check_count(
                total,
                || "comps".to_owned(),
                "groups, categories and environments",
            )?;
        }
        xml.finish()?;
        Ok(comps)
    }

    /// Serialize as a comps document (with the customary external DOCTYPE).
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(
            "<!DOCTYPE comps PUBLIC \"-//Red Hat, Inc.//DTD Comps info//EN\" \"comps.dtd\">\n",
        );
        out.push_str("<comps>\n");
        for group in &self.groups {
            write_group(&mut out, group);
        }
        for category in &self.categories {
            out.push_str("  <category>\n");
            write_common(
                &mut out,
                CommonRef {
                    id: &category.id,
                    name: &category.name,
                    name_translations: &category.name_translations,
                    description: &category.description,
                    description_translations: &category.description_translations,
                    display_order: category.display_order,
                },
            );
            write_group_ids(&mut out, "grouplist", &category.group_ids);
            out.push_str("  </category>\n");
        }
        for environment in &self.environments {
            write_environment(&mut out, environment);
        }
        if !self.langpacks.is_empty() {
            out.push_str("  <langpacks>\n");
            for langpack in &self.langpacks {
                out.push_str("    <match");
                attribute(&mut out, "install", &langpack.install);
                attribute(&mut out, "name", &langpack.name);
                out.push_str("/>\n");
            }
            out.push_str("  </langpacks>\n");
        }
        out.push_str("</comps>\n");
        out
    }
}

/// Handle one of the shared children; returns `false` if `name` is not one.
fn read_common_child<R: BufRead>(
    xml: &mut XmlReader<R>,
    common: &mut Common,
    child: &mut super::xml::Element,
) -> Result<bool, MetadataError> {
    match child.name.as_str() {
        "id" => common.id = xml.read_text()?.trim().to_owned(),
        "name" | "description" => {
            let lang = child.take_attr("xml:lang");
            let is_name = child.name == "name";
            let text = xml.read_text()?;
            let (plain, translations) = if is_name {
                (&mut common.name, &mut common.name_translations)
            } else {
                (
                    &mut common.description,
                    &mut common.description_translations,
                )
            };
            match lang {
                None => *plain = text,
                Some(lang) => {
                    translations.push(Translation { lang, text });
                    xml.check_count(translations.len(), || clip(&common.id), "translations")?;
                }
            }
        }
        "display_order" => {
            let text = xml.read_text()?;
            common.display_order =
                Some(xml.number(&text, child.position, || "display_order".to_owned())?);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn require_id<R: BufRead>(
    xml: &XmlReader<R>,
    common: &Common,
    what: &str,
) -> Result<(), MetadataError> {
    if common.id.is_empty() {
        return Err(xml.missing("id", format!("{what} {:?}", clip(&common.name))));
    }
    Ok(())
}

fn read_group<R: BufRead>(xml: &mut XmlReader<R>) -> Result<Group, MetadataError> {
    let mut common = Common::default();
    let mut group = Group::default();
    while let Some(mut child) = xml.next_child()? {
        if read_common_child(xml, &mut common, &mut child)? {
            continue;
        }
        match child.name.as_str() {
            "default" => group.default = parse_bool(&xml.read_text()?),
            "uservisible" => group.uservisible = parse_bool(&xml.read_text()?),
            "biarchonly" => group.biarchonly = parse_bool(&xml.read_text()?),
            "langonly" => group.langonly = xml.read_text()?.trim().to_owned(),
            "packagelist" => read_packagelist(xml, &mut group.packages, &common.id)?,
            _ => xml.skip()?,
        }
    }
    require_id(xml, &common, "group")?;
    group.id = common.id;
    group.name = common.name;
    group.name_translations = common.name_translations;
    group.description = common.description;
    group.description_translations = common.description_translations;
    group.display_order = common.display_order;
    Ok(group)
}

fn read_packagelist<R: BufRead>(
    xml: &mut XmlReader<R>,
    packages: &mut Vec<PackageReq>,
    group_id: &str,
) -> Result<(), MetadataError> {
    while let Some(mut child) = xml.next_child()? {
        if child.name != "packagereq" {
            xml.skip()?;
            continue;
        }
        let req_type = match child.attr("type") {
            None | Some("mandatory") => PackageReqType::Mandatory,
            Some("default") => PackageReqType::Default,
            Some("optional") => PackageReqType::Optional,
            Some("conditional") => PackageReqType::Conditional,
            Some(other) => {
                return Err(MetadataError::InvalidValue {
                    file: xml.file().to_owned(),
                    position: child.position,
                    field: "packagereq@type".to_owned(),
                    value: clip(other),
                });
            }
        };
        let requires = child.take_attr("requires").unwrap_or_default();
        let basearchonly = child.attr("basearchonly").is_some_and(parse_bool);
        let name = xml.read_text()?.trim().to_owned();
        packages.push(PackageReq {
            name,
            req_type,
            requires,
            basearchonly,
        });
        xml.check_count(
            packages.len(),
            || format!("group {}", clip(group_id)),
            "packages",
        )?;
    }
    Ok(())
}

/// Read `<groupid>` children (with their `default` attribute).
fn read_group_ids<R: BufRead>(
    xml: &mut XmlReader<R>,
    owner: &str,
) -> Result<Vec<EnvironmentOption>, MetadataError> {
    let mut ids = Vec::new();
    while let Some(child) = xml.next_child()? {
        if child.name != "groupid" {
            xml.skip()?;
            continue;
        }
        let default = child.attr("default").is_some_and(parse_bool);
        let group_id = xml.read_text()?.trim().to_owned();
        ids.push(EnvironmentOption { group_id, default });
        xml.check_count(ids.len(), || clip(owner), "group ids")?;
    }
    Ok(ids)
}

fn read_category<R: BufRead>(xml: &mut XmlReader<R>) -> Result<Category, MetadataError> {
    let mut common = Common::default();
    let mut group_ids = Vec::new();
    while let Some(mut child) = xml.next_child()? {
        if read_common_child(xml, &mut common, &mut child)? {
            continue;
        }
        match child.name.as_str() {
            "grouplist" => {
                let ids = read_group_ids(xml, &common.id)?;
                group_ids.extend(ids.into_iter().map(|o| o.group_id));
            }
            _ => xml.skip()?,
        }
    }
    require_id(xml, &common, "category")?;
    Ok(Category {
        id: common.id,
        name: common.name,
        name_translations: common.name_translations,
        description: common.description,
        description_translations: common.description_translations,
        display_order: common.display_order,
        group_ids,
    })
}

fn read_environment<R: BufRead>(xml: &mut XmlReader<R>) -> Result<Environment, MetadataError> {
    let mut common = Common::default();
    let (mut group_ids, mut options) = (Vec::new(), Vec::new());
    while let Some(mut child) = xml.next_child()? {
        if read_common_child(xml, &mut common, &mut child)? {
            continue;
        }
        match child.name.as_str() {
            "grouplist" => {
                let ids = read_group_ids(xml, &common.id)?;
                group_ids.extend(ids.into_iter().map(|o| o.group_id));
            }
            "optionlist" => options.extend(read_group_ids(xml, &common.id)?),
            _ => xml.skip()?,
        }
    }
    require_id(xml, &common, "environment")?;
    Ok(Environment {
        id: common.id,
        name: common.name,
        name_translations: common.name_translations,
        description: common.description,
        description_translations: common.description_translations,
        display_order: common.display_order,
        group_ids,
        options,
    })
}

fn read_langpacks<R: BufRead>(
    xml: &mut XmlReader<R>,
    langpacks: &mut Vec<Langpack>,
) -> Result<(), MetadataError> {
    while let Some(mut child) = xml.next_child()? {
        if child.name == "match" {
            langpacks.push(Langpack {
                name: child.take_attr("name").unwrap_or_default(),
                install: child.take_attr("install").unwrap_or_default(),
            });
            xml.check_count(langpacks.len(), || "langpacks".to_owned(), "matches")?;
        }
        xml.skip()?;
    }
    Ok(())
}

/// Borrowed view of the shared children, for writing.
#[derive(Clone, Copy)]
struct CommonRef<'a> {
    id: &'a str,
    name: &'a str,
    name_translations: &'a [Translation],
    description: &'a str,
    description_translations: &'a [Translation],
    display_order: Option<i64>,
}

fn write_common(out: &mut String, common: CommonRef<'_>) {
    element(out, 4, "id", common.id);
    element(out, 4, "name", common.name);
    write_translations(out, "name", common.name_translations);
    element(out, 4, "description", common.description);
    write_translations(out, "description", common.description_translations);
    if let Some(order) = common.display_order {
        element(out, 4, "display_order", &order.to_string());
    }
}

fn write_translations(out: &mut String, name: &str, translations: &[Translation]) {
    for t in translations {
        out.push_str("    <");
        out.push_str(name);
        attribute(out, "xml:lang", &t.lang);
        out.push('>');
        escape::text(out, &t.text);
        out.push_str("</");
        out.push_str(name);
        out.push_str(">\n");
    }
}

fn write_group(out: &mut String, group: &Group) {
    out.push_str("  <group>\n");
    element(out, 4, "id", &group.id);
    element(out, 4, "name", &group.name);
    write_translations(out, "name", &group.name_translations);
    element(out, 4, "description", &group.description);
    write_translations(out, "description", &group.description_translations);
    element(
        out,
        4,
        "default",
        if group.default { "true" } else { "false" },
    );
    element(
        out,
        4,
        "uservisible",
        if group.uservisible { "true" } else { "false" },
    );
    if group.biarchonly {
        element(out, 4, "biarchonly", "true");
    }
    if let Some(order) = group.display_order {
        element(out, 4, "display_order", &order.to_string());
    }
    if !group.langonly.is_empty() {
        element(out, 4, "langonly", &group.langonly);
    }
    out.push_str("    <packagelist>\n");
    for req in &group.packages {
        out.push_str("      <packagereq");
        attribute(out, "type", req.req_type.name());
        if !req.requires.is_empty() {
            attribute(out, "requires", &req.requires);
        }
        if req.basearchonly {
            attribute(out, "basearchonly", "true");
        }
        out.push('>');
        escape::text(out, &req.name);
        out.push_str("</packagereq>\n");
    }
    out.push_str("    </packagelist>\n  </group>\n");
}

fn write_environment(out: &mut String, environment: &Environment) {
    out.push_str("  <environment>\n");
    write_common(
        out,
        CommonRef {
            id: &environment.id,
            name: &environment.name,
            name_translations: &environment.name_translations,
            description: &environment.description,
            description_translations: &environment.description_translations,
            display_order: environment.display_order,
        },
    );
    write_group_ids(out, "grouplist", &environment.group_ids);
    if !environment.options.is_empty() {
        out.push_str("    <optionlist>\n");
        for option in &environment.options {
            out.push_str("      <groupid");
            if option.default {
                attribute(out, "default", "true");
            }
            out.push('>');
            escape::text(out, &option.group_id);
            out.push_str("</groupid>\n");
        }
        out.push_str("    </optionlist>\n");
    }
    out.push_str("  </environment>\n");
}

fn write_group_ids(out: &mut String, list: &str, ids: &[String]) {
    out.push_str("    <");
    out.push_str(list);
    out.push_str(">\n");
    for id in ids {
        element(out, 6, "groupid", id);
    }
    out.push_str("    </");
    out.push_str(list);
    out.push_str(">\n");
}
