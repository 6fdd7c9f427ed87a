"""logradar's metrics: names, the service label cap, batch counting."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from logradar.metrics import OTHER, LabelCap, Metrics, add_process_collectors


def test_service_label_cap_admits_the_first_n_and_folds_the_rest() -> None:
    cap = LabelCap(3)
    assert [cap(s) for s in ["a", "b", "a", "c", "d", "b", "e"]] == [
        "a",
        "b",
        "a",
        "c",
        OTHER,
        "b",
        OTHER,
    ]
    assert len(cap.seen) == 3


def test_events_are_counted_per_batch_with_the_cap() -> None:
    registry = CollectorRegistry()
    m = Metrics.create(registry, max_services=2)
    m.count_events({("a", "INFO"): 3, ("b", "ERROR"): 2, ("c", "INFO"): 5, ("d", "INFO"): 1})
    value = registry.get_sample_value
    assert value("logradar_events_total", {"service": "a", "level": "INFO"}) == 3
    assert value("logradar_events_total", {"service": "b", "level": "ERROR"}) == 2
    assert value("logradar_events_total", {"service": OTHER, "level": "INFO"}) == 6


def test_a_hundred_thousand_services_keep_the_label_set_bounded() -> None:
    registry = CollectorRegistry()
    m = Metrics.create(registry, max_services=500)
    m.count_events({(f"svc-{i}", "INFO"): 1 for i in range(100_000)})
    series = [s for f in registry.collect() if f.name == "logradar_events" for s in f.samples]
    services = {s.labels["service"] for s in series if s.name == "logradar_events_total"}
    assert len(services) == 501 and OTHER in services


def test_metric_names_follow_prometheus_conventions() -> None:
    registry = CollectorRegistry()
    Metrics.create(registry)
    families = {f.name: f.type for f in registry.collect()}
    assert families == {
        "logradar_events": "counter",
        "logradar_dead_letters": "counter",
        "logradar_late_events": "counter",
        "logradar_correlation_late_events": "counter",
        "logradar_replayed_events": "counter",
        "logradar_offset_gaps": "counter",
        "logradar_offsets_read_back": "counter",
        "logradar_changelog_tail_records": "counter",
        "logradar_evictions": "counter",
        "logradar_windows_closed": "counter",
        "logradar_alerts": "counter",
        "logradar_event_lag_seconds": "histogram",
        "logradar_open_window_buckets": "gauge",
        "logradar_watermark_seconds": "gauge",
        "logradar_broker_up": "gauge",
        "logradar_batch_seconds": "histogram",
        "logradar_output_seconds": "histogram",
    }


def test_the_process_and_gc_series_are_on_the_given_registry() -> None:
    registry = CollectorRegistry()
    add_process_collectors(registry)
    names = {metric.name for metric in registry.collect()}
    assert {"process_resident_memory_bytes", "process_cpu_seconds", "python_info"} <= names
    assert "python_gc_collections" in names  # per generation
    rss = registry.get_sample_value("process_resident_memory_bytes")
    assert rss is not None and rss > 1 << 20
    young = registry.get_sample_value("python_gc_collections_total", {"generation": "0"})
    assert young is not None and young >= 0
