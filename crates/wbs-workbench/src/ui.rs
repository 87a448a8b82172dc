//! Drawing the workbench with egui. Only drawing: every action is a method
//! of [`Workbench`] (model.rs). Everything shown that came from a bundle is
//! plain text in egui labels: nothing is interpreted as markup, a link or a
//! path to open.

use std::collections::HashMap;
use std::path::PathBuf;

use egui::{Color32, RichText, TextEdit, TextureHandle, Ui};
use wbs_casebook::folders::Case;
use wbs_casebook::stats::{Row, Shown};
use wbs_casebook::{ClockState, Day};
use wbs_protocol::Status;

use crate::attachment::Handling;
use crate::i18n::T;
use crate::model::{Notice, Page, Preview, Workbench};
use crate::picker::Purpose;

/// Red for what is overdue and what is dangerous.
pub const RED: Color32 = Color32::from_rgb(0xc0, 0x1c, 0x1c);
/// Amber for what is due soon.
pub const AMBER: Color32 = Color32::from_rgb(0xb8, 0x6e, 0x00);
/// Green for what is met.
pub const GREEN: Color32 = Color32::from_rgb(0x1e, 0x7a, 0x34);

/// The workbench and what only drawing needs (textures of previews).
pub struct App {
    /// The state and its actions.
    pub wb: Workbench,
    textures: HashMap<PathBuf, TextureHandle>,
    previews_shown: HashMap<PathBuf, bool>,
    recipients: HashMap<String, Result<Vec<String>, String>>,
    unverified: HashMap<(String, usize), Vec<(String, String)>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.wb.fmt(f)
    }
}

impl App {
    /// The app around a workbench.
    pub fn new(wb: Workbench) -> App {
        App {
            wb,
            textures: HashMap::new(),
            previews_shown: HashMap::new(),
            recipients: HashMap::new(),
            unverified: HashMap::new(),
        }
    }

