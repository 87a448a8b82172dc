//! The workbench's own file chooser: a folder listing drawn with egui over
//! `std::fs`. It needs no desktop portal, no GTK and no other process, and
//! tests drive it like any other widget (docs/DECISIONS.md).

use std::fs;
use std::path::{Path, PathBuf};

/// What is being chosen, and what happens with the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The identity file (`.key`).
    Identity,
    /// The folder the workbench keeps its case book in.
    CaseFolder,
    /// An export bundle to import.
    ImportBundle,
    /// The folder to save the reply bundle into.
    SaveAnswers,
    /// The folder to save an attachment into (case id, attachment key).
    SaveAttachment,
    /// The folder to export the statistics into.
    ExportStats,
}

impl Purpose {
    /// Whether a folder (not a file) is chosen.
    pub fn wants_folder(self) -> bool {
        !matches!(self, Purpose::Identity | Purpose::ImportBundle)
    }
}

/// One line of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file or folder name (lossy for names that are not UTF-8).
    pub name: String,
    /// Whether it is a folder.
    pub is_dir: bool,
}

/// The chooser's state.
#[derive(Debug, Clone)]
pub struct Picker {
    /// What it is for.
    pub purpose: Purpose,
    /// The folder shown.
    pub dir: PathBuf,
    /// The path typed or clicked.
    pub path_text: String,
    /// The folder's entries, folders first, then by name.
    pub entries: Vec<Entry>,
    /// Why the folder could not be listed.
    pub error: Option<String>,
}

impl Picker {
    /// A chooser showing `dir`.
    pub fn new(purpose: Purpose, dir: &Path) -> Picker {
        let mut p = Picker {
            purpose,
            dir: dir.to_path_buf(),
            path_text: dir.display().to_string(),
            entries: Vec::new(),
            error: None,
        };
        p.go(dir);
        p
    }

    /// Shows another folder.
    pub fn go(&mut self, dir: &Path) {
        self.dir = dir.to_path_buf();
        self.path_text = dir.display().to_string();
        self.entries.clear();
        self.error = None;
        match fs::read_dir(dir) {
            Ok(rd) => {
                for e in rd.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    // Hidden files stay hidden, as in a desktop chooser.
                    if name.starts_with('.') {
                        continue;
                    }
                    let is_dir = e.path().is_dir();
                    if self.purpose.wants_folder() && !is_dir {
                        continue;
                    }
                    self.entries.push(Entry { name, is_dir });
                }
                self.entries
                    .sort_by(|a, b| (!a.is_dir, &a.name).cmp(&(!b.is_dir, &b.name)));
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Clicks an entry: a folder is entered (when choosing files) or
    /// selected; a file is selected.
    pub fn click(&mut self, index: usize) {
        let Some(entry) = self.entries.get(index).cloned() else {
            return;
        };
        let path = self.dir.join(&entry.name);
        if entry.is_dir {
            self.go(&path);
        } else {
            self.path_text = path.display().to_string();
        }
    }

    /// Goes to the parent folder.
    pub fn up(&mut self) {
        if let Some(parent) = self.dir.parent().map(Path::to_path_buf) {
            self.go(&parent);
        }
    }

    /// The chosen path, if it is of the kind wanted.
    pub fn chosen(&self) -> Option<PathBuf> {
        let p = PathBuf::from(self.path_text.trim());
        let ok = if self.purpose.wants_folder() {
            p.is_dir()
        } else {
            p.is_file()
        };
        ok.then_some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_folders_first_and_chooses_only_what_is_wanted() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("usb")).unwrap();
        fs::write(dir.path().join("export.tar"), b"x").unwrap();
        fs::write(dir.path().join(".hidden"), b"x").unwrap();
        let mut p = Picker::new(Purpose::ImportBundle, dir.path());
        let names: Vec<_> = p.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["usb", "export.tar"]);
        assert_eq!(p.chosen(), None, "a folder is not a bundle");
        p.click(1);
        assert_eq!(p.chosen(), Some(dir.path().join("export.tar")));
        p.click(0);
        assert_eq!(p.dir, dir.path().join("usb"));
        p.up();
        assert_eq!(p.dir, dir.path());

        let f = Picker::new(Purpose::SaveAnswers, dir.path());
        assert_eq!(f.entries.len(), 1, "only folders when choosing a folder");
        assert_eq!(f.chosen(), Some(dir.path().to_path_buf()));
    }
}
