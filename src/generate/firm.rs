//! One firm: staff, books, ladders of awards, each consistent with the others.

use super::*;

pub(super) const WAN: i64 = 10_000;
/// Cents in one yuan.
pub(super) const YUAN: i64 = 100;

/// The latent facts of one firm, from which every known field is rendered.
/// Money is in cents, rates in hundredths of a percent; `None` is a cell the
/// pooled data leaves empty (a date never reached, a count never reported).
#[derive(Clone, Debug)]
pub(super) struct Firm {
    pub(super) name: String,
    pub(super) region: Region,
    pub(super) industry: &'static str,
    pub(super) size: Option<&'static str>,
    pub(super) registered_on: Date,
    pub(super) employees: i64,
    pub(super) revenue: i64,
    pub(super) revenue_prev: Option<i64>,
    pub(super) staff: Staff,
    pub(super) ladder: Ladder,
    pub(super) books: Books,
    pub(super) pharma: Pharma,
    pub(super) serious_dishonesty: bool,
}

/// Social insurance and hiring (人社).
#[derive(Clone, Debug)]
pub(super) struct Staff {
    pub(super) insured_months: i64,
    pub(super) layoff_rate: i64,
    pub(super) ui_premium_paid: i64,
    pub(super) graduates_hired: i64,
    pub(super) grad_insured_months: i64,
    pub(super) grad_insurance_paid: i64,
}

/// Certifications (科技, 工信): an empty date means "never certified".
#[derive(Clone, Debug)]
pub(super) struct Ladder {
    pub(super) tech_sme: bool,
    pub(super) hightech_on: Option<Date>,
    pub(super) hightech_times: Option<i64>,
    /// False for an expired certificate whose date is still on file.
    pub(super) hightech_tagged: bool,
    pub(super) innovative_sme_on: Option<Date>,
    pub(super) zhuanjing_on: Option<Date>,
    pub(super) little_giant_on: Option<Date>,
    pub(super) champion_on: Option<Date>,
    pub(super) giant_award_paid: Option<i64>,
}

/// Tax, statistics, R&D and financing.
#[derive(Clone, Debug)]
pub(super) struct Books {
    pub(super) rnd: i64,
    pub(super) rnd_prev: Option<i64>,
    pub(super) tax_local: i64,
    pub(super) star_prev: Option<i64>,
    pub(super) credit_grade: &'static str,
    pub(super) above_scale: bool,
    pub(super) above_scale_on: Option<Date>,
    pub(super) patents: i64,
    pub(super) ip_loan: i64,
    pub(super) ip_loan_interest: i64,
}

/// Innovative drugs and devices (药监): only approved firms are on file.
#[derive(Clone, Debug)]
pub(super) struct Pharma {
    pub(super) drugs_approved: Option<i64>,
    pub(super) devices_approved: Option<i64>,
    pub(super) made_in_province: Option<bool>,
}

impl Firm {
    pub(super) fn new(rng: &mut Rng) -> Firm {
        let today = reference_day();
        let region = *rng.weighted(REGIONS);
        let trade = *rng.weighted(TRADES);
        let employees = headcount(rng);
        let registered_on = from_days(to_days(today) - rng.skewed(30, 30 * 365, 2));
        let age_months = registered_on.months_until(today).max(0);
        let (lo, hi) = trade.sector.revenue_per_head();
        let per_head = rng.skewed(lo, hi, 2);
        // Whole yuan; a firm younger than a year reports part of a year, and a
        // few have no revenue yet.
        let revenue_yuan = if rng.chance(0.02) {
            0
        } else {
            employees * per_head / 100 * 100 * age_months.clamp(1, 12) / 12 + rng.range(0, 99)
        };
        let size = size_class(trade.sector, employees, revenue_yuan);
        let revenue_prev =
            (age_months >= 24).then(|| revenue_yuan * YUAN * rng.range(70, 120) / 100);
        let staff = Staff::new(rng, employees, age_months);
        let ladder = Ladder::new(rng, trade, employees, revenue_yuan, size, registered_on);
        let books = Books::new(rng, revenue_yuan, &ladder, registered_on, age_months);
        let pharma = Pharma::new(rng, trade);
        Firm {
            name: firm_name(rng, region, trade),
            region,
            industry: trade.code,
            // the size class is often missing in the social-insurance data
            size: if rng.chance(0.05) { None } else { size },
            registered_on,
            employees,
            revenue: revenue_yuan * YUAN,
            revenue_prev,
            staff,
            ladder,
            books,
            pharma,
            serious_dishonesty: rng.chance(0.015),
        }
    }

