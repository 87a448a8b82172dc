//! Known answers over a constructed set of cases.

use super::*;

fn d(s: &str) -> Day {
    Day::parse(s).unwrap()
}

fn case(
    received: &str,
    category: &str,
    channel: &str,
    history: &[(Status, &str)],
    replies: &[&str],
) -> StatsCase {
    let mut h: Vec<(Status, Day)> = vec![(Status::Received, d(received))];
    h.extend(history.iter().map(|(s, on)| (*s, d(on))));
    StatsCase {
        category: category.into(),
        channel: channel.into(),
        status: h.last().unwrap().0,
        facts: CaseFacts {
            received_on: d(received),
            history: h,
            replies: replies.iter().map(|r| d(r)).collect(),
        },
    }
}

/// A: acknowledged on day 3 by a reply, feedback by a second reply,
///    closed substantiated on day 55.
/// B: acknowledged late (status change on day 10), feedback overdue.
/// C: never acknowledged: both clocks overdue.
/// D: acknowledged by a reply on day 2, rejected on day 6 (feedback met
///    by the closing status: the acknowledging reply alone is none).
/// E: forwarded on day 2 (acknowledges and gives feedback at once).
/// F: received before the period: left out.
/// G: acknowledged on day 1; its feedback clock still runs on `today`.
fn book() -> Vec<StatsCase> {
    vec![
        case(
            "2026-01-05",
            "procurement",
            "web",
            &[(Status::ClosedSubstantiated, "2026-03-01")],
            &["2026-01-08", "2026-02-01"],
        ),
        case(
            "2026-01-10",
            "procurement",
            "web",
            &[(Status::InReview, "2026-01-20")],
            &[],
        ),
        case("2026-02-02", "procurement", "cli", &[], &[]),
        case(
            "2026-02-14",
            "licensing",
            "cli",
            &[(Status::Rejected, "2026-02-20")],
            &["2026-02-16"],
        ),
        case(
            "2026-03-03",
            "procurement",
            "unknown",
            &[(Status::Forwarded, "2026-03-05")],
            &[],
        ),
        case("2025-12-30", "procurement", "web", &[], &[]),
        case(
            "2026-03-30",
            "procurement",
            "web",
            &[(Status::InReview, "2026-03-31")],
            &["2026-03-31"],
        ),
    ]
}

fn stats(policy: &Policy) -> Stats {
    Stats::compute(
        &book(),
        policy,
        d("2026-01-01"),
        d("2026-03-31"),
        d("2026-06-30"),
    )
}

#[test]
fn percentiles_by_nearest_rank() {
    let ten: Vec<i64> = (1..=10).collect();
    assert_eq!(percentile(&ten, 50), Some(5));
    assert_eq!(percentile(&ten, 90), Some(9));
    assert_eq!(percentile(&ten, 100), Some(10));
    assert_eq!(percentile(&[7], 90), Some(7));
    assert_eq!(percentile(&[1, 2], 50), Some(1), "the lower middle value");
    assert_eq!(
        percentile(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90),
        Some(10)
    );
    assert_eq!(percentile(&[], 50), None);
}

