"""The new-template detector: masking, levels, warm-up, services, state, loghub samples."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from drain3.drain import Drain  # type: ignore[import-untyped]
from hypothesis import example, given, settings
from hypothesis import strategies as st

from logradar.alerts import Alert
from logradar.detectors import templates as tpl
from logradar.detectors.templates import TemplateDetector, mask, template_id
from logradar.model import Level, LogEvent
from logradar.parsing import parse

T0 = 1_700_000_000.0
REFUSED = "Connection to 10.0.0.{} refused after {} ms"
SHAPES = [  # five unrelated shapes, each mined into its own cluster
    "Disk {} is almost full",
    "Cache miss storm on shard {}",
    "Retrying payment {} after timeout",
    "Queue depth above {} for consumer group orders",
    "Slow query took {} ms on replica",
]


def ev(message: str, service: str = "checkout", level: str = "ERROR", ts: float = T0) -> LogEvent:
    return LogEvent(ts=ts, service=service, level=Level(level), message=message)


def feed(det: TemplateDetector, events: list[LogEvent]) -> list[Alert]:
    return [a for e in events if (a := det.on_event(e)) is not None]


def warm(n: int, service: str = "checkout") -> list[LogEvent]:
    """``n`` events of the five SHAPES, numbers varying."""
    return [ev(SHAPES[i % len(SHAPES)].format(i), service, ts=T0 + i) for i in range(n)]


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("took 35 ms", "took <*> ms"),
        ("took 35ms, retry 3.5 s", "took <*>ms, retry <*> s"),
        ("from 10.1.2.3 to 192.168.0.1:8080", "from <*> to <*>"),
        ("peer /10.10.34.11:3888 gone", "peer /<*> gone"),
        ("req-addc1839-2ed5-4778-b57e-5854eb7b8b09 done", "req-<*> done"),
        ("id 123E4567-E89B-12D3-A456-426614174000", "id <*>"),
        ("ptr 0x7fffDEAD flags=0x1", "ptr <*> flags=<*>"),
        ("base a489c868f0c37da93b76227c91bb03908ac0e742", "base <*>"),
        ("block blk_-38865049064139660 lost", "block blk_-<*> lost"),
        ("attempt_1445144423722_0020_m_000001_0", "attempt_<*>_<*>_m_<*>_<*>"),
        ("sha256 on R30 with ipv4, v1.2.3", "sha256 on R30 with ipv4, v1.2.3"),
        ("deadbeef and cafebabe stay words", "deadbeef and cafebabe stay words"),
        ("no variables here", "no variables here"),
    ],
)
def test_mask(raw: str, masked: str) -> None:
    assert mask(raw) == masked


@pytest.mark.parametrize(
    ("min_level", "level", "mined"),
    [
        ("WARN", "TRACE", False),
        ("WARN", "DEBUG", False),
        ("WARN", "INFO", False),
        ("WARN", "WARN", True),
        ("WARN", "ERROR", True),
        ("WARN", "FATAL", True),
        ("WARN", "UNKNOWN", False),
        ("ERROR", "WARN", False),
        ("ERROR", "FATAL", True),
        ("INFO", "INFO", True),
        ("TRACE", "UNKNOWN", False),
    ],
)
def test_levels_mined(min_level: str, level: str, mined: bool) -> None:
    det = TemplateDetector(min_level=min_level, warmup=0)
    assert det.mines(Level(level)) is mined
    assert det.mines(level) is mined
    alert = det.on_event(ev("Disk 3 is almost full", level=level))
    assert (alert is not None) is mined
    assert ("checkout" in det.miners) is mined


def test_info_events_are_not_mined_and_leave_no_state() -> None:
    det = TemplateDetector(warmup=0)
    assert feed(det, [ev(f"user {i} logged in", level="INFO") for i in range(50)]) == []
    assert det.miners == {}
    assert det.take_dirty() == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_level": "UNKNOWN"},
        {"min_level": "WARNING"},
        {"min_level": "warn"},
        {"warmup": -1},
        {"max_clusters": 0},
        {"max_services": 0},
    ],
)
def test_bad_settings(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TemplateDetector(**kwargs)  # type: ignore[arg-type]


def test_warmup_learns_then_a_new_shape_fires_once() -> None:
    det = TemplateDetector(warmup=5)
    # the first five mined events are five new clusters, and none fires
    assert feed(det, warm(5)) == []
    # after warm-up, known shapes with other numbers stay quiet
    assert feed(det, warm(20)) == []
    first = det.on_event(ev(REFUSED.format(7, 1500), ts=T0 + 100.5))
    assert first is not None
    again = [ev(REFUSED.format(i, 100 + i), ts=T0 + 101 + i) for i in range(10)]
    assert feed(det, again) == []

    assert first.rule == "new_template"
    assert first.kind == "template"
    assert first.severity == "low"
    assert first.state == "firing"
    assert first.service == "checkout"
    assert first.level == "ERROR"
    assert first.event_time == T0 + 100.5
    assert first.window_start == first.window_end == int(T0 + 100.5)
    assert first.observed == 1
    assert first.expected is None
    assert first.threshold == 0
    assert first.score == 1.0
    template = "Connection to <*> refused after <*> ms"
    assert first.summary == f'checkout: new ERROR template "{template}"'
    assert [e.message for e in first.evidence] == [REFUSED.format(7, 1500)]
    assert first.extra == {
        "template": template,
        "template_id": template_id("checkout", template),
        "examples": [REFUSED.format(7, 1500)],
    }
    doc = first.to_dict()
    assert doc["template"] == template
    assert doc["template_id"] == first.extra["template_id"]


def test_warmup_counts_mined_events_only() -> None:
    det = TemplateDetector(warmup=3)
    feed(det, [ev(f"user {i} logged in", level="INFO") for i in range(10)])
    assert feed(det, [ev(SHAPES[i].format(i)) for i in range(3)]) == []
    assert det.on_event(ev(SHAPES[3].format(9))) is not None


def test_same_input_same_alerts_and_ids() -> None:
    events = warm(12) + [ev(REFUSED.format(1, 2), ts=T0 + 50), ev("Totally different", ts=T0 + 51)]
    runs = [feed(TemplateDetector(warmup=10), events) for _ in range(2)]
    assert [a.to_dict() for a in runs[0]] == [a.to_dict() for a in runs[1]]
    assert len(runs[0]) == 2
    assert len({a.id for a in runs[0]}) == 2


def test_services_are_independent() -> None:
    det = TemplateDetector(warmup=5)
    feed(det, warm(5, "checkout"))
    # payments has its own warm-up: the shape checkout knows is new to it, but it is warming
    assert feed(det, warm(4, "payments")) == []
    assert det.on_event(ev(REFUSED.format(1, 2), "checkout")) is not None
    # checkout's new shape is still unknown to payments (now warm: 4 + this one = 5 mined)
    assert det.on_event(ev(REFUSED.format(1, 2), "payments")) is None
    alert = det.on_event(ev("Ledger out of balance by 12 cents", "payments"))
    assert alert is not None
    assert alert.service == "payments"
    # and payments' shapes mean nothing to checkout's miner
    assert det.on_event(ev("Ledger out of balance by 99 cents", "checkout")) is not None
    ids = {template_id(s, "Ledger out of balance by <*> cents") for s in ("checkout", "payments")}
    assert len(ids) == 2


def test_take_dirty_state_and_restore() -> None:
    det = TemplateDetector(warmup=5)
    feed(det, warm(30))
    assert det.on_event(ev(REFUSED.format(1, 2))) is not None
    state = dict(det.take_dirty())
    assert det.take_dirty() == []
    data = state["checkout"]
    assert data is not None
    assert data["seen"] == 31
    templates = {t: n for t, n in data["templates"]}
    assert templates["Connection to <*> refused after <*> ms"] == 1
    assert templates["Disk <*> is almost full"] == 6
    assert sum(templates.values()) == 31

    fresh = TemplateDetector(warmup=5)
    fresh.restore("checkout", data)
    assert fresh.take_dirty() == []  # restoring writes nothing back
    # known shapes (other numbers) stay quiet, and there is no second warm-up
    assert feed(fresh, warm(10) + [ev(REFUSED.format(9, 9))]) == []
    new = fresh.on_event(ev("Inventory reservation 42 expired"))
    assert new is not None
    assert new.extra["template"] == "Inventory reservation <*> expired"
    restored = dict(fresh.take_dirty())["checkout"]
    assert restored is not None
    assert restored["seen"] == 31 + 11 + 1


def test_restore_respects_the_service_cap() -> None:
    det = TemplateDetector(warmup=0, max_services=2)
    for service in ("a", "b", "c"):
        det.restore(service, {"seen": 1, "templates": [["Disk <*> is almost full", 1]]})
    assert list(det.miners) == ["b", "c"]
    assert det.take_dirty() == [("a", None)]


def test_service_cap_evicts_least_recently_used() -> None:
    det = TemplateDetector(warmup=1, max_services=2)
    for service in ("a", "b"):
        det.on_event(ev("Disk 1 is almost full", service))
    det.on_event(ev("Disk 2 is almost full", "a"))  # a is now the most recently used
    det.on_event(ev("Disk 3 is almost full", "c"))  # evicts b
    assert list(det.miners) == ["a", "c"]
    dirty = dict(det.take_dirty())
    assert dirty["b"] is None
    assert dirty["a"] is not None and dirty["c"] is not None
    # b comes back with a fresh miner: warming up again, then new shapes fire
    assert det.on_event(ev("Disk 4 is almost full", "b")) is None
    assert det.on_event(ev("Cache miss storm on shard 7", "b")) is not None
    assert list(det.miners) == ["c", "b"]


def test_clusters_and_stored_templates_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tpl, "TEMPLATES_STORED_MAX", 3)
    det = TemplateDetector(warmup=0, max_clusters=4)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    for i, word in enumerate(words):
        for _ in range(i + 1):  # later shapes are bigger
            det.on_event(ev(f"{word} {word} {word} broke"))
    assert len(det.miners["checkout"].drain.clusters) == 4
    data = dict(det.take_dirty())["checkout"]
    assert data is not None
    assert data["templates"] == [
        ["delta delta delta broke", 4],
        ["echo echo echo broke", 5],
        ["foxtrot foxtrot foxtrot broke", 6],
    ]


def test_long_messages_are_mined_by_their_head() -> None:
    det = TemplateDetector(warmup=0)
    head = "Deleting blocks " + "x " * tpl.MESSAGE_MAX
    assert det.on_event(ev(head + "blk_1 blk_2")) is not None
    assert det.on_event(ev(head + "blk_3 blk_4 blk_5 blk_6")) is None


def loghub_events(path: Path) -> list[LogEvent]:
    events = []
    with path.open("rb") as f:
        for line in f:
            parsed = parse(line, kafka_ts=2e9)
            assert isinstance(parsed, LogEvent)
            events.append(parsed)
    return events


@pytest.mark.parametrize("system", ["Hadoop", "Zookeeper"])
def test_loghub_alerts_are_the_new_clusters(loghub: Path, system: str) -> None:
    events = loghub_events(loghub / system / f"{system}_2k.log")
    det = TemplateDetector(warmup=0)
    alerts = feed(det, events)

    # an independent count: one plain Drain per service over the masked WARN+ messages
    drains: dict[str, Drain] = {}
    created = 0
    mined = 0
    for e in events:
        if e.level not in {Level.WARN, Level.ERROR, Level.FATAL}:
            continue
        mined += 1
        drain = drains.setdefault(e.service, Drain(max_clusters=500, param_str="<*>"))
        _, change = drain.add_log_message(mask(e.message[: tpl.MESSAGE_MAX]))
        created += change == "cluster_created"

    assert mined > 900
    assert len(alerts) == created
    assert len(alerts) < mined / 20
    assert len({a.extra["template_id"] for a in alerts}) == len(alerts)
    assert len({a.id for a in alerts}) == len(alerts)
    assert Counter(a.service for a in alerts).keys() <= set(drains)

    # after a restart from the stored state, the whole file is known: nothing fires
    restarted = TemplateDetector(warmup=0)
    for service, data in det.take_dirty():
        assert data is not None
        restarted.restore(service, data)
    assert feed(restarted, events) == []

    # and close to loghub's ground truth: the distinct templates of its WARN+ lines
    with (loghub / system / f"{system}_2k.log_structured.csv").open(newline="") as f:
        truth = {
            r["EventId"] for r in csv.DictReader(f) if r["Level"] in {"WARN", "ERROR", "FATAL"}
        }
    assert len(truth) / 2 <= len(alerts) <= 2 * len(truth)


def messages_of(path: Path) -> list[str]:
    """The message of each line (the whole line where no format parses it)."""
    out = []
    with path.open("rb") as f:
        for line in f:
            parsed = parse(line, kafka_ts=2e9)
            text = parsed.message if isinstance(parsed, LogEvent) else line.decode(errors="replace")
            out.append(text[: tpl.MESSAGE_MAX])
    return out


def assert_answers_as_drain(plain: Drain, miner: Any, messages: list[str], where: str) -> None:
    """Feed ``messages`` to plain Drain (masked) and to the miner: the same cluster, change,
    template and size at every step, and the same clusters at the end."""
    for message in messages:
        want, want_change = plain.add_log_message(mask(message))
        got, got_change = miner.add(message)
        assert (got.cluster_id, got_change, got.log_template_tokens, got.size) == (
            want.cluster_id,
            want_change,
            want.log_template_tokens,
            want.size,
        ), (where, message)
    assert [(c.cluster_id, c.log_template_tokens, c.size) for c in miner.drain.clusters] == [
        (c.cluster_id, c.log_template_tokens, c.size) for c in plain.clusters
    ]


@pytest.mark.parametrize(("max_clusters", "cap"), [(None, 512), (500, 512), (8, 512), (500, 8)])
def test_remembered_answers_are_drains_own(
    loghub: Path, max_clusters: int | None, cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The miner's shortcut (``_Miner.add``) answers each message exactly as plain Drain does:
    the same cluster, change, template and size at every step, and the same clusters at the
    end. Every loghub system, each file twice (so the second pass mostly repeats), and a
    cluster cap of 8, whose evictions change the clusters all the time."""
    asked = []  # the messages the miner handed to Drain
    mine = tpl._Miner._mine
    monkeypatch.setattr(
        tpl._Miner, "_mine", lambda self, m, masked: asked.append(m) or mine(self, m, masked)
    )
    steps = 0
    for system in sorted(p.name for p in loghub.iterdir() if p.is_dir()):
        messages = messages_of(loghub / system / f"{system}_2k.log") * 2
        plain = Drain(max_clusters=max_clusters, param_str="<*>")
        miner = tpl._Miner(Drain(max_clusters=max_clusters, param_str="<*>"))
        miner.cap = cap  # 8: the smallest share of a detector with many services
        assert_answers_as_drain(plain, miner, messages, system)
        steps += len(messages)
    assert steps > 50_000
    assert len(asked) < steps / 1.5  # the shortcut answered a third of the steps or more


