"""The error-rate watch's arithmetic: Prometheus text in, request and 5xx counts out (pure).

A deploy scrapes each new backend pod's ``/metrics`` every few seconds. Counters only say
"so many since this process started", so the watch keeps, per pod and per series, the last
value it saw and adds up the increases, the way Prometheus' ``increase()`` does:

- a counter lower than last time (or a series gone) means the process restarted: every
  counter of that pod began again at zero, so each new value is the increase;
- a pod first seen after the watch began is a new pod, whose counters started at zero: its
  whole value counts (a pod present at the first scrape gives the baseline instead: what
  it served before the window opened is not judged);
- a pod that disappears keeps what it contributed while it was seen;
- no requests at all gives no ratio (``None``), never a division by zero or a false pass
  dressed up as 0 %.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

# name{label="value",...} value [timestamp]
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(?:\s+\S+)?\s*$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

SeriesKey = tuple[tuple[str, str], ...]


def parse_counter(text: str, metric: str) -> dict[SeriesKey, float]:
    """Every sample of ``metric`` in a Prometheus text exposition, by its sorted labels."""
    out: dict[SeriesKey, float] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or not line.startswith(metric):
            continue
        match = _SAMPLE.match(line)
        if not match or match.group(1) != metric:
            continue
        try:
            value = float(match.group(4))
        except ValueError:
            continue
        if math.isnan(value):
            continue
        labels = tuple(sorted(_LABEL.findall(match.group(3) or "")))
        out[labels] = value
    return out


def is_error(series: SeriesKey, status_label: str = "status") -> bool:
    """A 5xx series (the status label starts with 5)."""
    return dict(series).get(status_label, "").startswith("5")


@dataclass
class Totals:
    """Requests and 5xx answers counted since the watch began."""

    requests: float = 0.0
    errors: float = 0.0

    @property
    def ratio(self) -> float | None:
        """errors / requests; None when no request was handled (nothing to judge)."""
        return self.errors / self.requests if self.requests > 0 else None


@dataclass
class RateTracker:
    """Accumulates counter increases across scrapes of a changing set of pods."""

    status_label: str = "status"
    last: dict[str, dict[SeriesKey, float]] = field(default_factory=dict)
    per_pod: dict[str, Totals] = field(default_factory=dict)
    scrapes: int = 0

    def observe(self, scrape: dict[str, dict[SeriesKey, float]]) -> None:
        """One round of scrapes: pod name -> its series (pods that did not answer: absent)."""
        first = self.scrapes == 0
        for pod, series in scrape.items():
            previous = self.last.get(pod)
            totals = self.per_pod.setdefault(pod, Totals())
            if previous is None and first:
                # Baseline: what the pod served before the watch began is not counted.
                self.last[pod] = dict(series)
                continue
            before = previous or {}
            if restarted(before, series):
                before = {}  # the process restarted: every counter began again at zero
            for key, value in series.items():
                increase = counter_increase(before.get(key), value)
                totals.requests += increase
                if is_error(key, self.status_label):
                    totals.errors += increase
            self.last[pod] = dict(series)
        self.scrapes += 1

    @property
    def totals(self) -> Totals:
        """Requests and errors summed over every pod ever seen (gone ones included)."""
        out = Totals()
        for t in self.per_pod.values():
            out.requests += t.requests
            out.errors += t.errors
        return out


def restarted(before: dict[SeriesKey, float], now: dict[SeriesKey, float]) -> bool:
    """A pod's process restarted: a counter went down or a series it had is gone."""
    return any(key not in now or now[key] < value for key, value in before.items())


def counter_increase(previous: float | None, current: float) -> float:
    """How much a counter grew; a drop means a reset, after which ``current`` is the growth."""
    if previous is None:
        return current  # a series (or pod) new since the last scrape started at zero
    if current < previous:
        return current
    return current - previous


@dataclass(frozen=True)
class Judgement:
    """The watch's verdict so far: ``failed`` with its reason, or still fine."""

    failed: bool
    reason: str = ""


def judge(
    totals: Totals,
    restarts: int,
    *,
    max_ratio: float,
    min_requests: int,
    max_restarts: int,
) -> Judgement:
    """Fail on too many restarts, or a 5xx ratio above ``max_ratio`` over enough requests.

    Fewer than ``min_requests`` requests are too few to blame a release for a few errors
    (one 500 out of three is 33 %), so the ratio is judged only from ``min_requests`` on.
    """
    if restarts > max_restarts:
        return Judgement(True, f"{restarts} container restart(s) (allowed {max_restarts})")
    ratio = totals.ratio
    if ratio is not None and totals.requests >= min_requests and ratio > max_ratio:
        return Judgement(
            True,
            f"5xx ratio {ratio:.1%} over {totals.requests:.0f} requests "
            f"(threshold {max_ratio:.1%})",
        )
    return Judgement(False)


def describe(totals: Totals) -> str:
    """``12 of 340 requests 5xx (3.5%)``, or ``no traffic``."""
    if totals.ratio is None:
        return "no traffic"
    return f"{totals.errors:.0f} of {totals.requests:.0f} requests 5xx ({totals.ratio:.1%})"


@dataclass
class RestartTracker:
    """Container restarts since the watch began (a pod new since then counts all of its own)."""

    baseline: dict[str, int] = field(default_factory=dict)
    latest: dict[str, int] = field(default_factory=dict)
    rounds: int = 0

    def observe(self, counts: dict[str, int]) -> int:
        """One round of pod restart counts (pod -> sum over containers); restarts so far."""
        for pod, count in counts.items():
            if pod not in self.baseline:
                self.baseline[pod] = count if self.rounds == 0 else 0
            self.latest[pod] = max(count, self.latest.get(pod, 0))
        self.rounds += 1
        return self.restarts

    @property
    def restarts(self) -> int:
        """Restarts counted so far, gone pods included."""
        return sum(max(0, self.latest[p] - self.baseline.get(p, 0)) for p in self.latest)
