//! The workbench's window. Everything it does is in the library.
#![forbid(unsafe_code)]

fn main() -> eframe::Result<()> {
    wbs_workbench::run_native()
}
