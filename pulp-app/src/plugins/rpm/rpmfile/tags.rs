//! Tag numbers used by the reader (values from rpm's `rpmtag.h`).
//!
//! Only the tags this module reads are listed; any other tag can still be
//! read through [`Header`](super::Header) by its number.

/// Tags of the main header.
pub mod main {
    /// `HEADERIMMUTABLE`: the region tag that opens a main header.
    pub const HEADER_IMMUTABLE: u32 = 63;
    /// `NAME` (string).
    pub const NAME: u32 = 1000;
    /// `VERSION` (string).
    pub const VERSION: u32 = 1001;
    /// `RELEASE` (string).
    pub const RELEASE: u32 = 1002;
    /// `EPOCH` (int32).
    pub const EPOCH: u32 = 1003;
    /// `SUMMARY` (i18n string).
    pub const SUMMARY: u32 = 1004;
    /// `DESCRIPTION` (i18n string).
    pub const DESCRIPTION: u32 = 1005;
    /// `BUILDTIME` (int32, seconds since the epoch).
    pub const BUILDTIME: u32 = 1006;
    /// `BUILDHOST` (string).
    pub const BUILDHOST: u32 = 1007;
    /// `SIZE` (int32): installed size.
    pub const SIZE: u32 = 1009;
    /// `VENDOR` (string).
    pub const VENDOR: u32 = 1011;
    /// `LICENSE` (string).
    pub const LICENSE: u32 = 1014;
    /// `PACKAGER` (string).
    pub const PACKAGER: u32 = 1015;
    /// `GROUP` (i18n string).
    pub const GROUP: u32 = 1016;
    /// `URL` (string).
    pub const URL: u32 = 1020;
    /// `ARCH` (string).
    pub const ARCH: u32 = 1022;
    /// `OLDFILENAMES` (string array): full paths, in packages older than rpm 4.
    pub const OLDFILENAMES: u32 = 1027;
    /// `FILEMODES` (int16 array).
    pub const FILEMODES: u32 = 1030;
    /// `FILEFLAGS` (int32 array).
    pub const FILEFLAGS: u32 = 1037;
    /// `SOURCERPM` (string).
    pub const SOURCERPM: u32 = 1044;
    /// `ARCHIVESIZE` (int32): uncompressed payload size (older packages).
    pub const ARCHIVESIZE: u32 = 1046;
    /// `PROVIDENAME` (string array).
    pub const PROVIDENAME: u32 = 1047;
    /// `REQUIREFLAGS` (int32 array).
    pub const REQUIREFLAGS: u32 = 1048;
    /// `REQUIRENAME` (string array).
    pub const REQUIRENAME: u32 = 1049;
    /// `REQUIREVERSION` (string array).
    pub const REQUIREVERSION: u32 = 1050;
    /// `CONFLICTFLAGS` (int32 array).
    pub const CONFLICTFLAGS: u32 = 1053;
    /// `CONFLICTNAME` (string array).
    pub const CONFLICTNAME: u32 = 1054;
    /// `CONFLICTVERSION` (string array).
    pub const CONFLICTVERSION: u32 = 1055;
    /// `CHANGELOGTIME` (int32 array).
    pub const CHANGELOGTIME: u32 = 1080;
    /// `CHANGELOGNAME` (string array).
    pub const CHANGELOGNAME: u32 = 1081;
    /// `CHANGELOGTEXT` (string array).
    pub const CHANGELOGTEXT: u32 = 1082;
    /// `OBSOLETENAME` (string array).
    pub const OBSOLETENAME: u32 = 1090;
    /// `SOURCEPACKAGE` (int32): present in source packages.
    pub const SOURCEPACKAGE: u32 = 1106;
    /// `PROVIDEFLAGS` (int32 array).
    pub const PROVIDEFLAGS: u32 = 1112;
    /// `PROVIDEVERSION` (string array).
    pub const PROVIDEVERSION: u32 = 1113;
    /// `OBSOLETEFLAGS` (int32 array).
    pub const OBSOLETEFLAGS: u32 = 1114;
    /// `OBSOLETEVERSION` (string array).
    pub const OBSOLETEVERSION: u32 = 1115;
    /// `DIRINDEXES` (int32 array).
    pub const DIRINDEXES: u32 = 1116;
    /// `BASENAMES` (string array).
    pub const BASENAMES: u32 = 1117;
    /// `DIRNAMES` (string array).
    pub const DIRNAMES: u32 = 1118;
    /// `OLDSUGGESTSNAME` (string array): SUSE-era weak dependencies.
    pub const OLDSUGGESTSNAME: u32 = 1156;
    /// `OLDSUGGESTSVERSION` (string array).
    pub const OLDSUGGESTSVERSION: u32 = 1157;
    /// `OLDSUGGESTSFLAGS` (int32 array).
    pub const OLDSUGGESTSFLAGS: u32 = 1158;
    /// `OLDENHANCESNAME` (string array).
    pub const OLDENHANCESNAME: u32 = 1159;
    /// `OLDENHANCESVERSION` (string array).
    pub const OLDENHANCESVERSION: u32 = 1160;
    /// `OLDENHANCESFLAGS` (int32 array).
    pub const OLDENHANCESFLAGS: u32 = 1161;
    /// `LONGARCHIVESIZE` (int64): uncompressed payload size, when it needs 64 bits.
    pub const LONGARCHIVESIZE: u32 = 271;
    /// `LONGSIZE` (int64): installed size, when it needs 64 bits.
    pub const LONGSIZE: u32 = 5009;
    /// `RECOMMENDNAME` (string array).
    pub const RECOMMENDNAME: u32 = 5046;
    /// `RECOMMENDVERSION` (string array).
    pub const RECOMMENDVERSION: u32 = 5047;
    /// `RECOMMENDFLAGS` (int32 array).
    pub const RECOMMENDFLAGS: u32 = 5048;
    /// `SUGGESTNAME` (string array).
    pub const SUGGESTNAME: u32 = 5049;
    /// `SUGGESTVERSION` (string array).
    pub const SUGGESTVERSION: u32 = 5050;
    /// `SUGGESTFLAGS` (int32 array).
    pub const SUGGESTFLAGS: u32 = 5051;
    /// `SUPPLEMENTNAME` (string array).
    pub const SUPPLEMENTNAME: u32 = 5052;
    /// `SUPPLEMENTVERSION` (string array).
    pub const SUPPLEMENTVERSION: u32 = 5053;
    /// `SUPPLEMENTFLAGS` (int32 array).
    pub const SUPPLEMENTFLAGS: u32 = 5054;
    /// `ENHANCENAME` (string array).
    pub const ENHANCENAME: u32 = 5055;
    /// `ENHANCEVERSION` (string array).
    pub const ENHANCEVERSION: u32 = 5056;
    /// `ENHANCEFLAGS` (int32 array).
    pub const ENHANCEFLAGS: u32 = 5057;
}