def test_state_is_written_when_templates_change_and_every_sync_events() -> None:
    det = TemplateDetector(warmup=5)
    for e in warm(5):  # five new clusters: each is written
        det.on_event(e)
        assert [s for s, _ in det.take_dirty()] == ["checkout"]
    # an event that joins an unchanged cluster writes nothing (in warm-up or after) ...
    det.on_event(ev("Disk 77 is almost full"))
    assert det.take_dirty() == []
    # ... one that widens a template or makes a new one does
    det.on_event(ev("Disk 78 is nearly full"))
    ((_, data),) = det.take_dirty()
    assert data is not None and "Disk <*> is <*> full" in dict(data["templates"])
    det.on_event(ev("Inventory reservation 42 expired"))
    assert [s for s, _ in det.take_dirty()] == ["checkout"]
    # and the counts catch up every SYNC_EVERY mined events
    seen = det.miners["checkout"].seen
    for i in range(seen, tpl.SYNC_EVERY - 1):
        det.on_event(ev(f"Disk {i} is almost full"))
    assert det.take_dirty() == []
    det.on_event(ev("Disk 9 is almost full"))
    ((_, synced),) = det.take_dirty()
    assert synced is not None and synced["seen"] == tpl.SYNC_EVERY


def test_a_restart_between_syncs_lengthens_the_warm_up_by_less_than_sync_every() -> None:
    det = TemplateDetector(warmup=150)
    changelog: dict[str, dict[str, Any] | None] = {}
    for e in warm(tpl.SYNC_EVERY + 40):  # written at SYNC_EVERY; 40 more since
        det.on_event(e)
        changelog.update(det.take_dirty())  # as the pipeline does after each batch
    fresh = TemplateDetector(warmup=150)
    for service, data in changelog.items():
        assert data is not None
        fresh.restore(service, data)
    stored = fresh.miners["checkout"].seen
    assert stored == tpl.SYNC_EVERY
    # the live miner is out of warm-up after 10 more events; the restored one after 50
    assert det.on_event(ev("Inventory reservation 1 expired")) is None  # seen 141
    for i in range(150 - stored):  # seen reaches the warm-up, 150
        assert fresh.on_event(ev(f"Disk {i} is almost full")) is None
    assert fresh.on_event(ev("Inventory reservation 2 expired")) is not None


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123456789abcdefABCDEFxX.:-_ <*>/u\u0663", max_size=60))
def test_mask_skips_only_masks_that_cannot_match(message: str) -> None:
    """``mask`` is the four masks applied in turn, whatever it skips."""
    plain = message
    for pattern in tpl._MASKS:
        plain = pattern.sub(tpl.WILDCARD, plain)
    assert mask(message) == plain


