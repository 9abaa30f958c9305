from __future__ import annotations

import itertools
import json
import os
import re
import time
from pathlib import Path
from typing import Any, Dict, Optional

import pytest
import yaml

from bot.shared.program import CATEGORY_KEYS, ProgramDataError, load_knowledge
from bot.shared.program.eligibility import Assessment, Profile, RulesCache, assess, default_rules, load_rules

RULES = load_rules()
CJK = re.compile(r"[\u3400-\u9fff]")

# (id, profile, expected category, expected qualified)
CASES = [
    # strategic partners
    ("german-fg500-carmaker", dict(org_type="enterprise", credentials=["fortune_global_500"], employees=650000,
                                   revenue_band="over_100b", industry="Automobiles and electric vehicles",
                                   country="Germany", guangzhou_presence="present"), "strategic_partner", True),
    ("us-fg500-pharma", dict(org_type="enterprise", credentials=["fortune_global_500"], industry="pharmaceuticals",
                             country="United States", guangzhou_presence="planning"), "strategic_partner", True),
    ("fg500-oil-no-link", dict(org_type="enterprise", credentials=["fortune_global_500"], industry="oil and gas",
                               country="United Kingdom"), "strategic_partner", True),
    ("chinese-fg500-ecommerce", dict(org_type="enterprise", credentials=["fortune_global_500", "china_top_500"],
                                     industry="电子商务与物流", country="中国", guangzhou_presence="present"),
     "strategic_partner", True),
    ("ai-industry-leader", dict(org_type="enterprise", credentials=["industry_leader"], employees=3000,
                                industry="artificial intelligence platforms", country="China"), "strategic_partner", True),
    ("top-institute-ai-biomed", dict(org_type="research_institution", credentials=["top_research_institution"],
                                     industry="AI for drug discovery and biomedicine", country="China"),
     "strategic_partner", True),
    ("top-think-tank-digital", dict(org_type="research_institution", credentials=["top_research_institution"],
                                    industry="数字经济政策研究", country="中国"), "strategic_partner", True),
    ("leader-and-top500-robotics", dict(org_type="enterprise", credentials=["industry_leader", "china_top_500"],
                                        industry="industrial robots", country="China"), "strategic_partner", True),
    # super partners
    ("japanese-robotics-equal-standing", dict(org_type="enterprise", employees=30000, revenue_band="10b_to_100b",
                                              industry="robotics and industrial automation", country="Japan",
                                              guangzhou_presence="planning"), "super_partner", True),
    ("french-battery-maker-by-staff", dict(org_type="enterprise", employees=12000, revenue_band="1b_to_10b",
                                           industry="batteries", country="France"), "super_partner", True),
    ("renowned-law-firm", dict(org_type="professional_services", credentials=["renowned_firm"], employees=800,
                               industry="legal services", country="China"), "super_partner", True),
    ("renowned-uk-accounting-firm", dict(org_type="professional_services", credentials=["renowned_firm"],
                                         industry="audit and tax", country="United Kingdom",
                                         guangzhou_presence="present"), "super_partner", True),
    ("china-top500-construction", dict(org_type="enterprise", credentials=["china_top_500"],
                                       industry="infrastructure construction", country="China",
                                       guangzhou_presence="present"), "super_partner", True),
    ("private-top500-new-energy", dict(org_type="enterprise", credentials=["china_private_top_500"],
                                       industry="新能源汽车电池", country="中国"), "super_partner", True),
    ("manufacturing-top500-auto-parts", dict(org_type="enterprise", credentials=["china_manufacturing_top_500"],
                                             industry="auto parts", country="China"), "super_partner", True),
    ("software-top100", dict(org_type="enterprise", credentials=["china_software_top_100"],
                             industry="enterprise software", country="China"), "super_partner", True),
    ("single-product-champion", dict(org_type="enterprise", credentials=["single_product_champion"], employees=2500,
                                     industry="precision reducers for robots", country="China"), "super_partner", True),
    ("little-giant-5g", dict(org_type="enterprise", credentials=["little_giant"], employees=400,
                             industry="5G antennas", country="China", guangzhou_presence="planning"), "super_partner", True),
    ("little-giant-textiles-no-plans", dict(org_type="enterprise", credentials=["little_giant"], employees=300,
                                            industry="technical textiles", country="China"), "super_partner", False),
    # city dreamers
    ("ai-startup-planning", dict(org_type="enterprise", employees=20, industry="AI software for retail",
                                 country="Singapore", guangzhou_presence="planning"), "city_dreamer", True),
    ("specialized-sme-biomed", dict(org_type="enterprise", credentials=["specialized_sophisticated"], employees=150,
                                    industry="medical devices", country="China", guangzhou_presence="present"),
     "city_dreamer", True),
    ("blockchain-sme-contribution-only", dict(org_type="enterprise", employees=60, industry="区块链溯源",
                                              country="中国", contribution="open a Greater Bay Area R&D lab"),
     "city_dreamer", True),
    ("small-consultancy-planning", dict(org_type="professional_services", employees=15, industry="brand consulting",
                                        guangzhou_presence="planning", contribution="city branding workshops"),
     "city_dreamer", True),
    ("foreign-small-firm-planning", dict(org_type="enterprise", employees=50, revenue_band="10m_to_100m",
                                         industry="solar inverters", country="Spain", guangzhou_presence="planning"),
     "city_dreamer", True),
    ("specialized-sme-without-wish", dict(org_type="enterprise", credentials=["specialized_sophisticated"],
                                          employees=120, industry="smart manufacturing", country="China"),
     "city_dreamer", False),
    ("sme-textiles-no-plans", dict(org_type="enterprise", employees=50, industry="textiles", country="China"),
     "city_dreamer", False),
    ("sme-unknown-industry-planning", dict(org_type="enterprise", employees=30, guangzhou_presence="planning"),
     "city_dreamer", False),
    # city ambassadors
    ("sports-star", dict(org_type="individual", field="sports", achievement="internationally_renowned",
                         promotion="appear at the Guangzhou Marathon"), "city_ambassador", True),
    ("leading-scientist", dict(org_type="individual", field="science_technology", achievement="nationally_renowned"),
     "city_ambassador", True),
    ("major-project-investor", dict(org_type="individual", field="investment", achievement="nationally_renowned",
                                    contribution="a new-energy plant in Nansha"), "city_ambassador", True),
    ("film-director", dict(org_type="individual", field="culture", achievement="internationally_renowned",
                           country="France"), "city_ambassador", True),
    ("health-expert", dict(org_type="individual", field="health", achievement="nationally_renowned",
                           promotion="健康讲座"), "city_ambassador", True),
    ("working-engineer", dict(org_type="individual", field="science_technology", achievement="professional",
                              guangzhou_presence="present", promotion="post about Guangzhou"), "city_ambassador", False),
    # no category
    ("student-looking-for-job", dict(org_type="individual", field="other", achievement="none",
                                     promotion="I am looking for a job in Guangzhou"), None, False),
    ("renowned-in-other-field", dict(org_type="individual", field="other", achievement="internationally_renowned"),
     None, False),
    ("large-firm-no-credential", dict(org_type="enterprise", employees=5000, industry="AI", country="China",
                                      guangzhou_presence="planning"), None, False),
    ("foreign-mid-size-not-equal", dict(org_type="enterprise", employees=2000, revenue_band="1b_to_10b",
                                        industry="furniture", country="Italy"), None, False),
    ("leader-no-industry-link", dict(org_type="enterprise", credentials=["industry_leader"], employees=5000,
                                     industry="coal mining", country="China"), None, False),
    ("institute-no-credential", dict(org_type="research_institution", industry="AI"), None, False),
    ("top-institute-unrelated-field", dict(org_type="research_institution", credentials=["top_research_institution"],
                                           industry="classical philology"), None, False),
]


