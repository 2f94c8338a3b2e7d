"""Dev data: snapshots, restore, reset and seed of the compose dev stack's Postgres,
and ``periph exec`` (a shell or a command in a service's container).

One job per module:

- ``names``: snapshot names (validation, the database each lives in, branch names);
- ``pg``: SQL run inside the ``db`` container through ``docker exec psql`` (the local
  socket: no password travels, none is printed);
- ``migrations``: what the checkout has against what a database has applied;
- ``snapshots``: snapshot / restore / list / rm with ``CREATE DATABASE ... TEMPLATE``;
- ``seed``: ``services/db/seed/`` and ``reset`` (drop, migrate, seed);
- ``shell``: ``periph exec``.

The core never imports Textual; everything here is plain subprocess calls to the
docker CLI (the same engine ``periph up`` uses).
"""
