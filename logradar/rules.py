"""Detection rules: the YAML file named by ``LOGRADAR_RULES``, as frozen pydantic models.

The file has three parts, all optional::

    defaults:   burst / anomaly / rate settings for every service
    services:   per-service partial overrides, merged over the defaults
    patterns:   sequences of events correlated by a key (``key: user``)

Values are read with ``yaml.safe_load``; the node tree is composed separately to
learn the line of every key and list item, so each problem is reported as
``<file>:<line>: <dotted.field.path>: <what is wrong>``, one line per problem,
all problems at once (:class:`RulesError`).
"""

from __future__ import annotations

import difflib
import importlib
import re
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from logradar.model import Level, LogEvent

__all__ = [
    "AnomalyOverride",
    "AnomalyRule",
    "BurstOverride",
    "BurstRule",
    "Defaults",
    "Pattern",
    "Predicate",
    "RateOverride",
    "RateRule",
    "Rules",
    "RulesError",
    "ServiceRules",
    "SessionRule",
    "TemplateRule",
    "Step",
    "default_rules",
    "format_duration",
    "load_rules",
    "parse_duration",
    "parse_rules",
    "summary",
]

Path_ = tuple[str | int, ...]


class RulesError(ValueError):
    """Invalid rules: one ``<file>:<line>: <field.path>: <problem>`` line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class _At(ValueError):
    """A validator's error about a sub-field: ``loc`` is appended to pydantic's own."""

    def __init__(self, loc: Path_, message: str) -> None:
        self.loc = loc
        super().__init__(message)


# --------------------------------------------------------------------------- value types

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNIT_S = (86400, 3600, 60, 1)


def parse_duration(value: object) -> float:
    """``30s``, ``2m``, ``1h``, ``1d``, ``1h30m`` or a plain number of seconds -> seconds.

    Raises ValueError for anything else, and for durations that are not positive.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 2m, 1h or seconds, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            match = _DURATION.fullmatch(text)
            if not text or match is None:
                raise ValueError(
                    f"expected a duration like 30s, 2m, 1h, 1d, 1h30m or seconds, got {value!r}"
                ) from None
            seconds = float(
                sum(int(n) * unit for n, unit in zip(match.groups(), _UNIT_S, strict=True) if n)
            )
    else:
        raise ValueError(f"expected a duration like 30s, 2m, 1h or seconds, got {value!r}")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"a duration must be positive and finite, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest ``1h30m``-style spelling of ``seconds`` (fractions as plain ``1.5s``)."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest, parts = int(seconds), []
    for unit, name in zip(_UNIT_S, "dhms", strict=True):
        if rest >= unit:
            parts.append(f"{rest // unit}{name}")
            rest %= unit
    return "".join(parts) or "0s"


