"""Watch-rule matching: paths in, one plan per service out (no engine, no files).

The meaning is Compose's (docker compose watch); pattern details are in test_patterns.py.
"""

from __future__ import annotations

from pathlib import Path

from periph_env.stack.compose_file import WatchRule
from periph_env.stack.reload.patterns import PathMatcher
from periph_env.stack.reload.rules import Rule, plan, watch_roots
from periph_env.stack.reload.sync import walk_all

ROOT = Path("/repo/services")
WORKER_SYNC = WatchRule(
    "worker", "sync", ROOT / "worker/pkg", "/app/pkg", ignore=("**/__pycache__/", "**/*.pyc")
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
    names = (".jobs.py.swp", "jobs.py~", ".#jobs.py", "#jobs.py#", "4913", "x___jb_tmp___")
    names += ("x___jb_old___", ".idea/workspace.xml", ".jobs.py.swx", "sedAb12Z9")
    for name in names:
        assert plan([ROOT / "worker/pkg" / name], RULES, everything_exists) == {}, name


def test_rule_ignore_entries_are_relative_to_the_rule_path():
    rule = WatchRule("w", "sync", ROOT / "w", "/app", ignore=("*.log", "cache/", "./tmp/"))
    planned = plan(
        [ROOT / "w" / p for p in ("a.log", "cache/x", "tmp/y", "sub/b.log", "sub/cache/z")],
        [rule],
        everything_exists,
    )
    assert [str(f.relative_to(ROOT / "w")) for f in planned["w"].files] == [
        "sub/b.log",
        "sub/cache/z",
    ]


def test_an_exclusion_entry_brings_a_file_back():
    rule = WatchRule("w", "sync", ROOT / "w", "/app", ignore=("*.log", "!keep.log"))
    planned = plan([ROOT / "w/a.log", ROOT / "w/keep.log"], [rule], everything_exists)
    assert planned["w"].copies == [(ROOT / "w/keep.log", "/app/keep.log")]


def test_the_build_contexts_dockerignore_filters_watch_too():
    rule = Rule.of(
        WatchRule("w", "sync", ROOT / "w/src", "/app/src"),
        PathMatcher(ROOT / "w", ["**/*.bak", "src/generated/"]),
    )
    paths = [ROOT / "w/src/a.bak", ROOT / "w/src/generated/g.go", ROOT / "w/src/main.go"]
    assert plan(paths, [rule], everything_exists)["w"].files == [ROOT / "w/src/main.go"]


def test_include_entries_limit_a_rule_to_what_they_match():
    rule = WatchRule("w", "sync", ROOT / "w", "/app", include=("*.go",))
    planned = plan([ROOT / "w/main.go", ROOT / "w/README.md"], [rule], everything_exists)
    assert planned["w"].files == [ROOT / "w/main.go"]


def test_a_file_outside_every_rule_plans_nothing():
    assert plan([Path("/repo/README.md")], RULES, everything_exists) == {}


def test_the_strongest_sync_kind_wins():
    restart = WatchRule("worker", "sync+restart", ROOT / "worker/conf", "/conf")
    paths = [ROOT / "worker/pkg/a.py", ROOT / "worker/conf/c.ini"]
    plans = plan(paths, [WORKER_SYNC, restart], everything_exists)
    assert plans["worker"].kind == "sync+restart"
    assert len(plans["worker"].copies) == 2


def test_a_new_directory_is_copied_whole_with_its_folders_as_compose_tars_it(tmp_path):
    base = tmp_path / "pkg"
    (base / "sub" / "empty").mkdir(parents=True)
    (base / "sub" / "a.py").write_text("a")
    (base / "sub" / "b.log").write_text("b")
    rule = WatchRule("worker", "sync", base, "/app/pkg", ignore=("*.log", "sub/*.log"))
    plans = plan([base / "sub"], [rule], Path.exists, walk_all)
    assert plans["worker"].copies == [
        (base / "sub", "/app/pkg/sub"),
        (base / "sub" / "a.py", "/app/pkg/sub/a.py"),
        (base / "sub" / "b.log", "/app/pkg/sub/b.log"),
        (base / "sub" / "empty", "/app/pkg/sub/empty"),
    ]


def test_a_deleted_directory_is_one_container_delete():
    plans = plan([ROOT / "worker/pkg/old"], RULES, lambda _p: False)
    assert plans["worker"].deletes == ["/app/pkg/old"]


def test_a_rename_deletes_the_old_path_and_copies_the_new(tmp_path):
    (tmp_path / "new.py").write_text("n")
    rule = WatchRule("w", "sync", tmp_path, "/app")
    plans = plan([tmp_path / "old.py", tmp_path / "new.py"], [rule], Path.exists, walk_all)
    assert plans["w"].deletes == ["/app/old.py"]
    assert plans["w"].copies == [(tmp_path / "new.py", "/app/new.py")]


def test_a_sed_in_place_edit_syncs_and_names_only_the_file(tmp_path):
    (tmp_path / "app.py").write_text("edited")
    rule = WatchRule("w", "sync", tmp_path, "/app")
    plans = plan([tmp_path / "sedcWcHI1", tmp_path / "app.py"], [rule], Path.exists, walk_all)
    assert plans["w"].files == [tmp_path / "app.py"]
    assert plans["w"].deletes == []


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
