//! `wbs-workbench`: the investigators' desktop app on the air-gapped
//! machine. It unlocks the inspectorate's identity, imports the export
//! bundles the online desk carried over by USB into a case folder it
//! manages (through `wbs-inspect`'s `open`), lists the cases with their
//! legal deadlines (`wbs-casebook`), shows each case's report and verified
//! thread, writes the answers into reply bundles (`wbs-inspect`'s `reply`)
//! and shows and exports the statistics.
//!
//! It must **never touch a network**: it has no networking code and no
//! networking crate in its dependency tree (`tests/no_network.rs`), and
//! it never starts another program, so a reporter's file is never opened by
//! anything (`tests/no_process.rs`). Images are previewed only after being
//! decoded here and re-encoded to plain pixels (`attachment`).
//!
//! The state and every action live in [`model::Workbench`]; [`ui::App`]
//! only draws them, so the behaviour is tested without a window, and the
//! window itself headless with `egui_kittest`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod attachment;
pub mod i18n;
pub mod model;
pub mod picker;
pub mod ui;

use std::path::PathBuf;

/// Opens the window. `wbs-workbench [IDENTITY.key [CASE-FOLDER]]`
/// fills in the unlock screen.
pub fn run_native() -> eframe::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let identity = args.next().map(PathBuf::from);
    let folder = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(default_folder);
    let wb = model::Workbench::new(identity.as_deref(), &folder, wbs_casebook::Day::today());
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("WBS")
            .with_inner_size([1200.0, 800.0]),
        ..Default::default()
    };
    eframe::run_native(
        "wbs-workbench",
        options,
        Box::new(|cc| {
            cc.egui_ctx.set_theme(egui::Theme::Light);
            Ok(Box::new(ui::App::new(wb)))
        }),
    )
}

/// `~/wbs-cases`: where the case book lives unless told otherwise.
fn default_folder() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join("wbs-cases")
}
