"""New log templates: a WARN+ message of a shape a service has never logged before.

Each service gets its own Drain miner (``drain3.drain.Drain``, used directly: no
``TemplateMiner``, no persistence handler, no config file), created lazily. Only
events at ``min_level`` or above are mined (order TRACE < DEBUG < INFO < WARN <
ERROR < FATAL; UNKNOWN never), which keeps the cost to the few lines that matter.
The first ``warmup`` mined events of a service only teach the miner; after that an
event that makes Drain create a cluster (``"cluster_created"``) fires one
``new_template`` alert. A later message of the same shape joins that cluster and
stays quiet, even when the cluster's template widens (``"cluster_template_changed"``).

Masking: before mining, obvious variables are replaced with Drain's wildcard ``<*>``
by a few precompiled regexes, applied in order: UUIDs, IPv4 addresses (with an
optional ``:port``), hex (``0x..``, and runs of 8+ hex digits holding a digit), then
numbers that do not follow a letter, digit or dot (so ``blk_123`` -> ``blk_<*>`` and
``took 35ms`` -> ``took <*>ms``, but ``sha256``, ``R30`` and ``v1.2.3`` stay). Using
``<*>`` rather than drain3's named masks (``<NUM>``) keeps a template readable and
lets Drain treat a masked token as the wildcard it is. IPv6 and dates are not
masked: Drain's own numeric-token rule and similarity threshold absorb most of them.
Messages are cut to ``MESSAGE_MAX`` characters before mining, which bounds both the
cost and the size of a stored template (and folds long variable lists together).

Identity: ``template_id`` is a blake2b of the service and the template as first
mined (the masked message that created the cluster), so it is the same across
replays and restarts; the alert id comes from :func:`make_alert` with the template
id as subject and the event time as incident start.

State (one changelog record per service): ``{"seen": mined count, "templates":
[[template, size], ...]}``, at most ``TEMPLATES_STORED_MAX`` templates (the largest,
listed in creation order). A service's record is written when an event changes its
templates (a cluster created or widened) and every ``SYNC_EVERY`` mined events, not
for each event that joins a cluster unchanged: such an event changes only counts, so
a restart can find ``seen`` up to ``SYNC_EVERY - 1`` behind (a warm-up that long
again at most) and the sizes behind (they only rank templates when more than
``TEMPLATES_STORED_MAX`` are stored), never a template missing. Writing the whole
list for every such event cost more than mining it.

:meth:`TemplateDetector.restore` rebuilds a Drain by feeding the stored templates back
through ``add_log_message``. This approximates the tree the miner had: similar stored
templates may merge, and a template whose early tokens widened to ``<*>`` now sits
under the wildcard branch, so the restored miner is, if anything, more general. Known
shapes therefore do not fire again after a restart; a genuinely new one still does.
Drain's LRU (``max_clusters``) bounds the clusters of one service and an LRU over
services (``max_services``) bounds the miners; an evicted service is reported by
:meth:`take_dirty` as ``None`` (delete its record) and, if it comes back, warms up again.

Deterministic: Drain's clustering depends only on the input order, so the same
events in the same order give the same alerts and ids.

Throughput (timeit, one core, Python 3.11, loghub 2k samples, warmup 0, a fresh
detector per run): 100k-180k mined events/s (BGL 101k, Hadoop 114k, Zookeeper 175k),
i.e. 6-10 us per WARN+ event; an event below ``min_level`` is one set lookup (~0.2 us).
A miner remembers the messages Drain matched without change and answers them again
without Drain (see ``_Miner``): over all sixteen loghub samples, every line mined
once, 113k messages/s with plain Drain, 182k with the shortcut (session 7).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from operator import itemgetter
from typing import Any

from drain3.drain import Drain  # type: ignore[import-untyped]

from logradar.alerts import Alert, Evidence
from logradar.detectors.lifecycle import make_alert
from logradar.model import Level, LogEvent

RULE = "new_template"
KIND = "template"
WILDCARD = "<*>"
MESSAGE_MAX = 512  # characters of a message that are mined
EVIDENCE_MAX_CHARS = 500
SUMMARY_TEMPLATE_MAX = 200
TEMPLATES_STORED_MAX = 500
KNOWN_MAX = 512  # remembered Drain answers per service, by message and masked (see _Miner)
# remembered answers of one detector (one source partition), by message and by masked
# message each: a service's share is KNOWN_TOTAL / services, between KNOWN_MIN and KNOWN_MAX
KNOWN_TOTAL = 16_384
KNOWN_MIN = 8
SYNC_EVERY = 100  # a service's state is written at least every this many mined events

_RANK: dict[Level, int] = {
    Level.TRACE: 0,
    Level.DEBUG: 1,
    Level.INFO: 2,
    Level.WARN: 3,
    Level.ERROR: 4,
    Level.FATAL: 5,
}

_MASKS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.])"),
    re.compile(r"\b0[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b"),
    re.compile(r"(?<![A-Za-z0-9.])\d+(?:\.\d+)?"),
)


_UUID, _IPV4, _HEX, _NUMBER = _MASKS
_DIGIT = re.compile(r"\d")


def mask(message: str) -> str:
    """``message`` with UUIDs, IPv4 addresses, hex ids and numbers replaced by ``<*>``.

    The masks apply in turn; one that cannot match is skipped: a UUID has a ``-``, an
    address a ``.``, and every mask but the UUID's needs a digit.
    """
    if "-" in message:
        message = _UUID.sub(WILDCARD, message)
    if _DIGIT.search(message) is None:
        return message
    if "." in message:
        message = _IPV4.sub(WILDCARD, message)
    return _NUMBER.sub(WILDCARD, _HEX.sub(WILDCARD, message))


def template_id(service: str, template: str) -> str:
    """A stable id for one service's template."""
    raw = f"{service}\x00{template}".encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


