"""Checks exported ONNX models for the export tests (test/compiler/export/).

Reads a JSON list of model paths on stdin; writes a JSON list with, for each,
null when onnx.checker.check_model(model, full_check=True) accepts it (full
check: with strict shape inference), or the checker's message.
"""

import json
import sys

import onnx


def check(path):
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        return None
    except Exception as e:  # reported to the test, which fails with the message
        return "%s: %s" % (type(e).__name__, e)


json.dump([check(p) for p in json.load(sys.stdin)], sys.stdout)
