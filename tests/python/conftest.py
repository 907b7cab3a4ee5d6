"""Starts `podchain server` and one simulated kubelet for the Python client tests."""

import os
import pathlib
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def podchain_bin() -> str:
    b = os.environ.get("PODCHAIN_BIN") or str(ROOT / "target" / "debug" / "podchain")
    assert os.path.exists(b), f"{b} is missing: run `cargo build -p podchain` first"
    return b


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, check, timeout=30.0):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if check():
                return
        except Exception as e:  # the server may still be starting
            last = e
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last error: {last})")


@pytest.fixture(scope="session")
def cluster():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="podchain-py-"))
    port = free_port()
    procs = []
    log = open(tmp / "cluster.log", "ab")
    procs.append(subprocess.Popen([podchain_bin(), "server", "--data-dir", str(tmp / "data"), "--listen", f"127.0.0.1:{port}"], stdout=log, stderr=log))
    url = f"http://127.0.0.1:{port}"
    wait_until("the apiserver", lambda: urllib.request.urlopen(url + "/healthz", timeout=1).status == 200)
    kubeconfig = tmp / "data" / "kubeconfig"
    procs.append(subprocess.Popen([podchain_bin(), "kubelet", "--node", "py-node", "--kubeconfig", str(kubeconfig), "--runtime", "sim", "--listen", f"127.0.0.1:{free_port()}", "--sync-interval-ms", "200"], stdout=log, stderr=log))
    yield str(kubeconfig)
    for p in procs:
        p.kill()
        p.wait()
