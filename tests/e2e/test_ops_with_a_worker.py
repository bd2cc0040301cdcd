"""The ops command line against a real worker that keeps dead-lettering what it is given back."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.services import ROOT

pytestmark = pytest.mark.e2e


def test_redrive_all_of_poison_letters_ends_with_the_true_count_while_the_worker_dead_letters_them_again(
    private_stack, start_worker
):
    stack = private_stack
    start_worker()
    bodies = [f"not json {index} <\u00e9>" for index in range(40)]
    for body in bodies:
        stack.send(stack.video_queue, body)
    stack.wait_for(lambda: stack.depth(stack.video_dlq) == 40 and stack.depth(stack.video_queue) == 0, 60,
                   "the worker to dead-letter the 40 poison bodies")

    redrive = subprocess.run(
        [sys.executable, "-m", "ops", "dlq", "redrive", "video", "--all", "--yes", "--json"],
        cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=120,  # it must end: it used to run on
    )
    assert redrive.returncode == 0, redrive.stderr
    assert json.loads(redrive.stdout)["count"] == 40
    assert "audit: redrive by" in redrive.stderr and "every dead letter: 40 done" in redrive.stderr

    # The worker rejects them again: the dead-letter queue holds the same 40 bodies, byte for byte.
    stack.wait_for(lambda: stack.depth(stack.video_dlq) == 40 and stack.depth(stack.video_queue) == 0, 60,
                   "the worker to dead-letter the redriven bodies again")
    letters = stack.dead_letters(stack.video_dlq, expect=40)
    assert sorted(message["Body"] for message in letters) == sorted(bodies)