    pub(super) fn tags(&self) -> Vec<&'static str> {
        let l = &self.ladder;
        let has = [
            l.hightech_tagged,
            l.zhuanjing_on.is_some(),
            l.little_giant_on.is_some(),
            self.books.above_scale,
            l.tech_sme,
            l.champion_on.is_some(),
        ];
        TAGS.iter()
            .zip(has)
            .filter(|(_, h)| *h)
            .map(|(t, _)| *t)
            .collect()
    }

    /// The value of a known field; `None` is an empty cell by design.
    pub(super) fn value(&self, c: Concept) -> Option<Val> {
        use Concept as C;
        let (s, l, b, p) = (&self.staff, &self.ladder, &self.books, &self.pharma);
        Some(match c {
            C::Key => return None, // written by the caller
            C::Name => Val::Text(self.name.clone()),
            C::Region => Val::Text(self.region.code.to_string()),
            C::Industry => Val::Text(self.industry.to_string()),
            C::Size => Val::Text(self.size?.to_string()),
            C::RegisteredOn => Val::Day(self.registered_on),
            C::Tags => Val::List(self.tags()),
            C::Employees => Val::Int(self.employees),
            C::Revenue => Val::Cents(self.revenue),
            C::RevenuePrev => Val::Cents(self.revenue_prev?),
            C::InsuredMonths => Val::Int(s.insured_months),
            C::LayoffRate => Val::Pct(s.layoff_rate),
            C::UiPremiumPaid => Val::Cents(s.ui_premium_paid),
            C::GraduatesHired => Val::Int(s.graduates_hired),
            C::GradInsuredMonths => Val::Int(s.grad_insured_months),
            C::GradInsurancePaid => Val::Cents(s.grad_insurance_paid),
            C::HightechOn => Val::Day(l.hightech_on?),
            C::HightechTimes => Val::Int(l.hightech_times?),
            C::InnovativeSmeOn => Val::Day(l.innovative_sme_on?),
            C::ZhuanjingOn => Val::Day(l.zhuanjing_on?),
            C::LittleGiantOn => Val::Day(l.little_giant_on?),
            C::ChampionOn => Val::Day(l.champion_on?),
            C::GiantAwardPaid => Val::Cents(l.giant_award_paid?),
            C::Rnd => Val::Cents(b.rnd),
            C::RndPrev => Val::Cents(b.rnd_prev?),
            C::TaxLocal => Val::Cents(b.tax_local),
            C::StarPrev => Val::Int(b.star_prev?),
            C::CreditGrade => Val::Text(b.credit_grade.to_string()),
            C::AboveScale => Val::Bool(b.above_scale),
            C::AboveScaleOn => Val::Day(b.above_scale_on?),
            C::Patents => Val::Int(b.patents),
            C::IpLoan => Val::Cents(b.ip_loan),
            C::IpLoanInterest => Val::Cents(b.ip_loan_interest),
            C::DrugsApproved => Val::Int(p.drugs_approved?),
            C::DevicesApproved => Val::Int(p.devices_approved?),
            C::MadeInProvince => Val::Bool(p.made_in_province?),
            C::SeriousDishonesty => Val::Bool(self.serious_dishonesty),
        })
    }
}

/// Insured staff, heavy-tailed from 1 to 5000: most firms are small.
pub(super) fn headcount(rng: &mut Rng) -> i64 {
    match rng.weighted(&[
        (0u8, 30),
        (1, 18),
        (2, 20),
        (3, 12),
        (4, 11),
        (5, 6),
        (6, 3),
    ]) {
        0 => rng.range(1, 9),
        1 => rng.range(10, 19),
        2 => rng.range(20, 49),
        3 => rng.range(50, 99),
        4 => rng.skewed(100, 299, 2),
        5 => rng.skewed(300, 999, 2),
        _ => rng.skewed(1000, 5000, 3),
    }
}

