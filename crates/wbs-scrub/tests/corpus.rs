//! A corpus made here: pictures written by the `image` crate, identifying
//! fields written into them by `exiftool` (Debian libimage-exiftool-perl),
//! PDF and Office files written by hand; after cleaning, `exiftool` finds
//! none of the fields and the content is unchanged.

use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use wbs_scrub::{scrub, Field, Format, Outcome};

fn exiftool(args: &[&str], file: &Path) {
    let out = Command::new("exiftool")
        .args(args)
        .arg("-overwrite_original")
        .arg(file)
        .output()
        .expect("exiftool (Debian: libimage-exiftool-perl) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Everything exiftool reads, as one JSON object.
fn read_tags(bytes: &[u8], ext: &str) -> serde_json::Map<String, serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("f.{ext}"));
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new("exiftool")
        .args(["-j", "-a", "-G1"])
        .arg(&file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0].as_object().unwrap().clone()
}

const SECRETS: &[&str] = &[
    "Samsung",
    "SM-A525F",
    "R58R12345",
    "Budi Santoso",
    "Dinas Contoh",
    "2023:04:05",
    "2023-04-05",
    "Kantor Rahasia",
    "MyEditor",
];

fn assert_clean(bytes: &[u8], ext: &str) {
    let tags = read_tags(bytes, ext);
    let text = serde_json::to_string(&tags).unwrap();
    for s in SECRETS {
        assert!(
            !text.contains(s),
            "exiftool still finds {s:?} in the cleaned .{ext}: {text}"
        );
    }
    assert!(
        !tags
            .keys()
            .any(|k| k.starts_with("GPS") || k.contains(":GPS")),
        "exiftool still finds GPS in .{ext}: {text}"
    );
}

fn identify(file: &Path) {
    exiftool(
        &[
            "-Make=Samsung",
            "-Model=SM-A525F",
            "-SerialNumber=R58R12345",
            "-Artist=Budi Santoso",
            "-OwnerName=Budi Santoso",
            "-Software=MyEditor 1.0",
            "-DateTimeOriginal=2023:04:05 10:11:12",
            "-GPSLatitude=6.2",
            "-GPSLatitudeRef=S",
            "-GPSLongitude=106.8",
            "-GPSLongitudeRef=E",
            "-XMP-dc:Creator=Budi Santoso",
            "-Orientation#=6",
        ],
        file,
    );
}

fn picture() -> image::RgbImage {
    image::RgbImage::from_fn(32, 24, |x, y| {
        image::Rgb([(x * 8) as u8, (y * 10) as u8, 128])
    })
}

fn made(format: image::ImageFormat, ext: &str, extra: &[&str]) -> Vec<u8> {
    let mut bytes = Vec::new();
    picture()
        .write_to(&mut Cursor::new(&mut bytes), format)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("p.{ext}"));
    std::fs::write(&file, &bytes).unwrap();
    identify(&file);
    if !extra.is_empty() {
        exiftool(extra, &file);
    }
    std::fs::read(&file).unwrap()
}

fn cleaned(bytes: &[u8]) -> wbs_scrub::Cleaned {
    let c = match scrub(bytes) {
        Outcome::Cleaned(c) => c,
        other => panic!("not cleaned: {other:?}"),
    };
    // What comes out reads as clean: nothing more is found in it, and the
    // formats rewritten in place do not change again.
    match scrub(&c.bytes) {
        Outcome::Cleaned(again) => {
            assert!(again.found.is_empty(), "found again: {:?}", again.found);
            if !matches!(c.format, Format::Ooxml | Format::Odf) {
                assert_eq!(again.bytes, c.bytes, "cleaning twice changed the file");
            }
        }
        other => panic!("the cleaned file does not read: {other:?}"),
    }
    c
}

fn has(c: &wbs_scrub::Cleaned, f: Field) -> bool {
    c.found.iter().any(|x| x.field == f)
}