# Messages of a few templates whose slots take words, ids the masks leave alone (a letter
# first) or numbers they mask: some templates share a prefix-tree leaf (token count and
# first token), one has a slot first, and the words can widen any of them
_SLOT = st.sampled_from(["login", "ok", "x", "user"]) | st.builds(
    lambda c, n: f"{c}{n}", st.sampled_from("uhk"), st.integers(0, 30)
)
_TEMPLATES = [
    "login failed for user {}",
    "login ok from host {}",
    "login {} for user {}",
    "{} logged out",
    "disk {} full at {}",
    "user {} {} {}",
]
_MESSAGES = st.lists(
    st.builds(
        lambda t, slots: t.format(*slots),
        st.sampled_from(_TEMPLATES),
        st.lists(_SLOT | st.integers(0, 99).map(str), min_size=3, max_size=3),
    ),
    min_size=1,
    max_size=150,
)


@settings(max_examples=300, deadline=None)
@example(  # a word and ids first: two leaves, the ids' under Drain's wildcard child
    messages=[
        "login logged out a",
        "u1 logged out a",
        "u2 logged out a",
        "u3 logged out b",
        "u4 logged out d",
        "login logged out c",
    ],
    depth=4,
    max_clusters=None,
    sim_th=0.4,
)
@given(
    messages=_MESSAGES,
    depth=st.sampled_from([3, 4, 5]),
    max_clusters=st.sampled_from([None, 3]),
    sim_th=st.sampled_from([0.4, 0.7]),
)
def test_leaf_answers_are_drains_own(
    messages: list[str], depth: int, max_clusters: int | None, sim_th: float
) -> None:
    """``_Miner.by_leaf`` (a leaf's only cluster, matched by its fixed tokens) answers as plain
    Drain does, whatever the tree depth, the cluster cap (evictions) or the threshold."""

    def drain() -> Drain:
        return Drain(depth=depth, sim_th=sim_th, max_clusters=max_clusters, param_str="<*>")

    assert_answers_as_drain(drain(), tpl._Miner(drain()), messages, "generated")


