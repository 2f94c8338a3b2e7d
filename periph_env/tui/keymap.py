"""The user's keymap: ``$XDG_CONFIG_HOME/periph/keymap.toml`` remaps actions by id.

    # ~/.config/periph/keymap.toml
    "stack.restart" = "ctrl+r"
    "logs.follow" = "space,f"      # several keys, comma-separated

    [keys]                          # the same, in a table, if you prefer
    "app.help" = "f1"

Unknown ids and non-string keys are reported (the app shows them as a notification)
rather than failing start-up: a typo in a keymap must not lock anyone out of the app.
Pure reading and validation; the app applies the result with ``App.set_keymap``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from periph_env.common import config_dir
from periph_env.tui.actions import BY_ID

KEYMAP_NAME = "keymap.toml"


@dataclass(slots=True)
class Keymap:
    """Binding id → keys, plus the problems found while reading the file."""

    keys: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    path: Path | None = None


def default_path() -> Path:
    """Where the keymap lives: ``config_dir()/keymap.toml``."""
    return config_dir() / KEYMAP_NAME


def parse(text: str, path: Path | None = None) -> Keymap:
    """Validate a keymap document; bad entries become problems, good ones are kept."""
    import tomllib  # only with a keymap file: most starts have none (first-frame budget)

    where = str(path) if path else "keymap"
    result = Keymap(path=path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        result.problems.append(f"{where}: invalid TOML: {exc}")
        return result
    entries = dict(doc.pop("keys", {}) or {})
    entries.update(doc)
    for action_id, keys in entries.items():
        if action_id not in BY_ID:
            result.problems.append(f"{where}: unknown action id {action_id!r}")
        elif not isinstance(keys, str) or not keys.strip():
            result.problems.append(f'{where}: {action_id} needs a key string like "ctrl+r"')
        else:
            result.keys[action_id] = ",".join(k.strip() for k in keys.split(",") if k.strip())
    return result


def load(path: Path | None = None) -> Keymap:
    """The keymap from ``path`` (default: the user's file); a missing file is empty."""
    path = path or default_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Keymap(path=path)
    except OSError as exc:
        return Keymap(path=path, problems=[f"{path}: cannot read: {exc.strerror}"])
    return parse(text, path)


def effective_key(action_id: str, keymap: dict[str, str]) -> str:
    """The key(s) an action is bound to after the user's remaps."""
    return keymap.get(action_id, BY_ID[action_id].key)