def _levels(value: object) -> object:
    if isinstance(value, str | Level):
        value = [value]
    if isinstance(value, list | tuple):
        return tuple(v.upper() if isinstance(v, str) else v for v in value)
    return value


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _attr_text(value: object) -> object:
    """Scalars as the strings attrs are compared with (YAML ``500`` means ``"500"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
Levels = Annotated[tuple[Level, ...], BeforeValidator(_levels), Field(min_length=1)]
Severity = Annotated[Literal["info", "low", "medium", "high", "critical"], BeforeValidator(_lower)]
AttrValue = Annotated[str, BeforeValidator(_attr_text)]
Direction = Literal["up", "down", "both"]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- regex safety

_sre: Any = importlib.import_module("re._parser")
_sc: Any = importlib.import_module("re._constants")
_ANY_CHAR: list[tuple[int, int]] = [(0, 0x10FFFF)]
_RISKY_MAX = 10  # a repeat that may run more often than this counts as "unbounded"


def _first(items: Any) -> tuple[list[tuple[int, int]], bool]:
    """Over-approximated first characters of a parsed sequence, and whether it may be empty."""
    out: list[tuple[int, int]] = []
    for op, av in items:
        first, nullable = _first_one(op, av)
        out.extend(first)
        if not nullable:
            return out, False
    return out, True


def _in_set(av: Any) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for op, arg in av:
        if op is _sc.LITERAL:
            out.append((arg, arg))
        elif op is _sc.RANGE:
            out.append((arg[0], arg[1]))
        elif op is _sc.CATEGORY and arg is _sc.CATEGORY_DIGIT:
            out.append((48, 57))
        else:  # negation, other categories: anything
            return _ANY_CHAR
    return out


def _first_one(op: Any, av: Any) -> tuple[list[tuple[int, int]], bool]:
    if op is _sc.LITERAL:
        return [(av, av)], False
    if op is _sc.IN:
        return _in_set(av), False
    if op in (_sc.MAX_REPEAT, _sc.MIN_REPEAT, _sc.POSSESSIVE_REPEAT):
        first, nullable = _first(av[2])
        return first, nullable or av[0] == 0
    if op is _sc.SUBPATTERN:
        return _first(av[3])
    if op is _sc.ATOMIC_GROUP:
        return _first(av)
    if op is _sc.BRANCH:
        out: list[tuple[int, int]] = []
        any_nullable = False
        for alt in av[1]:
            first, nullable = _first(alt)
            out.extend(first)
            any_nullable = any_nullable or nullable
        return out, any_nullable
    if op in (_sc.AT, _sc.ASSERT, _sc.ASSERT_NOT):
        return [], True
    if op in (_sc.GROUPREF, _sc.GROUPREF_EXISTS):
        return _ANY_CHAR, True
    return _ANY_CHAR, False  # ANY, NOT_LITERAL, CATEGORY, ...


def _overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> bool:
    return any(lo1 <= hi2 and lo2 <= hi1 for lo1, hi1 in a for lo2, hi2 in b)


def _backtracking_risk(items: Any, in_repeat: bool = False) -> str | None:
    """Why this parsed regex may backtrack exponentially, or None.

    Flags, inside a repeat that may run more than a few times: another repeat
    (``(a+)+``, ``(a*)*``, ``(.*)*``) and an alternation whose branches can
    start alike or be empty (``(a|a)*``, ``(\\w|\\d)+``). Possessive repeats
    and atomic groups do not backtrack and are allowed.
    """
    for op, av in items:
        reason: str | None = None
        if op in (_sc.MAX_REPEAT, _sc.MIN_REPEAT):
            lo, hi, body = av
            if in_repeat and hi > 1:
                return "a quantifier nested inside another quantifier"
            reason = _backtracking_risk(body, in_repeat or hi == _sc.MAXREPEAT or hi > _RISKY_MAX)
        elif op is _sc.POSSESSIVE_REPEAT:
            reason = _backtracking_risk(av[2])
        elif op is _sc.ATOMIC_GROUP:
            reason = _backtracking_risk(av)
        elif op is _sc.SUBPATTERN:
            reason = _backtracking_risk(av[3], in_repeat)
        elif op is _sc.BRANCH:
            alts = [_first(alt) for alt in av[1]]
            if in_repeat:
                if sum(nullable for _, nullable in alts) >= 1 and len(alts) > 1:
                    return "an alternation with an empty branch inside a quantifier"
                for i, (first, _) in enumerate(alts):
                    if any(_overlap(first, other) for other, _ in alts[i + 1 :]):
                        return "an alternation whose branches overlap inside a quantifier"
            for alt in av[1]:
                reason = reason or _backtracking_risk(alt, in_repeat)
        elif op in (_sc.ASSERT, _sc.ASSERT_NOT):
            reason = _backtracking_risk(av[1])
        elif op is _sc.GROUPREF_EXISTS:
            reason = _backtracking_risk(av[1]) or (
                _backtracking_risk(av[2]) if av[2] is not None else None
            )
        if reason is not None:
            return reason
    return None


_REGEX_MAX = 1000


def _compile_regex(value: object) -> object:
    if not isinstance(value, str):
        return value  # pydantic reports the type
    if len(value) > _REGEX_MAX:
        raise ValueError(f"regex longer than {_REGEX_MAX} characters")
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regex {value!r}: {exc}") from None
    risk = _backtracking_risk(_sre.parse(value).data)
    if risk is not None:
        raise ValueError(
            f"regex {value!r} is prone to catastrophic backtracking ({risk}); "
            "rewrite it without the nesting, or make the inner part possessive (a++) "
            "or atomic ((?>...))"
        )
    return compiled


Regex = Annotated[re.Pattern[str], BeforeValidator(_compile_regex)]


# --------------------------------------------------------------------------- detector rules


class BurstRule(_Model):
    """A service's ERROR/FATAL count in one tumbling window crossing ``threshold``."""

    enabled: bool = True
    threshold: int = Field(10, gt=0)
    levels: Levels = (Level.ERROR, Level.FATAL)
    severity: Severity = "high"