#[test]
fn known_answers_for_the_inspectorate() {
    let s = stats(&Policy::default());
    assert_eq!(s.received, 6, "F was received before the period");
    assert_eq!(
        s.per_month,
        vec![
            ("2026-01".to_string(), 2),
            ("2026-02".to_string(), 2),
            ("2026-03".to_string(), 2)
        ]
    );
    assert_eq!(
        s.per_category,
        vec![("licensing".to_string(), 1), ("procurement".to_string(), 5)]
    );
    assert_eq!(
        s.per_channel,
        vec![
            ("web".to_string(), 3),
            ("cli".to_string(), 2),
            ("unknown".to_string(), 1)
        ]
    );
    assert_eq!(s.status_count(Status::Received), 1);
    assert_eq!(s.status_count(Status::InReview), 2);
    assert_eq!(s.status_count(Status::ClosedSubstantiated), 1);
    assert_eq!(s.status_count(Status::Rejected), 1);
    assert_eq!(s.status_count(Status::Forwarded), 1);
    assert_eq!(s.status_count(Status::ClosedUnsubstantiated), 0);
    // Days to acknowledge: A 3, B 10, D 2, E 2, G 1 (C never).
    assert_eq!(
        s.days_to_acknowledge,
        Summary {
            cases: 5,
            median: Some(2),
            p90: Some(10)
        }
    );
    // Days to close: A 55, D 6, E 2.
    assert_eq!(
        s.days_to_close,
        Summary {
            cases: 3,
            median: Some(6),
            p90: Some(55)
        }
    );
    // Acknowledgement: every clock has ended; B late, C overdue.
    assert_eq!(s.acknowledged_in_time, Share { within: 4, of: 6 });
    // Feedback: G's clock still runs (due today); B and C overdue.
    assert_eq!(s.answered_in_time, Share { within: 3, of: 5 });

    let f = s.figures(false);
    let csv = f.to_csv(&s);
    for line in [
        "section,item,value,cases",
        "period,mode,internal,",
        "received,total,6,",
        "received_per_month,2026-01,2,",
        "received_per_category,licensing,1,",
        "received_per_channel,unknown,1,",
        "status_now,in_review,2,",
        "outcome,rejected,1,",
        "days_to_acknowledge,median,2,5",
        "days_to_acknowledge,p90,10,5",
        "days_to_close,median,6,3",
        "days_to_close,p90,55,3",
        "acknowledged_in_time,within,4,6",
        "acknowledged_in_time,percent,66.7,6",
        "answered_in_time,percent,60.0,5",
    ] {
        assert!(csv.lines().any(|l| l == line), "{line:?} missing in\n{csv}");
    }
}

#[test]
fn publication_hides_small_counts_and_what_would_reveal_them() {
    let s = stats(&Policy::default());
    let f = s.figures(true);
    assert_eq!(f.received, Shown::Count(6));
    assert!(f.per_month.iter().all(|r| r.value == Shown::Hidden(3)));
    // Licensing (1) merges into "other"; "other" alone hidden would be
    // 6 − 5, so procurement is hidden too.
    assert_eq!(
        f.per_category
            .iter()
            .map(|r| (r.key.as_str(), r.value))
            .collect::<Vec<_>>(),
        vec![
            ("procurement", Shown::Hidden(3)),
            ("other", Shown::Hidden(3))
        ]
    );
    // cli (2) and unknown (1) merge into other (3), shown.
    assert_eq!(
        f.per_channel
            .iter()
            .map(|r| (r.key.as_str(), r.value))
            .collect::<Vec<_>>(),
        vec![("web", Shown::Count(3)), ("other", Shown::Count(3))]
    );
    assert!(f.status_now.iter().all(|r| r.value == Shown::Hidden(3)));
    assert_eq!(f.outcomes.len(), 4);
    assert_eq!(f.days_to_acknowledge.median, Shown::Days(2));
    assert_eq!(f.days_to_close.p90, Shown::Days(55));
    assert_eq!(
        f.acknowledged_in_time.percent,
        Shown::Percent(4.0 * 100.0 / 6.0)
    );

    let csv = f.to_csv(&s);
    for line in [
        "period,mode,publication,",
        "received_per_month,2026-02,< 3,",
        "received_per_category,other,< 3,",
        "received_per_channel,other,3,",
        "status_now,received,< 3,",
        "acknowledged_in_time,percent,67,6",
        "acknowledged_in_time,within,4,6",
        "answered_in_time,within,3,5",
    ] {
        assert!(csv.lines().any(|l| l == line), "{line:?} missing in\n{csv}");
    }
    assert!(
        !csv.contains("licensing"),
        "a rare category's name is not published"
    );

    // A higher threshold: days to close come from 3 cases, fewer than 5.
    let strict = Policy::from_toml("publish_threshold = 5").unwrap();
    let s = stats(&strict);
    let f = s.figures(true);
    assert_eq!(f.days_to_close.median, Shown::Suppressed);
    assert_eq!(f.days_to_close.p90, Shown::Suppressed);
    assert_eq!(f.days_to_close.cases, Shown::Hidden(5));
    assert_eq!(f.days_to_acknowledge.median, Shown::Days(2));
    assert_eq!(f.answered_in_time.percent, Shown::Percent(60.0));
    assert_eq!(f.answered_in_time.within, Shown::Hidden(5));
    let csv = f.to_csv(&s);
    assert!(
        csv.lines().any(|l| l == "days_to_close,median,,< 5"),
        "{csv}"
    );
    // The internal figures hide nothing.
    assert_eq!(s.figures(false).days_to_close.median, Shown::Days(6));
}