#[test]
fn jpeg_loses_gps_camera_owner_and_dates_but_keeps_pixels_and_orientation() {
    let original = made(
        image::ImageFormat::Jpeg,
        "jpg",
        &["-Comment=Kantor Rahasia", "-IPTC:By-line=Budi Santoso"],
    );
    let before = read_tags(&original, "jpg");
    assert_eq!(
        before["IFD0:Model"], "SM-A525F",
        "the corpus was not written"
    );
    let c = cleaned(&original);
    assert_eq!(c.format, Format::Jpeg);
    for f in [
        Field::Gps,
        Field::Camera,
        Field::Serial,
        Field::Owner,
        Field::Software,
        Field::Date,
        Field::Xmp,
        Field::Iptc,
        Field::Text,
    ] {
        assert!(has(&c, f), "{f:?} not found: {:?}", c.found);
    }
    let camera = c.found.iter().find(|f| f.field == Field::Camera).unwrap();
    assert_eq!(camera.value.as_deref(), Some("Samsung SM-A525F"));
    assert_clean(&c.bytes, "jpg");
    let after = read_tags(&c.bytes, "jpg");
    assert_eq!(after["IFD0:Orientation"], "Rotate 90 CW", "{after:?}");
    let a = image::load_from_memory(&original).unwrap().to_rgb8();
    let b = image::load_from_memory(&c.bytes).unwrap().to_rgb8();
    assert_eq!(a, b, "the picture changed");
    // Cleaning twice changes nothing more.
    assert_eq!(cleaned(&c.bytes).bytes, c.bytes);
}

#[test]
fn png_loses_text_exif_and_xmp_but_keeps_pixels() {
    let original = made(
        image::ImageFormat::Png,
        "png",
        &["-PNG:Author=Budi Santoso", "-PNG:Comment=Kantor Rahasia"],
    );
    let c = cleaned(&original);
    assert!(
        has(&c, Field::Gps) && has(&c, Field::Author),
        "{:?}",
        c.found
    );
    assert_clean(&c.bytes, "png");
    let a = image::load_from_memory(&original).unwrap().to_rgb8();
    let b = image::load_from_memory(&c.bytes).unwrap().to_rgb8();
    assert_eq!(a, b);
}

#[test]
fn webp_loses_exif_and_xmp_but_keeps_pixels() {
    let original = made(image::ImageFormat::WebP, "webp", &[]);
    let before = read_tags(&original, "webp");
    assert!(serde_json::to_string(&before).unwrap().contains("SM-A525F"));
    let c = cleaned(&original);
    assert!(has(&c, Field::Gps) && has(&c, Field::Xmp), "{:?}", c.found);
    assert_clean(&c.bytes, "webp");
    let a = image::load_from_memory(&original).unwrap().to_rgb8();
    let b = image::load_from_memory(&c.bytes).unwrap().to_rgb8();
    assert_eq!(a, b);
}

/// A two-page PDF with an information dictionary, an XMP stream and an
/// incremental update that changes the author (the old one stays).
fn pdf() -> Vec<u8> {
    let xmp = "<?xpacket begin=\"\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?><x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:creator><rdf:Seq><rdf:li>Budi Santoso</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R /Metadata 6 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>".to_string(),
        "<< /Author (Budi Santoso) /Creator (MyEditor) /Producer (Dinas Contoh PDF) /CreationDate (D:20230405101112+07'00') /Title (Laporan \\(rahasia\\)) >>".to_string(),
        format!("<< /Type /Metadata /Subtype /XML /Length {} >>\nstream\n{xmp}\nendstream", xmp.len() + 1),
    ];
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in &offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size 7 /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n")
            .as_bytes(),
    );
    // Incremental update: a new information dictionary, object 7.
    let seven = out.len();
    out.extend_from_slice(
        b"7 0 obj\n<< /Author (Budi Santoso) /ModDate (D:20230405111111) >>\nendobj\n",
    );
    let xref2 = out.len();
    out.extend_from_slice(format!("xref\n7 1\n{seven:010} 00000 n \ntrailer\n<< /Size 8 /Root 1 0 R /Info 7 0 R /Prev {xref} >>\nstartxref\n{xref2}\n%%EOF\n").as_bytes());
    out
}

#[test]
fn pdf_loses_information_and_xmp_in_every_revision_and_keeps_its_pages() {
    let original = pdf();
    let before = read_tags(&original, "pdf");
    assert_eq!(before["PDF:Author"], "Budi Santoso", "{before:?}");
    assert_eq!(before["PDF:PageCount"], 2);
    let c = cleaned(&original);
    assert!(
        has(&c, Field::Author) && has(&c, Field::Xmp) && has(&c, Field::Software),
        "{:?}",
        c.found
    );
    assert_eq!(c.bytes.len(), original.len(), "offsets must stay valid");
    assert!(
        !c.bytes.windows(4).any(|w| w == b"Budi"),
        "a value is still in the file"
    );
    assert_clean(&c.bytes, "pdf");
    let after = read_tags(&c.bytes, "pdf");
    assert_eq!(after["PDF:PageCount"], 2, "{after:?}");
    assert!(!after.contains_key("ExifTool:Error"), "{after:?}");
}