class AnomalyRule(_Model):
    """A window count ``z`` standard deviations away from the last ``window`` windows."""

    enabled: bool = True
    z: float = Field(4.0, gt=0)
    min_windows: int = Field(10, ge=2)
    min_count: int = Field(5, ge=0)
    direction: Direction = "up"
    window: int = Field(30, ge=2)
    std_floor: float = Field(1.0, gt=0)
    severity: Severity = "medium"

    @model_validator(mode="after")
    def _history(self) -> AnomalyRule:
        if self.min_windows > self.window:
            raise _At(
                ("min_windows",),
                f"min_windows ({self.min_windows}) exceeds window ({self.window}), "
                "the number of windows kept",
            )
        return self


class RateRule(_Model):
    """A service's volume dropping, spiking or going silent against its baseline."""

    enabled: bool = True
    drop_ratio: float = Field(0.2, gt=0, lt=1)
    spike_ratio: float = Field(5.0, gt=1)
    silence_s: Duration = 300.0
    baseline_windows: int = Field(10, ge=1)
    severity: Severity = "high"


class BurstOverride(_Model):
    enabled: bool | None = None
    threshold: int | None = Field(None, gt=0)
    levels: Levels | None = None
    severity: Severity | None = None


class AnomalyOverride(_Model):
    enabled: bool | None = None
    z: float | None = Field(None, gt=0)
    min_windows: int | None = Field(None, ge=2)
    min_count: int | None = Field(None, ge=0)
    direction: Direction | None = None
    window: int | None = Field(None, ge=2)
    std_floor: float | None = Field(None, gt=0)
    severity: Severity | None = None


class RateOverride(_Model):
    enabled: bool | None = None
    drop_ratio: float | None = Field(None, gt=0, lt=1)
    spike_ratio: float | None = Field(None, gt=1)
    silence_s: Duration | None = None
    baseline_windows: int | None = Field(None, ge=1)
    severity: Severity | None = None


def _none_is_empty(value: object) -> object:
    return {} if value is None else value


class Defaults(_Model):
    burst: Annotated[BurstRule, BeforeValidator(_none_is_empty)] = BurstRule()
    anomaly: Annotated[AnomalyRule, BeforeValidator(_none_is_empty)] = AnomalyRule()
    rate: Annotated[RateRule, BeforeValidator(_none_is_empty)] = RateRule()


class ServiceRules(_Model):
    """One service's overrides: only the fields given replace the defaults."""

    burst: BurstOverride | None = None
    anomaly: AnomalyOverride | None = None
    rate: RateOverride | None = None


# --------------------------------------------------------------------------- patterns


def _attr_value(value: Any) -> str:
    text = _attr_text(value)
    return text if isinstance(text, str) else str(value)