class _Miner:
    """One service's Drain, how many events it has mined, and what Drain last said.

    Drain's answer for a message depends only on the message and the miner's clusters
    (their templates and the prefix tree), which change only when Drain creates a
    cluster or widens a template. While they stay as they are, a message Drain
    matched without change (``"none"``) matches the same cluster without change
    again; ``known`` remembers those answers, by message as given and by masked
    message, and :meth:`add` replays them as Drain would have (the cluster's size
    grows and it becomes the most recently used). Any other answer forgets them all, as
    does a full memo (``cap`` each, at most ``KNOWN_MAX``): 4,096 held ~27 MB more over
    the bench's 1,000,000 events (20 services in 4 partitions) for 4% more speed over
    loghub. The detector lowers ``cap`` as its services grow in number, so that messages
    with ids in them (each one new, so each remembered) cannot fill 512 + 512 entries
    for each of thousands of services: 2,000 such services held 187 MB in one detector
    after 600,000 events, still growing.
    ``tests/unit/test_templates.py`` checks the answers against plain Drain.

    A message with an id the masks leave alone (``user u3164``) is new each time, so
    neither memo knows it. ``by_leaf`` answers many of those, as exactly: Drain finds
    a message's candidates in a prefix-tree leaf reached by its token count and first
    tokens, and picks the most similar. When that leaf holds one cluster, any message
    that reaches it and has the cluster's template tokens wherever the template has no
    ``<*>`` is as similar to it as the message that matched it, and leaves its template
    as it is: Drain's answer is that cluster, unchanged. In the bench's mixed stream
    Drain's unchanged matches fell from 19,472 to 1,112 of 41,776 mined messages.
    """

    __slots__ = ("drain", "seen", "known", "known_masked", "by_leaf", "path", "cap")

    def __init__(self, drain: Any, seen: int = 0) -> None:
        self.drain = drain
        self.seen = seen
        self.known: dict[str, Any] = {}  # message: its cluster
        self.known_masked: dict[str, Any] = {}  # masked message: its cluster
        # cluster id: the cluster, alone in its leaf, the positions of its template's fixed
        # tokens (an itemgetter; None when there are none) and those tokens
        self.by_leaf: dict[int, tuple[Any, Any, Any]] = {}
        # how many leading tokens Drain's tree search follows (see Drain.tree_search)
        self.path = max(drain.max_node_depth - 1, 0)
        self.cap = KNOWN_MAX  # entries each memo holds before it starts over

    def add(self, message: str) -> tuple[Any, str]:
        """``Drain.add_log_message`` of the masked ``message``: (cluster, change)."""
        cluster = self.known.get(message)
        if cluster is None:
            masked = mask(message)
            cluster = self.known_masked.get(masked)
            if cluster is not None:
                self._remember(self.known, message, cluster)
            else:
                cluster = self._leaf_answer(masked.split())
                if cluster is None:
                    return self._mine(message, masked)
        cluster.size += 1
        self.drain.id_to_cluster[cluster.cluster_id]  # noqa: B018 (an LRU touch, as Drain's)
        return cluster, "none"

    def _leaf(self, tokens: list[str]) -> Any:
        """The prefix-tree leaf ``Drain.tree_search`` reaches for ``tokens`` (or None)."""
        n = len(tokens)
        if not n:  # Drain's special case: not worth one here
            return None
        drain = self.drain
        node = drain.root_node.key_to_child_node.get(str(n))
        for token in tokens[: min(self.path, n - 1)]:
            if node is None:
                return None
            children = node.key_to_child_node
            node = children.get(token) or children.get(drain.param_str)
        return node

    def _leaf_answer(self, tokens: list[str]) -> Any:
        """The cluster Drain would match ``tokens`` to without change, if ``by_leaf`` knows."""
        leaf = self._leaf(tokens)
        if leaf is None or len(leaf.cluster_ids) != 1:
            return None
        found = self.by_leaf.get(leaf.cluster_ids[0])
        if found is None:
            return None
        cluster, fixed_at, fixed = found
        if fixed_at is not None and fixed_at(tokens) != fixed:
            return None
        return cluster

    def _mine(self, message: str, masked: str) -> tuple[Any, str]:
        cluster, change = self.drain.add_log_message(masked)
        if change == "none":
            self._remember(self.known, message, cluster)
            self._remember(self.known_masked, masked, cluster)
            self._remember_leaf(masked.split(), cluster)
        else:
            self.known.clear()
            self.known_masked.clear()
            self.by_leaf.clear()
        return cluster, change

    def _remember_leaf(self, tokens: list[str], cluster: Any) -> None:
        """Remember ``cluster``'s fixed tokens if it is alone in the leaf ``tokens`` reach."""
        cid = cluster.cluster_id
        if cid in self.by_leaf:
            return
        leaf = self._leaf(tokens)
        if leaf is None or leaf.cluster_ids != [cid]:
            return
        template = cluster.log_template_tokens
        fixed = [i for i, token in enumerate(template) if token != WILDCARD]
        fixed_at = itemgetter(*fixed) if fixed else None
        entry = (cluster, fixed_at, None if fixed_at is None else fixed_at(template))
        self._remember(self.by_leaf, cid, entry)

    def _remember(self, memo: dict[Any, Any], key: Any, answer: Any) -> None:
        """``memo[key] = answer``; a memo at its share (``cap``) starts over first."""
        if len(memo) >= self.cap:
            memo.clear()
        memo[key] = answer

    def to_dict(self) -> dict[str, Any]:
        clusters = list(self.drain.clusters)
        if len(clusters) > TEMPLATES_STORED_MAX:
            clusters = sorted(clusters, key=lambda c: (-int(c.size), int(c.cluster_id)))
            clusters = clusters[:TEMPLATES_STORED_MAX]
        clusters.sort(key=lambda c: int(c.cluster_id))
        return {
            "seen": self.seen,
            "templates": [[str(c.get_template()), int(c.size)] for c in clusters],
        }