#[test]
fn pdf_whose_information_is_hidden_is_not_called_clean() {
    let doc = b"%PDF-1.7\n1 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length 3 >>\nstream\nxyz\nendstream\nendobj\ntrailer\n<< /Root 2 0 R /Info 9 0 R >>\n%%EOF\n";
    assert!(matches!(
        scrub(doc),
        Outcome::Refused {
            format: Format::Pdf,
            ..
        }
    ));
}

fn zip_file(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, body) in entries {
        let method = if *name == "mimetype" {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        w.start_file(
            *name,
            zip::write::SimpleFileOptions::default().compression_method(method),
        )
        .unwrap();
        w.write_all(body.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn docx() -> Vec<u8> {
    zip_file(&[
        ("[Content_Types].xml", "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/><Override PartName=\"/word/comments.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.comments+xml\"/><Override PartName=\"/docProps/core.xml\" ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/><Override PartName=\"/docProps/app.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.extended-properties+xml\"/></Types>"),
        ("_rels/.rels", "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/><Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties\" Target=\"docProps/core.xml\"/><Relationship Id=\"rId3\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties\" Target=\"docProps/app.xml\"/></Relationships>"),
        ("docProps/core.xml", "<?xml version=\"1.0\"?><cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><dc:creator>Budi Santoso</dc:creator><cp:lastModifiedBy>Budi Santoso</cp:lastModifiedBy><dcterms:created xsi:type=\"dcterms:W3CDTF\">2023-04-05T10:11:12Z</dcterms:created></cp:coreProperties>"),
        ("docProps/app.xml", "<?xml version=\"1.0\"?><Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\"><Template>C:\\Users\\budi\\Kantor Rahasia.dotm</Template><Application>MyEditor</Application><Company>Dinas Contoh</Company><Manager>Budi Santoso</Manager></Properties>"),
        ("word/document.xml", "<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>Dana hibah dipotong.</w:t></w:r><w:ins w:id=\"1\" w:author=\"Budi Santoso\" w:date=\"2023-04-05T10:11:12Z\"><w:r><w:t> Bukti terlampir.</w:t></w:r></w:ins><w:commentRangeStart w:id=\"0\"/><w:r><w:commentReference w:id=\"0\"/></w:r></w:p></w:body></w:document>"),
        ("word/_rels/settings.xml.rels", "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate\" Target=\"file:///C:\\Users\\budi\\Templates\\Kantor%20Rahasia.dotm\" TargetMode=\"External\"/></Relationships>"),
        ("word/comments.xml", "<?xml version=\"1.0\"?><w:comments xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:comment w:id=\"0\" w:author=\"Budi Santoso\" w:initials=\"BS\" w:date=\"2023-04-05T10:11:12Z\"><w:p><w:r><w:t>cek lagi</w:t></w:r></w:p></w:comment></w:comments>"),
    ])
}

fn entry(zip_bytes: &[u8], name: &str) -> String {
    let mut z = zip::ZipArchive::new(Cursor::new(zip_bytes)).unwrap();
    let mut s = String::new();
    z.by_name(name).unwrap().read_to_string(&mut s).unwrap();
    s
}

fn texts(xml: &str) -> Vec<String> {
    xml.split("<w:t>")
        .skip(1)
        .map(|p| p.split("</w:t>").next().unwrap().to_string())
        .collect()
}

#[test]
fn docx_loses_authors_company_template_and_dates_but_keeps_its_text() {
    let original = docx();
    let before = read_tags(&original, "docx");
    assert!(
        serde_json::to_string(&before)
            .unwrap()
            .contains("Budi Santoso"),
        "{before:?}"
    );
    let c = cleaned(&original);
    assert_eq!(c.format, Format::Ooxml);
    for f in [
        Field::Author,
        Field::Organisation,
        Field::Template,
        Field::CommentAuthor,
        Field::RevisionAuthor,
    ] {
        assert!(has(&c, f), "{f:?}: {:?}", c.found);
    }
    assert_clean(&c.bytes, "docx");
    for part in ["word/document.xml", "word/comments.xml"] {
        let a = entry(&original, part);
        let b = entry(&c.bytes, part);
        assert_eq!(texts(&a), texts(&b), "{part}");
        assert!(
            !b.contains("Budi") && !b.contains("BS\"") && !b.contains("2023"),
            "{b}"
        );
    }
    assert!(entry(&c.bytes, "word/comments.xml").contains("w:author=\"Anonim\""));
    let rels = entry(&c.bytes, "word/_rels/settings.xml.rels");
    assert!(
        !rels.contains("budi") && rels.contains("Target=\"file:///\""),
        "{rels}"
    );
}

#[test]
fn xlsx_comment_authors_people_and_custom_properties_go() {
    let original = zip_file(&[
        ("[Content_Types].xml", "<Types/>"),
        ("xl/comments1.xml", "<comments xmlns=\"x\"><authors><author>Budi Santoso</author></authors><commentList><comment ref=\"A1\" authorId=\"0\"><text><t>cek</t></text></comment></commentList></comments>"),
        ("xl/persons/person.xml", "<personList xmlns=\"x\"><person displayName=\"Budi Santoso\" id=\"{1}\" userId=\"budi@dinas-contoh.go.id\" providerId=\"AD\"/></personList>"),
        ("docProps/custom.xml", "<Properties xmlns=\"c\"><property name=\"Bagian\"><vt:lpwstr xmlns:vt=\"v\">Kantor Rahasia</vt:lpwstr></property></Properties>"),
    ]);
    let c = cleaned(&original);
    assert!(
        has(&c, Field::CommentAuthor) && has(&c, Field::Text),
        "{:?}",
        c.found
    );
    for part in [
        "xl/comments1.xml",
        "xl/persons/person.xml",
        "docProps/custom.xml",
    ] {
        let text = entry(&c.bytes, part);
        assert!(
            !text.contains("Budi") && !text.contains("budi@") && !text.contains("Rahasia"),
            "{part}: {text}"
        );
    }
    assert!(entry(&c.bytes, "xl/comments1.xml").contains("<t>cek</t>"));
}

#[test]
fn odt_meta_becomes_empty() {
    let original = zip_file(&[
        ("mimetype", "application/vnd.oasis.opendocument.text"),
        ("content.xml", "<?xml version=\"1.0\"?><office:document-content xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><office:body><office:text><text:p>Dana hibah dipotong.</text:p><office:annotation><dc:creator>Budi Santoso</dc:creator><text:p>cek</text:p></office:annotation></office:text></office:body></office:document-content>"),
        ("meta.xml", "<?xml version=\"1.0\"?><office:document-meta xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" xmlns:meta=\"urn:oasis:names:tc:opendocument:xmlns:meta:1.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><office:meta><meta:initial-creator>Budi Santoso</meta:initial-creator><dc:creator>Budi Santoso</dc:creator><meta:creation-date>2023-04-05T10:11:12</meta:creation-date><meta:generator>MyEditor</meta:generator></office:meta></office:document-meta>"),
    ]);
    let c = cleaned(&original);
    assert_eq!(c.format, Format::Odf);
    assert!(
        has(&c, Field::Author) && has(&c, Field::Date),
        "{:?}",
        c.found
    );
    assert_clean(&c.bytes, "odt");
    let content = entry(&c.bytes, "content.xml");
    assert!(
        content.contains("Dana hibah dipotong.") && !content.contains("Budi"),
        "{content}"
    );
    // The mimetype stays first and stored.
    let mut z = zip::ZipArchive::new(Cursor::new(&c.bytes[..])).unwrap();
    assert_eq!(z.by_index(0).unwrap().name(), "mimetype");
    assert_eq!(
        z.by_index(0).unwrap().compression(),
        zip::CompressionMethod::Stored
    );
}

fn bounded(bytes: &[u8]) -> Outcome {
    let start = Instant::now();
    let out = scrub(bytes);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    out
}

fn refused(bytes: &[u8]) -> String {
    match bounded(bytes) {
        Outcome::Refused { reason, .. } => reason,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn hostile_files_get_a_clear_refusal_in_bounded_time() {
    let jpeg = made(image::ImageFormat::Jpeg, "jpg", &[]);
    // Truncated anywhere: refused, never "clean".
    for cut in [3, 10, 40, jpeg.len() / 2, jpeg.len() - 3] {
        refused(&jpeg[..cut]);
    }
    // A lying segment length.
    let mut lying = jpeg.clone();
    lying[4] = 0xFF;
    lying[5] = 0xF0;
    assert!(refused(&lying).contains("length"));
    let png = made(image::ImageFormat::Png, "png", &[]);
    refused(&png[..png.len() - 5]);
    let mut lying = png.clone();
    lying[8..12].copy_from_slice(&0x7000_0000u32.to_be_bytes());
    assert!(refused(&lying).contains("length"));
    let webp = made(image::ImageFormat::WebP, "webp", &[]);
    refused(&webp[..webp.len() - 7]);
    let mut pdf = pdf();
    let at = pdf.windows(6).position(|w| w == b"5 0 ob").unwrap();
    pdf.truncate(at + 20);
    pdf.extend_from_slice(b"\ntrailer << /Info 5 0 R >>");
    refused(&pdf);
}

#[test]
fn zip_bombs_and_deep_xml_are_refused() {
    // 300 MiB of zeros compress to about 300 KiB.
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("[Content_Types].xml", opts).unwrap();
    w.write_all(b"<Types/>").unwrap();
    w.start_file("word/document.xml", opts).unwrap();
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..300 {
        w.write_all(&zeros).unwrap();
    }
    let bomb = w.finish().unwrap().into_inner();
    assert!(bomb.len() < 2 << 20);
    assert!(refused(&bomb).contains("zip bomb"));

    let deep = format!(
        "<?xml version=\"1.0\"?>{}x{}",
        "<w:p w:author=\"x\">".repeat(5_000),
        "</w:p>".repeat(5_000)
    );
    let doc = zip_file(&[
        ("[Content_Types].xml", "<Types/>"),
        ("word/comments.xml", &deep),
    ]);
    assert!(refused(&doc).contains("nested too deeply"));
    let deep = format!(
        "<?xml version=\"1.0\"?><a>{}</a>",
        "<dc:creator>".repeat(5_000)
    );
    let doc = zip_file(&[
        ("[Content_Types].xml", "<Types/>"),
        ("docProps/core.xml", &deep),
    ]);
    let reason = refused(&doc);
    assert!(reason.contains("nested too deeply"), "{reason}");
}

#[test]
fn other_formats_are_not_checked() {
    assert!(matches!(
        scrub(b"\x00\x00\x00\x18ftypheic"),
        Outcome::NotChecked
    ));
    assert!(matches!(scrub(b"plain text"), Outcome::NotChecked));
}

#[test]
fn the_fuzz_seeds_are_cleaned_and_name_what_they_hold() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/scrub");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let c = cleaned(&std::fs::read(&path).unwrap());
        assert!(!c.found.is_empty(), "{}: nothing found", path.display());
        seen += 1;
    }
    assert_eq!(seen, 6);
}

/// Found by the fuzz target: a PDF with compressed object streams whose
/// information dictionary is plain text was cleaned, then its cleaned
/// copy refused (object streams were held against it only when nothing
/// had been found).
#[test]
fn a_pdf_with_object_streams_and_plain_information_is_cleaned_for_good() {
    let doc = b"%PDF-1.5\n1 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Length 3 >>\nstream\nxyz\nendstream\nendobj\n3 0 obj\n<< /Author (Budi) >>\nendobj\ntrailer\n<< /Root 2 0 R /Info 3 0 R >>\n%%EOF\n";
    let c = cleaned(doc);
    assert!(has(&c, Field::Author));
}

/// Found by the fuzz target: an unterminated metadata dictionary was read
/// as running into the next object (through a "hex string" of any bytes),
/// so the first pass called the file clean and the second refused it.
#[test]
fn a_pdf_dictionary_never_runs_into_the_next_object() {
    let doc = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Metadata 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Metadata /Length 12 >/>\nstream\n<x:xmpmeta/>\nendstream\nendobj\n3 0 obj\n<< /Author (Budi) /Producer <FEFF0042> >>\nendobj\ntrailer\n<< /Root 1 0 R /Info 3 0 R >>\n%%EOF\n";
    assert!(matches!(scrub(doc), Outcome::Refused { .. }));
}

/// Found by the fuzz target: a metadata stream "defined" again inside
/// another one's data got its dictionary rewritten there, so the cleaned
/// copy showed content in a blanked stream.
/// And one whose `/Info` pointed at a metadata stream: blanked as a
/// dictionary, then given a `/Length` as a stream.
#[test]
fn pdfs_found_by_the_fuzz_target_read_the_same_once_cleaned() {
    for doc in [
        &include_bytes!("found/stream-in-stream.pdf")[..],
        &include_bytes!("found/info-is-a-stream.pdf")[..],
        &include_bytes!("found/refs-in-stream-data.pdf")[..],
        &include_bytes!("found/string-past-its-object.pdf")[..],
        &include_bytes!("found/header-inside-a-stream.pdf")[..],
        &include_bytes!("found/overlapping-info.pdf")[..],
    ] {
        match scrub(doc) {
            Outcome::Cleaned(_) => {
                cleaned(doc);
            }
            Outcome::Refused { .. } => {}
            Outcome::NotChecked => panic!("a PDF"),
        }
    }
}

/// Found by the fuzz target: a string ending in a backslash at the very
/// end of the file read past it (a panic).
#[test]
fn a_pdf_string_ending_the_file_with_a_backslash_is_refused() {
    let doc = b"%PDF-1.4\ntrailer << /Info << /Author (Budi\\";
    assert!(matches!(scrub(doc), Outcome::Refused { .. }));
}
