"""Per-service detector configuration, resolved from the rules once per service and cached."""

from __future__ import annotations

from logradar.detectors.burst import BurstConfig
from logradar.detectors.templates import TemplateDetector
from logradar.rules import Rules


class DetectorConfigs:
    """Turns :class:`~logradar.rules.Rules` into each detector's config, per service.

    Lookups happen on the hot path (every ERROR event asks for its service's
    burst config), so each result is cached; the cache is bounded by the
    number of services the worker has seen.
    """

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self._burst: dict[str, BurstConfig] = {}

    def burst(self, service: str) -> BurstConfig:
        cfg = self._burst.get(service)
        if cfg is None:
            rule = self.rules.burst_for(service)
            cfg = self._burst[service] = BurstConfig(
                threshold=rule.threshold,
                severity=rule.severity,
                levels=frozenset(str(level) for level in rule.levels),
                enabled=rule.enabled,
            )
        return cfg

    def template_detector(self) -> TemplateDetector | None:
        """A new-template detector as the rules configure it, or None when disabled."""
        rule = self.rules.templates
        if not rule.enabled:
            return None
        return TemplateDetector(rule.min_level, rule.warmup, severity=rule.severity)