# Profiles from tries with independent personas, judged against the category definitions (program-facts.md):
# (id, profile, expected category, expected outcome: qualified / review (offered to staff) / not_eligible).
OUTCOMES = [
    ("leading-think-tank-ai", dict(org_type="research_institution", credentials=["top_research_institution"],
                                   industry="artificial intelligence governance", country="China"),
     "strategic_partner", "qualified"),
    ("national-key-lab-biomedicine", dict(org_type="research_institution", credentials=["national_key_laboratory"],
                                          industry="生物医药", country="中国", guangzhou_presence="present"),
     "strategic_partner", "qualified"),
    ("creative-studio-moving-for-the-city-brand", dict(org_type="enterprise", employees=25, industry="creative advertising",
                                                       country="China", guangzhou_presence="planning",
                                                       contribution="campaigns for Guangzhou's city brand"),
     "city_dreamer", "qualified"),
    ("design-sme-present", dict(org_type="enterprise", employees=60, industry="文创设计", country="中国",
                                guangzhou_presence="present"), "city_dreamer", "qualified"),
    ("academician", dict(org_type="individual", field="science_technology", achievement="nationally_renowned"),
     "city_ambassador", "qualified"),
    ("little-giant-no-plans", dict(org_type="enterprise", credentials=["little_giant"], employees=300,
                                   industry="technical textiles", country="China"), "super_partner", "review"),
    ("working-photographer", dict(org_type="individual", field="culture", achievement="professional",
                                  promotion="photos of Guangzhou", guangzhou_presence="present"),
     "city_ambassador", "review"),
    ("travel-influencer", dict(org_type="individual", field="other", achievement="nationally_renowned",
                               promotion="travel videos"), None, "review"),
    ("sports-federation", dict(org_type="other", country="Hong Kong", contribution="dragon boat races"), None, "review"),
    ("large-ai-firm-planning", dict(org_type="enterprise", employees=5000, industry="AI", country="China",
                                    guangzhou_presence="planning"), None, "review"),
    ("student-looking-for-job", dict(org_type="individual", field="other", achievement="none",
                                     promotion="I am looking for a job in Guangzhou"), None, "not_eligible"),
    ("foreign-mid-size-not-equal", dict(org_type="enterprise", employees=2000, revenue_band="1b_to_10b",
                                        industry="furniture", country="Italy"), None, "not_eligible"),
    ("top-institute-unrelated-field", dict(org_type="research_institution", credentials=["top_research_institution"],
                                           industry="classical philology"), None, "not_eligible"),
]