    fn t(&self, t: T) -> &'static str {
        t.get(self.wb.lang)
    }

    /// Draws one frame.
    pub fn ui(&mut self, ui: &mut Ui) {
        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            self.notice(ui);
            if self.wb.picker.is_some() {
                self.picker(ui);
            } else if !self.wb.is_unlocked() {
                self.unlock(ui);
            } else {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| match self.wb.page {
                        Page::Cases => self.case_list(ui),
                        Page::Case => self.case_view(ui),
                        Page::Answers => self.answers(ui),
                        Page::Statistics => self.statistics(ui),
                    });
            }
        });
    }

    fn top_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.heading(self.t(T::AppTitle));
            if self.wb.is_unlocked() && self.wb.picker.is_none() {
                ui.separator();
                if ui
                    .selectable_label(
                        matches!(self.wb.page, Page::Cases | Page::Case),
                        self.t(T::Cases),
                    )
                    .clicked()
                {
                    self.wb.page = Page::Cases;
                }
                let answers = format!("{} ({})", self.t(T::Answers), self.wb.pending.len());
                if ui
                    .selectable_label(self.wb.page == Page::Answers, answers)
                    .clicked()
                {
                    self.wb.page = Page::Answers;
                }
                if ui
                    .selectable_label(self.wb.page == Page::Statistics, self.t(T::Statistics))
                    .clicked()
                {
                    self.wb.page = Page::Statistics;
                }
                ui.separator();
                if ui.button(self.t(T::ImportBundle)).clicked() {
                    self.wb.choose(Purpose::ImportBundle);
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button(self.t(T::SwitchLanguage)).clicked() {
                    self.wb.lang = self.wb.lang.other();
                }
            });
        });
    }

    fn notice(&mut self, ui: &mut Ui) {
        let Some(n) = &self.wb.notice else { return };
        let (text, color) = match n {
            Notice::Done(t) => (t.clone(), GREEN),
            Notice::Failed(t) => (format!("{}: {t}", self.t(T::Error)), RED),
        };
        ui.label(RichText::new(text).color(color).strong());
        ui.separator();
    }

    fn unlock(&mut self, ui: &mut Ui) {
        ui.heading(self.t(T::UnlockTitle));
        ui.label(self.t(T::NoNetwork));
        ui.add_space(8.0);
        egui::Grid::new("unlock").num_columns(3).show(ui, |ui| {
            let l = ui.label(self.t(T::IdentityFile));
            ui.add_sized(
                [420.0, 20.0],
                TextEdit::singleline(&mut self.wb.identity_path),
            )
            .labelled_by(l.id);
            if ui.button(self.t(T::Choose)).clicked() {
                self.wb.choose(Purpose::Identity);
            }
            ui.end_row();
            let l = ui.label(self.t(T::CaseFolder));
            ui.add_sized(
                [420.0, 20.0],
                TextEdit::singleline(&mut self.wb.folder_path),
            )
            .labelled_by(l.id);
            if ui.button(self.t(T::Choose)).clicked() {
                self.wb.choose(Purpose::CaseFolder);
            }
            ui.end_row();
            let l = ui.label(self.t(T::Passphrase));
            let r = ui
                .add_sized(
                    [420.0, 20.0],
                    TextEdit::singleline(&mut *self.wb.passphrase).password(true),
                )
                .labelled_by(l.id);
            ui.end_row();
            let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button(self.t(T::Unlock)).clicked() || enter {
                let _ = self.wb.unlock();
            }
        });
    }

    fn picker(&mut self, ui: &mut Ui) {
        let lang = self.wb.lang;
        let Some(p) = self.wb.picker.as_mut() else {
            return;
        };
        let title = match p.purpose {
            Purpose::Identity => T::IdentityFile,
            Purpose::CaseFolder => T::CaseFolder,
            Purpose::ImportBundle => T::ImportBundle,
            Purpose::SaveAnswers => T::SaveBundle,
            Purpose::SaveAttachment => T::SaveElsewhere,
            Purpose::ExportStats => T::ExportCsv,
        };
        ui.heading(title.get(lang));
        let mut chosen = None;
        let mut cancel = false;
        ui.horizontal(|ui| {
            let l = ui.label(T::Path.get(lang));
            ui.add(TextEdit::singleline(&mut p.path_text).desired_width(520.0))
                .labelled_by(l.id);
            if ui.button(T::Up.get(lang)).clicked() {
                p.up();
            }
        });
        ui.horizontal(|ui| {
            let select = if p.purpose.wants_folder() {
                T::SelectThisFolder
            } else {
                T::Select
            };
            let can = p.chosen();
            if ui
                .add_enabled(can.is_some(), egui::Button::new(select.get(lang)))
                .clicked()
            {
                chosen = can;
            }
            if ui.button(T::Cancel.get(lang)).clicked() {
                cancel = true;
            }
        });
        if let Some(e) = &p.error {
            ui.colored_label(RED, e);
        }
        ui.separator();
        let mut clicked = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (i, e) in p.entries.iter().enumerate() {
                let text = if e.is_dir {
                    format!("{}/", line(&e.name))
                } else {
                    line(&e.name)
                };
                if ui.selectable_label(false, text).clicked() {
                    clicked = Some(i);
                }
            }
        });
        if let Some(i) = clicked {
            p.click(i);
        }
        if cancel {
            self.wb.picker = None;
            self.wb.saving = None;
        } else if let Some(path) = chosen {
            self.wb.chosen(path);
        }
    }

    fn clock(&self, ui: &mut Ui, c: &ClockState) {
        let lang = self.wb.lang;
        let days = T::Days.get(lang);
        let (text, color) = match *c {
            ClockState::Overdue { due, days_over } => (
                format!("{} {days_over} {days} ({due})", T::Overdue.get(lang)),
                RED,
            ),
            ClockState::DueSoon { due, days_left } => (
                format!("{} {days_left} {days} ({due})", T::DueSoon.get(lang)),
                AMBER,
            ),
            ClockState::OnTime { due, .. } => (
                format!("{} ({due})", T::OnTime.get(lang)),
                ui.visuals().text_color(),
            ),
            ClockState::Met { on, late, .. } => (
                format!("{} {on}{}", T::Met.get(lang), if late { " !" } else { "" }),
                if late { AMBER } else { GREEN },
            ),
        };
        let strong = matches!(c, ClockState::Overdue { .. } | ClockState::DueSoon { .. });
        let mut rt = RichText::new(text).color(color);
        if strong {
            rt = rt.strong();
        }
        ui.label(rt);
    }

    fn case_list(&mut self, ui: &mut Ui) {
        let lang = self.wb.lang;
        ui.horizontal(|ui| {
            let l = ui.label(T::Search.get(lang));
            ui.add(TextEdit::singleline(&mut self.wb.filter.query).desired_width(260.0))
                .labelled_by(l.id);
            let status_text = self
                .wb
                .filter
                .status
                .map_or(T::AllStatuses.get(lang), |s| lang.status(s));
            egui::ComboBox::new("status-filter", T::Status.get(lang))
                .selected_text(status_text)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.wb.filter.status, None, T::AllStatuses.get(lang));
                    for s in Status::ALL {
                        ui.selectable_value(&mut self.wb.filter.status, Some(s), lang.status(s));
                    }
                });
            let categories = self.wb.categories();
            let cat_text = self
                .wb
                .filter
                .category
                .as_deref()
                .map(line)
                .unwrap_or_else(|| T::AllCategories.get(lang).to_string());
            egui::ComboBox::new("category-filter", T::Category.get(lang))
                .selected_text(cat_text)
                .show_ui(ui, |ui| {
                    ui.selectable_value(
                        &mut self.wb.filter.category,
                        None,
                        T::AllCategories.get(lang),
                    );
                    for c in categories {
                        ui.selectable_value(
                            &mut self.wb.filter.category,
                            Some(c.clone()),
                            line(&c),
                        );
                    }
                });
        });
        ui.add_space(6.0);
        if self.wb.book.cases.is_empty() {
            ui.label(T::NoCases.get(lang));
            return;
        }
        let mut open = None;
        let rows: Vec<_> = self
            .wb
            .visible_cases()
            .into_iter()
            .map(|(c, k)| {
                (
                    c.id.clone(),
                    line(c.title()),
                    line(c.category()),
                    c.status,
                    c.received_on,
                    k,
                )
            })
            .collect();
        egui::Grid::new("cases")
            .num_columns(7)
            .striped(true)
            .spacing([14.0, 6.0])
            .show(ui, |ui| {
                for h in [
                    T::Title,
                    T::Category,
                    T::Status,
                    T::ReceivedOn,
                    T::AcknowledgeBy,
                    T::FeedbackBy,
                ] {
                    ui.label(RichText::new(h.get(lang)).strong());
                }
                ui.label("");
                ui.end_row();
                for (id, title, category, status, received, clocks) in &rows {
                    ui.vertical(|ui| {
                        ui.set_min_width(300.0);
                        ui.label(RichText::new(title).strong());
                        ui.label(RichText::new(id).monospace().small());
                    });
                    ui.label(category);
                    ui.label(lang.status(*status));
                    ui.label(received.to_string());
                    self.clock(ui, &clocks.acknowledge);
                    self.clock(ui, &clocks.feedback);
                    if ui.button(T::Open.get(lang)).clicked() {
                        open = Some(id.clone());
                    }
                    ui.end_row();
                }
            });
        if let Some(id) = open {
            self.open_case(&id);
        }
    }

    /// Shows a case, and reads whom a reply to it goes to.
    pub fn open_case(&mut self, id: &str) {
        self.wb.open_case(id);
        let r = self.wb.recipients(id);
        self.recipients.insert(id.to_string(), r);
    }

    fn case_view(&mut self, ui: &mut Ui) {
        let lang = self.wb.lang;
        let Some(case) = self.wb.selected_case().cloned() else {
            self.wb.page = Page::Cases;
            return;
        };
        if ui.button(format!("< {}", T::Back.get(lang))).clicked() {
            self.wb.page = Page::Cases;
        }
        ui.heading(line(case.title()));
        let clocks = case.clocks(&self.wb.policy, self.wb.today);
        egui::Grid::new("case-head").num_columns(2).show(ui, |ui| {
            ui.label(T::Case.get(lang));
            ui.label(RichText::new(&case.id).monospace());
            ui.end_row();
            ui.label(T::Category.get(lang));
            ui.label(line(case.category()));
            ui.end_row();
            ui.label(T::Status.get(lang));
            ui.label(lang.status(case.status));
            ui.end_row();
            ui.label(T::ReceivedOn.get(lang));
            ui.label(case.received_on.to_string());
            ui.end_row();
            ui.label(T::AcknowledgeBy.get(lang));
            self.clock(ui, &clocks.acknowledge);
            ui.end_row();
            ui.label(T::FeedbackBy.get(lang));
            self.clock(ui, &clocks.feedback);
            ui.end_row();
        });
        for p in &case.problems {
            ui.colored_label(AMBER, format!("{}: {p}", T::Problems.get(lang)));
        }
        ui.separator();
        if let Some(report) = &case.report {
            ui.label(RichText::new(T::Report.get(lang)).strong());
            ui.label(text(&report.body));
            egui::Grid::new("details").num_columns(2).show(ui, |ui| {
                if let Some(d) = &report.details {
                    for (label, value) in [
                        (T::What, &d.what),
                        (T::Who, &d.who),
                        (T::When, &d.when),
                        (T::Where, &d.r#where),
                        (T::How, &d.how),
                    ] {
                        if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
                            ui.label(RichText::new(label.get(lang)).strong());
                            ui.label(text(v));
                            ui.end_row();
                        }
                    }
                }
                if let Some(c) = report.contact.as_deref().filter(|c| !c.trim().is_empty()) {
                    ui.label(RichText::new(T::Contact.get(lang)).strong());
                    ui.label(text(c));
                    ui.end_row();
                }
            });
        }
        self.attachments(ui, "report", &case.attachments);
        ui.separator();
        self.thread(ui, &case);
        ui.separator();
        self.answer_form(ui, &case);
    }

    fn attachments(&mut self, ui: &mut Ui, salt: &str, list: &[wbs_casebook::Attachment]) {
        if list.is_empty() {
            return;
        }
        let lang = self.wb.lang;
        ui.label(RichText::new(T::Attachments.get(lang)).strong());
        for att in list {
            ui.push_id((salt, att.index), |ui| {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(RichText::new(line(&att.name)).strong());
                        ui.label(format!("{}: {}", T::Type.get(lang), line(&att.media_type)));
                        ui.label(format!("{}: {}", T::Size.get(lang), human_size(att.size)));
                    });
                    ui.label(
                        RichText::new(format!("SHA-256 {}", att.sha256))
                            .monospace()
                            .small(),
                    );
                    let Some(path) = att.path.clone() else {
                        ui.colored_label(AMBER, T::NotYetArrived.get(lang));
                        return;
                    };
                    let handling = Workbench::handling(att);
                    match &handling {
                        Handling::Dangerous(why) => {
                            ui.label(
                                RichText::new(format!("(!) {} ({why})", T::Dangerous.get(lang)))
                                    .color(RED)
                                    .strong(),
                            );
                            ui.label(T::SaveWarning.get(lang));
                        }
                        Handling::SaveOnly => {
                            ui.colored_label(AMBER, T::SaveWarning.get(lang));
                        }
                        Handling::Image => {
                            let shown = self.previews_shown.get(&path).copied().unwrap_or(false);
                            if ui.selectable_label(shown, T::Preview.get(lang)).clicked() {
                                self.previews_shown.insert(path.clone(), !shown);
                            }
                            if shown {
                                self.draw_preview(ui, att, &path);
                            }
                        }
                    }
                    if ui.button(T::SaveElsewhere.get(lang)).clicked() {
                        self.wb.saving = Some((path.clone(), att.name.clone()));
                        self.wb.choose(Purpose::SaveAttachment);
                    }
                });
            });
        }
    }

    fn draw_preview(&mut self, ui: &mut Ui, att: &wbs_casebook::Attachment, path: &PathBuf) {
        if !self.textures.contains_key(path) {
            match self.wb.preview(att) {
                Some(Preview::Pixels(px)) => {
                    let image = egui::ColorImage::from_rgba_unmultiplied(
                        [px.width as usize, px.height as usize],
                        &px.rgba,
                    );
                    let tex = ui.ctx().load_texture(
                        format!("preview-{}", path.display()),
                        image,
                        egui::TextureOptions::LINEAR,
                    );
                    self.textures.insert(path.clone(), tex);
                }
                Some(Preview::Failed(e)) => {
                    ui.colored_label(AMBER, e.clone());
                    return;
                }
                None => return,
            }
        }
        if let Some(tex) = self.textures.get(path) {
            let size = tex.size_vec2();
            let scale = (480.0 / size.x).min(360.0 / size.y).min(1.0);
            ui.image((tex.id(), size * scale));
        }
    }

    fn thread(&mut self, ui: &mut Ui, case: &Case) {
        let lang = self.wb.lang;
        ui.label(RichText::new(T::Thread.get(lang)).strong());
        // Follow-ups and replies by day. WBS keeps days, not hours: on one
        // day the order is not known, and a reply is shown first (a follow-up
        // on the day of a reply usually answers it).
        enum Entry<'a> {
            FollowUp(&'a wbs_casebook::FollowUpEntry),
            Reply(&'a wbs_casebook::SentReply),
        }
        let mut entries: Vec<(Option<Day>, u8, Entry)> = case
            .followups
            .iter()
            .map(|f| (f.on, 1, Entry::FollowUp(f)))
            .chain(case.replies_sent.iter().map(|r| (r.on, 0, Entry::Reply(r))))
            .collect();
        entries.sort_by_key(|(on, k, _)| (*on, *k));
        if entries.is_empty() {
            ui.label(T::NoThread.get(lang));
        }
        for (on, _, entry) in entries {
            let day = on.map(|d| d.to_string()).unwrap_or_default();
            egui::Frame::group(ui.style()).show(ui, |ui| match entry {
                Entry::FollowUp(f) => {
                    let mut head = format!("{} #{} · {day}", T::FollowUp.get(lang), f.n);
                    if !f.authenticated {
                        head.push_str(" · ");
                        head.push_str(T::OlderClient.get(lang));
                    }
                    ui.label(RichText::new(head).strong());
                    ui.label(text(&f.body));
                    let salt = format!("followup-{}", f.n);
                    self.attachments(ui, &salt, &f.attachments);
                }
                Entry::Reply(r) => {
                    let mut head = format!("{} · {day}", T::ReplySent.get(lang));
                    if let Some(s) = r.status {
                        head.push_str(&format!(
                            " · {}: {}",
                            T::NewStatus.get(lang),
                            lang.status(s)
                        ));
                    }
                    ui.label(RichText::new(head).strong());
                    ui.label(text(&r.body));
                }
            });
        }
        if case.unverified > 0 {
            ui.add_space(6.0);
            egui::Frame::group(ui.style())
                .stroke(egui::Stroke::new(2.0, RED))
                .show(ui, |ui| {
                    ui.label(
                        RichText::new(format!(
                            "(!) {} ({})",
                            T::Unverified.get(lang),
                            case.unverified
                        ))
                        .color(RED)
                        .strong(),
                    );
                    ui.label(T::UnverifiedHelp.get(lang));
                    let key = (case.id.clone(), case.unverified);
                    let entries = self
                        .unverified
                        .entry(key)
                        .or_insert_with(|| Workbench::unverified_entries(case));
                    for (name, body) in entries.iter() {
                        // Closed until asked for: its text may be written to
                        // mislead.
                        egui::CollapsingHeader::new(RichText::new(line(name)).monospace())
                            .id_salt(("unverified", name))
                            .default_open(false)
                            .show(ui, |ui| {
                                ui.label(RichText::new(T::Unverified.get(lang)).color(RED));
                                ui.label(text(body));
                            });
                    }
                });
        }
    }

    fn answer_form(&mut self, ui: &mut Ui, case: &Case) {
        let lang = self.wb.lang;
        ui.label(RichText::new(T::Answer.get(lang)).strong());
        let recipients = self
            .recipients
            .entry(case.id.clone())
            .or_insert_with(|| self.wb.recipients(&case.id))
            .clone();
        let recipients = match recipients {
            Ok(r) => r,
            Err(e) => {
                ui.colored_label(RED, format!("{}: {e}", T::NotAnswerable.get(lang)));
                return;
            }
        };
        let draft = self.wb.drafts.entry(case.id.clone()).or_default();
        let l = ui.label(T::ReplyText.get(lang));
        ui.add(
            TextEdit::multiline(&mut *draft.body)
                .desired_rows(5)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(l.id);
        ui.horizontal(|ui| {
            let text = draft
                .status
                .map_or(T::Unchanged.get(lang), |s| lang.status(s));
            egui::ComboBox::new("new-status", T::NewStatus.get(lang))
                .selected_text(text)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut draft.status, None, T::Unchanged.get(lang));
                    for s in Status::ALL {
                        ui.selectable_value(&mut draft.status, Some(s), lang.status(s));
                    }
                });
        });
        ui.label(RichText::new(T::EncryptedTo.get(lang)).strong());
        for (i, r) in recipients.iter().enumerate() {
            let who = if i == 0 { T::Reporter } else { T::Inspectorate };
            ui.label(
                RichText::new(format!("{}: {r}", who.get(lang)))
                    .monospace()
                    .small(),
            );
        }
        if ui.button(T::AddToAnswers.get(lang)).clicked() {
            let _ = self.wb.queue_answer(&case.id);
        }
    }

    fn answers(&mut self, ui: &mut Ui) {
        let lang = self.wb.lang;
        ui.heading(T::PendingAnswers.get(lang));
        if self.wb.pending.is_empty() {
            ui.label(T::NoPending.get(lang));
        }
        let mut remove = None;
        for (i, a) in self.wb.pending.iter().enumerate() {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                let title = line(self.wb.book.get(&a.case_id).map_or("", |c| c.title()));
                ui.label(RichText::new(format!("{title} ({})", a.case_id)).strong());
                if let Some(s) = a.status {
                    ui.label(format!("{}: {}", T::NewStatus.get(lang), lang.status(s)));
                }
                ui.label(text(&a.body));
                ui.label(
                    RichText::new(format!(
                        "{}: {}",
                        T::EncryptedTo.get(lang),
                        a.recipients.join(", ")
                    ))
                    .small(),
                );
                if ui.button(T::Remove.get(lang)).clicked() {
                    remove = Some(i);
                }
            });
        }
        if let Some(i) = remove {
            self.wb.pending.remove(i);
        }
        if !self.wb.pending.is_empty() && ui.button(T::SaveBundle.get(lang)).clicked() {
            self.wb.choose(Purpose::SaveAnswers);
        }
    }

    fn statistics(&mut self, ui: &mut Ui) {
        let lang = self.wb.lang;
        ui.heading(T::Statistics.get(lang));
        ui.horizontal(|ui| {
            let l = ui.label(T::From.get(lang));
            ui.add(TextEdit::singleline(&mut self.wb.stats.from).desired_width(100.0))
                .labelled_by(l.id);
            let l = ui.label(T::To.get(lang));
            ui.add(TextEdit::singleline(&mut self.wb.stats.to).desired_width(100.0))
                .labelled_by(l.id);
            ui.checkbox(&mut self.wb.stats.publish, T::ForPublication.get(lang));
        });
        let (_, figures) = match self.wb.figures() {
            Ok(f) => f,
            Err(e) => {
                ui.colored_label(RED, e);
                return;
            }
        };
        let p = figures.publish;
        ui.label(
            RichText::new(format!(
                "{}: {}",
                T::Received.get(lang),
                figures.received.text(p)
            ))
            .strong(),
        );
        let max = figures
            .per_month
            .iter()
            .chain(&figures.per_category)
            .chain(&figures.per_channel)
            .chain(&figures.status_now)
            .map(|r| r.count)
            .max()
            .unwrap_or(1)
            .max(1);
        let status_rows: Vec<Row> = figures
            .status_now
            .iter()
            .map(|r| Row {
                key: Status::parse(&r.key).map_or(r.key.clone(), |s| lang.status(s).to_string()),
                ..r.clone()
            })
            .collect();
        for (title, rows) in [
            (T::PerMonth.get(lang), &figures.per_month),
            (T::Category.get(lang), &figures.per_category),
            (T::Channel.get(lang), &figures.per_channel),
            (T::Status.get(lang), &status_rows),
        ] {
            ui.add_space(6.0);
            ui.label(RichText::new(title).strong());
            egui::Grid::new(title).num_columns(3).show(ui, |ui| {
                for r in rows {
                    ui.label(&r.key);
                    ui.label(r.value.text(p));
                    bar(ui, &r.value, r.count, max);
                    ui.end_row();
                }
            });
        }
        ui.add_space(6.0);
        egui::Grid::new("durations").num_columns(4).show(ui, |ui| {
            for h in [
                "",
                T::CaseCount.get(lang),
                T::Median.get(lang),
                T::P90.get(lang),
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for (name, s) in [
                (T::DaysToAcknowledge, &figures.days_to_acknowledge),
                (T::DaysToClose, &figures.days_to_close),
            ] {
                ui.label(name.get(lang));
                ui.label(s.cases.text(p));
                ui.label(s.median.text(p));
                ui.label(s.p90.text(p));
                ui.end_row();
            }
        });
        ui.add_space(6.0);
        egui::Grid::new("shares").num_columns(3).show(ui, |ui| {
            for (name, s) in [
                (T::AcknowledgedInTime, &figures.acknowledged_in_time),
                (T::AnsweredInTime, &figures.answered_in_time),
            ] {
                ui.label(name.get(lang));
                ui.label(format!(
                    "{} {} {}",
                    s.within.text(p),
                    T::WithinOf.get(lang),
                    s.of.text(p)
                ));
                let pct = s.percent.text(p);
                ui.label(if pct.is_empty() {
                    pct
                } else {
                    format!("{pct} %")
                });
                ui.end_row();
            }
        });
        ui.add_space(8.0);
        if ui.button(T::ExportCsv.get(lang)).clicked() {
            self.wb.choose(Purpose::ExportStats);
        }
    }
}

