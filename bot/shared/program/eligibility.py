"""Which partner category a prospective partner fits, how well, and why (bilingual reasons).

The rules are data (`data/eligibility.yml`, see eligibility_rules.py); this module only applies
them. Plain Python (3.10+): the action server and the web app both import it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from bot.shared.program.eligibility_rules import (
    RULES_FILE,
    CategoryRule,
    Route,
    Rules,
    RulesCache,
    default_rules,
    load_rules,
)
from bot.shared.program.knowledge import LANGUAGES, Text

__all__ = [
    "RULES_FILE",
    "Assessment",
    "Profile",
    "Rules",
    "RulesCache",
    "assess",
    "default_rules",
    "load_rules",
]

_SEPARATORS = {"en": ", ", "zh": "、"}
_TEXT_FIELDS = ("name", "industry", "country", "contribution", "promotion")


@dataclass(frozen=True)
class Profile:
    """What a prospective partner tells us. Option fields hold keys from the rules' `options`."""

    name: str
    org_type: str
    credentials: Tuple[str, ...] = ()
    employees: Optional[int] = None
    revenue_band: Optional[str] = None
    industry: str = ""
    country: str = ""
    guangzhou_presence: str = "none"
    contribution: str = ""
    # individuals
    field: Optional[str] = None
    achievement: Optional[str] = None
    promotion: str = ""
    # answers to questions the assessment does not read (screening.yml `fills: details`), passed on to staff
    details: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], rules: Optional[Rules] = None) -> Profile:
        """Build a checked profile from form/API input; ValueError names the first bad field."""
        rules = rules or default_rules()
        if not isinstance(data, Mapping):
            raise ValueError("a profile must be a mapping of field names to values")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(str(k) for k in data if k not in names)
        if unknown:
            raise ValueError(f"unknown profile field(s) {', '.join(unknown)}; expected some of {', '.join(names)}")
        if not data.get("org_type"):
            raise ValueError("org_type is required")
        values: Dict[str, Any] = {name: _text(name, data.get(name)) for name in _TEXT_FIELDS}
        for name in ("org_type", "revenue_band", "guangzhou_presence", "field", "achievement"):
            value = data.get(name)
            if value is not None and value != "":
                values[name] = _text(name, value)
        values["credentials"] = _credentials(data.get("credentials"))
        values["details"] = _details(data.get("details"))
        values["employees"] = _employees(data.get("employees"), rules)
        profile = cls(**values)
        profile.check(rules)
        return profile

    def check(self, rules: Rules) -> None:
        """Raise ValueError if a field holds a value the rules do not offer."""
        _one_of("org_type", self.org_type, rules.options["org_types"])
        _one_of("guangzhou_presence", self.guangzhou_presence, rules.options["guangzhou_presence"])
        for name, group in (("revenue_band", "revenue_bands"), ("field", "fields"), ("achievement", "achievements")):
            if getattr(self, name) is not None:
                _one_of(name, getattr(self, name), rules.options[group])
        for credential in self.credentials:
            _one_of("credentials", credential, rules.options["credentials"])
        if "none" in self.credentials and len(self.credentials) > 1:
            raise ValueError("credentials: 'none' cannot be combined with other credentials")
        if self.employees is not None and (isinstance(self.employees, bool) or not isinstance(self.employees, int)):
            raise ValueError(f"employees: expected a whole number, got {self.employees!r}")
        if self.employees is not None and self.employees < 0:
            raise ValueError("employees: cannot be negative")
        for name in _TEXT_FIELDS:
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name}: expected text")

    def to_dict(self) -> Dict[str, Any]:
        data = dataclasses.asdict(self)
        data["credentials"] = list(self.credentials)
        data["details"] = dict(self.details)
        return data


