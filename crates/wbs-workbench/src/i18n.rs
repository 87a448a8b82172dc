//! Every string the workbench shows, in Indonesian (the default) and in
//! English, in one table: a missing translation is a test failure, never
//! an empty label.

use wbs_protocol::Status;

/// The language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Bahasa Indonesia: the default.
    #[default]
    Id,
    /// English, one click away.
    En,
}

impl Lang {
    /// The other language: what the toggle switches to.
    pub fn other(self) -> Lang {
        match self {
            Lang::Id => Lang::En,
            Lang::En => Lang::Id,
        }
    }

    /// A status's name in this language.
    pub fn status(self, s: Status) -> &'static str {
        match self {
            Lang::Id => s.label_id(),
            Lang::En => s.label_en(),
        }
    }
}

macro_rules! texts {
    ($($key:ident => $id:literal, $en:literal;)*) => {
        /// A string of the interface.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum T { $($key),* }

        impl T {
            /// Every string, for the completeness test.
            pub const ALL: &'static [T] = &[$(T::$key),*];

            /// The string in `lang`.
            pub fn get(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((T::$key, Lang::Id) => $id, (T::$key, Lang::En) => $en,)*
                }
            }
        }
    };
}

texts! {
    AppTitle => "Meja kerja pemeriksa WBS", "WBS investigators' workbench";
    SwitchLanguage => "English", "Bahasa Indonesia";
    Unlock => "Buka kunci", "Unlock";
    UnlockTitle => "Buka identitas inspektorat", "Unlock the inspectorate's identity";
    IdentityFile => "Berkas identitas (.key)", "Identity file (.key)";
    CaseFolder => "Folder kasus", "Case folder";
    Passphrase => "Frasa sandi", "Passphrase";
    Choose => "Pilih…", "Choose…";
    NoNetwork => "Aplikasi ini tidak pernah memakai jaringan.", "This app never uses a network.";
    Cases => "Kasus", "Cases";
    Answers => "Jawaban", "Answers";
    Statistics => "Statistik", "Statistics";
    ImportBundle => "Impor bundel ekspor…", "Import export bundle…";
    Imported => "Bundel diimpor", "Bundle imported";
    Search => "Cari", "Search";
    AllStatuses => "Semua status", "All statuses";
    AllCategories => "Semua kategori", "All categories";
    Status => "Status", "Status";
    Category => "Kategori", "Category";
    Received => "Laporan diterima", "Reports received";
    ReceivedOn => "Tanggal diterima", "Received on";
    AcknowledgeBy => "Konfirmasi paling lambat", "Acknowledge by";
    FeedbackBy => "Tindak lanjut paling lambat", "Feedback by";
    Overdue => "Terlambat", "Overdue";
    DueSoon => "Segera jatuh tempo", "Due soon";
    OnTime => "Tepat waktu", "On time";
    Met => "Terpenuhi", "Met";
    NoCases => "Belum ada kasus. Impor bundel ekspor dari flashdisk.", "No cases yet. Import an export bundle from the USB stick.";
    Open => "Buka", "Open";
    Title => "Judul", "Title";
    What => "Apa", "What";
    Who => "Siapa", "Who";
    When => "Kapan", "When";
    Where => "Di mana", "Where";
    How => "Bagaimana", "How";
    Contact => "Kontak", "Contact";
    Report => "Laporan", "Report";
    Thread => "Percakapan terverifikasi", "Verified thread";
    FollowUp => "Tindak lanjut pelapor", "Reporter's follow-up";
    ReplySent => "Balasan terkirim", "Reply sent";
    Unverified => "Tidak terverifikasi: BUKAN dari pelapor maupun inspektorat", "Unverified: NOT from the reporter nor the inspectorate";
    UnverifiedHelp => "Objek ini gagal verifikasi dan disimpan terpisah. Jangan perlakukan sebagai kata pelapor.", "These objects failed verification and are kept apart. Do not treat them as the reporter's word.";
    Attachments => "Lampiran", "Attachments";
    Type => "Jenis", "Type";
    Size => "Ukuran", "Size";
    Preview => "Pratinjau", "Preview";
    SaveElsewhere => "Simpan di tempat lain…", "Save elsewhere…";
    Dangerous => "BERBAHAYA: berkas yang dapat dijalankan atau bermakro", "DANGEROUS: executable or macro-bearing file";
    SaveWarning => "Aplikasi ini tidak pernah membuka berkas ini. Simpan hanya untuk diperiksa di mesin terpisah yang aman.", "This app never opens this file. Save it only to examine it on a separate, safe machine.";
    NotYetArrived => "Belum tiba (masih diunggah)", "Not yet arrived (still uploading)";
    Saved => "Disimpan", "Saved";
    Answer => "Jawab", "Answer";
    ReplyText => "Balasan untuk pelapor", "Reply to the reporter";
    NewStatus => "Status baru", "New status";
    Unchanged => "Tidak berubah", "Unchanged";
    EncryptedTo => "Dienkripsi untuk", "Encrypted to";
    Reporter => "Pelapor", "Reporter";
    Inspectorate => "Inspektorat", "Inspectorate";
    AddToAnswers => "Tambahkan ke jawaban", "Add to answers";
    PendingAnswers => "Jawaban yang belum disimpan", "Answers not yet saved";
    NoPending => "Belum ada jawaban.", "No answers yet.";
    Remove => "Hapus", "Remove";
    SaveBundle => "Simpan bundel balasan ke folder…", "Save reply bundle to folder…";
    BundleSaved => "Bundel balasan disimpan; bawa ke meja daring dan jalankan wbs-desk push", "Reply bundle saved; take it to the online desk and run wbs-desk push";
    Back => "Kembali", "Back";
    Cancel => "Batal", "Cancel";
    Select => "Pilih", "Select";
    SelectThisFolder => "Pilih folder ini", "Select this folder";
    Up => "Naik", "Up";
    Path => "Lokasi", "Path";
    Error => "Galat", "Error";
    From => "Dari", "From";
    To => "Sampai", "To";
    ExportCsv => "Ekspor CSV dan halaman cetak…", "Export CSV and printable page…";
    ForPublication => "Untuk publikasi (jumlah kecil disembunyikan)", "For publication (small counts hidden)";
    Exported => "Diekspor", "Exported";
    Problems => "Masalah saat membaca", "Problems reading";
    Case => "Kasus", "Case";
    Days => "hari", "days";
    PerMonth => "Per bulan", "Per month";
    Channel => "Kanal", "Channel";
    DaysToAcknowledge => "Hari sampai konfirmasi", "Days to acknowledge";
    DaysToClose => "Hari sampai selesai", "Days to close";
    CaseCount => "Kasus", "Cases";
    Median => "Median", "Median";
    P90 => "Persentil ke-90", "90th percentile";
    AcknowledgedInTime => "Dikonfirmasi tepat waktu", "Acknowledged in time";
    AnsweredInTime => "Ditindaklanjuti tepat waktu", "Feedback in time";
    WithinOf => "tepat waktu / dari", "in time / of";
    NoThread => "Belum ada tindak lanjut atau balasan.", "No follow-up or reply yet.";
    ImportedCounts => "{cases} kasus, {reports} laporan, {followups} tindak lanjut, {attachments} lampiran terverifikasi", "{cases} case(s), {reports} report(s), {followups} follow-up(s), {attachments} attachment(s) verified";
    UnverifiedKeptApart => "{n} objek GAGAL VERIFIKASI, disimpan terpisah", "{n} object(s) FAILED VERIFICATION, kept apart";
    EmptyMessage => "Balasan masih kosong", "The reply is empty";
    NoFolderChosen => "Folder kasus belum dipilih", "No case folder chosen";
    OlderClient => "(aplikasi pelapor versi lama: tidak dapat diautentikasi)", "(older reporter client: cannot be authenticated)";
    NotAnswerable => "Pelapor tidak dapat dijawab", "The reporter cannot be answered";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_exists_in_both_languages() {
        for t in T::ALL {
            let (id, en) = (t.get(Lang::Id), t.get(Lang::En));
            assert!(!id.trim().is_empty() && !en.trim().is_empty(), "{t:?}");
        }
        // The toggle names the language it switches to, in that language.
        assert_eq!(T::SwitchLanguage.get(Lang::Id), "English");
        assert_eq!(T::SwitchLanguage.get(Lang::En), "Bahasa Indonesia");
        assert_eq!(Lang::default(), Lang::Id, "Indonesian first");
        assert_eq!(Lang::Id.other().other(), Lang::Id);
    }

    #[test]
    fn placeholders_are_the_same_in_both_languages() {
        for t in T::ALL {
            let holes = |s: &str| {
                let mut v: Vec<String> = s
                    .split('{')
                    .skip(1)
                    .filter_map(|p| p.split_once('}').map(|(h, _)| h.to_string()))
                    .collect();
                v.sort();
                v
            };
            assert_eq!(holes(t.get(Lang::Id)), holes(t.get(Lang::En)), "{t:?}");
        }
    }

    #[test]
    fn statuses_have_names_in_both_languages() {
        for s in Status::ALL {
            assert_ne!(Lang::Id.status(s), Lang::En.status(s), "{s:?}");
        }
    }
}
