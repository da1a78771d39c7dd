"""Run one parser call in a child process with CPU-time, memory and wall-clock limits.

    extracted = run_bounded(parse_pdf, data, "report.pdf", options)  # Extracted | IngestError

Why: pypdf, python-docx and the email package cannot be bounded from outside (a 71 KB PDF
can cost CPU-hours, a 19 MB .docx 2.5 GB of memory), so a hostile file is parsed where
it can cost at most its budget (IngestLimits.parser_cpu_seconds, parser_memory_bytes,
parser_wall_seconds), never the server, and over budget it is a rejection naming the file.

How: multiprocessing's "forkserver" context (the Streamlit server is multithreaded, so it
is never forked itself). The fork server is a fresh single-threaded Python started at the
first call, with this module, and so the parsers, already imported (set_forkserver_preload
below); each call forks one child from it, which costs milliseconds and no imports. The
child sets RLIMIT_AS (address space: what MemoryError is raised against), RLIMIT_CPU (the
kernel sends SIGXCPU, which ends the process) and RLIMIT_CORE = 0, runs the parser and
sends back one message over a pipe:

    ("ok", Extracted) | ("error", IngestError) | ("recursion", None) | ("memory", None)
    | ("failed", "TypeName: message")

The parent waits at most parser_wall_seconds (a parser blocked without using CPU), then
kills the child. No message and a dead child -> SIGXCPU: over the CPU limit; anything
else: the parser crashed. RecursionError is re-raised as itself, so ingest_bytes names
it the same way in or out of a worker.

Without the `resource` module (Windows) or off Linux (macOS ignores RLIMIT_AS) parsers
run in-process, unbounded: ISOLATED is False there.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection

from core.ingest.errors import IngestError
from core.ingest.options import IngestOptions
from core.ingest.parsed import Extracted

try:
    import resource
except ImportError:  # Windows: no rlimits, so no worker (see ISOLATED)
    resource = None  # type: ignore[assignment]

ISOLATED = resource is not None and sys.platform.startswith("linux")

Parser = Callable[[bytes, str, IngestOptions], Extracted]

_CONTEXT = multiprocessing.get_context("forkserver")
# Imported once in the fork server, so children start with the parsers loaded (a child
# costs ~15 ms, not the ~0.3 s of importing them). The preload is process-wide: whoever sets
# it last before the server starts wins, and a child then imports what it lacks (slower,
# same result). "__main__" is the default's entry, kept for Pythons that honour it: 3.11
# never preloads the main script, so each child of a server started as a script (the
# `streamlit` command) runs that script's imports again (~0.25 s measured).
_CONTEXT.set_forkserver_preload(["__main__", __name__])

# How long the parent waits for a child that sent its result (or died) to exit.
_EXIT_GRACE_SECONDS = 5.0
_MEGABYTE = 1024 * 1024


def run_bounded(parser: Parser, data: bytes, source: str, options: IngestOptions) -> Extracted:
    """parser(data, source, options) in a child process with the limits in options.limits."""
    if not ISOLATED:
        return parser(data, source, options)
    limits = options.limits
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(
        target=_child, args=(sender, parser, data, source, options), name="sift-parser"
    )
    try:
        process.start()
    except OSError as e:  # out of processes or memory: this file, not the upload, fails
        raise IngestError(
            source, f"could not be read: no parser process could be started ({e}); try again"
        ) from None
    finally:
        sender.close()  # the child holds its own copy; EOF on the pipe means it is gone
    try:
        if receiver.poll(limits.parser_wall_seconds):
            message = _receive(receiver)
        else:
            process.kill()
            raise _too_costly(source, f"took longer than {_seconds(limits.parser_wall_seconds)}")
    finally:
        receiver.close()
        process.join(_EXIT_GRACE_SECONDS)
        if process.exitcode is None:
            process.kill()
            process.join()
        exitcode = process.exitcode
        process.close()
    return _outcome(message, exitcode, source, options)


def _receive(receiver: Connection) -> tuple[str, object] | None:
    try:
        return receiver.recv()
    except (EOFError, OSError):  # the child died before sending anything
        return None


def _outcome(
    message: tuple[str, object] | None, exitcode: int | None, source: str, options: IngestOptions
) -> Extracted:
    limits = options.limits
    if message is None:
        if exitcode == -signal.SIGXCPU:
            raise _too_costly(
                source, f"needed more than {_seconds(limits.parser_cpu_seconds)} of CPU"
            )
        raise IngestError(
            source,
            f"could not be read: the parser crashed ({_exit_description(exitcode)}); "
            "save it again from the program that made it, or save its text as .txt",
        )
    kind, value = message
    if kind == "ok":
        assert isinstance(value, Extracted)
        return value
    if kind == "error":
        assert isinstance(value, IngestError)
        raise value
    if kind == "recursion":
        raise RecursionError(f"{source}: nested too deeply")
    if kind == "memory":
        megabytes = limits.parser_memory_bytes / _MEGABYTE
        raise _too_costly(source, f"needed more than {megabytes:,.0f} MB of memory")
    raise IngestError(
        source,
        f"could not be read ({value}); save it again from the program that made it, "
        "or save its text as .txt",
    )


def _too_costly(source: str, how: str) -> IngestError:
    return IngestError(
        source,
        f"is too costly to read (parsing it {how}); save its text as a .txt file (or a table "
        "as .csv), or split it into smaller files, and upload that",
    )


def _seconds(value: float) -> str:
    return f"{value:g} second" + ("" if value == 1 else "s")


def _exit_description(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


def _child(
    sender: Connection, parser: Parser, data: bytes, source: str, options: IngestOptions
) -> None:
    """In the child: limits first, then the parser; exactly one message back, never raises."""
    _limit_self(options)
    message: tuple[str, object]
    try:
        message = ("ok", parser(data, source, options))
    except IngestError as e:
        message = ("error", e)
    except RecursionError:
        message = ("recursion", None)
    except MemoryError:
        message = ("memory", None)
    except Exception as e:  # a parser bug or an exception type it does not name
        message = ("failed", f"{type(e).__name__}: {e}"[:500])
    try:
        sender.send(message)
    except MemoryError:  # e.g. the text itself does not fit twice; still say what happened
        sender.send(("memory", None))
    finally:
        sender.close()


def _limit_self(options: IngestOptions) -> None:
    assert resource is not None
    limits = options.limits
    cpu = int(limits.parser_cpu_seconds + 0.999)  # RLIMIT_CPU counts whole seconds
    _lower_limit(resource.RLIMIT_CORE, 0, 0)  # a killed parser leaves no core file
    _lower_limit(resource.RLIMIT_AS, limits.parser_memory_bytes, limits.parser_memory_bytes)
    # SIGXCPU at the soft limit ends the process; SIGKILL a second later if it did not.
    _lower_limit(resource.RLIMIT_CPU, cpu, cpu + 1)


def _lower_limit(kind: int, soft: int, hard: int) -> None:
    """setrlimit, never above a hard limit the server already runs under (e.g. ulimit -v)."""
    assert resource is not None
    _, current_hard = resource.getrlimit(kind)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(kind, (soft, hard))
