"""Answers to questions about the program, its categories and Guangzhou."""

from __future__ import annotations

from rasa_sdk import Tracker

from actions.base import AnswerAction, category_for_question, category_in_message
from bot.program.answers import Answer, Composer


class ActionProgramOverview(AnswerAction):
    action_name = "action_program_overview"
    checks_unknowns = True

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.overview()


class ActionCategories(AnswerAction):
    action_name = "action_categories"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.categories()


class ActionCategoryInfo(AnswerAction):
    action_name = "action_category_info"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.category_info(category_for_question(tracker))


class ActionEligibility(AnswerAction):
    action_name = "action_eligibility"
    checks_unknowns = True

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.eligibility(category_for_question(tracker))


class ActionBenefits(AnswerAction):
    action_name = "action_benefits"
    checks_unknowns = True

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.benefits(category_for_question(tracker))


class ActionInform(AnswerAction):
    """A bare category or "what about …?" answers the last category question for that category."""

    action_name = "action_inform"

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        category = category_in_message(tracker)
        if category is None:
            return composer.recommendation()
        return composer.about_category(category, tracker.get_slot("topic"))


class ActionApplicationProcess(AnswerAction):
    action_name = "action_application_process"
    checks_unknowns = True

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.application_process()


class ActionExistingPartners(AnswerAction):
    action_name = "action_existing_partners"
    checks_unknowns = True

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.progress()


class ActionGuangzhouIndustries(AnswerAction):
    action_name = "action_guangzhou_industries"
    checks_unknowns = True

    def build(self, composer: Composer, tracker: Tracker) -> Answer:
        return composer.guangzhou()
