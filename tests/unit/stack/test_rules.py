"""Watch-rule matching: paths in, one plan per service out (no engine, no files)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from periph_env.stack.compose_file import WatchRule
from periph_env.stack.reload.rules import ignored, plan, watch_roots

ROOT = Path("/repo/services")
WORKER_SYNC = WatchRule(
    "worker", "sync", ROOT / "worker/pkg", "/app/pkg", ignore=("__pycache__/", "*.pyc")
)
WORKER_REBUILD = WatchRule("worker", "rebuild", ROOT / "worker/requirements.txt")
WEB_SYNC = WatchRule("web", "sync", ROOT / "web/src", "/app/src", ignore=("node_modules/",))
RULES = [WORKER_SYNC, WORKER_REBUILD, WEB_SYNC]


def everything_exists(_path: Path) -> bool:
    return True


def test_a_source_edit_is_a_sync_to_the_target_path():
    plans = plan([ROOT / "worker/pkg/jobs.py"], RULES, everything_exists)
    assert list(plans) == ["worker"]
    assert plans["worker"].kind == "sync"
    assert plans["worker"].copies == [(ROOT / "worker/pkg/jobs.py", "/app/pkg/jobs.py")]


def test_a_dependency_manifest_forces_a_rebuild_naming_the_trigger():
    plans = plan([ROOT / "worker/requirements.txt"], RULES, everything_exists)
    assert plans["worker"].kind == "rebuild"
    assert plans["worker"].trigger == ROOT / "worker/requirements.txt"


def test_rebuild_wins_over_sync_in_the_same_batch_and_copies_nothing():
    paths = [ROOT / "worker/pkg/jobs.py", ROOT / "worker/requirements.txt"]
    plans = plan(paths, RULES, everything_exists)
    assert plans["worker"].kind == "rebuild"
    assert plans["worker"].copies == []


def test_a_batch_touching_two_services_plans_each_once():
    paths = [ROOT / f"worker/pkg/m{i}.py" for i in range(500)]
    paths += [ROOT / f"web/src/c{i}.svelte" for i in range(500)]
    plans = plan(paths, RULES, everything_exists)
    assert sorted(plans) == ["web", "worker"]
    assert len(plans["worker"].copies) == 500 and len(plans["web"].copies) == 500


def test_a_deleted_file_becomes_a_container_delete():
    plans = plan([ROOT / "worker/pkg/old.py"], RULES, lambda _p: False)
    assert plans["worker"].deletes == ["/app/pkg/old.py"]
    assert plans["worker"].copies == []


def test_editor_temp_files_are_ignored_everywhere():
    for name in (".jobs.py.swp", "jobs.py~", ".#jobs.py", "4913", "x___jb_tmp___"):
        assert plan([ROOT / "worker/pkg" / name], RULES, everything_exists) == {}, name


def test_ignore_patterns_match_any_component_and_directories():
    assert ignored(PurePosixPath("a/__pycache__/x.pyc"), ("__pycache__/",))
    assert ignored(PurePosixPath("deep/x.pyc"), ("*.pyc",))
    assert not ignored(PurePosixPath("x.py"), ("*.pyc",))
    assert ignored(PurePosixPath("bin/tool"), ("bin/",))
    assert not ignored(PurePosixPath("cmd/binary.go"), ("bin/",))


def test_anchored_patterns_match_from_the_rule_path_only():
    assert ignored(PurePosixPath("build/out.js"), ("build/out.js",))
    assert not ignored(PurePosixPath("src/build/out.js"), ("build/out.js",))


def test_a_file_outside_every_rule_plans_nothing():
    assert plan([Path("/repo/README.md")], RULES, everything_exists) == {}


def test_the_strongest_sync_kind_wins():
    restart = WatchRule("worker", "sync+restart", ROOT / "worker/conf", "/conf")
    paths = [ROOT / "worker/pkg/a.py", ROOT / "worker/conf/c.ini"]
    plans = plan(paths, [WORKER_SYNC, restart], everything_exists)
    assert plans["worker"].kind == "sync+restart"
    assert len(plans["worker"].copies) == 2


def test_a_new_directory_copies_every_file_under_it_except_ignored(tmp_path):
    base = tmp_path / "pkg"
    (base / "sub" / "__pycache__").mkdir(parents=True)
    (base / "sub" / "a.py").write_text("a")
    (base / "sub" / "__pycache__" / "a.pyc").write_text("x")
    rule = WatchRule("worker", "sync", base, "/app/pkg", ignore=("__pycache__/",))
    from periph_env.stack.reload.sync import walk

    plans = plan([base / "sub"], [rule], Path.exists, walk)
    assert plans["worker"].copies == [(base / "sub" / "a.py", "/app/pkg/sub/a.py")]


def test_file_rules_watch_their_parent_without_recursion(tmp_path):
    (tmp_path / "web" / "src").mkdir(parents=True)
    (tmp_path / "web" / "package.json").write_text("{}")
    rules = [
        WatchRule("web", "rebuild", tmp_path / "web" / "package.json"),
        WatchRule("web", "sync", tmp_path / "web" / "src", "/app/src"),
    ]
    recursive, flat = watch_roots(rules)
    assert recursive == [tmp_path / "web" / "src"]
    assert flat == [tmp_path / "web"]
