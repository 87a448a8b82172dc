#!/bin/sh
# Makes the shared corpus (crates/wbs-scrub/tests/shared-corpus/): small
# files with known identifying fields, read by both implementations (the
# Rust test tests/shared_corpus.rs and the browser's web/test/scrub.test.js)
# against expected.json. Needs exiftool, zip and python3.
# Run it once and commit what it makes; the tests never run it.
set -eu
cd "$(dirname "$0")"
# The bare pictures, from the image crate (no encoder on the command line).
cargo test -q -p wbs-scrub --test shared_corpus -- --ignored --exact write_base_pictures >/dev/null
rm -rf files && mkdir files && cd files
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
et() { exiftool -q -overwrite_original "$@"; }

# A photo from a phone: GPS, camera, serial, dates, owner, software, XMP,
# IPTC, a comment, orientation 6 (kept).
cp ../base/base.jpg photo.jpg
et -Make=Samsung -Model=SM-A525F -SerialNumber=R58N12345 -Artist="Budi Santoso" \
   -Software="A525FXXU4CVJB" -DateTimeOriginal="2024:05:01 10:11:12" -Orientation#=6 \
   -GPSLatitude=6.2 -GPSLatitudeRef=S -GPSLongitude=106.8 -GPSLongitudeRef=E \
   -XMP:Creator="Budi Santoso" -IPTC:By-line="Budi Santoso" -Comment="kantor" photo.jpg
# A JPEG with nothing to remove.
cp ../base/base.jpg plain.jpg
et -all= plain.jpg
# PNG with text chunks and EXIF.
cp ../base/base.png photo.png
et -PNG:Author="Budi Santoso" -PNG:Software="Editor 1.0" -PNG:Comment="rahasia" \
   -XMP:Creator="Budi" -EXIF:Make=Canon -EXIF:Model="EOS 80D" photo.png
# WebP with EXIF and XMP.
cp ../base/base.webp photo.webp
et -EXIF:Make=Google -EXIF:Model="Pixel 7" -EXIF:GPSLatitude=1 -EXIF:GPSLatitudeRef=N \
   -EXIF:GPSLongitude=2 -EXIF:GPSLongitudeRef=E -XMP:Creator="Budi" photo.webp

# A PDF with an information dictionary, then an incremental update by
# exiftool (another /Info and an XMP stream).
python3 - "$tmp/doc.pdf" <<'PY'
import sys
objs = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
    b"<< /Length 8 >>\nstream\n0 0 m S\nendstream",
    b"<< /Author (Budi Santoso) /Creator (Microsoft Word) /Producer (Acrobat) /CreationDate (D:20240501101112) /Title (Laporan) >>",
]
out = b"%PDF-1.4\n"
offs = []
for i, o in enumerate(objs, 1):
    offs.append(len(out))
    out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
for o in offs:
    out += b"%010d 00000 n \n" % o
out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
open(sys.argv[1], "wb").write(out)
PY
# A valid cross-reference table, written by a tool (exiftool rewrites it).
cp "$tmp/doc.pdf" doc.pdf
et -PDF:Author="Budi Santoso" -XMP:Creator="Budi Santoso" -PDF:Subject="Gaji" doc.pdf

# Office Open XML: core, app, custom properties, a tracked change and a
# comment with authors, a template on the author's disk.
mk_docx() {
  d="$tmp/docx"; rm -rf "$d"; mkdir -p "$d/_rels" "$d/docProps" "$d/word/_rels"
  cat > "$d/[Content_Types].xml" <<'X'
<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/comments.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.comments+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/><Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>
X
  cat > "$d/_rels/.rels" <<'X'
<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/></Relationships>
X
  cat > "$d/docProps/core.xml" <<'X'
<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>Memo</dc:title><dc:creator>Budi Santoso</dc:creator><cp:lastModifiedBy>Siti Rahma</cp:lastModifiedBy><dcterms:created xsi:type="dcterms:W3CDTF">2024-05-01T10:11:12Z</dcterms:created></cp:coreProperties>
X
  cat > "$d/docProps/app.xml" <<'X'
<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Template>Normal.dotm</Template><Application>Microsoft Office Word</Application><Company>Dinas PU</Company></Properties>
X
  cat > "$d/word/_rels/document.xml.rels" <<'X'
<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/comments" Target="comments.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" Target="file:///C:\Users\budi\Templates\Dinas.dotm" TargetMode="External"/></Relationships>
X
  cat > "$d/word/document.xml" <<'X'
<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Anggaran dinaikkan.</w:t></w:r><w:ins w:id="1" w:author="Siti Rahma" w:date="2024-05-02T08:00:00Z"><w:r><w:t> Dua kali.</w:t></w:r></w:ins></w:p></w:body></w:document>
X
  cat > "$d/word/comments.xml" <<'X'
<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:comments xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:comment w:id="0" w:author="Budi Santoso" w:initials="BS" w:date="2024-05-02T09:00:00Z"><w:p><w:r><w:t>Cek</w:t></w:r></w:p></w:comment></w:comments>
X
}
mk_docx
(cd "$tmp/docx" && zip -q -X -r "$OLDPWD/memo.docx" '[Content_Types].xml' _rels docProps word)

# OpenDocument text.
d="$tmp/odt"; mkdir -p "$d/META-INF"
printf 'application/vnd.oasis.opendocument.text' > "$d/mimetype"
cat > "$d/meta.xml" <<'X'
<?xml version="1.0" encoding="UTF-8"?>
<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" office:version="1.2"><office:meta><meta:initial-creator>Budi Santoso</meta:initial-creator><dc:creator>Siti</dc:creator><meta:creation-date>2024-05-01T10:11:12</meta:creation-date><meta:generator>LibreOffice/7.4</meta:generator></office:meta></office:document-meta>
X
cat > "$d/content.xml" <<'X'
<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" office:version="1.2"><office:body><office:text><text:p>Isi<office:annotation><dc:creator>Budi Santoso</dc:creator><text:p>catatan</text:p></office:annotation></text:p></office:text></office:body></office:document-content>
X
cat > "$d/META-INF/manifest.xml" <<'X'
<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/><manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/></manifest:manifest>
X
(cd "$d" && zip -q -X -0 "$OLDPWD/notes.odt" mimetype && zip -q -X -r "$OLDPWD/notes.odt" meta.xml content.xml META-INF)

# Not checked: another format.
printf 'plain text, not a format WBS reads\n' > notes.txt

# Hostile: truncated, lying lengths, a zip bomb, deeply nested XML.
head -c 200 photo.jpg > truncated.jpg
# A PNG whose first chunk claims 1 GiB.
python3 - <<'PY'
data = open("photo.png", "rb").read()
open("lying-length.png", "wb").write(data[:8] + b"\x40\x00\x00\x00" + data[12:])
PY
# 4 MiB of zeros in one entry (about a thousandfold).
mk_docx
head -c 4194304 /dev/zero > "$tmp/docx/word/media.bin"
(cd "$tmp/docx" && zip -q -X -9 -r "$OLDPWD/bomb.docx" '[Content_Types].xml' _rels docProps word)
# core.xml nested 1000 deep.
mk_docx
python3 - "$tmp/docx/docProps/core.xml" <<'PY'
import sys
open(sys.argv[1], "w").write('<?xml version="1.0"?><cp:coreProperties xmlns:cp="x">' + "<a>" * 1000 + "</a>" * 1000 + "</cp:coreProperties>")
PY
(cd "$tmp/docx" && zip -q -X -r "$OLDPWD/deep.docx" '[Content_Types].xml' _rels docProps word)
rm -rf ../base
ls -l