impl Staff {
    pub(super) fn new(rng: &mut Rng, employees: i64, age_months: i64) -> Staff {
        let cap = age_months.min(120);
        let insured_months = if rng.chance(0.8) {
            cap
        } else {
            rng.range(0, cap)
        };
        let layoff_rate = if employees <= 30 {
            if rng.chance(0.6) {
                0
            } else {
                // one to three people out of a small staff, at most a third
                let k = rng.range(1, 3).min(employees / 3);
                (k * 10_000 + employees / 2) / employees.max(1)
            }
        } else {
            match rng.weighted(&[(0u8, 55), (1, 28), (2, 2), (3, 15)]) {
                0 => rng.range(0, 30) * 10,
                1 => rng.range(30, 54) * 10,
                2 => 550, // exactly at the 5.5% line
                _ => rng.range(56, 150) * 10,
            }
        };
        // employer and employee together pay about 1% of the wage base
        let wage_base = rng.range(30, 90) * 100;
        let ui_rate = rng.range(70, 100); // per ten thousand
        let ui_premium_paid = employees * wage_base * insured_months.min(12) * ui_rate / 100;
        let hires_p = if employees >= 10 { 0.4 } else { 0.12 };
        let graduates_hired = if rng.chance(hires_p) {
            rng.skewed(1, (employees / 15).clamp(1, 150), 2)
        } else {
            0
        };
        let (grad_insured_months, grad_insurance_paid) = if graduates_hired > 0 {
            let months = rng.range(1, 18);
            let monthly = rng.range(9, 18) * 100; // the employer's share, yuan
            (months, graduates_hired * months * monthly * YUAN)
        } else {
            (0, 0)
        };
        Staff {
            insured_months,
            layoff_rate,
            ui_premium_paid,
            graduates_hired,
            grad_insured_months,
            grad_insurance_paid,
        }
    }
}

impl Ladder {
    pub(super) fn new(
        rng: &mut Rng,
        trade: Trade,
        employees: i64,
        revenue_yuan: i64,
        size: Option<&str>,
        registered_on: Date,
    ) -> Ladder {
        let today = reference_day();
        let innovative = trade.sector.innovative();
        let sme = size != Some("大型");
        let tech_sme =
            innovative && employees <= 500 && revenue_yuan <= 20_000 * WAN && rng.chance(0.35);
        let hightech = innovative && employees >= 5 && rng.chance(if tech_sme { 0.4 } else { 0.2 });
        // A certificate lasts three years: the latest one falls in the last three.
        let (hightech_on, hightech_times, hightech_tagged) = if hightech {
            let on = rng_day(rng, add_days(add_years(today, -3), 1), today).max(registered_on);
            let possible = 1 + i64::from((on.year() - registered_on.year()).max(0)) / 3;
            let times = if rng.chance(0.55) {
                1
            } else {
                rng.range(1, possible.clamp(1, 6))
            };
            (Some(on), Some(times), true)
        } else if innovative && rng.chance(0.05) && registered_on < add_years(today, -5) {
            let on = rng_day(rng, add_years(today, -8), add_years(today, -4)).max(registered_on);
            (Some(on), Some(1), false)
        } else {
            (None, None, false)
        };
        // 创新型中小企业 evaluation began in 2022.
        let innovative_sme_on = if innovative && sme && rng.chance(0.25) {
            let year = *rng.weighted(&[(2022, 25), (2023, 35), (2024, 40)]);
            let start = Date::new(year, 1, 1).unwrap_or(today).max(registered_on);
            let end = Date::new(year, 12, 31).unwrap_or(today).min(today);
            (start <= end).then(|| rng_day(rng, start, end))
        } else {
            None
        };
        let next_step = |rng: &mut Rng, from: Option<Date>, p: f64, gap: i64| match from {
            Some(d) if rng.chance(p) && add_days(d, gap) <= today => {
                Some(rng_day(rng, add_days(d, gap), today))
            }
            _ => None,
        };
        let zhuanjing_on = next_step(rng, innovative_sme_on, 0.45, 60);
        let little_giant_on = next_step(rng, zhuanjing_on, 0.25, 90);
        let champion_on = if trade.sector == Sector::Industry
            && (little_giant_on.is_some() || size == Some("大型"))
            && rng.chance(0.3)
        {
            let start = if rng.chance(0.35) {
                Date::new(2024, 1, 1).unwrap_or(today)
            } else {
                add_years(today, -8)
            };
            Some(rng_day(rng, start.max(registered_on), today))
        } else {
            None
        };
        let giant_award_paid = little_giant_on
            .map(|_| *rng.weighted(&[(100 * WAN, 70), (50 * WAN, 20), (0, 10)]) * YUAN);
        Ladder {
            tech_sme,
            hightech_on,
            hightech_times,
            hightech_tagged,
            innovative_sme_on,
            zhuanjing_on,
            little_giant_on,
            champion_on,
            giant_award_paid,
        }
    }
}