@pytest.mark.parametrize(("profile", "category", "outcome"), [c[1:] for c in OUTCOMES], ids=[c[0] for c in OUTCOMES])
def test_profiles_are_judged_faithfully_and_close_ones_go_to_staff(profile: Dict[str, Any], category: Optional[str],
                                                                 outcome: str) -> None:
    result = run(profile)
    assert (result.category, result.outcome) == (category, outcome), en(result)
    assert ("staff can look at it" in en(result)) == (outcome == "review")


def run(data: Dict[str, Any], rules=RULES) -> Assessment:
    return assess(Profile.from_dict({"name": "Test", **data}, rules), rules)


def en(result: Assessment) -> str:
    return "\n".join(r.en for r in result.reasons)


@pytest.mark.parametrize(("profile", "category", "qualified"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_profiles_get_the_expected_category(profile: Dict[str, Any], category: Optional[str], qualified: bool) -> None:
    result = run(profile)
    assert (result.category, result.qualified) == (category, qualified), en(result)
    assert 0 <= result.score <= 100
    if result.qualified:
        assert result.score >= RULES.threshold
    assert result.rules_version == RULES.version


def test_the_table_is_large_and_covers_every_category() -> None:
    assert len(CASES) >= 30
    assert {c[2] for c in CASES} == set(CATEGORY_KEYS) | {None}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_reason_is_bilingual_and_fully_filled_in(case) -> None:
    result = run(case[1])
    assert result.reasons
    for reason in result.reasons:
        assert reason.en.strip() and reason.zh.strip()
        assert CJK.search(reason.zh), reason.zh
        assert not re.search(r"\{\w+\}", reason.en + reason.zh)
    assert "not a decision" in result.reasons[-1].en


def test_reasons_explain_the_recommendation_from_the_definition() -> None:
    carmaker = run(CASES[0][1])
    assert "Recommended category: Strategic partner" in en(carmaker)
    assert "Fortune Global 500 companies are named in the Strategic partner definition" in en(carmaker)
    assert "automobiles" in en(carmaker) and "汽车" in carmaker.reasons[2].zh
    law = run(dict(org_type="professional_services", credentials=["renowned_firm"], industry="legal services"))
    assert "Well-known law, accounting" in en(law)
    assert "no link" not in en(law)  # professional firms serve every industry


def test_no_link_with_key_industries_costs_points_and_says_so() -> None:
    base = dict(org_type="enterprise", credentials=["fortune_global_500"], country="UK")
    fits, no_link = run({**base, "industry": "biotech"}), run({**base, "industry": "oil and gas"})
    assert no_link.score < fits.score
    assert "no link between your industry (oil and gas)" in en(no_link)
    assert "未发现您的行业（oil and gas）与广州重点产业" in "".join(r.zh for r in no_link.reasons)


def test_unrelated_company_without_guangzhou_plans_is_not_qualified_with_reasons() -> None:
    result = run(dict(org_type="enterprise", employees=50, industry="textiles", country="China"))
    assert not result.qualified and result.score < RULES.threshold
    text = en(result)
    assert "no link between your industry (textiles)" in text
    assert "strong wish to take part in Guangzhou's development" in text
    assert "below the 60 needed" in text


def test_shortfalls_ask_for_what_is_missing() -> None:
    assert "Tell us your industry" in en(run(dict(org_type="enterprise", employees=30, guangzhou_presence="planning")))
    no_size = run(dict(org_type="enterprise", industry="AI", guangzhou_presence="planning"))
    assert no_size.category is None and "Tell us how many employees" in en(no_size)
    leader = run(dict(org_type="enterprise", credentials=["industry_leader"], industry="coal mining"))
    assert "Industry-leading enterprise: the Strategic partner definition covers these only when" in en(leader)


def test_student_gets_no_category_and_the_ambassador_definition() -> None:
    result = run(dict(org_type="individual", field="other", achievement="none", promotion="looking for a job"))
    assert (result.category, result.qualified, result.score, result.alternatives) == (None, False, 0, ())
    assert "matches none of these category definitions" in en(result)
    assert "City ambassador: Individuals: leading scientists" in en(result)
    assert "Strategic partner:" not in en(result)


def test_alternatives_are_other_qualifying_categories_best_first() -> None:
    carmaker = run(CASES[0][1])
    assert carmaker.alternatives == ("super_partner",)
    assert "You also fit: Super partner." in en(carmaker)
    giant = run(dict(org_type="enterprise", credentials=["little_giant", "specialized_sophisticated"], employees=200,
                     industry="5G modules", guangzhou_presence="present"))
    assert (giant.category, giant.alternatives) == ("super_partner", ("city_dreamer",))
    assert "您也符合：城市梦想家。" in [r.zh for r in giant.reasons]
    for _, profile, _, _ in CASES:
        result = run(profile)
        assert result.category not in result.alternatives
        assert len(set(result.alternatives)) == len(result.alternatives)
        if not result.qualified:
            assert result.alternatives == ()


def test_score_stays_within_bounds_for_every_combination() -> None:
    options = RULES.options
    credentials = [(), ("fortune_global_500", "china_top_500", "little_giant"), ("specialized_sophisticated",)]
    for org, creds, presence, industry, employees in itertools.product(
        options["org_types"], credentials, options["guangzhou_presence"], ["", "AI", "textiles"], [None, 5, 50000]
    ):
        for field, achievement in itertools.product([None, *options["fields"]], [None, *options["achievements"]]):
            profile = Profile(name="x", org_type=org, credentials=creds, employees=employees, industry=industry,
                              guangzhou_presence=presence, contribution="x", field=field, achievement=achievement,
                              promotion="y", country="Japan", revenue_band="over_100b")
            result = assess(profile, RULES)
            assert 0 <= result.score <= 100
            assert result.category is None or result.category in CATEGORY_KEYS
            assert result.qualified <= (result.score >= RULES.threshold)


def test_to_dict_is_json_ready_in_both_forms() -> None:
    result = run(CASES[0][1])
    both = json.loads(json.dumps(result.to_dict()))
    assert both["category"] == "strategic_partner" and both["alternatives"] == ["super_partner"]
    assert both["qualified"] is True and both["rules_version"] == RULES.version
    assert set(both["reasons"][0]) == {"en", "zh"}
    zh = result.to_dict("zh")
    assert all(isinstance(r, str) for r in zh["reasons"]) and zh["reasons"][0].startswith("推荐类别：战略合作伙伴")
    assert result.to_dict("en")["reasons"][0].startswith("Recommended category")
    with pytest.raises(ValueError, match="language"):
        result.to_dict("fr")


def test_from_dict_accepts_form_values() -> None:
    profile = Profile.from_dict(
        {"name": " Acme ", "org_type": "enterprise", "credentials": "none", "employees": "20_to_299",
         "revenue_band": "", "industry": " AI ", "guangzhou_presence": "planning"},
        RULES,
    )
    assert (profile.name, profile.credentials, profile.employees, profile.revenue_band, profile.industry) == (
        "Acme", (), 20, None, "AI")
    assert Profile.from_dict({"name": "x", "org_type": "enterprise", "employees": "42"}, RULES).employees == 42
    assert Profile.from_dict({"name": "x", "org_type": "enterprise"}).guangzhou_presence == "none"
    dumped = profile.to_dict()
    assert Profile.from_dict(dumped, RULES) == profile and json.dumps(dumped)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"org_type": "company"}, "org_type: 'company' is not one of"),
        ({"org_type": "enterprise", "credentials": ["fortune_500"]}, "credentials: 'fortune_500'"),
        ({"org_type": "enterprise", "credentials": ["none", "little_giant"]}, "'none' cannot be combined"),
        ({"org_type": "enterprise", "credentials": 5}, "credentials: expected a list"),
        ({"org_type": "enterprise", "guangzhou_presence": "maybe"}, "guangzhou_presence: 'maybe'"),
        ({"org_type": "enterprise", "revenue_band": "huge"}, "revenue_band: 'huge'"),
        ({"org_type": "individual", "field": "music"}, "field: 'music'"),
        ({"org_type": "individual", "achievement": "famous"}, "achievement: 'famous'"),
        ({"org_type": "enterprise", "employees": -3}, "negative"),
        ({"org_type": "enterprise", "employees": "lots"}, "neither a whole number nor one of"),
        ({"org_type": "enterprise", "employees": True}, "employees"),
        ({"org_type": "enterprise", "industry": 42}, "industry: expected text"),
        ({"org_type": "enterprise", "size": "big"}, "unknown profile field(s) size"),
        ({"name": "x"}, "org_type is required"),
    ],
)
def test_from_dict_rejects_bad_values_clearly(data: Dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as error:
        Profile.from_dict(data, RULES)
    assert message in str(error.value)


def test_assess_checks_a_profile_built_directly() -> None:
    with pytest.raises(ValueError, match="credentials: 'platinum'"):
        assess(Profile(name="x", org_type="enterprise", credentials=("platinum",)), RULES)


def test_shipped_rules_match_the_category_definitions_and_key_industries() -> None:
    kb = load_knowledge()
    assert [rule.key for rule in RULES.categories] == list(CATEGORY_KEYS)
    for rule in RULES.categories:
        assert rule.name == kb.categories[rule.key].singular
        assert rule.who == kb.categories[rule.key].who
    assert [i.key for i in RULES.industries] == [
        "information_technology", "artificial_intelligence", "biomedicine", "digital_economy", "five_g",
        "blockchain", "service_oriented_manufacturing", "automobiles", "new_energy", "robotics",
    ]
    assert list(RULES.options["org_types"]) == ["enterprise", "research_institution", "professional_services", "individual",
                                                "other"]
    assert list(RULES.options["guangzhou_presence"]) == ["none", "planning", "present"]
    assert RULES.label("credentials", "little_giant").zh == "国家级专精特新“小巨人”企业"
    assert len(RULES.options["credentials"]) == 13 and len(RULES.options["fields"]) == 8
    assert len(RULES.options["achievements"]) == 4 and RULES.options["employee_bands"]


@pytest.mark.parametrize(
    ("text", "fits"),
    [("AI chips", True), ("人工智能", True), ("新能源汽车", True), ("flying cars", True), ("5G基站", True),
     ("biotech startup", True), ("said and done", False), ("cargo shipping", False), ("textiles", False)],
)
def test_industry_keywords_match_whole_words_and_chinese(text: str, fits: bool) -> None:
    assert any(i.matches(text) for i in RULES.industries) == fits


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("threshold: 60", "threshold: 160", "threshold: expected a whole number from 0 to 100"),
        ("threshold: 60", "treshold: 60", "unknown key(s) treshold"),
        ("      - credential: china_top_500\n", "      - credential: china_top_5000\n",
         "categories.super_partner.routes[0].credential: 'china_top_5000' is not one of"),
        ("        points: 80\n", "        points: eighty\n", "categories.strategic_partner.routes[0].points"),
        ("        points: 80\n", "        point: 80\n", "unknown key(s) point"),
        ("      presence: {none: 0, planning: 15, present: 15}", "      presence: {none: 0, planning: 15}",
         "categories.city_dreamer.points.presence: missing key(s) present"),
        ("    requires: [wish]", "    requires: [luck]", "categories.city_dreamer.requires[0]: 'luck' is not one of"),
        ("      - sizes: [micro, small, medium]", "      - sizes: [micro, tiny]", "routes[1].sizes[1]: 'tiny'"),
        ("    zh: 得分{score}分，", "    zh: 得分{points}分，", "reasons.below_threshold: en and zh use different"),
        ("    en: \"You also fit: {categories}.\"", "    en: \"You also fit: {category}.\"", "reasons.also_fits"),
        ("  indicative:\n", "  indicative_note:\n", "unknown key(s) indicative_note"),
        ("{key: 20_to_299, min: 20,", "{key: 20_to_299, min: 25,", "employee_bands[1].min: bands must run on"),
        ("    planning: {en: Planning to come to Guangzhou, zh: 计划落地广州}\n", "",
         "wish.presence[0]: 'planning' is not one of"),
        ("    none: {en: None of these, zh: 以上都不是}\n", "", "options.credentials: missing option(s) none"),
        ("    culture: {en: Culture, zh: 文化}", "    culture: {en: Culture}", "options.fields.culture: missing language"),
        ("  min_revenue_band: 10b_to_100b", "  min_revenue_band: 10b", "equal_standing.min_revenue_band"),
        ("  - key: city_dreamer\n", "  - key: city_sleeper\n", "'city_sleeper' is not one of"),
        ("      - equal_standing: true\n", "      - org_types: [enterprise]\n        equal_standing: false\n",
         "a route needs at least one of"),
        ("categories:\n", "categories: [\n", "not valid YAML"),
    ],
)
def test_a_broken_rules_file_fails_loudly_naming_file_and_place(data_copy: Path, old: str, new: str, expected: str) -> None:
    path = data_copy / "eligibility.yml"
    edit(path, old, new)
    with pytest.raises(ProgramDataError) as error:
        load_rules(path)
    assert str(error.value).startswith("eligibility.yml: ")
    assert expected in str(error.value)


