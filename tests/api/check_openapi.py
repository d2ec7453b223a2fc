#!/usr/bin/env python3
"""The booking API keeps the promises of its OpenAPI document.

Starts `silta dev` (its own data directory, free ports, the demo data) and
runs Schemathesis against the served document (/api/openapi.json) with every
check: no 5xx, every status and header documented, bodies as their schemas
say, schema-valid requests accepted (or refused only with a documented
status), schema-violating ones refused, problem+json for every refusal. As
an admin, who may call every operation. Bounded: a fixed number of examples
per operation and a deadline; a failure fails the build.

Usage: check_openapi.py SILTA_BINARY [--max-examples N]
(SILTA_SCHEMATHESIS_SEED picks another seed; the default is fixed so a run
can be repeated.)
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent.parent
DEADLINE_SECONDS = 600


def start_dev(binary: str, data_dir: str) -> tuple[subprocess.Popen, str]:
    """`silta dev` on free loopback ports; returns the process and its base URL."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SILTA_")}
    env.update(
        {
            "SILTA_DATA_DIR": data_dir,
            "SILTA_WEB__ROOT": str(REPOSITORY / "web"),
            "SILTA_SIGNAL__BIND": "127.0.0.1:0",
            "SILTA_SFU__BIND": "127.0.0.1:0",
            "SILTA_LOG__FILTER": "warn",
            # Schemathesis is one client at one address, as fast as it can go:
            # the limits have their own tests.
            "SILTA_BOOKING__REQUEST_LIMITS__PER_ADDRESS_PER_SECOND": "100000",
            "SILTA_BOOKING__REQUEST_LIMITS__PER_ADDRESS_BURST": "100000",
            "SILTA_BOOKING__REQUEST_LIMITS__PER_IDENTITY_PER_SECOND": "100000",
            "SILTA_BOOKING__REQUEST_LIMITS__PER_IDENTITY_BURST": "100000",
        }
    )
    process = subprocess.Popen(
        [binary, "dev"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 60
    seen = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        found = re.search(r"Health\s+(http://[^/\s]+)/healthz", line)
        if found:
            return process, found.group(1)
    process.kill()
    sys.exit("silta dev did not start:\n" + "".join(seen))


def admin_token(base: str) -> str:
    request = urllib.request.Request(
        f"{base}/dev/token",
        data=json.dumps({"subject": "admin-1"}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--max-examples", type=int, default=50)
    arguments = parser.parse_args()
    probe = subprocess.run([sys.executable, "-m", "schemathesis.cli", "--version"], capture_output=True)
    if probe.returncode != 0:
        sys.exit("schemathesis is missing: python3 -m pip install schemathesis (.ci/run installs it)")
    data_dir = tempfile.mkdtemp(prefix="silta-openapi-")
    process, base = start_dev(arguments.binary, data_dir)
    # Keep reading the server's output so it never blocks on a full pipe.
    log_path = Path(data_dir) / "silta-dev.log"
    drain = subprocess.Popen(["cat"], stdin=process.stdout, stdout=open(log_path, "w"))
    try:
        token = admin_token(base)
        command = [
            sys.executable,
            # `python3 -m schemathesis.cli`, with a CPython race avoided.
            str(HERE / "schemathesis_cli.py"),
            "--config-file",
            str(HERE / "schemathesis.toml"),
            "run",
            f"{base}/api/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {token}",
            "--max-examples",
            str(arguments.max_examples),
            "--seed",
            os.environ.get("SILTA_SCHEMATHESIS_SEED", "20261202"),
            "--workers",
            "2",
        ]
        print("== schemathesis run", f"{base}/api/openapi.json", "--checks all", flush=True)
        try:
            # Its cache (.schemathesis/) goes to the scratch directory.
            result = subprocess.run(command, timeout=DEADLINE_SECONDS, cwd=data_dir)
        except subprocess.TimeoutExpired:
            print(f"schemathesis ran past {DEADLINE_SECONDS} s", file=sys.stderr)
            return 1
        errors = [line for line in log_path.read_text().splitlines() if " ERROR " in line or "panicked" in line]
        if errors:
            print("silta dev logged errors:\n" + "\n".join(errors[:20]), file=sys.stderr)
            return 1
        return result.returncode
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        drain.wait(timeout=5)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