/// Tags of the signature header (their numbers overlap main-header tags).
pub mod signature {
    /// `HEADERSIGNATURES`: the region tag that opens a signature header.
    pub const HEADER_SIGNATURES: u32 = 62;
    /// `SIZE` (int32): header + payload size.
    pub const SIZE: u32 = 1000;
    /// `MD5` (bin): MD5 of header + payload.
    pub const MD5: u32 = 1004;
    /// `PAYLOADSIZE` (int32): uncompressed payload size.
    pub const PAYLOADSIZE: u32 = 1007;
    /// `SHA1` (string): SHA-1 of the main header.
    pub const SHA1: u32 = 269;
    /// `LONGSIZE` (int64): header + payload size.
    pub const LONGSIZE: u32 = 270;
    /// `LONGARCHIVESIZE` (int64): uncompressed payload size.
    pub const LONGARCHIVESIZE: u32 = 271;
    /// `SHA256` (string): SHA-256 of the main header.
    pub const SHA256: u32 = 273;
}

/// The conventional name of a main-header tag, for error messages.
pub(crate) fn name(tag: u32) -> &'static str {
    use main::*;
    match tag {
        NAME => "NAME",
        VERSION => "VERSION",
        RELEASE => "RELEASE",
        EPOCH => "EPOCH",
        SUMMARY => "SUMMARY",
        DESCRIPTION => "DESCRIPTION",
        BUILDTIME => "BUILDTIME",
        BUILDHOST => "BUILDHOST",
        SIZE => "SIZE",
        VENDOR => "VENDOR",
        LICENSE => "LICENSE",
        PACKAGER => "PACKAGER",
        GROUP => "GROUP",
        URL => "URL",
        ARCH => "ARCH",
        OLDFILENAMES => "OLDFILENAMES",
        FILEMODES => "FILEMODES",
        FILEFLAGS => "FILEFLAGS",
        SOURCERPM => "SOURCERPM",
        ARCHIVESIZE => "ARCHIVESIZE",
        PROVIDENAME => "PROVIDENAME",
        REQUIREFLAGS => "REQUIREFLAGS",
        REQUIRENAME => "REQUIRENAME",
        REQUIREVERSION => "REQUIREVERSION",
        CONFLICTFLAGS => "CONFLICTFLAGS",
        CONFLICTNAME => "CONFLICTNAME",
        CONFLICTVERSION => "CONFLICTVERSION",
        CHANGELOGTIME => "CHANGELOGTIME",
        CHANGELOGNAME => "CHANGELOGNAME",
        CHANGELOGTEXT => "CHANGELOGTEXT",
        OBSOLETENAME => "OBSOLETENAME",
        SOURCEPACKAGE => "SOURCEPACKAGE",
        PROVIDEFLAGS => "PROVIDEFLAGS",
        PROVIDEVERSION => "PROVIDEVERSION",
        OBSOLETEFLAGS => "OBSOLETEFLAGS",
        OBSOLETEVERSION => "OBSOLETEVERSION",
        DIRINDEXES => "DIRINDEXES",
        BASENAMES => "BASENAMES",
        DIRNAMES => "DIRNAMES",
        OLDSUGGESTSNAME => "OLDSUGGESTSNAME",
        OLDSUGGESTSVERSION => "OLDSUGGESTSVERSION",
        OLDSUGGESTSFLAGS => "OLDSUGGESTSFLAGS",
        OLDENHANCESNAME => "OLDENHANCESNAME",
        OLDENHANCESVERSION => "OLDENHANCESVERSION",
        OLDENHANCESFLAGS => "OLDENHANCESFLAGS",
        LONGARCHIVESIZE => "LONGARCHIVESIZE",
        LONGSIZE => "LONGSIZE",
        RECOMMENDNAME => "RECOMMENDNAME",
        RECOMMENDVERSION => "RECOMMENDVERSION",
        RECOMMENDFLAGS => "RECOMMENDFLAGS",
        SUGGESTNAME => "SUGGESTNAME",
        SUGGESTVERSION => "SUGGESTVERSION",
        SUGGESTFLAGS => "SUGGESTFLAGS",
        SUPPLEMENTNAME => "SUPPLEMENTNAME",
        SUPPLEMENTVERSION => "SUPPLEMENTVERSION",
        SUPPLEMENTFLAGS => "SUPPLEMENTFLAGS",
        ENHANCENAME => "ENHANCENAME",
        ENHANCEVERSION => "ENHANCEVERSION",
        ENHANCEFLAGS => "ENHANCEFLAGS",
        _ => "unnamed",
    }
}