#[test]
fn one_hidden_cell_hides_the_next_smallest() {
    let rows = protect(
        vec![("a".into(), 5), ("b".into(), 1), ("c".into(), 4)],
        3,
        true,
    );
    let shown: Vec<Shown> = rows.iter().map(|r| r.value).collect();
    assert_eq!(shown, [Shown::Count(5), Shown::Hidden(3), Shown::Hidden(3)]);
    // Two hidden already: neither can be worked out alone.
    let rows = protect(
        vec![("a".into(), 5), ("b".into(), 1), ("c".into(), 2)],
        3,
        true,
    );
    assert_eq!(rows[0].value, Shown::Count(5));
    // Internal use: nothing hidden.
    let rows = protect(vec![("a".into(), 5), ("b".into(), 1)], 0, true);
    assert_eq!(rows[1].value, Shown::Count(1));
}

#[test]
fn working_days_across_a_holiday_in_the_shares() {
    // Received Friday 13 March 2026; acknowledged Monday 30 March. In
    // working days (Nyepi and Idulfitri, 18–24 March, are days off) it was
    // due 31 March: on time. In calendar days it was due 20 March: late.
    let cases = vec![case(
        "2026-03-13",
        "procurement",
        "web",
        &[(Status::InReview, "2026-03-30")],
        &[],
    )];
    let (from, to, today) = (d("2026-03-01"), d("2026-03-31"), d("2026-04-15"));
    let working = Policy::from_toml("day_kind = \"working\"").unwrap();
    let s = Stats::compute(&cases, &working, from, to, today);
    assert_eq!(s.acknowledged_in_time, Share { within: 1, of: 1 });
    let s = Stats::compute(&cases, &Policy::default(), from, to, today);
    assert_eq!(s.acknowledged_in_time, Share { within: 0, of: 1 });
    assert_eq!(
        s.days_to_acknowledge.median,
        Some(17),
        "always calendar days"
    );
}

#[test]
fn the_page_is_printable_self_contained_and_escaped() {
    let mut cases = book();
    cases[3].category = "<script>alert(1)</script>".into();
    let policy = Policy::default();
    let s = Stats::compute(
        &cases,
        &policy,
        d("2026-01-01"),
        d("2026-03-31"),
        d("2026-06-30"),
    );
    let page = s.figures(false).to_html(&s, &policy);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("@media print"));
    assert!(page.contains("<svg"));
    assert!(page.contains("Laporan per bulan"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    for banned in ["<script", "src=\"http", "href=\"http", "url(", "@import"] {
        assert!(!page.contains(banned), "{banned}");
    }
    // Published, the rare category is merged: its name is not there at all.
    let published = s.figures(true).to_html(&s, &policy);
    assert!(!published.contains("alert(1)"));
    assert!(published.contains("&lt; 3"));
    assert!(published.contains("Untuk publikasi"));
}

#[test]
fn csv_fields_are_quoted_and_never_formulas() {
    assert_eq!(csv_field("plain"), "plain");
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    assert_eq!(csv_field("-1+2"), "'-1+2");
    assert_eq!(csv_field("< 3"), "< 3");
}

#[test]
fn an_empty_period_has_no_figures_but_all_its_months() {
    let s = Stats::compute(
        &book(),
        &Policy::default(),
        d("2027-01-15"),
        d("2027-04-02"),
        d("2027-05-01"),
    );
    assert_eq!(s.received, 0);
    assert_eq!(s.per_month.len(), 4);
    assert_eq!(s.days_to_close.median, None);
    let f = s.figures(false);
    assert_eq!(f.acknowledged_in_time.percent, Shown::None);
    assert_eq!(f.days_to_acknowledge.median, Shown::None);
}
