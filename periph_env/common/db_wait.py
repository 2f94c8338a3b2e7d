"""The shell lines a Job runs before it talks to the cluster's database.

A new pod's address reaches the NetworkPolicy enforcer seconds after the pod starts (the
enforcer reads it from the API once the kubelet reports it: longer on a busy node), and
until then its connections are dropped; a database restarting refuses too. Neither is the
failure the Job exists to report, so each Job waits with short ``pg_isready`` attempts
first (k8s/base/backup.yaml does the same in YAML).
"""

from __future__ import annotations


def wait_for_database(seconds: int) -> str:
    """POSIX sh that returns once ``pg_isready`` answers (libpq's ``PG*`` environment), or
    exits 1 after about ``seconds`` saying the database never answered."""
    tries = max(1, seconds // 5)
    return (
        "tries=0; "
        "until pg_isready -q -t 3; do "
        "tries=$((tries + 1)); "
        f'if [ "$tries" -ge {tries} ]; then '
        f'echo "the database at ${{PGHOST}}:${{PGPORT:-5432}} did not answer for {seconds} s" >&2; '
        "exit 1; fi; "
        "sleep 2; "
        "done"
    )