def test_a_missing_rules_file_fails_loudly(data_copy: Path) -> None:
    (data_copy / "eligibility.yml").unlink()
    with pytest.raises(ProgramDataError, match="eligibility.yml: file is missing"):
        load_rules(data_copy / "eligibility.yml")


STARTUP = dict(org_type="enterprise", employees=20, industry="AI software", guangzhou_presence="planning")


def test_staff_change_the_threshold_by_editing_the_file(data_copy: Path) -> None:
    path = data_copy / "eligibility.yml"
    assert run(STARTUP).qualified
    edit(path, "threshold: 60", "threshold: 75")
    stricter = load_rules(path)
    result = run(STARTUP, stricter)
    assert (result.category, result.qualified) == ("city_dreamer", False)
    assert "below the 75 needed" in en(result)
    assert result.rules_version == stricter.version != RULES.version


def test_staff_change_a_weight_by_editing_the_file(data_copy: Path) -> None:
    path = data_copy / "eligibility.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    dreamer = next(c for c in data["categories"] if c["key"] == "city_dreamer")
    dreamer["points"]["presence"]["planning"] = 0
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = run(STARTUP, load_rules(path))
    assert (result.category, result.qualified) == ("city_dreamer", False)
    assert result.score == run(STARTUP).score - 15


