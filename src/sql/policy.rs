//! One policy for every firm: an `INSERT INTO ms_pair … SELECT` of the
//! verdicts (LANGUAGE.md section 6), before settlement.

use super::expr::{number, Node, Refusal, Scope};
use super::reasons::{array, missing, values_dynamic, values_static};
use crate::diag::Span;
use crate::program::{Allocation, ClauseKind, Policy};

/// A construct not compiled, and where it is.
pub struct Refused {
    pub message: Refusal,
    /// The policy and the text of the item it is in, to find its line.
    pub span: Span,
    pub within: Option<String>,
}

/// The `INSERT` of one policy's verdicts, or what it cannot compile.
/// Without `all` (PostgreSQL), an ineligible pair is not written:
/// settlement reads only eligible pairs, decisions.csv lists none and
/// summary.csv counts them as the firms evaluated less the others, so
/// neither their row nor their reasons are computed.
pub fn verdicts(
    scope: &mut Scope<'_>,
    policy: &Policy,
    pos: usize,
    key: &str,
    all: bool,
) -> Result<String, Refused> {
    let schema = &scope.program.schema;
    let d = scope.dialect;
    let spark = d.is_spark();
    let text = |s: &str| d.text(s);
    let refuse = |message: Refusal, within: Option<&str>| Refused {
        message,
        span: policy.span,
        within: within.map(str::to_string),
    };
    for l in &policy.lets {
        let node = scope
            .expr(&l.expr)
            .map_err(|m| refuse(m, Some(&l.source)))?;
        let t = scope.types.of(&l.expr).ok().flatten();
        scope.types.lets.push(t);
        scope.lets.push(node);
    }
    let mut clauses = Vec::new();
    for c in &policy.clauses {
        let node = scope.expr(&c.expr).map_err(|m| Refused {
            message: m,
            span: c.span,
            within: None,
        })?;
        clauses.push(node);
    }
    let amount: Option<Node> = match &policy.amount {
        None => None,
        Some(a) => {
            let x = scope
                .expr(&a.expr)
                .map_err(|m| refuse(m, Some(&a.source)))?;
            Some(match &a.cap {
                None => x,
                Some(c) => {
                    let c = scope
                        .expr(c)
                        .map_err(|m| refuse(m, a.cap_source.as_deref()))?;
                    scope.least(&x, &c)
                }
            })
        }
    };
    let order = |scope: &mut Scope<'_>, ir| scope.expr(ir).map_err(|m| refuse(m, None));
    let limit_by = match &policy.limit {
        Some(l) => Some(order(scope, &l.by)?),
        None => None,
    };
    let alloc_by = match &policy.allocate {
        Some(Allocation::By(by, _)) => Some(order(scope, by)?),
        _ => None,
    };

    let failed: Vec<String> = policy
        .clauses
        .iter()
        .zip(&clauses)
        .map(|(c, n)| match c.kind {
            ClauseKind::Require => format!("({}) IS FALSE", n.v),
            ClauseKind::Exclude => format!("({}) IS TRUE", n.v),
        })
        .collect();
    let any = |items: &[String]| {
        if items.is_empty() {
            "FALSE".to_string()
        } else {
            items.join(" OR ")
        }
    };
    let missing_clause: Vec<String> = clauses
        .iter()
        .map(|n| format!("({}) IS NULL", n.v))
        .collect();
    let (amt, amt_w, amt_n) = match &amount {
        Some(a) if spark => (
            format!("CAST(round({}, 2) AS DECIMAL(38,2))", a.v),
            a.w.clone(),
            a.n.clone(),
        ),
        Some(a) => (format!("round({}, 2)", a.v), a.w.clone(), a.n.clone()),
        None if spark => ("CAST(NULL AS DECIMAL(38,2))".into(), "0".into(), "0".into()),
        None => ("NULL::numeric".into(), "0".into(), "0".into()),
    };
    // the verdict's flags: a lateral subquery `o` (PostgreSQL), lateral
    // column aliases (Spark)
    let (o_failed, o_miss, o_amt) = if spark {
        ("ms_o_failed", "ms_o_miss", "ms_o_amt")
    } else {
        ("o.failed", "o.miss", "o.amt")
    };
    let amount_missing = if amount.is_some() {
        format!("{o_amt} IS NULL")
    } else {
        "FALSE".into()
    };
    // the verdict's flags, named once
    let verdict = if spark {
        format!(
            "{} AS ms_o_failed, {} AS ms_o_miss, {amt} AS ms_o_amt",
            any(&failed),
            any(&missing_clause)
        )
    } else {
        format!(
            "CROSS JOIN LATERAL (SELECT {} AS failed, {} AS miss, ({amt})::numeric AS amt OFFSET 0) o",
            any(&failed),
            any(&missing_clause)
        )
    };
    let outcome = format!(
        "CASE WHEN {o_failed} THEN 'ineligible' WHEN {o_miss} OR {amount_missing} THEN 'review' WHEN {o_amt} <= 0 THEN 'ineligible' ELSE 'eligible' END"
    );
    // one label as an array
    let label = |l: &str| {
        if spark {
            format!("array({})", text(l))
        } else {
            format!("ARRAY[{}]", text(l))
        }
    };

    // ineligible: the failed labels and the values they read; or no payable amount
    let mut failed_labels = Vec::new();
    let mut failed_fields = Vec::new();
    for ((c, f), _) in policy.clauses.iter().zip(&failed).zip(&clauses) {
        failed_labels.push(format!(
            "CASE WHEN {f} THEN {} ELSE {} END",
            label(&c.label),
            d.no_texts()
        ));
        let fields: Vec<String> = c.fields.iter().map(|x| x.to_string()).collect();
        failed_fields.push(format!(
            "CASE WHEN {f} THEN {} ELSE {} END",
            d.ints(&fields),
            d.no_ints()
        ));
    }
    let concat = |items: &[String], empty: &str| {
        if items.is_empty() {
            empty.to_string()
        } else {
            items.join(" || ")
        }
    };
    let failed_fields = concat(&failed_fields, d.no_ints());
    let failed_reasons = format!(
        "{} || {}",
        concat(&failed_labels, d.no_texts()),
        d.without_nulls(&d.texts(&[values_dynamic(
            d,
            schema,
            &scope.firm,
            &format!("({failed_fields})")
        )]))
    );
    let no_payable = {
        let mut items = vec!["'no payable amount'".to_string()];
        if let Some(v) = policy
            .amount
            .as_ref()
            .and_then(|a| values_static(d, schema, &scope.firm, &a.fields))
        {
            items.push(v);
        }
        array(d, &items)
    };
    // review: the undecided labels, the amount's label, then why
    let mut undecided = Vec::new();
    let mut why_w = Vec::new();
    let mut why_n = Vec::new();
    for (c, n) in policy.clauses.iter().zip(&clauses) {
        undecided.push(format!(
            "CASE WHEN ({}) IS NULL THEN {} ELSE {} END",
            n.v,
            label(&c.label),
            d.no_texts()
        ));
        why_w.push(format!(
            "CASE WHEN ({}) IS NULL THEN {} ELSE 0 END",
            n.v, n.w
        ));
        why_n.push(format!(
            "CASE WHEN ({}) IS NULL THEN {} ELSE 0 END",
            n.v, n.n
        ));
    }
    if let Some(a) = &policy.amount {
        undecided.push(format!(
            "CASE WHEN {amount_missing} THEN {} ELSE {} END",
            label(&a.label),
            d.no_texts()
        ));
        why_w.push(format!(
            "CASE WHEN {amount_missing} THEN {amt_w} ELSE 0 END"
        ));
        why_n.push(format!(
            "CASE WHEN {amount_missing} THEN {amt_n} ELSE 0 END"
        ));
    }
    let bits = |items: &[String]| {
        if items.is_empty() {
            "0".to_string()
        } else {
            format!("({})", items.join(" | "))
        }
    };
    let review_reasons = format!(
        "{} || {}",
        concat(&undecided, d.no_texts()),
        missing(d, schema, &d.bigint(&bits(&why_w)), &bits(&why_n))
    );
    let reasons = format!(
        "CASE WHEN {o_failed} THEN {failed_reasons} WHEN {o_miss} OR {amount_missing} THEN {review_reasons} WHEN {o_amt} <= 0 THEN {no_payable} ELSE {} END",
        d.no_texts()
    );
    let eligible = format!("({outcome}) = 'eligible'");
    let by = |n: &Option<Node>, ty: super::expr::Ty| match n {
        Some(n) if n.ty == ty => format!("CASE WHEN {eligible} THEN {} END", n.v),
        _ => "NULL".into(),
    };
    use super::expr::Ty;
    let in_force = match policy.valid {
        None => "TRUE".to_string(),
        Some((from, to)) => format!("{} BETWEEN DATE '{from}' AND DATE '{to}'", scope.as_of),
    };
    if spark {
        let value = |n: &Option<Node>| match n {
            Some(n) => format!("CASE WHEN {eligible} THEN {} END", n.v),
            None => "NULL".into(),
        };
        // the place in the policy's order, computed once over all its
        // firms (missing values last, ties by key): settlement keeps the
        // eligible ones in that order
        let rank = |column: &str, dir: Option<crate::ops::Direction>| match dir {
            Some(dir) => format!(
                "row_number() OVER (ORDER BY {column} {} NULLS LAST, key)",
                match dir {
                    crate::ops::Direction::Asc => "ASC",
                    crate::ops::Direction::Desc => "DESC",
                }
            ),
            None => "CAST(NULL AS BIGINT)".into(),
        };
        let alloc_dir = match &policy.allocate {
            Some(Allocation::By(_, dir)) => Some(*dir),
            _ => None,
        };
        let mut items = vec![
            format!("{}.{key} AS key", scope.firm),
            format!("{} AS policy", text(&policy.id)),
            format!("{pos} AS pos"),
        ];
        items.extend(scope.steps.iter().cloned());
        items.push(verdict);
        items.push(format!("{outcome} AS outcome"));
        items.push(format!("CASE WHEN {eligible} THEN {o_amt} END AS amount"));
        items.push(format!("{reasons} AS reasons"));
        items.push(format!("{} AS ms_limit", value(&limit_by)));
        items.push(format!("{} AS ms_alloc", value(&alloc_by)));
        return Ok(format!(
            "-- policy {id}: {title}\n\
             INSERT INTO ms_pair\n\
             SELECT key, policy, pos, outcome, amount, CAST(NULL AS DECIMAL(38,2)) AS funded, reasons,\n\
             \x20 {lr} AS limit_r, {ar} AS alloc_r\n\
             FROM (SELECT\n  {items}\n\
             FROM ms_firm {firm}\n\
             WHERE {in_force}) x;\n",
            id = policy.id,
            title = policy.title.replace('\n', " "),
            firm = scope.firm,
            items = items.join(",\n  "),
            lr = rank("ms_limit", policy.limit.as_ref().map(|l| l.dir)),
            ar = rank("ms_alloc", alloc_dir),
        ));
    }
    let steps = scope.steps.join("\n  ");
    let listed = if all {
        String::new()
    } else {
        format!(" AND ({outcome}) <> 'ineligible'")
    };
    Ok(format!(
        "-- policy {id}: {title}\n\
         INSERT INTO ms_pair (key, policy, pos, outcome, amount, reasons, limit_n, limit_d, alloc_n, alloc_d)\n\
         SELECT {firm}.{key}, {pid}, {pos}, {outcome},\n  CASE WHEN {eligible} THEN o.amt END,\n  {reasons},\n  {ln}, {ld}, {an}, {ad}\n\
         FROM ms_firm {firm}\n  {steps}\n  {verdict}\n\
         WHERE {in_force}{listed};\n",
        id = policy.id,
        title = policy.title.replace('\n', " "),
        firm = scope.firm,
        pid = text(&policy.id),
        ln = by(&limit_by, Ty::Num),
        ld = by(&limit_by, Ty::Date),
        an = by(&alloc_by, Ty::Num),
        ad = by(&alloc_by, Ty::Date),
    ))
}

/// The amount bounded by its cap: missing when either is.
impl Scope<'_> {
    pub fn least(&mut self, x: &Node, cap: &Node) -> Node {
        let w = format!("({} | {})", x.w, cap.w);
        let n = format!("({} | {})", x.n, cap.n);
        let v = format!(
            "CASE WHEN {x} IS NULL OR {c} IS NULL THEN NULL ELSE LEAST({x}, {c}) END",
            x = x.v,
            c = cap.v
        );
        if self.dialect.is_spark() {
            return self.push_step(v, w, n, super::expr::Ty::Num);
        }
        let name = format!("{}{}", self.prefix, self.steps.len());
        self.steps.push(format!(
            "CROSS JOIN LATERAL (SELECT ({v})::numeric AS v, ({w})::bigint AS w, ({n})::integer AS n OFFSET 0) {name}"
        ));
        Node {
            v: format!("{name}.v"),
            w: format!("{name}.w"),
            n: format!("{name}.n"),
            ty: super::expr::Ty::Num,
        }
    }
}

/// A budget in whole cents, as SQL.
pub fn cents(d: &rust_decimal::Decimal) -> String {
    number(&(d * rust_decimal::Decimal::ONE_HUNDRED))
}
