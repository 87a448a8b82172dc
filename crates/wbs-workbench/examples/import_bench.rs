//! The workbench importing an export bundle, for the benchmark suite
//! (bench/, `scripts/bench.sh`): the app's own state and drawing code in
//! the headless harness, unlocked with an identity, importing through the
//! same call as the file chooser, then showing the case. The suite runs it
//! under `/usr/bin/time -v` and records its peak RSS (docs/BENCHMARKS.md):
//! importing a bundle with a 1 GiB attachment must not make the app grow.
//!
//! `import_bench BUNDLE IDENTITY CASE-FOLDER`

use std::path::PathBuf;

use egui_kittest::Harness;
use wbs_casebook::Day;
use wbs_workbench::model::Workbench;
use wbs_workbench::ui::App;

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [bundle, identity, folder] = args.as_slice() else {
        eprintln!("usage: import_bench BUNDLE IDENTITY CASE-FOLDER");
        std::process::exit(2);
    };
    let wb = Workbench::new(Some(identity), folder, Day::today());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.ui(ui), App::new(wb));
    h.run();
    if let Err(e) = h.state_mut().wb.unlock() {
        eprintln!("import_bench: unlock: {e}");
        std::process::exit(1);
    }
    let stats = match h.state_mut().wb.import(bundle) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("import_bench: import: {e}");
            std::process::exit(1);
        }
    };
    h.run();
    // Show the case with its attachments, as the investigator would next.
    let id = h.state().wb.book.cases.first().map(|c| c.id.clone());
    if let Some(id) = id {
        h.state_mut().open_case(&id);
        h.run();
    }
    println!(
        "imported {} case(s), {} attachment(s)",
        stats.cases, stats.attachments
    );
}
