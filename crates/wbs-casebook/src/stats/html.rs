//! The printable statistics page: one self-contained HTML file, no
//! JavaScript, no outside resource (inline CSS, inline SVG bar charts),
//! laid out for A4 when printed. Indonesian first, English after each
//! label. Every text that came from a case (a category name) is escaped.

use std::fmt::Write as _;

use wbs_protocol::Status;

use super::{Figures, Row, ShareShown, Shown, Stats, SummaryShown};
use crate::policy::{DayKind, Policy};

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:'DejaVu Sans',Arial,sans-serif;color:#111;margin:2em auto;max-width:52em;line-height:1.4}\
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #999}\
.en{color:#555;font-style:italic}p.meta{margin:.2em 0}\
table{border-collapse:collapse;margin:.5em 0;min-width:24em}\
th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left;vertical-align:top}\
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
.note{font-size:.9em;color:#333;border-left:3px solid #999;padding-left:.6em}\
svg{display:block;margin:.4em 0 1em}svg text{font-family:inherit;font-size:12px}\
section{break-inside:avoid;page-break-inside:avoid}\
@media print{body{margin:0;max-width:none;font-size:10.5pt}\
@page{size:A4;margin:18mm}h2{break-after:avoid;page-break-after:avoid}a{color:inherit;text-decoration:none}}";

fn both(id: &str, en: &str) -> String {
    format!("{} <span class=\"en\">/ {}</span>", escape(id), escape(en))
}

fn row_label(section: &str, key: &str) -> String {
    if key == "other" {
        return both("Lainnya (digabung)", "Other (merged)");
    }
    match section {
        "status" => match Status::parse(key) {
            Some(s) => both(s.label_id(), s.label_en()),
            None => escape(key),
        },
        "channel" => match key {
            "web" => both("Peramban (web)", "Browser (web)"),
            "cli" => both("Aplikasi baris perintah (cli)", "Command line (cli)"),
            "unknown" => both("Tidak diketahui", "Unknown (older clients)"),
            k => escape(k),
        },
        "category" if key.is_empty() => both("(laporan belum dibuka)", "(report not opened)"),
        _ => escape(key),
    }
}

/// A table and a horizontal bar chart of a breakdown. A hidden count gets
/// no bar (its length would tell it).
fn breakdown(out: &mut String, section: &str, rows: &[Row], publish: bool) {
    out.push_str("<table><tbody>");
    for r in rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            row_label(section, &r.key),
            escape(&r.value.text(publish))
        );
    }
    out.push_str("</tbody></table>");
    let max = rows
        .iter()
        .filter(|r| matches!(r.value, Shown::Count(_)))
        .map(|r| r.count)
        .max()
        .unwrap_or(0);
    if rows.is_empty() {
        return;
    }
    let bar_h = 18;
    let label_w = 150;
    let chart_w = 360;
    let height = rows.len() * (bar_h + 6) + 4;
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\">",
        label_w + chart_w + 60
    );
    for (i, r) in rows.iter().enumerate() {
        let y = i * (bar_h + 6) + 2;
        let label: String = match section {
            "status" => Status::parse(&r.key).map_or(r.key.clone(), |s| s.label_id().into()),
            _ if r.key.is_empty() => "—".into(),
            _ => r.key.clone(),
        };
        let label: String = label.chars().take(22).collect();
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            label_w - 6,
            y + bar_h - 5,
            escape(&label)
        );
        let (w, text) = match r.value {
            Shown::Count(n) if max > 0 => ((n * chart_w as u64 / max) as usize, n.to_string()),
            Shown::Count(n) => (0, n.to_string()),
            v => (0, v.text(publish)),
        };
        if w > 0 {
            let _ = write!(
                out,
                "<rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{bar_h}\" fill=\"#4a6fa5\"/>"
            );
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            label_w + w + 4,
            y + bar_h - 5,
            escape(&text)
        );
    }
    out.push_str("</svg>");
}

fn summary_rows(out: &mut String, id: &str, en: &str, s: &SummaryShown, publish: bool) {
    let _ = write!(
        out,
        "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
        both(id, en),
        cell(&s.median, publish),
        cell(&s.p90, publish),
        escape(&s.cases.text(publish)),
    );
}

fn share_row(out: &mut String, id: &str, en: &str, s: &ShareShown, publish: bool) {
    let percent = match s.percent {
        Shown::Percent(_) => format!("{} %", s.percent.text(publish)),
        ref v => cell(v, publish),
    };
    let _ = write!(
        out,
        "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
        both(id, en),
        percent,
        escape(&s.within.text(publish)),
        escape(&s.of.text(publish)),
    );
}

fn cell(v: &Shown, publish: bool) -> String {
    match v {
        Shown::Suppressed => both("tidak ditampilkan", "not shown"),
        Shown::None => "–".into(),
        v => escape(&v.text(publish)),
    }
}

