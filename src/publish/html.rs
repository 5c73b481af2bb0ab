//! report.html: one self-contained page (inline SVG, no network), Chinese
//! first: an overview across policies, then per policy its figures, where
//! the money goes (district, industry section, size), the budget, the
//! outcomes, why firms were not paid; and the run's identity.

use std::fmt::Write as _;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::codes;
use super::coverage::{Coverage, Figures};
use super::folder::Run;
use super::reasons::Reasons;

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Yuan with thousands separators and two decimals.
fn yuan(d: Decimal) -> String {
    let t = crate::eval::cents(d).to_string();
    let (int, frac) = t.split_once('.').unwrap_or((&t, "00"));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}.{frac}")
}

/// A horizontal bar chart: one bar per item, its value written beside it.
fn bars(title: &str, items: &[(String, f64, String)], colour: &str) -> String {
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max);
    let (label_w, bar_w, row_h) = (300.0, 250.0, 24.0);
    let height = row_h * items.len().max(1) as f64 + 8.0;
    let mut svg = format!(
        r#"<figure><figcaption>{}</figcaption><svg class="chart" role="img" aria-label="{}" width="680" height="{height}" viewBox="0 0 680 {height}">"#,
        esc(title),
        esc(title)
    );
    if items.is_empty() || max <= 0.0 {
        let _ = write!(
            svg,
            r##"<text class="none" x="0" y="18" fill="#666">无数据</text>"##
        );
    }
    for (i, (label, value, shown)) in items.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let w = if max > 0.0 {
            (value / max * bar_w).max(if *value > 0.0 { 1.0 } else { 0.0 })
        } else {
            0.0
        };
        let _ = write!(
            svg,
            r#"<text x="{x}" y="{ty}" text-anchor="end">{l}</text><rect x="{bx}" y="{y}" width="{w:.1}" height="{h}" fill="{colour}"/><text x="{vx:.1}" y="{ty}">{v}</text>"#,
            x = label_w - 6.0,
            ty = y + 15.0,
            l = esc(&short(label)),
            bx = label_w,
            h = row_h - 6.0,
            vx = label_w + w + 4.0,
            v = esc(shown),
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// A label that fits its column: at most 18 characters.
fn short(label: &str) -> String {
    if label.chars().count() <= 18 {
        label.to_string()
    } else {
        label.chars().take(17).chain(['…']).collect()
    }
}

/// Money bars from (label, figures), the largest `n` and the rest together.
fn money_bars(title: &str, rows: &[(String, Figures)], n: usize, colour: &str) -> String {
    // only where money goes
    let rows: Vec<&(String, Figures)> = rows
        .iter()
        .filter(|(_, f)| f.funded > Decimal::ZERO)
        .collect();
    let mut items: Vec<(String, f64, String)> = rows
        .iter()
        .take(n)
        .map(|(l, f)| (l.clone(), f.funded.to_f64().unwrap_or(0.0), yuan(f.funded)))
        .collect();
    let rest: Decimal = rows.iter().skip(n).map(|(_, f)| f.funded).sum();
    if rows.len() > n {
        items.push(("其他".into(), rest.to_f64().unwrap_or(0.0), yuan(rest)));
    }
    bars(title, &items, colour)
}

/// The outcome split as one stacked bar with its legend.
fn outcomes(f: &Figures) -> String {
    let total = f.evaluated.max(1) as f64;
    let parts = [
        ("符合", f.eligible, "#2e7d32"),
        ("待核实", f.review, "#f9a825"),
        ("不符合", f.ineligible, "#9e9e9e"),
    ];
    let mut svg = String::from(
        r#"<figure><figcaption>评估结果构成</figcaption><svg class="chart" role="img" aria-label="评估结果构成" width="680" height="56" viewBox="0 0 680 56">"#,
    );
    let mut x = 0.0;
    for (label, n, colour) in parts {
        let w = n as f64 / total * 670.0;
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="4" width="{w:.1}" height="22" fill="{colour}"><title>{label} {n}</title></rect>"#
        );
        x += w;
    }
    let mut lx = 0.0;
    for (label, n, colour) in parts {
        let _ = write!(
            svg,
            r#"<rect x="{lx}" y="36" width="12" height="12" fill="{colour}"/><text x="{tx}" y="47">{label} {n}（{p:.1}%）</text>"#,
            tx = lx + 16.0,
            p = n as f64 / total * 100.0
        );
        lx += 220.0;
    }
    svg.push_str("</svg></figure>");
    svg
}

