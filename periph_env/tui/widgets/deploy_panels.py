"""Rich text and table cells for the Deploy area's panels (guards, change summary, rollout,
problems, events, history), computed from ``DeployState`` alone."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from periph_env.tui.formatting import safe
from periph_env.tui.views.deploy_state import RESULT_STYLES, DeployState, Progress


def prod_banner(env: str) -> Text:
    """The unmistakable production banner (in colour and in words)."""
    return Text(
        f"  PRODUCTION — {env}: deploys here reach real users. "
        "Every deploy and rollback asks you to type its name.  ",
        style="bold white on red",
    )


def cluster_banner(env: str, message: str, remedy: str) -> Text:
    """What is missing to reach ``env``'s cluster, and how to get it."""
    text = Text()
    text.append(f"No cluster for {env}: ", style="bold")
    text.append(message)
    text.append("\n" + remedy)
    text.append("\nBuild, Stack, Logs and Env keep working.", style="dim")
    return text


def guards_text(state: DeployState, check_key: str) -> Text:
    """Each guard passing or failing, with its reason and remedy."""
    text = Text("Guards", style="bold")
    if not state.guards:
        word = "checking…" if state.running else f"press {check_key} to run them"
        text.append(f"\n  {word}", style="dim")
        return text
    for guard in state.guards:
        mark, style = ("✓", "green") if guard.ok else ("✗", "bold red")
        text.append(f"\n  {mark} ", style=style)
        text.append(f"{guard.name:<11}", style=style)
        text.append(f" {guard.message}")
        if not guard.ok and guard.hint:
            text.append(f"\n      → {guard.hint}", style="yellow")
    return text


def summary_text(state: DeployState) -> Text:
    """Images old → new, then objects added, changed and removed."""
    text = Text("\nChanges", style="bold")
    summary = state.summary
    if summary is None:
        text.append("\n  (after the guards: a server-side dry-run)", style="dim")
        return text
    if not summary.images and not summary.objects:
        text.append("\n  nothing changes", style="dim")
    for image in summary.images:
        old = _short_ref(image.old) if image.old else "(new)"
        new = _short_ref(image.new)
        same = image.old == image.new
        text.append(f"\n  {image.workload}/{image.container}: ")
        text.append(old, style="dim" if same else "red")
        text.append(" → ")
        text.append(new, style="dim" if same else "green")
    by_action: dict[str, list[Any]] = {}
    for change in summary.objects:
        by_action.setdefault(change.action, []).append(change)
    for action, style, sign in (
        ("added", "green", "+"),
        ("changed", "yellow", "~"),
        ("removed", "red", "-"),
    ):
        for change in by_action.get(action, []):
            fields = f" ({', '.join(change.fields)})" if change.fields else ""
            text.append(f"\n  {sign} {change.kind}/{change.name}{fields}", style=style)
    unchanged = len(by_action.get("unchanged", []))
    if unchanged:
        text.append(f"\n  {unchanged} objects unchanged", style="dim")
    return text


def _short_ref(ref: str) -> str:
    """``reg/peripheral-backend@sha256:…`` → ``backend@sha256:0123456789ab``."""
    name, _, digest = ref.partition("@")
    short = name.rsplit("/", 1)[-1].removeprefix("peripheral-")
    return f"{short}@{digest[:19]}" if digest else short


def deployment_cells(progress: Progress) -> tuple[Any, ...]:
    """desired / updated / ready / available and the verdict, problems in red."""
    done = progress.verdict == "ok"
    failed = progress.problem or (progress.verdict not in ("", "ok"))
    style = "bold red" if failed else ("green" if done else "")
    verdict = progress.verdict if progress.verdict not in ("", "ok") else progress.message
    word = "rolled out" if done else (verdict or "")
    return (
        Text(progress.name, style=style or "bold"),
        str(progress.desired),
        str(progress.updated),
        str(progress.ready),
        str(progress.available),
        Text(word, style=style, overflow="ellipsis", no_wrap=True),
    )


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.1%}"


def canary_text(sample: Any) -> Text:
    """The canary's live 5xx ratio beside the old pods' (``deploy --canary``)."""
    text = (
        f"canary {_percent(sample.canary_ratio)} of {sample.canary_requests:.0f} · "
        f"baseline {_percent(sample.baseline_ratio)} of {sample.baseline_requests:.0f} · "
        f"{sample.elapsed:.0f}/{sample.window:.0f}s"
    )
    if sample.failed:
        return Text(f"{text} · aborted", style="bold red", overflow="ellipsis", no_wrap=True)
    return Text(text, style="cyan", overflow="ellipsis", no_wrap=True)


def deployment_rows(state: DeployState) -> dict[str, tuple[Any, ...]]:
    """The rollout table's rows; during a canary, the canary's row shows its live ratio
    beside the baseline's in its last column (a row of its own until its pod is listed)."""
    rows = {n: deployment_cells(p) for n, p in sorted(state.deployments.items())}
    sample = state.canary
    if sample is None:
        return rows
    name = next((n for n in rows if n.endswith("-canary")), "canary")
    cells = rows.get(name) or (Text(name, style="bold"), "1", "", "", "", "")
    rows[name] = (*cells[:5], canary_text(sample))
    return rows


def problems_text(state: DeployState) -> Text:
    """Pod problems the deploy reported, then the namespace's latest events."""
    text = Text()
    for problem in state.problems.values():
        text.append(f"✗ {problem.pod}: {problem.reason}", style="bold red")
        if problem.message:
            text.append(f" — {problem.message}", style="red")
        text.append("\n")
    for title, log in state.failure_logs:
        text.append(f"{title}\n", style="bold")
        for line in log.splitlines()[-10:]:
            text.append(f"  | {line}\n", style="red")
    for step in state.steps[-4:]:
        text.append(f"· {step}\n", style="dim")
    if state.events:
        text.append("Events\n", style="bold")
    for event in state.events[-8:]:
        style = "yellow" if event.type == "Warning" else "dim"
        line = (
            safe(f"{event.when:>6} {event.reason} {event.object}: {event.message}", one_line=True)
            + "\n"
        )
        text.append(line, style=style)
    text.rstrip()  # in place: rich's Text.rstrip returns None
    return text if text.plain else Text("no events", style="dim")


def history_cells(record: Any) -> tuple[Any, ...]:
    """#, action, result, who, when, commit, images (digests, short)."""
    digests = " ".join(
        f"{name.rsplit('/', 1)[-1].removeprefix('peripheral-')}@{ref.rsplit('@', 1)[-1][7:19]}"
        for name, ref in sorted(record.images.items())
    )
    duration = f"{record.duration:.0f}s" if record.duration is not None else "-"
    return (
        f"#{record.revision}",
        record.action,
        Text(record.status, style=RESULT_STYLES.get(record.status, "")),
        safe(record.user, one_line=True),  # a record read from the cluster: the one masker
        record.started.replace("T", " ")[:16],
        duration,
        (record.git_sha or "")[:8],
        Text(safe(digests or record.message, one_line=True), overflow="ellipsis", no_wrap=True),
    )
