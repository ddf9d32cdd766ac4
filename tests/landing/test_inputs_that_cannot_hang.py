"""`phm ingest` reads only regular files: a FIFO, socket, device or dangling link, given or found
in a folder, is refused by name at once (never waited on while the landing lock is held), and
the other files are handled as ever."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

import pytest

import openphm.landing.ingest as ingest_module
from openphm.landing import files
from openphm.landing.ingest import LOADED, REFUSED, ingest

from .conftest import GP_A_PATIENTS, GP_B_PATIENTS, put
from .helpers import ingest_entries

PROMPTLY = 60  # seconds: the small files here land in a few; a read waiting on a FIFO never does


def _ingest_promptly(ws, paths, actor, fifos) -> dict:
    """Ingest in a thread; if it is still running after PROMPTLY seconds, free it by opening
    each FIFO's other end, as often as it waits there (so the run ends, and the test fails
    instead of hanging)."""
    done: dict = {}
    worker = threading.Thread(
        target=lambda: done.update(report=ingest(ws, paths, actor)), daemon=True
    )
    worker.start()
    worker.join(PROMPTLY)
    if worker.is_alive():
        deadline = time.monotonic() + PROMPTLY
        while worker.is_alive() and time.monotonic() < deadline:
            for fifo in fifos:
                with contextlib.suppress(OSError):
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            worker.join(0.1)
        pytest.fail(f"ingest was still waiting after {PROMPTLY} s: it read from a FIFO")
    return {o.path: o for o in done["report"].outcomes}


def _fifo(inbox, kind, ods, name):
    path = inbox / kind / ods / name
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def test_a_fifo_given_as_a_path_is_refused_at_once_naming_it(workspace, inbox, engineer):
    fifo = _fifo(inbox, "gp", "Y10001", "Y10001_patients_202610.csv")
    other = put(inbox, "gp", "Y10002", "Y10002_patients_202610.csv", GP_B_PATIENTS)
    outcomes = _ingest_promptly(workspace, [fifo, other], engineer, [fifo])
    assert outcomes[fifo].status == REFUSED
    assert outcomes[fifo].message.startswith(f"{fifo}: is a FIFO")
    assert outcomes[other].status == LOADED
    refused = [e for e in ingest_entries(workspace) if e.outcome == "refused"]
    assert [e.reads for e in refused] == [(str(fifo),)]


def test_a_fifo_found_in_a_folder_is_refused_and_the_rest_load(workspace, inbox, engineer):
    fifo = _fifo(inbox, "gp", "Y10001", "Y10001_events_202610.csv")
    good = put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    outcomes = _ingest_promptly(workspace, [inbox], engineer, [fifo])
    assert outcomes[fifo].status == REFUSED and "FIFO" in outcomes[fifo].message
    assert outcomes[good].status == LOADED


def test_a_socket_a_device_and_a_dangling_link_are_refused_naming_them(
    workspace, inbox, engineer, monkeypatch
):
    folder = inbox / "gp" / "Y10001"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)  # a socket's path must be short
    sock = folder / "Y10001_events_202610.csv"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(sock.name)
    device = folder / "Y10001_medications_202610.csv"
    device.symlink_to("/dev/zero")
    dangling = folder / "Y10001_consultations_202610.csv"
    dangling.symlink_to(folder / "gone.csv")
    good = put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    try:
        outcomes = _ingest_promptly(workspace, [inbox, dangling], engineer, [])
    finally:
        listener.close()
    assert outcomes[sock].message.startswith(f"{sock}: is a socket")
    assert outcomes[device].message.startswith(f"{device}: is a device")
    assert outcomes[dangling].message.startswith(f"{dangling}: is a symbolic link to nothing")
    assert outcomes[good].status == LOADED


def test_a_file_swapped_for_a_fifo_after_it_was_looked_at_is_not_waited_on(
    workspace, inbox, engineer, monkeypatch
):
    """The race: a name checked as a file, then replaced by a FIFO before it is opened."""
    path = put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    identify = files.identify

    def identify_then_swap(found, config):
        extract = identify(found, config)
        found.unlink()
        os.mkfifo(found)
        return extract

    monkeypatch.setattr(ingest_module, "identify", identify_then_swap)
    outcomes = _ingest_promptly(workspace, [path], engineer, [path])
    assert outcomes[path].status == REFUSED


def test_a_file_swapped_for_a_fifo_while_it_is_loaded_is_not_waited_on(
    workspace, inbox, engineer, monkeypatch
):
    """Readers read the file that was opened and checked, not whatever has its name now."""
    path = put(inbox, "gp", "Y10001", "Y10001_patients_202610.csv", GP_A_PATIENTS)
    load_extract = ingest_module.load_extract

    def swap_then_load(con, alias, reader, *args):
        path.rename(path.with_suffix(".old"))
        os.mkfifo(path)
        return load_extract(con, alias, reader, *args)

    monkeypatch.setattr(ingest_module, "load_extract", swap_then_load)
    outcomes = _ingest_promptly(workspace, [path], engineer, [path])
    assert outcomes[path].status == LOADED and outcomes[path].counts.loaded == 3
