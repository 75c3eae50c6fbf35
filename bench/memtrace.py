"""uvicorn under tracemalloc, for bench/chat_load.py --tracemalloc: each SIGUSR1 writes a
snapshot of the Python heap (after a garbage collection) to ``$MEMTRACE_DIR/snapshot-<n>``.

Tracing starts at the first signal (``MEMTRACE_FROM_START=1``: at start-up): imports under
tracemalloc take minutes on a loaded machine, and what the server allocated before the first
snapshot cannot be part of the growth between two snapshots anyway.

Usage: MEMTRACE_DIR=/tmp/x python bench/memtrace.py contactcenter.asgi:application [uvicorn options]
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import tracemalloc

taken = 0


def dump(_signum, _frame) -> None:
    global taken
    taken += 1
    if not tracemalloc.is_tracing():
        tracemalloc.start(int(os.environ.get("MEMTRACE_FRAMES", "12")))
    gc.collect()
    path = os.path.join(os.environ["MEMTRACE_DIR"], f"snapshot-{taken}")
    tracemalloc.take_snapshot().dump(path + ".part")
    os.replace(path + ".part", path)


def snapshot_path(number: int) -> str:
    return os.path.join(os.environ["MEMTRACE_DIR"], f"snapshot-{number}")


async def heap_snapshot(pid: int, number: int) -> None:
    """Ask the server (run by this module) for heap snapshot ``number`` and wait for it."""
    os.kill(pid, signal.SIGUSR1)
    for _ in range(1200):
        if os.path.exists(snapshot_path(number)):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("no heap snapshot from the server in 120 s")


def compare(before: str, after: str, sockets: int, top: int = 12) -> list[str]:
    """The allocation sites that grew most between two snapshots, per socket opened."""
    old = tracemalloc.Snapshot.load(before)
    new = tracemalloc.Snapshot.load(after)
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    old, new = old.filter_traces(ignore), new.filter_traces(ignore)
    total = sum(s.size_diff for s in new.compare_to(old, "filename"))
    lines = [f"Python heap grew {total / 1024:.0f} KiB = {total / 1024 / sockets:.1f} KiB/socket"]
    stats = new.compare_to(old, "traceback")
    # Modules first imported in the window (e.g. the URL configuration, on a long, slow run)
    # are a one-off cost, not the sockets'.
    imports = sum(s.size_diff for s in stats if any("importlib" in f.filename for f in s.traceback))
    if imports > total / 100:
        lines.append(
            f"  of which imports during the window: {imports / 1024 / sockets:.1f} KiB/socket "
            f"(per socket without them: {(total - imports) / 1024 / sockets:.1f} KiB)"
        )
    packages: dict[str, int] = {}
    for stat in stats:  # by the package of the innermost frame outside the standard library
        outside = [f.filename for f in stat.traceback if "site-packages/" in f.filename]
        name = outside[-1].split("site-packages/")[1].split("/")[0] if outside else "(project)"
        packages[name] = packages.get(name, 0) + stat.size_diff
    lines.append(
        "  by package: "
        + ", ".join(
            f"{name} {size / 1024 / sockets:.1f}"
            for name, size in sorted(packages.items(), key=lambda item: -item[1])[:8]
        )
        + " KiB/socket"
    )
    for stat in stats[:top]:
        # The innermost frame outside the standard library says who asked for the memory
        # (tracebacks run from the oldest frame to the most recent).
        frames = [
            f
            for f in stat.traceback
            if "/lib/python3" not in f.filename or "site-packages" in f.filename
        ]
        frame = (frames or list(stat.traceback))[-1]
        name = frame.filename.split("site-packages/")[-1].replace(os.getcwd() + "/", "")
        lines.append(
            f"  {stat.size_diff / 1024 / sockets:6.2f} KiB/socket  {stat.count_diff / sockets:6.1f}"
            f" blocks/socket  {name}:{frame.lineno}  ({stat.traceback[-1].filename.split('/')[-1]}:"
            f"{stat.traceback[-1].lineno})"
        )
    return lines


if __name__ == "__main__":
    if os.environ.get("MEMTRACE_FROM_START") == "1":
        tracemalloc.start(int(os.environ.get("MEMTRACE_FRAMES", "12")))
    signal.signal(signal.SIGUSR1, dump)
    from uvicorn.main import main

    sys.argv = ["uvicorn", *sys.argv[1:]]
    main()