def test_staff_change_the_equal_standing_rule_by_editing_the_file(data_copy: Path) -> None:
    mid_size = dict(org_type="enterprise", employees=2000, revenue_band="1b_to_10b", industry="AI", country="Italy")
    assert run(mid_size).category is None
    path = data_copy / "eligibility.yml"
    edit(path, "  min_revenue_band: 10b_to_100b", "  min_revenue_band: 1b_to_10b")
    assert run(mid_size, load_rules(path)).category == "super_partner"


def bump_mtime(path: Path, seconds: int) -> None:
    stamp = time.time() + seconds  # a same-size edit within the clock's granularity would look unchanged
    os.utime(path, (stamp, stamp))


def test_default_rules_are_cached_and_reload_after_an_edit(data_copy: Path) -> None:
    assert default_rules() is default_rules()
    assert default_rules().version == RULES.version
    path = data_copy / "eligibility.yml"
    cache = RulesCache(path, check_interval=0)
    first = cache.current()
    assert cache.current() is first
    edit(path, "threshold: 60", "threshold: 65")
    bump_mtime(path, 5)
    assert cache.current().threshold == 65
    edit(path, "threshold: 65", "threshold: lots")
    bump_mtime(path, 10)
    assert cache.current().threshold == 65  # a broken edit keeps the last good rules


def test_rules_version_changes_when_a_category_definition_changes(data_copy) -> None:
    before = load_rules(data_copy / "eligibility.yml").version
    path = data_copy / "categories.yml"
    edited = path.read_text(encoding="utf-8").replace("think tanks whose field", "think tanks whose work")
    path.write_text(edited, encoding="utf-8")
    after = load_rules(data_copy / "eligibility.yml")
    assert after.version != before and "whose work" in after.category("strategic_partner").who.en


def test_cached_rules_reload_when_a_category_definition_changes(data_copy: Path) -> None:
    cache = RulesCache(data_copy / "eligibility.yml", check_interval=0)
    before = cache.current()
    edit(data_copy / "categories.yml", "think tanks whose field", "think tanks whose work")
    bump_mtime(data_copy / "categories.yml", 5)
    after = cache.current()
    assert after.version != before.version and "whose work" in after.category("strategic_partner").who.en