/// One line of text from a bundle, as shown: line breaks become spaces,
/// and bidirectional and other control characters, which could make
/// `invoice\u{202e}fdp.exe` read as `invoiceexe.pdf`, are shown by their
/// code, `[U+202E]` (the characters are those of `wbs_protocol::text`; the
/// default fonts have no U+FFFD to draw as the command lines do).
pub fn line(s: &str) -> String {
    shown(s, false)
}

/// Several lines of text from a bundle, as shown (see [`line`]).
pub fn text(s: &str) -> String {
    shown(&s.replace("\r\n", "\n"), true)
}

fn shown(s: &str, keep_lines: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' if keep_lines => out.push(c),
            '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}' => out.push(' '),
            c if wbs_protocol::text::is_unsafe_char(c) => {
                out.push_str(&format!("[U+{:04X}]", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// A bar for a count; none for a count that is hidden.
fn bar(ui: &mut Ui, shown: &Shown, count: u64, max: u64) {
    if !matches!(shown, Shown::Count(_)) {
        ui.label("");
        return;
    }
    let width = 240.0 * count as f32 / max as f32;
    let (rect, _) = ui.allocate_exact_size(egui::vec2(240.0, 12.0), egui::Sense::hover());
    let mut filled = rect;
    filled.set_width(width.max(1.0));
    ui.painter()
        .rect_filled(filled, 2.0, Color32::from_rgb(0x2d, 0x5b, 0x8a));
}

/// `1.5 MiB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        App::ui(self, ui);
    }
}