/// The budget used against the budget.
fn budget(funded: Decimal, budget: Option<Decimal>) -> String {
    let Some(b) = budget.filter(|b| *b > Decimal::ZERO) else {
        return "<p class=\"note\">未设预算（budget）。</p>".into();
    };
    let used = (funded / b).to_f64().unwrap_or(0.0);
    let w = used.min(1.0) * 670.0;
    format!(
        r##"<figure><figcaption>预算使用：{} / {} 元（{:.1}%）</figcaption><svg class="chart" role="img" aria-label="预算使用" width="680" height="30" viewBox="0 0 680 30"><rect x="0" y="4" width="670" height="22" fill="#e0e0e0"/><rect x="0" y="4" width="{w:.1}" height="22" fill="#1565c0"/></svg></figure>"##,
        yuan(funded),
        yuan(b),
        used * 100.0
    )
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = String::from("<table><thead><tr>");
    for h in head {
        let _ = write!(t, "<th>{}</th>", esc(h));
    }
    t.push_str("</tr></thead><tbody>");
    for r in rows {
        t.push_str("<tr>");
        for c in r {
            let _ = write!(t, "<td>{}</td>", esc(c));
        }
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table>");
    t
}

/// A table, or "无" when there is nothing to list.
fn table_or_none(head: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        "<p class=\"note\">无。</p>".into()
    } else {
        table(head, rows)
    }
}

const STYLE: &str = "body{font-family:'Noto Sans CJK SC','Microsoft YaHei','PingFang SC','WenQuanYi Zen Hei',sans-serif;margin:24px auto;max-width:1000px;color:#222}h1{font-size:24px}h2{font-size:20px;border-bottom:2px solid #1565c0;padding-bottom:4px;margin-top:36px}table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}td{font-variant-numeric:tabular-nums}figure{margin:10px 0}figcaption{font-weight:bold;font-size:14px;margin-bottom:4px}svg text{font-size:12px}.note{color:#666;font-size:13px}.en{color:#888;font-size:12px}";

/// A check the page runs on itself: every chart drew something.
const SELF_CHECK: &str = "<script>(function(){var bad=[];document.querySelectorAll('svg.chart').forEach(function(s){var r=s.getBoundingClientRect();var drawn=Array.prototype.some.call(s.querySelectorAll('rect'),function(x){return x.getBBox().width>0;})||s.querySelector('text.none');if(r.width<=0||r.height<=0||!drawn){bad.push(s.getAttribute('aria-label'));}});document.body.setAttribute('data-check',bad.length?'empty: '+bad.join(', '):'ok');if(bad.length){console.error('empty chart: '+bad.join(', '));}})();</script>";