/// The whole page.
pub fn page(f: &Figures, stats: &Stats, policy: &Policy) -> String {
    let p = f.publish;
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"id\"><head><meta charset=\"utf-8\">");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
    );
    let _ = write!(
        out,
        "<title>Statistik laporan {} – {}</title><style>{STYLE}</style></head><body>",
        stats.from, stats.to
    );
    let _ = write!(
        out,
        "<h1>Statistik laporan pengaduan <span class=\"en\">/ Whistleblowing report statistics</span></h1>\
         <p class=\"meta\">{}: {} – {}</p><p class=\"meta\">{}: {}</p>",
        both("Periode (tanggal diterima)", "Period (day received)"),
        stats.from,
        stats.to,
        both("Tenggat dihitung per", "Deadlines as of"),
        stats.today
    );
    if p {
        let _ = write!(
            out,
            "<p class=\"note\">{}<br>{}</p>",
            escape(&format!(
                "Untuk publikasi: setiap jumlah di bawah {t} ditampilkan sebagai \u{201c}< {t}\u{201d}, \
                 kategori dan kanal yang jarang digabung sebagai \u{201c}Lainnya\u{201d}, dan median, \
                 persentil serta persentase dari kurang dari {t} kasus tidak ditampilkan, agar tidak \
                 ada angka yang dapat menunjuk seorang pelapor.",
                t = f.threshold
            )),
            escape(&format!(
                "For publication: every count below {t} is shown as \u{201c}< {t}\u{201d}, rare \
                 categories and channels are merged as \u{201c}Other\u{201d}, and medians, percentiles \
                 and shares from fewer than {t} cases are not shown, so that no figure can single \
                 out a reporter.",
                t = f.threshold
            ))
        );
    } else {
        let _ = write!(
            out,
            "<p class=\"note\"><strong>{}</strong></p>",
            both(
                "Untuk penggunaan internal: angka kecil tidak disembunyikan. Jangan dipublikasikan.",
                "For internal use: small counts are not hidden. Do not publish."
            )
        );
    }

    let _ = write!(
        out,
        "<section><h2>{}</h2><table><tbody><tr><td>{}</td><td class=\"n\">{}</td></tr></tbody></table></section>",
        both("Ringkasan", "Summary"),
        both("Laporan diterima", "Reports received"),
        escape(&f.received.text(p))
    );
    for (id, en, section, rows) in [
        (
            "Laporan per bulan",
            "Reports per month",
            "month",
            &f.per_month,
        ),
        (
            "Laporan per kategori",
            "Reports per category",
            "category",
            &f.per_category,
        ),
        (
            "Laporan per kanal",
            "Reports per channel",
            "channel",
            &f.per_channel,
        ),
        ("Status saat ini", "Current status", "status", &f.status_now),
        ("Hasil", "Outcomes", "status", &f.outcomes),
    ] {
        let _ = write!(out, "<section><h2>{}</h2>", both(id, en));
        breakdown(&mut out, section, rows, p);
        out.push_str("</section>");
    }

    let _ = write!(
        out,
        "<section><h2>{}</h2><table><thead><tr><th></th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        both("Lama penanganan (hari kalender)", "Handling time (calendar days)"),
        both("Median", "Median"),
        both("Persentil ke-90", "90th percentile"),
        both("Jumlah kasus", "Cases"),
    );
    summary_rows(
        &mut out,
        "Hari sampai tanda terima",
        "Days to acknowledge",
        &f.days_to_acknowledge,
        p,
    );
    summary_rows(
        &mut out,
        "Hari sampai selesai",
        "Days to close",
        &f.days_to_close,
        p,
    );
    out.push_str("</tbody></table><p class=\"note\">");
    out.push_str(&both(
        "Median dan persentil dengan metode peringkat terdekat (nearest rank): selalu salah satu nilai yang diamati.",
        "Median and percentile by the nearest-rank method: always one of the observed values.",
    ));
    out.push_str("</p></section>");

    let kind = match policy.day_kind {
        DayKind::Calendar => ("hari kalender", "calendar days"),
        DayKind::Working => ("hari kerja", "working days"),
    };
    let feedback = match policy.feedback_days {
        Some(n) => (format!("{n} {}", kind.0), format!("{n} {}", kind.1)),
        None => (
            format!("{} bulan", policy.feedback_months),
            format!("{} months", policy.feedback_months),
        ),
    };
    let _ = write!(
        out,
        "<section><h2>{}</h2><table><thead><tr><th></th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        both("Ketepatan waktu", "Timeliness"),
        both("Persentase", "Share"),
        both("Tepat waktu", "On time"),
        both("Dari", "Of"),
    );
    share_row(
        &mut out,
        &format!("Tanda terima dalam {} {}", policy.acknowledge_days, kind.0),
        &format!("Acknowledged within {} {}", policy.acknowledge_days, kind.1),
        &f.acknowledged_in_time,
        p,
    );
    share_row(
        &mut out,
        &format!("Umpan balik dalam {}", feedback.0),
        &format!("Feedback within {}", feedback.1),
        &f.answered_in_time,
        p,
    );
    out.push_str("</tbody></table><p class=\"note\">");
    out.push_str(&both(
        "Dihitung dari kasus yang tenggatnya sudah lewat atau sudah dipenuhi; kasus yang tenggatnya masih berjalan tidak dihitung. Dasar hukum: Direktif UE 2019/1937 pasal 9; indikator ISO 37002 §9.1.2.",
        "Out of the cases whose deadline has passed or was met; cases whose deadline is still running are not counted. Legal basis: EU Directive 2019/1937 art. 9; indicators of ISO 37002 §9.1.2.",
    ));
    out.push_str("</p></section>");
    out.push_str("<p class=\"meta en\">WBS</p></body></html>\n");
    out
}
