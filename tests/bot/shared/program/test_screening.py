"""The screening conversation's logic without Rasa: which questions, how answers read, what is shown."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest

from bot.shared.program.screening import Screening, choice_payload
from bot.shared.program.screening_data import load_screening


@pytest.fixture(scope="module")
def s() -> Screening:
    return Screening(load_screening())


def run(s: Screening, replies: Dict[str, str], form: str = "screening_form") -> Dict[str, Any]:
    """Answer each question from `replies` (typed text) until the form needs nothing more."""
    answers: Dict[str, Any] = {}
    for _ in range(30):
        question = s.next_question(form, answers)
        if question is None:
            return answers
        reading = s.read(question, replies[question])
        assert reading.ok, (question, replies[question], reading.invalid)
        answers[question] = reading.value
        answers.update(s.unasked_answers(replies[question], question, answers))
    raise AssertionError("the form never ended")


CONTACT = {"contact_person": "Anna Schmidt", "email": "anna@example.com", "phone": "skip", "consent": "yes",
           "confirmed": "send"}


def test_a_foreign_fortune_500_firm_is_a_strategic_partner_and_gives_contact_details(s: Screening) -> None:
    answers = run(s, {"org_type": "We are a Fortune 500 firm", "org_name": "Siemens AG", "country": "Germany",
                      "employees": "about 300,000 people", "industry": "industrial automation",
                      "guangzhou_presence": "we plan to open an office", "contribution": "an R&D centre", **CONTACT})
    assert answers["credentials"] == ["fortune_global_500"]  # read from the first answer, never asked
    assert s.assessment(answers).category == "strategic_partner"
    assert answers["email"] == "anna@example.com" and answers["phone"] == "" and answers["consent"] is True


def test_a_chinese_20_person_startup_answering_in_chinese_is_a_city_dreamer(s: Screening) -> None:
    answers = run(s, {"org_type": "初创公司", "org_name": "广州智造科技", "country": "中国", "credentials": "没有",
                      "employees": "二十人", "industry": "工业机器人", "guangzhou_presence": "已经在广州",
                      "contribution": "希望在广州建立研发中心", "contact_person": "张伟", "email": "zw@example.cn",
                      "phone": "13800138000", "consent": "同意", "confirmed": "提交"})
    assessment = s.assessment(answers)
    assert assessment.category == "city_dreamer" and assessment.qualified
    assert answers["employees"] == 20 and answers["phone"] == "+8613800138000"


def test_a_student_looking_for_a_job_is_not_asked_for_contact_details(s: Screening) -> None:
    answers = run(s, {"org_type": "individual", "org_name": "Li Ming", "country": "China", "field": "education",
                      "achievement": "I'm a student looking for a job", "promotion": "skip",
                      "guangzhou_presence": "no", "contribution": "I want a job"})
    assert not s.assessment(answers).qualified
    assert "email" not in answers and "consent" not in answers


def test_a_law_firm_gets_no_employee_based_industry_question(s: Screening) -> None:
    answers = {"org_type": "professional_services", "org_name": "Baker LLP", "country": "UK", "credentials": ["renowned_firm"]}
    questions = s.profile_questions(answers)
    assert "industry" not in questions and "employees" in questions and "revenue_band" not in questions


def test_revenue_is_asked_only_when_it_can_decide(s: Screening) -> None:
    base = {"org_type": "enterprise", "org_name": "X", "credentials": ["none"], "employees": 500}
    assert "revenue_band" in s.profile_questions({**base, "country": "Germany"})
    assert "revenue_band" not in s.profile_questions({**base, "country": "China"})
    assert "revenue_band" not in s.profile_questions({**base, "country": "Germany", "credentials": ["fortune_global_500"]})
    assert "revenue_band" not in s.profile_questions({**base, "country": "Germany", "employees": 20000})


def test_individuals_get_their_own_questions(s: Screening) -> None:
    questions = s.profile_questions({"org_type": "individual"})
    assert {"field", "achievement", "promotion"} <= set(questions)
    assert not {"credentials", "employees", "industry"} & set(questions)
    assert s.prompt("org_name", {"org_type": "individual"}, "en").text == "What is your name?"


@pytest.mark.parametrize("question, text", [("email", "anna@"), ("phone", "12345"), ("employees", "lots"),
                                            ("org_type", "banana"), ("consent", "perhaps"), ("org_name", "no")])
def test_bad_answers_are_refused_with_a_message_key(s: Screening, question: str, text: str) -> None:
    reading = s.read(question, text)
    assert not reading.ok and reading.invalid.reason in s.data.messages


def test_buttons_send_option_keys(s: Screening) -> None:
    prompt = s.prompt("org_type", {}, "zh")
    assert [b.title for b in prompt.buttons][:1] == ["企业"]
    assert s.read("org_type", prompt.buttons[0].payload, choice="enterprise").value == "enterprise"
    assert s.read("credentials", "", choice="none").value == ["none"]
    assert s.read("employees", "", choice="20_to_299").value == "20_to_299"
    assert prompt.buttons[0].payload == choice_payload("enterprise")


def test_credential_buttons_fit_the_organisation_type(s: Screening) -> None:
    research = s.credential_options("research_institution")
    assert "top_research_institution" in research and "china_top_500" not in research and research[-1] == "none"
    assert "renowned_firm" not in s.credential_options("enterprise")


def test_corrections_and_early_answers_are_picked_up(s: Screening) -> None:
    answers = {"org_type": "enterprise", "email": "old@example.com", "employees": 40}
    found = s.unasked_answers("actually our email is new@example.com and we have 500 employees", "phone", answers)
    assert found == {"email": "new@example.com", "employees": 500}
    assert s.unasked_answers("we were founded in 2015", "contribution", answers) == {}


def test_summary_edit_and_cancel(s: Screening) -> None:
    assert s.read("confirmed", "", choice="edit:email").value == "edit:email"
    assert s.read("confirmed", "change the email").value == "edit:email"
    assert s.read("confirmed", "取消").value == "cancel"
    assert s.read("confirmed", "looks good").value == "send"


def test_refused_consent_ends_the_form_without_confirmation(s: Screening) -> None:
    answers = {"org_type": "enterprise", "org_name": "X", "country": "China", "credentials": ["china_top_500"],
               "employees": 5000, "industry": "cars", "guangzhou_presence": "present", "contribution": "x y",
               "contact_person": "A B", "email": "a@example.com", "phone": "", "consent": False}
    assert s.next_question("screening_form", answers) is None
    assert "confirmed" not in s.required("screening_form", answers)


def test_the_summary_shows_labels_in_the_users_language(s: Screening) -> None:
    answers = {"org_type": "enterprise", "org_name": "Acme", "country": "Germany", "credentials": ["none"],
               "employees": "20_to_299", "guangzhou_presence": "planning", "contribution": "", "industry": "robots"}
    summary = s.summary(answers, "zh")
    assert "企业" in summary and "20–299人" in summary and "计划落地广州" in summary and "（未填写）" in summary


def test_handoff_form_asks_only_what_a_handoff_needs(s: Screening) -> None:
    assert s.required("handoff_form", {}) == ["handoff_wanted"]
    answers = run(s, {"handoff_wanted": "yes", "handoff_note": "We need help with fees", **CONTACT}, "handoff_form")
    assert answers["handoff_note"] == "We need help with fees" and "org_type" not in answers


def test_questions_and_buttons_exist_in_both_languages(s: Screening) -> None:
    for question in ("org_type", "credentials", "employees", "field", "consent", "phone", "handoff_wanted"):
        for language in ("en", "zh"):
            prompt = s.prompt(question, {"org_type": "enterprise"}, language)
            assert prompt.text and all(b.title for b in prompt.buttons)


def first_missing(s: Screening, answers: Dict[str, Any]) -> Optional[str]:
    return s.next_question("screening_form", answers)


def test_the_first_question_is_the_type(s: Screening) -> None:
    assert first_missing(s, {}) == "org_type"
    order: List[str] = s.profile_questions({"org_type": "enterprise"})
    assert order[:3] == ["org_type", "org_name", "country"] and order[-2:] == ["guangzhou_presence", "contribution"]


WEBSITE = """  website:
    kind: text
    limits: [4, 200]
    skippable: true
    fills: details
    stage: profile
    when: organisation
    ask: {en: "Your website, if you have one?", zh: "贵机构的网站？"}
    label: {en: Website, zh: 网站}
    words: [website, web site, 网站]
