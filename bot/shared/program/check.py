"""`python -m bot.shared.program.check`: validate the program data files; exit 1 with the problem."""

from __future__ import annotations

import sys

from bot.shared.program.eligibility_rules import RULES_FILE, load_rules
from bot.shared.program.knowledge import DATA_DIR, ProgramDataError, load_knowledge
from bot.shared.program.screening_data import SCREENING_FILE, load_screening


def main() -> int:
    try:
        knowledge = load_knowledge(DATA_DIR)
        rules = load_rules(RULES_FILE)
        screening = load_screening(SCREENING_FILE, rules)
    except ProgramDataError as error:
        print(f"program data: BROKEN: {error}", file=sys.stderr)
        return 1
    facts = sum(len(section) for section in knowledge.facts.values())
    print(f"program data: ok ({len(knowledge.categories)} categories, {facts} facts in {len(knowledge.facts)} sections, "
          f"{len(knowledge.topics)} topics, {len(knowledge.sources)} sources; "
          f"eligibility rules {rules.version}, threshold {rules.threshold}; "
          f"screening questions ok, consent notice {screening.notice.version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
