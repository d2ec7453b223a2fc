#!/usr/bin/env python3
"""Schemathesis's command line, with Python's `ast.parse` run one at a time.

Hypothesis describes the lambdas of the strategies it builds by parsing
their source (`hypothesis.internal.lambda_sources`), and Schemathesis builds
them on its worker threads (check_openapi.py runs two). CPython up to 3.11.7
and 3.12.0 keeps the AST constructor's recursion depth in one counter per
interpreter, which two threads parsing at once corrupt: the parse then fails
with `SystemError: AST constructor recursion depth mismatch`
(python/cpython#106905), which Schemathesis reports as a runtime error of
the operation being tested — a failure of the tool, not of the API. Parsing
under one lock avoids the race; nothing else changes.

Usage: schemathesis_cli.py ARGUMENTS… (as `python3 -m schemathesis.cli`).
"""

import ast
import runpy
import threading

_LOCK = threading.Lock()
_PARSE = ast.parse


def _parse_alone(*args, **kwargs):
    with _LOCK:
        return _PARSE(*args, **kwargs)


ast.parse = _parse_alone
runpy.run_module("schemathesis.cli", run_name="__main__", alter_sys=True)
