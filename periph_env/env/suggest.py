"""Did-you-mean for unknown keys, in time linear in the number of keys.

``difflib.get_close_matches`` against every example key is quadratic on large files, so
candidates come from a deletion index (names within two edits: one deletion on each side
covers a wrong, missing or extra letter and a swapped pair), ranked by shared variants.
Only keys the index finds nothing for fall back to difflib, within a fixed budget.
"""

from __future__ import annotations

_MAX_CANDIDATES = 20
# How many difflib comparisons one check may spend on keys the index finds nothing for.
_FALLBACK_BUDGET = 5000
# Below this many names a full difflib scan is cheap and also catches bigger differences.
_SMALL = 200
# Deletion variants cost O(length^2): names longer than this get no suggestion.
_MAX_LEN = 64


def _deletes(name: str) -> set[str]:
    return {name} | {name[:i] + name[i + 1 :] for i in range(len(name))}


class Suggester:
    """Suggests the nearest known name for a misspelt key."""

    def __init__(self, names: list[str]) -> None:
        self._names = names
        self._budget = _FALLBACK_BUDGET
        self._index: dict[str, list[str]] = {}
        for name in names:
            if len(name) > _MAX_LEN:
                continue
            for variant in _deletes(name.upper()):
                bucket = self._index.setdefault(variant, [])
                if len(bucket) < _MAX_CANDIDATES:
                    bucket.append(name)

    def suggest(self, key: str) -> str | None:
        """The closest known name to ``key``, or None when nothing is close."""
        if len(key) > _MAX_LEN:
            return None
        hits: dict[str, int] = {}
        for variant in _deletes(key.upper()):
            for name in self._index.get(variant, ()):
                hits[name] = hits.get(name, 0) + 1
        if hits:
            # More shared deletion variants means fewer edits apart.
            return max(hits, key=hits.__getitem__)
        if len(self._names) > _SMALL or self._budget < len(self._names):
            return None
        self._budget -= len(self._names)
        import difflib

        near = difflib.get_close_matches(key, self._names, n=1, cutoff=0.75)
        return near[0] if near else None