class TemplateDetector:
    """New-template detection for the services of one source partition."""

    __slots__ = (
        "levels",
        "warmup",
        "max_clusters",
        "max_services",
        "severity",
        "sim_th",
        "depth",
        "max_children",
        "miners",
        "dirty",
        "memo_cap",
    )

    def __init__(
        self,
        min_level: str = "WARN",
        warmup: int = 200,
        max_clusters: int = 500,
        max_services: int = 2000,
        severity: str = "low",
        *,
        sim_th: float = 0.4,
        depth: int = 4,
        max_children: int = 100,
    ) -> None:
        try:
            rank = _RANK[Level(min_level)]
        except (ValueError, KeyError):
            raise ValueError(
                f"min_level must be one of {', '.join(_RANK)}, not {min_level!r}"
            ) from None
        if warmup < 0:
            raise ValueError(f"warmup must be >= 0, not {warmup}")
        if max_clusters < 1 or max_services < 1:
            raise ValueError("max_clusters and max_services must be >= 1")
        self.levels = frozenset(str(lv) for lv, r in _RANK.items() if r >= rank)
        self.warmup = warmup
        self.max_clusters = max_clusters
        self.max_services = max_services
        self.severity = severity
        self.sim_th = sim_th
        self.depth = depth
        self.max_children = max_children
        self.miners: OrderedDict[str, _Miner] = OrderedDict()
        self.dirty: set[str] = set()
        self.memo_cap = KNOWN_MAX  # each miner's memo size (_share_memos)

    def _new_drain(self) -> Any:
        return Drain(
            depth=self.depth,
            sim_th=self.sim_th,
            max_children=self.max_children,
            max_clusters=self.max_clusters,
            param_str=WILDCARD,
        )

    def _miner(self, service: str) -> _Miner:
        """The service's miner, most recently used now; created (evicting the LRU) if new."""
        miner = self.miners.get(service)
        if miner is not None:
            self.miners.move_to_end(service)
            return miner
        self._make_room()
        miner = self.miners[service] = _Miner(self._new_drain())
        self._share_memos(miner)
        return miner

    def _make_room(self) -> None:
        while len(self.miners) >= self.max_services:
            evicted, _ = self.miners.popitem(last=False)
            self.dirty.add(evicted)

    def _share_memos(self, new: _Miner) -> None:
        """Give every miner, ``new`` among them, its share of ``KNOWN_TOTAL``. A memo over
        its share starts over the next time it remembers an answer, so the memos of a
        detector stay within ~2 x KNOWN_TOTAL entries (and ``by_leaf``, one entry per
        cluster at most, within another KNOWN_TOTAL)."""
        cap = max(KNOWN_MIN, min(KNOWN_MAX, KNOWN_TOTAL // len(self.miners)))
        new.cap = cap
        if cap != self.memo_cap:
            self.memo_cap = cap
            for miner in self.miners.values():
                miner.cap = cap

    def mines(self, level: str) -> bool:
        """Whether an event at ``level`` is mined (UNKNOWN and unknown names never are)."""
        return level in self.levels

    def on_event(self, event: LogEvent) -> Alert | None:
        """Mine a WARN+ event; after warm-up, a new cluster fires one alert."""
        if not self.mines(event.level):
            return None
        service = event.service
        miner = self._miner(service)
        miner.seen += 1
        cluster, change = miner.add(event.message[:MESSAGE_MAX])
        seen = miner.seen
        if change != "none" or not seen % SYNC_EVERY:
            self.dirty.add(service)
        if change != "cluster_created" or seen <= self.warmup:
            return None
        return self._alert(event, str(cluster.get_template()))

    def _alert(self, event: LogEvent, template: str) -> Alert:
        service, level, ts = event.service, str(event.level), event.ts
        tid = template_id(service, template)
        shown = template
        if len(shown) > SUMMARY_TEMPLATE_MAX:
            shown = shown[: SUMMARY_TEMPLATE_MAX - 3] + "..."
        message = event.message[:EVIDENCE_MAX_CHARS]
        return make_alert(
            rule=RULE,
            kind=KIND,
            severity=self.severity,
            state="firing",
            incident_start=ts,
            service=service,
            level=level,
            window_start=int(ts),
            window_end=int(ts),
            event_time=ts,
            observed=1,
            expected=None,
            threshold=0,
            score=1.0,
            summary=f'{service}: new {level} template "{shown}"',
            evidence=(Evidence(ts, level, message),),
            subject=tid,
            extra={"template": template, "template_id": tid, "examples": [message]},
        )

    def take_dirty(self) -> list[tuple[str, dict[str, Any] | None]]:
        """The services changed since the last call, with their state (None: forget it)."""
        dirty, self.dirty = self.dirty, set()
        out: list[tuple[str, dict[str, Any] | None]] = []
        for service in sorted(dirty):
            miner = self.miners.get(service)
            out.append((service, miner.to_dict() if miner is not None else None))
        return out

    def restore(self, service: str, data: dict[str, Any]) -> None:
        """Rebuild a service's miner from :meth:`take_dirty` state (an approximation).

        The stored templates are fed back in order; a template that joins an
        earlier one adds its size to it. See the module docstring.
        """
        drain = self._new_drain()
        for template, size in data.get("templates", []):
            cluster, _ = drain.add_log_message(str(template))
            cluster.size += int(size) - 1
        if service in self.miners:
            del self.miners[service]
        else:
            self._make_room()
        miner = self.miners[service] = _Miner(drain, int(data.get("seen", 0)))
        self._share_memos(miner)