@dataclass(frozen=True)
class Assessment:
    category: Optional[str]  # recommended (qualified) or closest category; None when none fits
    alternatives: Tuple[str, ...]  # other categories the profile also qualifies for, best first
    qualified: bool
    score: int  # 0..100, for `category`
    reasons: Tuple[Text, ...]
    rules_version: str
    review: bool = False  # not qualified, but close or not placeable: staff should judge (never when qualified)

    @property
    def outcome(self) -> str:
        """"qualified", "review" (offered to staff) or "not_eligible" (told so; nothing is stored)."""
        return "qualified" if self.qualified else "review" if self.review else "not_eligible"

    def to_dict(self, language: Optional[str] = None) -> Dict[str, Any]:
        """JSON-ready; with a language the reasons are plain strings in it."""
        if language is not None and language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        reasons: List[Any] = [
            r.get(language) if language else {lang: r.get(lang) for lang in LANGUAGES} for r in self.reasons
        ]
        return {
            "category": self.category,
            "alternatives": list(self.alternatives),
            "qualified": self.qualified,
            "score": self.score,
            "reasons": reasons,
            "rules_version": self.rules_version,
            "review": self.review,
        }


@dataclass(frozen=True)
class _Facts:
    """What the rules read from a profile, worked out once."""

    industry: str  # "fit" (a key industry), "brand" (the city's brand), "no_link" or "unknown"
    matches: Tuple[Text, ...]  # names of the key industries the profile's industry matches
    judged: bool  # whether the org type's own industry counts for points
    size: Optional[str]
    equal_standing: bool
    wish: bool


@dataclass(frozen=True)
class _Verdict:
    rule: CategoryRule
    route: Optional[Route]  # best matching route; None: the category does not fit
    blocked: Tuple[Route, ...]  # routes that fail only for want of an industry fit
    size_unknown: bool  # a size route could match if we knew the head count
    score: int
    wish_missing: bool
    qualified: bool


def assess(profile: Profile, rules: Optional[Rules] = None) -> Assessment:
    """Recommend a category for `profile` under `rules` (the shipped rules by default)."""
    rules = rules or default_rules()
    profile.check(rules)
    facts = _facts(profile, rules)
    verdicts = [_judge(rule, profile, facts, rules) for rule in rules.categories]
    qualified = [v for v in verdicts if v.qualified]
    fitting = [v for v in verdicts if v.route is not None]
    # Qualifying categories keep the file's order (highest first); otherwise show the closest.
    chosen = qualified[0] if qualified else max(fitting, key=lambda v: v.score, default=None)
    alternatives = tuple(v.rule.key for v in qualified[1:])
    review = not qualified and _needs_review(profile, facts, chosen, rules)
    reasons = _Explainer(rules, profile, facts).reasons(chosen, verdicts, alternatives)
    if review:
        reasons = reasons[:-1] + (rules.reasons["review"],) + reasons[-1:]  # before "indicative"
    return Assessment(
        category=chosen.rule.key if chosen else None,
        alternatives=alternatives,
        qualified=bool(chosen and chosen.qualified),
        score=chosen.score if chosen else 0,
        reasons=reasons,
        rules_version=rules.version,
        review=review,
    )


def _needs_review(profile: Profile, facts: _Facts, chosen: Optional[_Verdict], rules: Rules) -> bool:
    """Close to a category, or a profile the definitions do not settle (eligibility.yml `review`)."""
    if profile.org_type in rules.review.org_types:
        return True
    if profile.field in rules.review.fields and profile.achievement not in (None, "none"):
        return True
    if chosen is None:
        # An organisation in a key industry that wants to come to Guangzhou, on none of the lists: the definitions
        # name "industry leaders" without a list, so staff judge it rather than the rules turning it away.
        return profile.org_type != "individual" and facts.industry == "fit" and facts.wish
    return chosen.score >= rules.threshold - rules.review.margin


def _facts(profile: Profile, rules: Rules) -> _Facts:
    matches = tuple(i.name for i in rules.industries if i.matches(profile.industry))
    brand = rules.city_brand.matches(" ".join((profile.industry, profile.contribution, profile.promotion)))
    industry = "fit" if matches else "brand" if brand and profile.industry else ("no_link" if profile.industry else "unknown")
    band = rules.band(profile.employees) if profile.employees is not None else None
    return _Facts(
        industry=industry,
        matches=matches,
        judged=profile.org_type in rules.industry_check,
        size=band.size if band else None,
        equal_standing=_equal_standing(profile, rules),
        wish=profile.guangzhou_presence in rules.wish_presence or (rules.wish_contribution and bool(profile.contribution)),
    )