"""


def test_a_new_free_text_question_is_asked_read_and_passed_on_from_its_declaration_alone(data_copy) -> None:
    path = data_copy / "screening.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  handoff_wanted:\n", WEBSITE + "  handoff_wanted:\n", 1), encoding="utf-8")
    s = Screening(load_screening(path))
    replies = {"org_type": "company", "org_name": "Acme Robotics", "country": "China", "credentials": "none",
               "employees": "80 people", "industry": "industrial robots", "guangzhou_presence": "already",
               "contribution": "a factory", "website": "acme-robotics.example", **CONTACT}
    answers = run(s, replies)
    assert s.profile_questions(answers)[-1] == "website"  # asked where it is declared, for organisations only
    assert s.profile_data(answers)["details"] == {"website": "acme-robotics.example"}
    assert "Website: acme-robotics.example" in s.summary(answers, "en")
    assert not s.read("website", "ab").ok and s.read("website", "skip").value == ""
    assert "website" not in s.profile_questions({"org_type": "individual"})
    assert s.edit_target("change the website") == "website"


def test_a_broken_question_declaration_names_the_problem(data_copy) -> None:
    from bot.shared.program.knowledge import ProgramDataError

    path = data_copy / "screening.yml"
    text = path.read_text(encoding="utf-8")
    for old, new, expected in [
        ("    kind: choices\n", "    kind: checkbox\n", "questions.credentials.kind"),
        ("    fills: profile.country\n", "    fills: profile.homeland\n", "questions.country.fills"),
        ("    limits: [2, 80]\n", "", "questions.country.limits"),
        ("    when: individual\n", "    when: someday\n", "questions.field.when"),
    ]:
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        with pytest.raises(ProgramDataError, match=expected.replace(".", r"\.")):
            load_screening(path)


def test_an_indication_names_the_likely_category_from_a_self_description(s: Screening) -> None:
    answers = s.describe("We're a 200-person national 'little giant' manufacturer")
    reply = s.indication(answers, "en", "")
    assert reply is not None and "Super partner" in reply.text and "little giant" in reply.text
    assert [b.payload for b in reply.buttons] == ["/apply", "/deny"]


def test_an_indication_needs_to_know_who_is_asking(s: Screening) -> None:
    assert s.indication(s.describe("which category is best?"), "en", "") is None


def test_an_indication_on_half_the_answers_asks_for_more_instead_of_ruling_out(s: Screening) -> None:
    reply = s.indication({"org_type": "enterprise"}, "en", "")
    assert reply is not None and "does not settle a category yet" in reply.text
    assert "matches none" not in reply.text


def test_an_indication_on_all_the_answers_says_why_nothing_fits(s: Screening) -> None:
    answers = run(s, {"org_type": "individual", "org_name": "Li Ming", "country": "China", "field": "education",
                      "achievement": "I'm a student looking for a job", "promotion": "skip",
                      "guangzhou_presence": "no", "contribution": "I want a job"})
    assert s.assessment(answers).outcome == "not_eligible"
    reply = s.indication(answers, "zh", "")
    assert reply is not None and "均不相符" in reply.text and "补充几项信息" not in reply.text


@pytest.mark.parametrize("question, text, value", [
    ("guangzhou_presence", "yes, we run a JV assembly plant in Huadu", "present"),
    ("guangzhou_presence", "present - our southern China HQ is in Pazhou", "present"),
    ("guangzhou_presence", "本地人，一直在广州", "present"),
    ("guangzhou_presence", "no, but we plan to come next year", "planning"),
    ("guangzhou_presence", "没有，但明年打算来", "planning"),
    ("guangzhou_presence", "我们在黄埔科学城有一个中试基地", "present"),
    ("guangzhou_presence", "我们想在广州设立研发中心", "planning"),
    ("guangzhou_presence", "nothing there yet, but we are looking at Huangpu sites", "planning"),
    ("guangzhou_presence", "not yet", "none"),
    ("achievement", "国内比较有名", "nationally_renowned"),
    ("confirmed", "确认提交", "send"),
    ("confirmed", "不提交了", "cancel"),
    ("confirmed", "no wait, the email is wrong", "edit:email"),
    ("phone", "电话就不留了", ""),
    ("phone", "I'd rather not share it", ""),
    ("contribution", "无锡的工厂", "无锡的工厂"),  # a short answer that merely contains 无 is not "none"
    ("field", "skip", "other"),  # none of the fields fits
])
def test_answers_as_people_write_them(s: Screening, question: str, text: str, value: str) -> None:
    assert s.read(question, text).value == value


@pytest.mark.parametrize("text, expected", [
    ("Hello, I represent an international dragon boat federation, we're a non-profit. Can we join?", {"org_type": "other"}),
    ("I'm a marathon runner and want to be an ambassador", {"org_type": "individual", "field": "sports"}),
    ("我是国内知名的经济学家", {"org_type": "individual", "field": "social_sciences", "achievement": "nationally_renowned"}),
    ("an international law firm", {"org_type": "professional_services", "credentials": ["renowned_firm"]}),
    ("what about other companies?", {}),
])
def test_a_self_description_reads_only_what_it_says(s: Screening, text: str, expected: dict) -> None:
    assert s.describe(text) == expected
