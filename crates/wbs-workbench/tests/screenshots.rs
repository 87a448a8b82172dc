//! Screenshots of the workbench for docs/INVESTIGATORS.md, made from the
//! headless harness on the real flow (server, `wbs-report`, `wbs-desk`).
//! egui draws triangles; this file rasterises them on the CPU, so the
//! pictures need no GPU, no display and no Vulkan driver.
//!
//! Every run renders each page and checks the picture is not blank; with
//! `WBS_SCREENSHOTS=1` the pictures are also written to docs/screenshots/
//! (`WBS_SCREENSHOTS=1 cargo test -p wbs-workbench --test screenshots`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use egui::epaint::{ClippedPrimitive, Primitive};
use egui::{Color32, TextureId, TexturesDelta};
use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, TestRenderer};
use wbs_casebook::Day;
use wbs_e2e::{run_ok, ServerOptions, TestServer};
use wbs_workbench::model::{Page, Workbench};
use wbs_workbench::ui::App;

type Textures = Rc<RefCell<HashMap<TextureId, (usize, usize, Vec<Color32>)>>>;

/// Keeps every texture egui sends (font atlas, previews).
struct Capture(Textures);

impl TestRenderer for Capture {
    fn handle_delta(&mut self, delta: &mut TexturesDelta) {
        let mut tex = self.0.borrow_mut();
        for (id, d) in delta
            .set
            .iter()
            .flat_map(|(id, ds)| ds.iter().map(move |d| (id, d)))
        {
            let egui::ImageData::Color(img) = &d.image;
            let [w, h] = img.size;
            match d.pos {
                None => {
                    tex.insert(*id, (w, h, img.pixels.clone()));
                }
                Some([x0, y0]) => {
                    if let Some((tw, _, px)) = tex.get_mut(id) {
                        for y in 0..h {
                            for x in 0..w {
                                px[(y0 + y) * *tw + x0 + x] = img.pixels[y * w + x];
                            }
                        }
                    }
                }
            }
        }
        for id in &delta.free {
            tex.remove(id);
        }
        delta.clear();
    }
}

fn to_f(c: Color32) -> [f32; 4] {
    [c.r(), c.g(), c.b(), c.a()].map(|v| v as f32 / 255.0)
}

/// Draws egui's triangles into an RGBA picture (premultiplied alpha,
/// blended in gamma space, textures sampled nearest).
fn rasterise(
    prims: &[ClippedPrimitive],
    textures: &Textures,
    width: usize,
    height: usize,
    ppp: f32,
    background: Color32,
) -> image::RgbaImage {
    let bg = to_f(background);
    let mut buf = vec![bg; width * height];
    let tex = textures.borrow();
    for p in prims {
        let Primitive::Mesh(mesh) = &p.primitive else {
            continue;
        };
        let texture = tex.get(&mesh.texture_id);
        let clip = p.clip_rect;
        let (cx0, cy0) = ((clip.min.x * ppp).max(0.0), (clip.min.y * ppp).max(0.0));
        let (cx1, cy1) = (
            (clip.max.x * ppp).min(width as f32),
            (clip.max.y * ppp).min(height as f32),
        );
        for tri in mesh.indices.chunks_exact(3) {
            let v = [0, 1, 2].map(|i| &mesh.vertices[tri[i] as usize]);
            let pos = v.map(|v| (v.pos.x * ppp, v.pos.y * ppp));
            let area = (pos[1].0 - pos[0].0) * (pos[2].1 - pos[0].1)
                - (pos[2].0 - pos[0].0) * (pos[1].1 - pos[0].1);
            if area.abs() < 1e-6 {
                continue;
            }
            let minx = pos
                .iter()
                .map(|p| p.0)
                .fold(f32::MAX, f32::min)
                .max(cx0)
                .floor() as i64;
            let maxx = pos
                .iter()
                .map(|p| p.0)
                .fold(f32::MIN, f32::max)
                .min(cx1)
                .ceil() as i64;
            let miny = pos
                .iter()
                .map(|p| p.1)
                .fold(f32::MAX, f32::min)
                .max(cy0)
                .floor() as i64;
            let maxy = pos
                .iter()
                .map(|p| p.1)
                .fold(f32::MIN, f32::max)
                .min(cy1)
                .ceil() as i64;
            let colors = v.map(|v| to_f(v.color));
            for y in miny.max(0)..maxy.min(height as i64) {
                for x in minx.max(0)..maxx.min(width as i64) {
                    let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                    if px < cx0 || px >= cx1 || py < cy0 || py >= cy1 {
                        continue;
                    }
                    let edge = |a: (f32, f32), b: (f32, f32)| {
                        (b.0 - a.0) * (py - a.1) - (b.1 - a.1) * (px - a.0)
                    };
                    let w0 = edge(pos[1], pos[2]) / area;
                    let w1 = edge(pos[2], pos[0]) / area;
                    let w2 = edge(pos[0], pos[1]) / area;
                    if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                        continue;
                    }
                    let mut c = [0.0f32; 4];
                    for (k, ck) in c.iter_mut().enumerate() {
                        *ck = w0 * colors[0][k] + w1 * colors[1][k] + w2 * colors[2][k];
                    }
                    if let Some((tw, th, tp)) = texture {
                        let u = w0 * v[0].uv.x + w1 * v[1].uv.x + w2 * v[2].uv.x;
                        let t = w0 * v[0].uv.y + w1 * v[1].uv.y + w2 * v[2].uv.y;
                        let tx = ((u * *tw as f32) as usize).min(tw - 1);
                        let ty = ((t * *th as f32) as usize).min(th - 1);
                        let s = to_f(tp[ty * tw + tx]);
                        for k in 0..4 {
                            c[k] *= s[k];
                        }
                    }
                    let d = &mut buf[y as usize * width + x as usize];
                    for k in 0..4 {
                        d[k] = c[k] + d[k] * (1.0 - c[3]);
                    }
                }
            }
        }
    }
    image::RgbaImage::from_fn(width as u32, height as u32, |x, y| {
        let c = buf[y as usize * width + x as usize];
        image::Rgba(c.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8))
    })
}