def test_messages_with_ids_are_answered_without_drain(monkeypatch: pytest.MonkeyPatch) -> None:
    """A template whose message carries an id the masks leave alone: after the first two
    messages (a cluster, then its template widened), Drain is not asked again."""
    asked = []
    mine = tpl._Miner._mine
    monkeypatch.setattr(
        tpl._Miner, "_mine", lambda self, m, masked: asked.append(m) or mine(self, m, masked)
    )
    miner = tpl._Miner(Drain(param_str="<*>"))
    for i in range(200):
        cluster, _ = miner.add(f"deprecated endpoint called by user u{i}")
    assert cluster.get_template() == "deprecated endpoint called by user <*>"
    assert cluster.size == 200
    assert len(asked) == 3  # created, widened, and the first unchanged match (remembered)


def two_shapes(i: int) -> str:
    """A new message each time, of two templates that share Drain's prefix-tree leaf (token
    count and first token), so that ``by_leaf`` cannot answer it and the memos fill."""
    return f"login failed for user u{i}" if i % 2 else f"login ok from host h{i}"


def test_the_memos_of_many_services_share_one_budget() -> None:
    """Messages that are each new (a user name in them) are remembered by raw and by masked
    text; with thousands of services that was 512 + 512 each (187 MB measured for 2,000).
    Each miner's share shrinks as services come, and the total stays bounded."""
    det = TemplateDetector(warmup=0, max_services=5000)
    services = 1000
    for i in range(40):
        for s in range(services):
            det.on_event(ev(two_shapes(i * services + s), f"svc-{s}", ts=T0 + i))
    assert det.memo_cap == max(tpl.KNOWN_MIN, tpl.KNOWN_TOTAL // services) == 16
    assert {m.cap for m in det.miners.values()} == {16}
    held = sum(len(m.known) + len(m.known_masked) + len(m.by_leaf) for m in det.miners.values())
    assert 0 < held <= 3 * tpl.KNOWN_TOTAL
    # one service alone keeps the full memo
    alone = TemplateDetector(warmup=0)
    for i in range(500):
        alone.on_event(ev(two_shapes(i)))
    assert alone.memo_cap == tpl.KNOWN_MAX
    assert 400 < len(alone.miners["checkout"].known) <= tpl.KNOWN_MAX


def test_a_restored_miner_gets_the_current_share() -> None:
    det = TemplateDetector(warmup=0, max_services=5000)
    for s in range(2000):
        det.on_event(ev("disk 1 is full", f"svc-{s}"))
    det.restore("svc-new", {"seen": 3, "templates": [["disk <*> is full", 3]]})
    assert det.miners["svc-new"].cap == det.memo_cap == tpl.KNOWN_TOTAL // 2001
