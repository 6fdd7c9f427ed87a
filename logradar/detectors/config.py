"""Per-service detector configuration, resolved from the rules once per service and cached."""

from __future__ import annotations

from logradar.detectors.anomaly import AnomalyConfig
from logradar.detectors.burst import BurstConfig
from logradar.detectors.rate import RateConfig
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
        self._anomaly: dict[str, AnomalyConfig] = {}
        self._rate: dict[str, RateConfig] = {}

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

    def anomaly(self, service: str) -> AnomalyConfig:
        cfg = self._anomaly.get(service)
        if cfg is None:
            r = self.rules.anomaly_for(service)
            cfg = self._anomaly[service] = AnomalyConfig(
                enabled=r.enabled,
                z=r.z,
                min_windows=r.min_windows,
                min_count=r.min_count,
                direction=r.direction,
                window=r.window,
                std_floor=r.std_floor,
                severity=r.severity,
            )
        return cfg

    def rate(self, service: str) -> RateConfig:
        cfg = self._rate.get(service)
        if cfg is None:
            r = self.rules.rate_for(service)
            cfg = self._rate[service] = RateConfig(
                enabled=r.enabled,
                drop_ratio=r.drop_ratio,
                spike_ratio=r.spike_ratio,
                silence_s=r.silence_s,
                baseline_windows=r.baseline_windows,
                severity=r.severity,
            )
        return cfg

    @property
    def anomaly_enabled(self) -> bool:
        """Whether any service can have anomaly detection (else the detector is skipped)."""
        rules = self.rules
        return rules.defaults.anomaly.enabled or any(
            rules.anomaly_for(s).enabled for s in rules.services
        )

    @property
    def rate_enabled(self) -> bool:
        rules = self.rules
        return rules.defaults.rate.enabled or any(rules.rate_for(s).enabled for s in rules.services)

    def template_detector(self) -> TemplateDetector | None:
        """A new-template detector as the rules configure it, or None when disabled."""
        rule = self.rules.templates
        if not rule.enabled:
            return None
        return TemplateDetector(rule.min_level, rule.warmup, severity=rule.severity)