class Predicate(_Model):
    """Conditions on one event; all given ones must hold. At least one is required."""

    service: NonEmpty | None = None
    level: Levels | None = None
    message: NonEmpty | None = None  # substring, case-sensitive
    message_regex: Regex | None = None  # re.search
    attrs: dict[str, AttrValue] | None = None  # equality, values compared as text

    _CONDITIONS: ClassVar[tuple[str, ...]] = (
        "service",
        "level",
        "message",
        "message_regex",
        "attrs",
    )

    def has_condition(self) -> bool:
        return any(getattr(self, name) is not None for name in self._CONDITIONS)

    def matches(self, event: LogEvent) -> bool:
        """Whether ``event`` satisfies every condition of this predicate."""
        if self.service is not None and event.service != self.service:
            return False
        if self.level is not None and event.level not in self.level:
            return False
        if self.message is not None and self.message not in event.message:
            return False
        if self.message_regex is not None and self.message_regex.search(event.message) is None:
            return False
        if self.attrs is not None:
            for name, want in self.attrs.items():
                if name not in event.attrs or _attr_value(event.attrs[name]) != want:
                    return False
        return True


class _AbsentPredicate(Predicate):
    @model_validator(mode="after")
    def _some_condition(self) -> _AbsentPredicate:
        if not self.has_condition():
            raise ValueError("absent needs at least one of " + ", ".join(self._CONDITIONS))
        return self


class Step(Predicate):
    """One step of a pattern: ``count`` matching events, or (last step) an ``absent`` one."""

    count: int = Field(1, ge=1)
    within: Duration | None = None
    max_gap: Duration | None = None
    absent: _AbsentPredicate | None = None

    @model_validator(mode="after")
    def _shape(self) -> Step:
        if self.absent is not None:
            given = [n for n in self._CONDITIONS if getattr(self, n) is not None]
            if given:
                raise _At(
                    (given[0],),
                    "a step has either conditions or absent, not both "
                    "(put the conditions inside absent)",
                )
            if "count" in self.model_fields_set:
                raise _At(("count",), "an absent step has no count")
            if self.within is None:
                raise _At(
                    ("within",), "an absent step needs within: how long the event must not come"
                )
        elif not self.has_condition():
            raise ValueError(
                "a step needs at least one of " + ", ".join(self._CONDITIONS) + ", or absent"
            )
        return self


_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


class Pattern(_Model):
    """A sequence of steps by events sharing the value of ``key``, all within ``within``."""

    name: str = Field(pattern=_NAME)
    severity: Severity = "medium"
    key: NonEmpty
    within: Duration = 300.0
    max_gap: Duration | None = None
    steps: list[Step] = Field(min_length=2)

    @model_validator(mode="after")
    def _sequence(self) -> Pattern:
        last = len(self.steps) - 1
        for i, step in enumerate(self.steps):
            if step.absent is not None and i != last:
                raise _At(("steps", i, "absent"), "only the last step may be an absent step")
            for field in ("within", "max_gap"):
                value = getattr(step, field)
                if value is not None and value > self.within:
                    raise _At(
                        ("steps", i, field),
                        f"{format_duration(value)} exceeds the pattern's within "
                        f"({format_duration(self.within)})",
                    )
        if self.max_gap is not None and self.max_gap > self.within:
            raise _At(
                ("max_gap",),
                f"{format_duration(self.max_gap)} exceeds within ({format_duration(self.within)})",
            )
        return self

    def key_value(self, event: LogEvent) -> str | None:
        """The correlation value of ``event`` (``service``, ``host`` or an attr), if it has one."""
        if self.key == "service":
            return event.service or None
        if self.key == "host":
            return event.host or None
        value = event.attrs.get(self.key)
        return None if value is None else _attr_value(value)


