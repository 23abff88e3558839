//! Feeds arbitrary bytes to the bundle reader, as YAML and as ZIP, and validates whatever
//! reads. Any panic is a bug: the reader must refuse bad input with an error.
#![no_main]

use changeover_core::bundle::{self, ValidationContext};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As given (YAML unless it starts with the ZIP magic).
    if let Ok(bundle) = bundle::read(data, "fuzz.yaml") {
        let _ = bundle.validate(&ValidationContext::default());
        let _ = bundle.template_md5();
    }
    // As the tail of a ZIP: the magic in front makes the reader take the ZIP path.
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend_from_slice(data);
    if let Ok(bundle) = bundle::read(&zip, "fuzz.zip") {
        let _ = bundle.validate(&ValidationContext::default());
    }
    // As the manifest and the values of a well-formed ZIP.
    if let Some(zip) = wrap_in_zip(data) {
        if let Ok(bundle) = bundle::read(&zip, "fuzz.zip") {
            let _ = bundle.validate(&ValidationContext::default());
        }
    }
    // As a version string.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = text.parse::<changeover_core::Version>();
    }
});

fn wrap_in_zip(data: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let options = zip::write::SimpleFileOptions::default();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer.start_file("bundle.yaml", options).ok()?;
    writer.write_all(data).ok()?;
    writer.start_file("values.yaml", options).ok()?;
    writer.write_all(data).ok()?;
    Some(writer.finish().ok()?.into_inner())
}
