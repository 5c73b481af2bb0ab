//! Header items a policy very likely needs: a period of validity, and a
//! way to share a budget that runs out.

use super::Warnings;
use crate::syntax::ast::{ItemKind, SourceFile};

pub(super) fn check(files: &[SourceFile], w: &mut Warnings<'_>) {
    for p in super::policies(files) {
        let has = |f: fn(&ItemKind) -> bool| p.items.iter().any(|i| f(&i.kind));
        if !has(|k| matches!(k, ItemKind::Valid(..))) {
            w.warn(
                "lint::no-valid",
                p.id.span,
                format!(
                    "政策 `{}` 没有写有效期 `valid`:任何日期运行都会执行它 (no `valid` period)",
                    p.id.name
                ),
                "按政策文件写上执行期限,如 `valid 2024-01-01 to 2024-12-31`".into(),
            );
        }
        let budget = p
            .items
            .iter()
            .find(|i| matches!(i.kind, ItemKind::Budget(_)));
        if let Some(b) = budget {
            if !has(|k| matches!(k, ItemKind::Allocate(_))) {
                w.warn(
                    "lint::budget-without-allocate",
                    b.span,
                    "有 `budget` 却没有 `allocate`:预算不足时只报告超支,每家企业仍按全额计 (an exceeded budget is only reported)"
                        .into(),
                    "写 `allocate pro_rata`(按比例)或 `allocate by 表达式 desc`(按顺序);确实只需报告时,在这一行上方写 `// lint:allow budget-without-allocate`".into(),
                );
            }
        }
    }
}