class TemplateRule(_Model):
    """New log templates: Drain mining per service of events at ``min_level`` or above."""

    enabled: bool = True
    min_level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] = "WARN"
    warmup: int = Field(1000, ge=0)
    severity: Severity = "low"

    @field_validator("min_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        upper = value.upper()
        return "WARN" if upper == "WARNING" else upper


class SessionRule(_Model):
    """Sessions per value of ``key`` that end after ``timeout`` without an event."""

    key: NonEmpty
    timeout: Duration = 300.0
    long: Duration | None = None
    max_errors: int | None = Field(None, gt=0)
    max_sessions: int = Field(50_000, gt=0)
    severity: Severity = "medium"


# --------------------------------------------------------------------------- the rules


class Rules(_Model):
    """The whole rules file; ask ``burst_for(service)`` etc. for a service's merged rule."""

    defaults: Annotated[Defaults, BeforeValidator(_none_is_empty)] = Defaults()
    services: Annotated[dict[str, ServiceRules], BeforeValidator(_none_is_empty)] = Field(
        default_factory=dict
    )
    patterns: Annotated[list[Pattern], BeforeValidator(lambda v: [] if v is None else v)] = Field(
        default_factory=list
    )
    sessions: Annotated[list[SessionRule], BeforeValidator(lambda v: [] if v is None else v)] = (
        Field(default_factory=list)
    )
    templates: Annotated[TemplateRule, BeforeValidator(_none_is_empty)] = TemplateRule()

    _merged: dict[tuple[str, str], BurstRule | AnomalyRule | RateRule] = PrivateAttr(
        default_factory=dict
    )

    @field_validator("services", mode="before")
    @classmethod
    def _service_values(cls, value: object) -> object:
        if isinstance(value, dict):
            return {str(k): ({} if v is None else v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _check(self) -> Rules:
        seen: dict[str, int] = {}
        for i, pattern in enumerate(self.patterns):
            if pattern.name in seen:
                raise _At(
                    ("patterns", i, "name"),
                    _duplicate(pattern.name, seen[pattern.name]),
                )
            seen[pattern.name] = i
        keys: dict[str, int] = {}
        for i, session in enumerate(self.sessions):
            if session.key in keys:
                raise _At(
                    ("sessions", i, "key"),
                    f"duplicate session key {session.key!r} (also sessions.{keys[session.key]})",
                )
            keys[session.key] = i
        merged: dict[tuple[str, str], BurstRule | AnomalyRule | RateRule] = {}
        for service, over in self.services.items():
            for kind in ("burst", "anomaly", "rate"):
                part: BaseModel | None = getattr(over, kind)
                if part is None:
                    continue
                base: BaseModel = getattr(self.defaults, kind)
                data = {**base.model_dump(), **part.model_dump(exclude_unset=True)}
                try:
                    merged[(service, kind)] = type(base).model_validate(data)  # type: ignore[assignment]
                except ValidationError as exc:
                    err = exc.errors()[0]
                    loc = ("services", service, kind, *err["loc"], *_extra_loc(err))
                    raise _At(loc, _message(err) + " (after merging with the defaults)") from None
        self._merged = merged
        return self

    def burst_for(self, service: str) -> BurstRule:
        rule = self._merged.get((service, "burst"))
        return rule if isinstance(rule, BurstRule) else self.defaults.burst

    def anomaly_for(self, service: str) -> AnomalyRule:
        rule = self._merged.get((service, "anomaly"))
        return rule if isinstance(rule, AnomalyRule) else self.defaults.anomaly

    def rate_for(self, service: str) -> RateRule:
        rule = self._merged.get((service, "rate"))
        return rule if isinstance(rule, RateRule) else self.defaults.rate


def default_rules() -> Rules:
    """The built-in rules (what an empty ``LOGRADAR_RULES`` means)."""
    return Rules()


# --------------------------------------------------------------------------- loading


def _line_map(text: str) -> tuple[dict[tuple[str, ...], int], list[tuple[int, str, str]]]:
    """Line (1-based) of each key and list item by its path; and duplicate-key problems.

    Path parts are strings (list indexes too), as pydantic locations are compared as text.
    """
    lines: dict[tuple[str, ...], int] = {(): 1}
    dupes: list[tuple[int, str, str]] = []
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        return lines, dupes
    lines[()] = root.start_mark.line + 1
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:  # an alias: its lines are those of the anchor
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                child = (*path, key)
                line = key_node.start_mark.line + 1
                if key in keys:
                    dupes.append((line, _dotted(child), f"duplicate key {key!r}"))
                keys.add(key)
                lines.setdefault(child, line)
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                child = (*path, str(i))
                lines.setdefault(child, item.start_mark.line + 1)
                stack.append((item, child))
    return lines, dupes


def _dotted(loc: Path_) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _extra_loc(err: Mapping[str, Any]) -> Path_:
    ctx = err.get("ctx") or {}
    exc = ctx.get("error")
    return exc.loc if isinstance(exc, _At) else ()


def _model_at(loc: Path_) -> type[BaseModel] | None:
    """The model class at ``loc`` inside :class:`Rules` (to list its allowed keys)."""
    tp: Any = Rules
    for part in (*loc, None):
        while True:
            origin = get_origin(tp)
            if origin is Annotated:
                tp = get_args(tp)[0]
            elif origin in (Union, types.UnionType):
                tp = next(a for a in get_args(tp) if a is not type(None))
            else:
                break
        if part is None:
            break
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) in (list, tuple):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return None
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    loc: Path_ = tuple(err["loc"])
    if kind == "extra_forbidden" and loc:
        key = str(loc[-1])
        model = _model_at(loc[:-1])
        if model is not None:
            allowed = sorted(model.model_fields)
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"unknown key {key!r} (allowed: {', '.join(allowed)}){hint}"
        return f"unknown key {key!r}"
    if kind == "missing":
        return "required"
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "name":
        return (
            f"{err['input']!r} is not a valid name: letters, digits and _, "
            "not starting with a digit"
        )
    msg = str(err["msg"])
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    elif kind == "enum":  # the only enum in the rules is Level
        msg = f"unknown level {err['input']!r}; expected one of {', '.join(Level)}"
    elif kind == "literal_error":
        msg = f"{msg}, got {err['input']!r}"
    return msg


def _problems(exc: ValidationError) -> Iterator[tuple[Path_, str]]:
    for err in exc.errors():
        yield (*err["loc"], *_extra_loc(err)), _message(err)


def _duplicate_names(data: object) -> Iterator[tuple[Path_, str]]:
    """Duplicate pattern names in the raw data (the model checks them only if all else is valid)."""
    patterns = data.get("patterns") if isinstance(data, dict) else None
    if not isinstance(patterns, list):
        return
    seen: dict[str, int] = {}
    for i, pattern in enumerate(patterns):
        name = pattern.get("name") if isinstance(pattern, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            yield ("patterns", i, "name"), _duplicate(name, seen[name])
        else:
            seen[name] = i


def _duplicate(name: str, first: int) -> str:
    return f"duplicate pattern name {name!r} (also patterns.{first})"


def _nearest_line(key: tuple[str, ...], lines: Mapping[tuple[str, ...], int]) -> int:
    for end in range(len(key), -1, -1):
        line = lines.get(key[:end])
        if line is not None:
            return line
    return 1


def parse_rules(text: str, source: str = "<rules>") -> Rules:
    """Rules from YAML ``text``; :class:`RulesError` lists every problem, naming ``source``."""
    try:
        data = yaml.safe_load(text)
        lines, dupes = _line_map(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        raise RulesError([f"{source}:{line}: (yaml): invalid YAML: {what}"]) from None
    except yaml.YAMLError as exc:
        raise RulesError([f"{source}:1: (yaml): invalid YAML: {exc}"]) from None
    problems = [(line, f"{source}:{line}: {path}: {what}") for line, path, what in dupes]
    rules: Rules | None = None
    try:
        rules = Rules.model_validate({} if data is None else data)
    except ValidationError as exc:
        found = list(_problems(exc))
        found.extend(p for p in _duplicate_names(data) if p not in found)
        for loc, what in found:
            line = _nearest_line(tuple(str(p) for p in loc), lines)
            problems.append((line, f"{source}:{line}: {_dotted(loc)}: {what}"))
    if problems or rules is None:
        raise RulesError([text for _, text in sorted(problems, key=lambda pair: pair[0])])
    return rules


def load_rules(path: str | Path) -> Rules:
    """Rules from the YAML file at ``path``; :class:`RulesError` on any problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError([f"{path}: cannot read rules file: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError as exc:
        raise RulesError([f"{path}: rules file is not UTF-8: {exc.reason}"]) from None
    return parse_rules(text, str(path))


# --------------------------------------------------------------------------- summary


def _burst_text(rule: BurstRule) -> str:
    if not rule.enabled:
        return "burst off"
    return f"burst >= {rule.threshold} {'/'.join(rule.levels)} per window [{rule.severity}]"


def _anomaly_text(rule: AnomalyRule) -> str:
    if not rule.enabled:
        return "anomaly off"
    return (
        f"anomaly z >= {rule.z:g} {rule.direction}, after {rule.min_windows} of "
        f"{rule.window} windows, min count {rule.min_count} [{rule.severity}]"
    )


def _rate_text(rule: RateRule) -> str:
    if not rule.enabled:
        return "rate off"
    return (
        f"rate drop < {rule.drop_ratio:g}x, spike > {rule.spike_ratio:g}x, "
        f"silence {format_duration(rule.silence_s)} over {rule.baseline_windows} windows "
        f"[{rule.severity}]"
    )


def _predicate_text(p: Predicate) -> str:
    parts: list[str] = []
    if p.service is not None:
        parts.append(p.service)
    if p.level is not None:
        parts.append("/".join(p.level))
    if p.message is not None:
        parts.append(repr(p.message))
    if p.message_regex is not None:
        parts.append(f"/{p.message_regex.pattern}/")
    if p.attrs:
        parts.extend(f"{k}={v}" for k, v in p.attrs.items())
    return " ".join(parts)


def _step_text(step: Step) -> str:
    if step.absent is not None:
        text = f"no {_predicate_text(step.absent)}"
    else:
        text = _predicate_text(step)
        if step.count > 1:
            text += f" x{step.count}"
    if step.within is not None:
        text += f" within {format_duration(step.within)}"
    return text


def _iter_patterns(rules: Rules) -> Iterator[str]:
    for p in rules.patterns:
        gap = f", max gap {format_duration(p.max_gap)}" if p.max_gap is not None else ""
        yield (
            f"pattern {p.name} [{p.severity}]: key {p.key}, {len(p.steps)} steps within "
            f"{format_duration(p.within)}{gap}: " + " -> ".join(_step_text(s) for s in p.steps)
        )


def summary(rules: Rules) -> list[str]:
    """Human-readable lines describing ``rules`` (for ``logradar rules check FILE``)."""
    d = rules.defaults
    out = [
        f"defaults: {_burst_text(d.burst)}",
        f"defaults: {_anomaly_text(d.anomaly)}",
        f"defaults: {_rate_text(d.rate)}",
    ]
    n = len(rules.services)
    out.append(f"{n} service override{'' if n == 1 else 's'}")
    for name in sorted(rules.services):
        over = rules.services[name]
        parts = []
        if over.burst is not None:
            parts.append(_burst_text(rules.burst_for(name)))
        if over.anomaly is not None:
            parts.append(_anomaly_text(rules.anomaly_for(name)))
        if over.rate is not None:
            parts.append(_rate_text(rules.rate_for(name)))
        out.append(f"  {name}: " + ("; ".join(parts) or "(no overrides)"))
    n = len(rules.patterns)
    out.append(f"{n} pattern{'' if n == 1 else 's'}")
    out.extend(f"  {line}" for line in _iter_patterns(rules))
    t = rules.templates
    out.append(
        f"new templates: {'on' if t.enabled else 'off'}, {t.min_level}+ after {t.warmup} "
        f"events per service [{t.severity}]"
    )
    n = len(rules.sessions)
    out.append(f"{n} session rule{'' if n == 1 else 's'}")
    for s in rules.sessions:
        alerts = []
        if s.long is not None:
            alerts.append(f"longer than {format_duration(s.long)}")
        if s.max_errors is not None:
            alerts.append(f"{s.max_errors}+ errors")
        what = f"; alert on {' or '.join(alerts)} [{s.severity}]" if alerts else ""
        out.append(f"  sessions by {s.key}, ending after {format_duration(s.timeout)} idle{what}")
    return out