const W: f32 = 1280.0;
const H: f32 = 860.0;

struct Shooter {
    textures: Textures,
    out: Option<PathBuf>,
    scratch: PathBuf,
}

impl Shooter {
    fn shoot(&self, h: &mut Harness<'_, App>, name: &str, height: f32) {
        h.set_size(egui::vec2(W, height));
        h.run();
        let ppp = h.ctx.pixels_per_point();
        let shapes = h.output().shapes.clone();
        let prims = h.ctx.tessellate(shapes, ppp);
        let bg = h.ctx.style_of(h.ctx.theme()).visuals.panel_fill;
        let img = rasterise(
            &prims,
            &self.textures,
            (W * ppp) as usize,
            (height * ppp) as usize,
            ppp,
            bg,
        );
        // Not blank: text, panels and colours.
        let mut colours: Vec<[u8; 4]> = img.pixels().map(|p| p.0).collect();
        colours.sort();
        colours.dedup();
        assert!(colours.len() > 20, "{name}: only {} colours", colours.len());
        img.save(self.scratch.join(format!("{name}.png"))).unwrap();
        if let Some(dir) = &self.out {
            img.save(dir.join(format!("{name}.png"))).unwrap();
        }
    }
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([(40 + x * 180 / w) as u8, (90 + y * 120 / h) as u8, 170, 255])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn submit(
    server: &TestServer,
    w: &Path,
    title: &str,
    category: &str,
    body: &str,
    attach: &[&Path],
) -> String {
    let msg = w.join(format!("{title}.txt"));
    std::fs::write(&msg, body).unwrap();
    let mut cmd = server.cli("wbs-report", "submit");
    cmd.arg("--message")
        .arg(&msg)
        .args(["--title", title, "--category", category]);
    for a in attach {
        cmd.arg("--attach").arg(a);
    }
    let out = run_ok(&mut cmd);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn screenshots_of_every_page() {
    let server = TestServer::start(ServerOptions::default());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::write(w.join("foto-kuitansi.png"), png(360, 220)).unwrap();
    std::fs::write(w.join("run.exe"), b"MZ\x90\x00 a program").unwrap();
    std::fs::write(w.join("invoice.pdf"), b"%PDF-1.4 invoice").unwrap();
    let receipt = submit(
        &server,
        w,
        "Pungli izin usaha",
        "illegal_levy",
        "Kepala seksi perizinan meminta uang pelicin Rp 2.000.000 agar izin usaha cepat terbit. \
         Saksi: dua orang pemohon lain.",
        &[
            &w.join("foto-kuitansi.png"),
            &w.join("run.exe"),
            &w.join("invoice.pdf"),
        ],
    );
    submit(
        &server,
        w,
        "Pengadaan laptop digelembungkan",
        "procurement",
        "Harga laptop di kontrak dua kali harga pasar.",
        &[],
    );
    submit(
        &server,
        w,
        "Perjalanan dinas fiktif",
        "corruption",
        "Tiket dan hotel tidak pernah dipakai.",
        &[],
    );
    let export = w.join("export-1.tar");
    run_ok(
        server
            .cli("wbs-desk", "pull")
            .arg("--out")
            .arg(&export)
            .arg("--all"),
    );

    let textures: Textures = Rc::default();
    let out = std::env::var_os("WBS_SCREENSHOTS").map(|_| {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("workbench-screenshots");
    std::fs::create_dir_all(&scratch).unwrap();
    let shooter = Shooter {
        textures: textures.clone(),
        out,
        scratch,
    };

    let cases = w.join("kasus");
    let wb = Workbench::new(Some(&server.keys[0].identity_file), &cases, Day::today());
    let mut h = Harness::builder()
        .with_size(egui::vec2(W, H))
        .with_pixels_per_point(1.0)
        .with_theme(egui::Theme::Light)
        .renderer(Capture(textures))
        .build_ui_state(|ui, app: &mut App| app.ui(ui), App::new(wb));
    h.run();
    // The paths of a real machine, for the picture only.
    let (identity, folder) = {
        let wb = &mut h.state_mut().wb;
        let real = (wb.identity_path.clone(), wb.folder_path.clone());
        wb.identity_path = "/media/usb/inspektorat-2026.key".into();
        wb.folder_path = "/home/pemeriksa/wbs-cases".into();
        wb.passphrase.push_str("frasa sandi");
        real
    };
    shooter.shoot(&mut h, "workbench-unlock", 560.0);
    {
        let wb = &mut h.state_mut().wb;
        (wb.identity_path, wb.folder_path) = (identity, folder);
        wb.passphrase.clear();
    }
    h.get_by_label("Buka kunci").click();
    h.run();
    h.state_mut().wb.import(&export).unwrap();
    assert_eq!(h.state().wb.book.cases.len(), 3);

    // Answer two cases into one bundle, push it, and let the reporter of
    // the first follow up; the next bundle is merged in. Then look at the
    // list nine days on, when the unanswered case is overdue.
    let id_of = |h: &Harness<'_, App>, title: &str| {
        h.state()
            .wb
            .book
            .cases
            .iter()
            .find(|c| c.title() == title)
            .unwrap()
            .id
            .clone()
    };
    for (title, body, status) in [
        (
            "Pungli izin usaha",
            "Terima kasih. Mohon kirim nomor permohonan izin Anda.",
            wbs_protocol::Status::NeedInfo,
        ),
        (
            "Perjalanan dinas fiktif",
            "Terima kasih, laporan sedang kami telaah.",
            wbs_protocol::Status::InReview,
        ),
    ] {
        let id = id_of(&h, title);
        h.state_mut().open_case(&id);
        h.state_mut().wb.drafts.entry(id.clone()).or_default().body =
            zeroize::Zeroizing::new(body.into());
        h.state_mut().wb.drafts.get_mut(&id).unwrap().status = Some(status);
        h.state_mut().wb.queue_answer(&id).unwrap();
    }
    let bundle = h.state_mut().wb.save_answers(w).unwrap();
    run_ok(server.cli("wbs-desk", "push").arg(&bundle));
    std::fs::write(
        w.join("susulan.txt"),
        "Nomor permohonan: 503/123/2026. Kuitansi terlampir di laporan pertama.",
    )
    .unwrap();
    run_ok(
        server
            .cli("wbs-report", "follow-up")
            .arg("--receipt")
            .arg(&receipt)
            .arg("--message")
            .arg(w.join("susulan.txt")),
    );
    let second = w.join("export-2.tar");
    run_ok(server.cli("wbs-desk", "pull").arg("--out").arg(&second));
    h.state_mut().wb.import(&second).unwrap();
    h.state_mut().wb.notice = None;
    h.state_mut().wb.today = Day::today().plus_days(9);
    h.state_mut().wb.page = Page::Cases;
    shooter.shoot(&mut h, "workbench-cases", 760.0);

    let id = id_of(&h, "Pungli izin usaha");
    h.state_mut().open_case(&id);
    h.run();
    h.get_by_label("Pratinjau").click();
    h.run();
    h.state_mut().wb.drafts.entry(id.clone()).or_default().body = zeroize::Zeroizing::new(
        "Terima kasih, nomor sudah kami terima. Kasus kami selidiki.".into(),
    );
    h.state_mut().wb.drafts.get_mut(&id).unwrap().status =
        Some(wbs_protocol::Status::Investigating);
    shooter.shoot(&mut h, "workbench-case", 1250.0);
    // Two cases' answers, waiting for one bundle.
    h.state_mut().wb.queue_answer(&id).unwrap();
    let other = id_of(&h, "Pengadaan laptop digelembungkan");
    h.state_mut().open_case(&other);
    h.state_mut()
        .wb
        .drafts
        .entry(other.clone())
        .or_default()
        .body =
        zeroize::Zeroizing::new("Terima kasih atas laporan Anda. Kami sedang menelaahnya.".into());
    h.state_mut().wb.drafts.get_mut(&other).unwrap().status = Some(wbs_protocol::Status::InReview);
    h.state_mut().wb.queue_answer(&other).unwrap();
    h.state_mut().wb.page = Page::Answers;
    shooter.shoot(&mut h, "workbench-answers", 760.0);

    h.state_mut().wb.page = Page::Statistics;
    h.state_mut().wb.stats.publish = false;
    shooter.shoot(&mut h, "workbench-statistics", 1180.0);

    h.get_by_label("English").click();
    h.run();
    h.state_mut().wb.page = Page::Cases;
    shooter.shoot(&mut h, "workbench-cases-en", 760.0);
}
