//! What the generator knows about fields: the meaning of a field by its name, title or alias.

use super::*;

/// A field whose meaning the generator knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Concept {
    Key,
    Name,
    Region,
    Industry,
    Size,
    RegisteredOn,
    Tags,
    Employees,
    InsuredMonths,
    LayoffRate,
    UiPremiumPaid,
    GraduatesHired,
    GradInsuredMonths,
    GradInsurancePaid,
    Revenue,
    RevenuePrev,
    Rnd,
    RndPrev,
    TaxLocal,
    StarPrev,
    CreditGrade,
    AboveScale,
    AboveScaleOn,
    HightechOn,
    HightechTimes,
    Patents,
    InnovativeSmeOn,
    ZhuanjingOn,
    LittleGiantOn,
    ChampionOn,
    GiantAwardPaid,
    IpLoan,
    IpLoanInterest,
    DrugsApproved,
    DevicesApproved,
    MadeInProvince,
    SeriousDishonesty,
}

/// Names (field names and the usual Chinese titles) the generator knows.
pub(super) const KNOWN: &[(&str, Concept)] = &[
    ("uscc", Concept::Key),
    ("统一社会信用代码", Concept::Key),
    ("name", Concept::Name),
    ("企业名称", Concept::Name),
    ("region", Concept::Region),
    ("行政区划代码", Concept::Region),
    ("industry", Concept::Industry),
    ("国民经济行业代码", Concept::Industry),
    ("行业代码", Concept::Industry),
    ("size", Concept::Size),
    ("企业规模", Concept::Size),
    ("registered_on", Concept::RegisteredOn),
    ("成立日期", Concept::RegisteredOn),
    ("tags", Concept::Tags),
    ("企业标签", Concept::Tags),
    ("employees", Concept::Employees),
    ("参保职工人数", Concept::Employees),
    ("职工人数", Concept::Employees),
    ("insured_months", Concept::InsuredMonths),
    ("连续足额缴纳失业保险月数", Concept::InsuredMonths),
    ("layoff_rate", Concept::LayoffRate),
    ("上年度裁员率", Concept::LayoffRate),
    ("裁员率", Concept::LayoffRate),
    ("ui_premium_paid", Concept::UiPremiumPaid),
    ("上年度实际缴纳失业保险费", Concept::UiPremiumPaid),
    ("graduates_hired", Concept::GraduatesHired),
    ("grad_insured_months", Concept::GradInsuredMonths),
    ("grad_insurance_paid", Concept::GradInsurancePaid),
    ("revenue", Concept::Revenue),
    ("上年度营业收入", Concept::Revenue),
    ("营业收入", Concept::Revenue),
    ("revenue_prev", Concept::RevenuePrev),
    ("rnd", Concept::Rnd),
    ("研发费用", Concept::Rnd),
    ("rnd_prev", Concept::RndPrev),
    ("tax_local", Concept::TaxLocal),
    ("star_prev", Concept::StarPrev),
    ("credit_grade", Concept::CreditGrade),
    ("纳税信用等级", Concept::CreditGrade),
    ("above_scale", Concept::AboveScale),
    ("规模以上企业", Concept::AboveScale),
    ("above_scale_on", Concept::AboveScaleOn),
    ("hightech_certified_on", Concept::HightechOn),
    ("高新技术企业认定日期", Concept::HightechOn),
    ("hightech_times", Concept::HightechTimes),
    ("patents", Concept::Patents),
    ("有效发明专利数", Concept::Patents),
    ("innovative_sme_on", Concept::InnovativeSmeOn),
    ("zhuanjing_on", Concept::ZhuanjingOn),
    ("little_giant_on", Concept::LittleGiantOn),
    ("champion_on", Concept::ChampionOn),
    ("giant_award_paid", Concept::GiantAwardPaid),
    ("ip_loan", Concept::IpLoan),
    ("ip_loan_interest", Concept::IpLoanInterest),
    ("drugs_approved", Concept::DrugsApproved),
    ("devices_approved", Concept::DevicesApproved),
    ("made_in_province", Concept::MadeInProvince),
    ("serious_dishonesty", Concept::SeriousDishonesty),
    ("严重失信主体", Concept::SeriousDishonesty),
];

pub(super) fn concept_of(field: &Field) -> Option<Concept> {
    field
        .names()
        .find_map(|n| KNOWN.iter().find(|(k, _)| *k == n).map(|(_, c)| *c))
}

/// The tags a `tags` list draws from.
pub(super) const TAGS: [&str; 6] = [
    "高新技术企业",
    "专精特新",
    "小巨人",
    "规上",
    "科技型中小企业",
    "单项冠军",
];

/// A generated value before formatting.
#[derive(Clone, Debug)]
pub(super) enum Val {
    Int(i64),
    /// Money in cents (exact).
    Cents(i64),
    /// Hundredths of a percent: 550 is 5.5%.
    Pct(i64),
    Bool(bool),
    Day(Date),
    Text(String),
    List(Vec<&'static str>),
}