impl Books {
    pub(super) fn new(
        rng: &mut Rng,
        revenue_yuan: i64,
        ladder: &Ladder,
        registered_on: Date,
        age_months: i64,
    ) -> Books {
        let today = reference_day();
        let revenue = revenue_yuan * YUAN;
        // 规上: main-business revenue of 20 million yuan, with a little noise
        let above_scale = if revenue_yuan >= 2000 * WAN {
            rng.chance(0.96)
        } else {
            rng.chance(0.01)
        };
        let above_scale_on = if above_scale {
            let first = registered_on.max(Date::new(2011, 1, 1).unwrap_or(today));
            let recent = Date::new(2024, 1, 1).unwrap_or(today).max(first);
            let start = if rng.chance(0.15) { recent } else { first };
            Some(rng_day(rng, start, today))
        } else {
            None
        };

        // R&D: common among the certified, rare elsewhere (hundredths of a
        // percent of revenue).
        let certified = ladder.hightech_tagged || ladder.tech_sme || ladder.zhuanjing_on.is_some();
        let rnd_rate = if certified {
            rng.skewed(150, 1200, 2)
        } else if rng.chance(0.35) {
            rng.range(10, 300)
        } else {
            0
        };
        let rnd = revenue * rnd_rate / 10_000;
        let rnd_prev = if rnd == 0 {
            Some(0)
        } else if age_months < 24 {
            // a young firm: no R&D the year before, or not reported
            if rng.chance(0.7) {
                Some(0)
            } else {
                None
            }
        } else if rng.chance(0.1) {
            Some(0)
        } else if rng.chance(0.72) {
            Some(rnd * rng.range(60, 99) / 100)
        } else {
            Some(rnd * rng.range(100, 130) / 100)
        };

        let tax_local = revenue * rng.skewed(50, 600, 2) / 10_000;
        let star_prev = if age_months >= 24 {
            Some(star(tax_local * rng.range(70, 120) / 100))
        } else {
            None
        };
        let credit_grade = if age_months < 12 {
            "M" // 新设立企业
        } else {
            *rng.weighted(&[("A", 35), ("B", 40), ("M", 12), ("C", 9), ("D", 4)])
        };

        let patents = if ladder.hightech_tagged {
            rng.skewed(1, 120, 2)
        } else if ladder.tech_sme {
            rng.skewed(0, 20, 2)
        } else if rng.chance(0.15) {
            rng.range(1, 5)
        } else {
            0
        };
        let (ip_loan, ip_loan_interest) = if patents > 0 && rng.chance(0.12) {
            let loan = rng.skewed(10, 300, 2) * 10 * WAN * YUAN;
            let rate = rng.range(300, 450); // hundredths of a percent a year
            let months = rng.range(6, 12);
            (loan, loan * rate * months / 10_000 / 12)
        } else {
            (0, 0)
        };
        Books {
            rnd,
            rnd_prev,
            tax_local,
            star_prev: star_prev.filter(|s| *s > 0),
            credit_grade,
            above_scale,
            above_scale_on,
            patents,
            ip_loan,
            ip_loan_interest,
        }
    }
}

impl Pharma {
    pub(super) fn new(rng: &mut Rng, trade: Trade) -> Pharma {
        let drugs_approved = (trade.code.starts_with("C27") && rng.chance(0.06))
            .then(|| *rng.weighted(&[(1, 75), (2, 20), (3, 5)]));
        let devices_approved = (trade.code.starts_with("C358") && rng.chance(0.08))
            .then(|| *rng.weighted(&[(1, 80), (2, 20)]));
        let approved = drugs_approved.is_some() || devices_approved.is_some();
        Pharma {
            drugs_approved,
            devices_approved,
            made_in_province: approved.then(|| rng.chance(0.8)),
        }
    }
}

/// 大型/中型/小型/微型 by the 2011 standard: a class needs both of its lower
/// bounds; what misses the small class is micro.
pub(super) fn size_class(
    sector: Sector,
    employees: i64,
    revenue_yuan: i64,
) -> Option<&'static str> {
    let classes = ["大型", "中型", "小型"];
    for (class, (e, r)) in classes.iter().zip(sector.thresholds()) {
        if employees >= e && revenue_yuan >= r {
            return Some(class);
        }
    }
    Some("微型")
}

/// Stars of a local fiscal contribution in cents (the example 星级纳税 bands).
pub(super) fn star(tax_cents: i64) -> i64 {
    let yuan = tax_cents / YUAN;
    match yuan {
        y if y >= 30_000 * WAN => 5,
        y if y >= 15_000 * WAN => 4,
        y if y >= 8000 * WAN => 3,
        y if y >= 4000 * WAN => 2,
        y if y >= 2000 * WAN => 1,
        _ => 0,
    }
}

pub(super) fn firm_name(rng: &mut Rng, region: Region, trade: Trade) -> String {
    let a = rng.pick(BRAND);
    let b = rng.pick(BRAND);
    let kind = rng.weighted(&[("有限公司", 70), ("股份有限公司", 15), ("有限责任公司", 15)]);
    let tech = if trade.sector.innovative() && rng.chance(0.4) {
        "科技"
    } else {
        ""
    };
    format!("{}{a}{b}{}{tech}{kind}", region.city, trade.word)
}