def _equal_standing(profile: Profile, rules: Rules) -> bool:
    rule = rules.equal_standing
    country = profile.country.strip().lower()
    if not country or country in rule.domestic_countries:
        return False
    big_revenue = profile.revenue_band is not None and rules.revenue_rank(profile.revenue_band) >= rules.revenue_rank(
        rule.min_revenue_band
    )
    big_staff = rule.min_employees is not None and profile.employees is not None and profile.employees >= rule.min_employees
    return big_revenue or big_staff


def _route_state(route: Route, profile: Profile, facts: _Facts) -> str:
    """Return "match", "needs_fit" (all but the industry fit holds), "size_unknown" or "no"."""
    if route.org_types and profile.org_type not in route.org_types:
        return "no"
    if route.credential and route.credential not in profile.credentials:
        return "no"
    if (route.equal_standing and not facts.equal_standing) or (route.fields and profile.field not in route.fields):
        return "no"
    if route.achievements and profile.achievement not in route.achievements:
        return "no"
    if route.sizes and facts.size not in route.sizes:
        return "size_unknown" if facts.size is None else "no"
    if route.needs_industry_fit and facts.industry != "fit":
        return "needs_fit"
    return "match"


def _judge(rule: CategoryRule, profile: Profile, facts: _Facts, rules: Rules) -> _Verdict:
    states = [] if profile.org_type not in rule.org_types else [(r, _route_state(r, profile, facts)) for r in rule.routes]
    matched = [r for r, state in states if state == "match"]
    route = max(matched, key=lambda r: r.points, default=None)
    score = _score(rule, route, profile, facts) if route else 0
    wish_missing = "wish" in rule.requires and not facts.wish
    return _Verdict(
        rule=rule,
        route=route,
        blocked=tuple(r for r, state in states if state == "needs_fit"),
        size_unknown=any(state == "size_unknown" for _, state in states),
        score=score,
        wish_missing=wish_missing,
        qualified=route is not None and not wish_missing and score >= rules.threshold,
    )


def _score(rule: CategoryRule, route: Route, profile: Profile, facts: _Facts) -> int:
    points = rule.points
    total = route.points + points.presence.get(profile.guangzhou_presence, 0)
    if facts.judged:  # the city's brand counts as alignment: the points of a fit
        total += {"fit": points.industry_fit, "brand": points.industry_fit, "no_link": points.industry_no_link,
                  "unknown": points.industry_unknown}[facts.industry]
    total += points.contribution if profile.contribution else 0
    total += points.promotion if profile.promotion else 0
    return max(0, min(100, total))