/// The page.
pub fn report(run: &Run, coverage: &Coverage, reasons: &Reasons, published: &str) -> String {
    let program = &run.set.program;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>免申即享兑付报告 {}</title><style>{STYLE}</style></head><body>",
        run.as_of
    );
    let _ = write!(
        h,
        "<h1>免申即享政策兑付报告</h1><p>数据基准日 {}，发布日期 {published}。<span class=\"en\">Apply-free subsidy report.</span></p>",
        run.as_of
    );
    // overview
    h.push_str("<h2>总览 <span class=\"en\">Overview</span></h2>");
    let mut rows = Vec::new();
    let mut funded_by_policy = Vec::new();
    let mut all = Figures::default();
    for (p, s) in run.summary.iter().enumerate() {
        if !s.in_force {
            rows.push(vec![
                s.title.clone(),
                s.id.clone(),
                "未在有效期内".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        }
        let t = coverage.total(p);
        all.evaluated = all.evaluated.max(t.evaluated);
        all.eligible += t.eligible;
        all.review += t.review;
        all.ineligible += t.ineligible;
        all.funded += t.funded;
        all.amount += t.amount;
        funded_by_policy.push((
            s.title.clone(),
            t.funded.to_f64().unwrap_or(0.0),
            yuan(t.funded),
        ));
        rows.push(vec![
            s.title.clone(),
            s.id.clone(),
            t.evaluated.to_string(),
            t.eligible.to_string(),
            t.review.to_string(),
            t.ineligible.to_string(),
            yuan(t.amount),
            yuan(t.funded),
        ]);
    }
    rows.push(vec![
        "合计".into(),
        String::new(),
        all.evaluated.to_string(),
        all.eligible.to_string(),
        all.review.to_string(),
        all.ineligible.to_string(),
        yuan(all.amount),
        yuan(all.funded),
    ]);
    h.push_str(&table(
        &[
            "政策",
            "编号",
            "评估企业",
            "符合",
            "待核实",
            "不符合",
            "核定金额(元)",
            "兑付金额(元)",
        ],
        &rows,
    ));
    funded_by_policy.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    h.push_str(&bars("各政策兑付金额（元）", &funded_by_policy, "#1565c0"));
    // per policy
    for (p, s) in run.summary.iter().enumerate() {
        if !s.in_force {
            continue;
        }
        let policy = program.policies.get(p);
        let t = coverage.total(p);
        let _ = write!(h, "<h2 id=\"{}\">{}</h2>", esc(&s.id), esc(&s.title));
        let meta: Vec<String> = [
            policy
                .and_then(|x| x.issuer.clone())
                .map(|i| format!("发文机关：{i}")),
            policy
                .and_then(|x| x.basis.clone())
                .map(|b| format!("政策依据：{b}")),
            Some(format!("编号：{}", s.id)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let _ = write!(h, "<p class=\"note\">{}</p>", esc(&meta.join("　")));
        h.push_str(&table(
            &[
                "评估企业",
                "符合",
                "待核实",
                "不符合",
                "核定金额(元)",
                "兑付金额(元)",
                "预算(元)",
            ],
            &[vec![
                t.evaluated.to_string(),
                t.eligible.to_string(),
                t.review.to_string(),
                t.ineligible.to_string(),
                yuan(t.amount),
                yuan(t.funded),
                s.budget.map(yuan).unwrap_or_else(|| "—".into()),
            ]],
        ));
        h.push_str(&outcomes(&t));
        h.push_str(&budget(t.funded, s.budget));
        let by_district = coverage.by(p, |g| g.region.label());
        h.push_str(&money_bars(
            "兑付金额按区县（元）",
            &by_district,
            12,
            "#2e7d32",
        ));
        let by_section = coverage.by(p, |g| match codes::section_name(g.section) {
            "" => g.section.to_string(),
            n => format!("{} {n}", g.section),
        });
        h.push_str(&money_bars(
            "兑付金额按行业门类（元）",
            &by_section,
            12,
            "#6a1b9a",
        ));
        let by_size = coverage.by(p, |g| g.size.clone());
        h.push_str(&money_bars(
            "兑付金额按企业规模（元）",
            &by_size,
            8,
            "#ef6c00",
        ));
        // why not paid
        h.push_str("<h3>不符合的主要原因</h3>");
        if run.recorded.all {
            let rows: Vec<Vec<String>> = Reasons::top(&reasons.ineligible, p, 8)
                .into_iter()
                .map(|(l, n)| vec![l, n.to_string()])
                .collect();
            h.push_str(&table_or_none(&["条款", "企业数"], &rows));
        } else {
            h.push_str("<p class=\"note\">本次运行未使用 <code>--all</code>，decisions.csv 不含不符合的决定，故不列原因（以 <code>mianshen run … --all</code> 运行可得）。<span class=\"en\">Run with --all to list the reasons.</span></p>");
        }
        h.push_str("<h3>待核实最常缺少的数据项</h3>");
        let rows: Vec<Vec<String>> = Reasons::top(&reasons.missing, p, 8)
            .into_iter()
            .map(|(f, n)| {
                let field = program
                    .schema
                    .lookup(&f)
                    .and_then(|i| program.schema.fields.get(i));
                vec![
                    field
                        .and_then(|x| x.title.clone())
                        .unwrap_or_else(|| f.clone()),
                    f,
                    field
                        .and_then(|x| x.source.clone())
                        .unwrap_or_else(|| "未注明".into()),
                    n.to_string(),
                ]
            })
            .collect();
        h.push_str(&table_or_none(
            &["数据项", "字段名", "数据来源部门", "企业数"],
            &rows,
        ));
    }
    // identity
    h.push_str("<h2>运行信息 <span class=\"en\">Run identity</span></h2>");
    let m = &run.recorded.manifest;
    let mut rows = vec![
        vec!["数据基准日 as_of".into(), run.as_of.to_string()],
        vec![
            "引擎版本 engine".into(),
            m.get("engine")
                .and_then(|e| e.get("version"))
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
        ],
        vec![
            "政策集 policy set".into(),
            run.recorded.dir.display().to_string(),
        ],
    ];
    for f in &run.set.files {
        rows.push(vec![format!("政策文件 {}", f.path), f.sha256.clone()]);
    }
    for (input, sha) in &run.recorded.data {
        rows.push(vec![format!("数据文件 {}", input.name()), sha.clone()]);
    }
    h.push_str(&table(&["项目", "值（SHA-256）"], &rows));
    h.push_str(SELF_CHECK);
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_groups_thousands() {
        assert_eq!(yuan(Decimal::new(123456789, 2)), "1,234,567.89");
        assert_eq!(yuan(Decimal::new(-100000, 0)), "-100,000.00");
        assert_eq!(yuan(Decimal::ZERO), "0.00");
    }
}
