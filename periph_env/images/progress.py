"""Turn the Engine API's build stream (classic builder JSON messages) into typed events.

Pure: dicts in, events out, so recorded streams test it. The classic builder reports
``{"stream": "Step 3/9 : RUN go build ..."}`` per step, output lines as more ``stream``
chunks, ``{"aux": {"ID": "sha256:..."}}`` for the result and ``{"error": ...}`` on failure.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from periph_env.images.models import Event, OutputLine, StepStarted

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_SUCCESS = re.compile(r"^Successfully built ([0-9a-f]+)$")
TAIL_LINES = 20


@dataclass
class BuildStream:
    """Feeds on build stream messages; remembers the current step, log tail and result."""

    service: str
    tail_lines: int = TAIL_LINES
    step: str = ""
    image_id: str | None = None
    error: str | None = None
    _partial: str = ""
    _tail: deque[str] = field(default_factory=deque)

    def feed(self, message: dict) -> list[Event]:
        """Events for one decoded message (possibly none)."""
        events: list[Event] = []
        if "stream" in message:
            self._partial += str(message["stream"])
            *complete, self._partial = self._partial.split("\n")
            for raw in complete:
                events.extend(self._line(raw.rstrip("\r")))
        if "aux" in message and isinstance(message["aux"], dict) and message["aux"].get("ID"):
            self.image_id = str(message["aux"]["ID"])
        if "error" in message or "errorDetail" in message:
            detail = message.get("errorDetail") or {}
            self.error = str(message.get("error") or detail.get("message") or "build failed")
        return events

    def finish(self) -> list[Event]:
        """Flush a last line without a newline."""
        rest, self._partial = self._partial, ""
        return self._line(rest) if rest.strip() else []

    def tail(self) -> str:
        return "\n".join(self._tail)

    def _line(self, text: str) -> list[Event]:
        if not text.strip():
            return []
        self._tail.append(text)
        while len(self._tail) > self.tail_lines:
            self._tail.popleft()
        step = _STEP.match(text.strip())
        if step:
            self.step = f"step {step.group(1)}/{step.group(2)}: {step.group(3)}"
            number, total, instruction = int(step.group(1)), int(step.group(2)), step.group(3)
            return [StepStarted(self.service, number, total, instruction)]
        done = _SUCCESS.match(text.strip())
        if done and not self.image_id:
            self.image_id = done.group(1)
        return [OutputLine(self.service, text)]