class _Explainer:
    """Turns a verdict into reasons, each in every language."""

    def __init__(self, rules: Rules, profile: Profile, facts: _Facts) -> None:
        self.rules, self.profile, self.facts = rules, profile, facts

    def say(self, template: Text, **values: Any) -> Text:
        def render(lang: str) -> str:
            return template.get(lang).format(**{k: v.get(lang) if isinstance(v, Text) else v for k, v in values.items()})

        return Text(en=render("en"), zh=render("zh"))

    def reason(self, key: str, **values: Any) -> Text:
        return self.say(self.rules.reasons[key], **values)

    def reasons(
        self, chosen: Optional[_Verdict], verdicts: Sequence[_Verdict], alternatives: Tuple[str, ...]
    ) -> Tuple[Text, ...]:
        out: List[Text] = []
        if chosen is None:
            out.append(self.reason("no_category"))
            out += [
                self.reason("definition", category=v.rule.name, who=v.rule.who)
                for v in verdicts
                if self.profile.org_type in v.rule.org_types
            ]
        elif chosen.route is not None:
            out += self.basis(chosen, chosen.route)
        if self.facts.judged or any(v.blocked for v in verdicts if not v.qualified):
            out.append(self.industry())
        if chosen is not None:
            out += self.extras() + self.shortfalls(chosen)
        out += self.missed(verdicts)
        if alternatives:
            out.append(self.reason("also_fits", categories=_join([self.rules.category(k).name for k in alternatives])))
        out.append(self.reason("indicative"))
        return tuple(dict.fromkeys(out))  # drop repeats, keep order

    def basis(self, verdict: _Verdict, route: Route) -> List[Text]:
        values = {"category": verdict.rule.name, "score": verdict.score, "threshold": self.rules.threshold}
        field = self.rules.label("fields", self.profile.field) if self.profile.field else ""
        return [
            self.reason("recommended" if verdict.qualified else "closest", **values),
            self.say(route.reason, category=verdict.rule.name, field=field),
        ]

    def industry(self) -> Text:
        key_industries = _join([i.name for i in self.rules.industries])
        if self.facts.industry == "fit":
            return self.reason("industry_fit", industry=self.profile.industry, matches=_join(self.facts.matches))
        if self.facts.industry == "brand":
            return self.reason("city_brand", industry=self.profile.industry, brand=self.rules.city_brand.name)
        if self.facts.industry == "no_link":
            return self.reason("industry_no_link", industry=self.profile.industry, key_industries=key_industries)
        return self.reason("industry_unknown", key_industries=key_industries)

    def extras(self) -> List[Text]:
        out = []
        presence = f"presence_{self.profile.guangzhou_presence}"
        if presence in self.rules.reasons:
            out.append(self.reason(presence))
        for name in ("contribution", "promotion"):
            if getattr(self.profile, name):
                out.append(self.reason(name))
        return out

    def shortfalls(self, verdict: _Verdict) -> List[Text]:
        out = []
        if verdict.wish_missing:
            out.append(self.reason("wish_missing", category=verdict.rule.name))
        if verdict.score < self.rules.threshold:
            out.append(self.reason("below_threshold", category=verdict.rule.name, score=verdict.score,
                                   threshold=self.rules.threshold))
        return out

    def missed(self, verdicts: Sequence[_Verdict]) -> List[Text]:
        """Routes into categories not qualified for that failed only on the industry fit or an unknown head count."""
        out = []
        for v in verdicts:
            if v.qualified:
                continue
            for route in v.blocked:
                credential = self.rules.label("credentials", route.credential or "none")
                out.append(self.reason("needs_industry_fit", category=v.rule.name, credential=credential))
            if v.size_unknown and v.route is None:
                out.append(self.reason("size_unknown", category=v.rule.name))
        return out


def _join(texts: Sequence[Text]) -> Text:
    return Text(**{lang: _SEPARATORS[lang].join(t.get(lang) for t in texts) for lang in LANGUAGES})


def _one_of(name: str, value: Any, options: Mapping[str, Text]) -> None:
    if value not in options:
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(options)}")


def _text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected text, got {value!r}")
    return value.strip()


MAX_DETAILS, MAX_DETAIL_CHARS = 20, 1000


def _details(value: Any) -> Dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or len(value) > MAX_DETAILS:
        raise ValueError(f"details: expected a mapping of at most {MAX_DETAILS} answers")
    out = {}
    for key, text in value.items():
        if not isinstance(key, str) or not isinstance(text, str) or len(text) > MAX_DETAIL_CHARS:
            raise ValueError(f"details: each answer is text of at most {MAX_DETAIL_CHARS} characters")
        out[key] = text.strip()
    return out


def _credentials(value: Any) -> Tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(c, str) for c in items):
        raise ValueError(f"credentials: expected a list of option keys, got {value!r}")
    credentials = tuple(dict.fromkeys(c.strip() for c in items))
    if "none" in credentials and len(credentials) > 1:
        raise ValueError("credentials: 'none' cannot be combined with other credentials")
    return tuple(c for c in credentials if c != "none")


def _employees(value: Any, rules: Rules) -> Optional[int]:
    """A head count, or an employee-band key (which stands for its lower bound)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"employees: expected a whole number or a band key, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdecimal():
        number = int(value.strip())
    elif isinstance(value, str) and value in rules.options["employee_bands"]:
        number = next(b.min for b in rules.employee_bands if b.key == value)
    else:
        bands = ", ".join(rules.options["employee_bands"])
        raise ValueError(f"employees: {value!r} is neither a whole number nor one of {bands}")
    if number < 0:
        raise ValueError("employees: cannot be negative")
    return number
