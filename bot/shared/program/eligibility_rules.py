"""The eligibility rules in `data/eligibility.yml`: typed, validated and hashed.

Staff change a rule by editing the YAML. A broken edit raises ProgramDataError naming the file and
the place; unknown keys are errors too, so a typo cannot silently switch a rule off.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from bot.shared.program.knowledge import (
    CATEGORY_KEYS,
    DATA_DIR,
    Category,
    Text,
    _placeholders,
    _Reader,
    load_knowledge,
    read_yaml,
)
from bot.shared.program.language import keyword_pattern
from bot.shared.program.store import Reloading

RULES_FILE = DATA_DIR / "eligibility.yml"
OPTION_GROUPS: Tuple[str, ...] = (
    "org_types",
    "credentials",
    "revenue_bands",
    "guangzhou_presence",
    "fields",
    "achievements",
)
# Option values the code itself relies on: "none" is "no credential" / the default presence.
REQUIRED_OPTIONS: Mapping[str, Tuple[str, ...]] = {"credentials": ("none",), "guangzhou_presence": ("none",)}
# Each reason and the placeholders the code fills in for it.
REASON_FIELDS: Mapping[str, frozenset] = {
    "recommended": frozenset({"category", "score", "threshold"}),
    "closest": frozenset({"category", "score", "threshold"}),
    "below_threshold": frozenset({"category", "score", "threshold"}),
    "wish_missing": frozenset({"category"}),
    "industry_fit": frozenset({"industry", "matches"}),
    "industry_no_link": frozenset({"industry", "key_industries"}),
    "industry_unknown": frozenset({"key_industries"}),
    "city_brand": frozenset({"industry", "brand"}),
    "review": frozenset(),
    "needs_industry_fit": frozenset({"category", "credential"}),
    "size_unknown": frozenset({"category"}),
    "contribution": frozenset(),
    "promotion": frozenset(),
    "also_fits": frozenset({"categories"}),
    "no_category": frozenset(),
    "definition": frozenset({"category", "who"}),
    "indicative": frozenset(),
}
ROUTE_FIELDS = frozenset({"category", "field"})
REQUIREMENTS: Tuple[str, ...] = ("wish",)
_KEY = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class EmployeeBand:
    key: str
    label: Text
    min: int
    max: Optional[int]  # None: no upper limit
    size: str

    def holds(self, employees: int) -> bool:
        return employees >= self.min and (self.max is None or employees <= self.max)


@dataclass(frozen=True)
class Industry:
    key: str
    name: Text
    keywords: Tuple[str, ...]
    pattern: re.Pattern

    def matches(self, text: str) -> bool:
        return bool(self.pattern.search(text.lower()))


@dataclass(frozen=True)
class Review:
    """Which profiles staff should judge rather than the rules (see eligibility.yml `review`)."""

    margin: int
    org_types: Tuple[str, ...]
    fields: Tuple[str, ...]


@dataclass(frozen=True)
class EqualStanding:
    domestic_countries: Tuple[str, ...]
    min_revenue_band: str
    min_employees: Optional[int]


@dataclass(frozen=True)
class Route:
    """One way into a category: every condition given must hold."""

    points: int
    reason: Text
    credential: Optional[str] = None
    equal_standing: bool = False
    sizes: Tuple[str, ...] = ()
    fields: Tuple[str, ...] = ()
    achievements: Tuple[str, ...] = ()
    org_types: Tuple[str, ...] = ()
    needs_industry_fit: bool = False


@dataclass(frozen=True)
class Points:
    industry_fit: int
    industry_no_link: int
    industry_unknown: int
    presence: Mapping[str, int]
    contribution: int
    promotion: int


@dataclass(frozen=True)
class CategoryRule:
    key: str
    name: Text
    who: Text
    org_types: Tuple[str, ...]
    routes: Tuple[Route, ...]
    requires: Tuple[str, ...]
    points: Points


@dataclass(frozen=True)
class Rules:
    version: str  # hash of the file: stored with each assessment
    threshold: int
    options: Mapping[str, Mapping[str, Text]]  # group -> key -> label (buttons); includes employee_bands
    employee_bands: Tuple[EmployeeBand, ...]
    industries: Tuple[Industry, ...]
    city_brand: Industry  # work for the city's image: alignment with the program (not a key-industry fit)
    industry_check: Tuple[str, ...]  # org types whose own industry is scored
    review: Review
    wish_presence: Tuple[str, ...]
    wish_contribution: bool
    equal_standing: EqualStanding
    categories: Tuple[CategoryRule, ...]  # highest first
    reasons: Mapping[str, Text]

    def label(self, group: str, key: str) -> Text:
        return self.options[group][key]

    def category(self, key: str) -> CategoryRule:
        return next(rule for rule in self.categories if rule.key == key)

    def band(self, employees: int) -> Optional[EmployeeBand]:
        return next((band for band in self.employee_bands if band.holds(employees)), None)

    def revenue_rank(self, band: str) -> int:
        return list(self.options["revenue_bands"]).index(band)


class _Rules(_Reader):
    """_Reader plus the checks this file needs (closed key sets, integers, option references)."""

    def only(self, node: Dict[str, Any], allowed: Iterable[str], where: str, required: Iterable[str] = ()) -> None:
        allowed = set(allowed)
        unknown = sorted(str(k) for k in node if k not in allowed)
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        missing = [k for k in required if k not in node]
        if missing:
            raise self.fail(where, f"missing key(s) {', '.join(missing)}")

    def integer(self, value: Any, where: str, low: int = -100, high: int = 100) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(where, f"expected a whole number from {low} to {high}")
        return value

    def flag(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, "expected true or false")
        return value

    def key(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not _KEY.match(value):
            raise self.fail(where, f"{value!r} is not a lower_snake_case key (quote keys that look like numbers)")
        return value

    def choice(self, value: Any, where: str, allowed: Iterable[str]) -> str:
        allowed = list(allowed)
        if value not in allowed:
            raise self.fail(where, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def choices(self, value: Any, where: str, allowed: Iterable[str], allow_empty: bool = False) -> Tuple[str, ...]:
        allowed = list(allowed)
        if allow_empty and value == []:
            return ()
        return tuple(self.choice(v, f"{where}[{i}]", allowed) for i, v in enumerate(self.items(value, where)))

    def template(self, value: Any, where: str, fields: frozenset) -> Text:
        text = self.text(value, where)
        extra = sorted(_placeholders(text.en) - fields)
        if extra:
            allowed = ", ".join(sorted(fields)) or "none"
            raise self.fail(where, f"unknown placeholder(s) {', '.join(extra)}; allowed: {allowed}")
        return text


def load_rules(path: Path = RULES_FILE) -> Rules:
    """Read and validate the rules file; raise ProgramDataError on the first problem."""
    path = Path(path)
    data, raw = read_yaml(path)
    # Category names and definitions come from categories.yml (one source of truth); the
    # version covers both files because both decide an assessment.
    definitions = load_knowledge(path.parent).categories
    version = hashlib.sha256(raw + (path.parent / "categories.yml").read_bytes()).hexdigest()[:16]
    r = _Rules(path.name)
    top = ("threshold", "options", "employee_bands", "key_industries", "city_brand", "industry_check", "wish",
           "equal_standing", "review")
    r.only(data, top + ("categories", "reasons"), "top level", required=top + ("categories", "reasons"))
    options = _options(r, data["options"])
    bands = _bands(r, data["employee_bands"])
    options["employee_bands"] = {band.key: band.label for band in bands}
    industry_check = r.mapping(data["industry_check"], "industry_check")
    r.only(industry_check, ("org_types",), "industry_check", required=("org_types",))
    wish = r.mapping(data["wish"], "wish")
    r.only(wish, ("presence", "contribution"), "wish", required=("presence", "contribution"))
    return Rules(
        version=version,
        threshold=r.integer(data["threshold"], "threshold", 0, 100),
        options=options,
        employee_bands=bands,
        industries=_industries(r, data["key_industries"]),
        city_brand=_industry(r, {"key": "city_brand", **r.mapping(data["city_brand"], "city_brand")}, "city_brand"),
        review=_review(r, data["review"], options),
        industry_check=r.choices(industry_check["org_types"], "industry_check.org_types", options["org_types"], allow_empty=True),
        wish_presence=r.choices(wish["presence"], "wish.presence", options["guangzhou_presence"]),
        wish_contribution=r.flag(wish["contribution"], "wish.contribution"),
        equal_standing=_equal_standing(r, data["equal_standing"], options),
        categories=_categories(r, data["categories"], options, {band.size for band in bands}, definitions),
        reasons=_reasons(r, data["reasons"], options),
    )


def _options(r: _Rules, value: Any) -> Dict[str, Dict[str, Text]]:
    node = r.mapping(value, "options")
    r.only(node, OPTION_GROUPS, "options", required=OPTION_GROUPS)
    options: Dict[str, Dict[str, Text]] = {}
    for group in OPTION_GROUPS:
        labels = r.mapping(node[group], f"options.{group}")
        if not labels:
            raise r.fail(f"options.{group}", "expected at least one option")
        options[group] = {r.key(k, f"options.{group}"): r.text(v, f"options.{group}.{k}") for k, v in labels.items()}
        missing = [k for k in REQUIRED_OPTIONS.get(group, ()) if k not in options[group]]
        if missing:
            raise r.fail(f"options.{group}", f"missing option(s) {', '.join(missing)} (the code relies on them)")
    return options


def _bands(r: _Rules, value: Any) -> Tuple[EmployeeBand, ...]:
    bands: List[EmployeeBand] = []
    for i, item in enumerate(r.items(value, "employee_bands")):
        where = f"employee_bands[{i}]"
        node = r.mapping(item, where)
        r.only(node, ("key", "min", "max", "size", "en", "zh"), where, required=("key", "min", "max", "size", "en", "zh"))
        low = r.integer(node["min"], f"{where}.min", 0, 10**9)
        high = None if node["max"] is None else r.integer(node["max"], f"{where}.max", low, 10**9)
        expected = bands[-1].max + 1 if bands and bands[-1].max is not None else 0
        if (bands and bands[-1].max is None) or low != expected:
            raise r.fail(f"{where}.min", f"bands must run on without gaps or overlaps from 0; expected min {expected}")
        bands.append(
            EmployeeBand(
                key=r.key(node["key"], f"{where}.key"),
                label=r.text({"en": node["en"], "zh": node["zh"]}, where),
                min=low,
                max=high,
                size=r.key(node["size"], f"{where}.size"),
            )
        )
    if bands[-1].max is not None:
        raise r.fail(f"employee_bands[{len(bands) - 1}].max", "the last band must be open-ended (max: null)")
    return tuple(bands)


def _industries(r: _Rules, value: Any) -> Tuple[Industry, ...]:
    return tuple(_industry(r, item, f"key_industries[{i}]") for i, item in enumerate(r.items(value, "key_industries")))


def _industry(r: _Rules, item: Any, where: str) -> Industry:
    node = r.mapping(item, where)
    r.only(node, ("key", "name", "keywords"), where, required=("key", "name", "keywords"))
    words = r.mapping(node["keywords"], f"{where}.keywords")
    r.only(words, ("en", "zh"), f"{where}.keywords", required=("en", "zh"))
    keywords = tuple(w.lower() for lang in ("en", "zh") for w in r.strings(words[lang], f"{where}.keywords.{lang}"))
    return Industry(
        key=r.key(node["key"], f"{where}.key"),
        name=r.text(node["name"], f"{where}.name"),
        keywords=keywords,
        pattern=keyword_pattern(keywords),
    )


def _review(r: _Rules, value: Any, options: Mapping[str, Mapping[str, Text]]) -> Review:
    node = r.mapping(value, "review")
    r.only(node, ("margin", "org_types", "fields"), "review", required=("margin",))
    return Review(
        margin=r.integer(node["margin"], "review.margin", 0, 100),
        org_types=r.choices(node.get("org_types", []), "review.org_types", options["org_types"], allow_empty=True),
        fields=r.choices(node.get("fields", []), "review.fields", options["fields"], allow_empty=True),
    )


def _equal_standing(r: _Rules, value: Any, options: Mapping[str, Mapping[str, Text]]) -> EqualStanding:
    node = r.mapping(value, "equal_standing")
    keys = ("domestic_countries", "min_revenue_band", "min_employees")
    r.only(node, keys, "equal_standing", required=keys)
    employees = node["min_employees"]
    return EqualStanding(
        domestic_countries=tuple(c.lower() for c in r.strings(node["domestic_countries"], "equal_standing.domestic_countries")),
        min_revenue_band=r.choice(node["min_revenue_band"], "equal_standing.min_revenue_band", options["revenue_bands"]),
        min_employees=None if employees is None else r.integer(employees, "equal_standing.min_employees", 1, 10**9),
    )


def _categories(
    r: _Rules, value: Any, options: Mapping[str, Mapping[str, Text]], sizes: set, definitions: Mapping[str, Category]
) -> Tuple[CategoryRule, ...]:
    rules: List[CategoryRule] = []
    for i, item in enumerate(r.items(value, "categories")):
        node = r.mapping(item, f"categories[{i}]")
        key = r.choice(node.get("key"), f"categories[{i}].key", CATEGORY_KEYS)
        if any(rule.key == key for rule in rules):
            raise r.fail(f"categories[{i}].key", f"duplicate category {key!r}")
        where = f"categories.{key}"
        r.only(node, ("key", "org_types", "routes", "requires", "points"), where, required=("org_types", "routes", "points"))
        rules.append(
            CategoryRule(
                key=key,
                name=definitions[key].singular,
                who=definitions[key].who,
                org_types=r.choices(node["org_types"], f"{where}.org_types", options["org_types"]),
                routes=tuple(
                    _route(r, route, f"{where}.routes[{j}]", options, sizes)
                    for j, route in enumerate(r.items(node["routes"], f"{where}.routes"))
                ),
                requires=r.choices(node["requires"], f"{where}.requires", REQUIREMENTS) if node.get("requires") else (),
                points=_points(r, node["points"], f"{where}.points", options),
            )
        )
    missing = [key for key in CATEGORY_KEYS if key not in {rule.key for rule in rules}]
    if missing:
        raise r.fail("categories", f"missing categor(ies) {', '.join(missing)}")
    return tuple(rules)


def _route(r: _Rules, value: Any, where: str, options: Mapping[str, Mapping[str, Text]], sizes: set) -> Route:
    node = r.mapping(value, where)
    selectors = ("credential", "equal_standing", "sizes", "fields", "achievements")
    r.only(node, selectors + ("org_types", "needs_industry_fit", "points", "reason"), where, required=("points", "reason"))
    if not any(node.get(s) for s in selectors):
        raise r.fail(where, f"a route needs at least one of {', '.join(selectors)}")
    credentials = [c for c in options["credentials"] if c != "none"]
    credential = r.choice(node["credential"], f"{where}.credential", credentials) if "credential" in node else None
    if node.get("needs_industry_fit") and credential is None:
        raise r.fail(f"{where}.needs_industry_fit", "only a credential route can need an industry fit")

    def listed(name: str, allowed: Iterable[str]) -> Tuple[str, ...]:
        return r.choices(node[name], f"{where}.{name}", allowed) if name in node else ()

    return Route(
        points=r.integer(node["points"], f"{where}.points"),
        reason=r.template(node["reason"], f"{where}.reason", ROUTE_FIELDS),
        credential=credential,
        equal_standing=r.flag(node.get("equal_standing", False), f"{where}.equal_standing"),
        sizes=listed("sizes", sorted(sizes)),
        fields=listed("fields", options["fields"]),
        achievements=listed("achievements", options["achievements"]),
        org_types=listed("org_types", options["org_types"]),
        needs_industry_fit=r.flag(node.get("needs_industry_fit", False), f"{where}.needs_industry_fit"),
    )


def _points(r: _Rules, value: Any, where: str, options: Mapping[str, Mapping[str, Text]]) -> Points:
    node = r.mapping(value, where)
    names = ("industry_fit", "industry_no_link", "industry_unknown", "contribution", "promotion")
    r.only(node, names + ("presence",), where)
    presence_options = list(options["guangzhou_presence"])
    presence = r.mapping(node.get("presence", {p: 0 for p in presence_options}), f"{where}.presence")
    r.only(presence, presence_options, f"{where}.presence", required=presence_options)
    values = {name: r.integer(node.get(name, 0), f"{where}.{name}") for name in names}
    return Points(presence={p: r.integer(presence[p], f"{where}.presence.{p}") for p in presence_options}, **values)


def _reasons(r: _Rules, value: Any, options: Mapping[str, Mapping[str, Text]]) -> Dict[str, Text]:
    node = r.mapping(value, "reasons")
    optional = [f"presence_{p}" for p in options["guangzhou_presence"]]
    r.only(node, list(REASON_FIELDS) + optional, "reasons", required=REASON_FIELDS)
    return {str(k): r.template(v, f"reasons.{k}", REASON_FIELDS.get(str(k), frozenset())) for k, v in node.items()}


class RulesCache(Reloading["Rules"]):
    """The rules in `path`, reloaded when it or categories.yml (the definitions it uses) changes; the files are
    looked at once a second at most, as the screening data and the facts are (each look is two system calls, on
    every lead the intake assesses)."""

    def __init__(self, path: Path = RULES_FILE, check_interval: float = 1.0) -> None:
        self.path = Path(path)
        super().__init__(lambda: load_rules(self.path), [self.path, self.path.parent / "categories.yml"],
                         "eligibility rules", check_interval)


_default_cache = RulesCache()


def default_rules() -> Rules:
    """The shipped rules file, cached and reloaded after an edit."""
    return _default_cache.current()

