"""Units of the ops tools: escaping for terminals, audits of actions that stop half way, throttling."""

from __future__ import annotations

import logging

import pytest

from domain.operations import DeadLetterNotFound, Tally
from ops.actions import act
from ops.render import masked, printable
from ops.web.auth import FAILURES_PER_ADDRESS, FAILURES_PER_ADDRESS_AND_USER, Throttle, client_block


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b]0;PWNED\x07\x1b[2J", "\\x1b]0;PWNED\\x07\\x1b[2J"),
        ("over\rwrite", "over\\x0dwrite"),
        ("c1 \x9b31m", "c1 \\x9b31m"),
        ("bidi \u202eevil", "bidi \\u202eevil"),
        ("lines\nand\ttabs stay, 한글 é too", "lines\nand\ttabs stay, 한글 é too"),
        ("\x7f\x00", "\\x7f\\x00"),
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(text, shown):
    assert printable(text) == shown


def test_masked_reaches_every_string_of_json_output():
    data = {"a": ["x secret y", {"b": "secret"}], "n": 3, "none": None}
    assert masked(data, lambda text: text.replace("secret", "***")) == {
        "a": ["x *** y", {"b": "***"}], "n": 3, "none": None
    }


class FlakyQueues:
    """A QueueAdmin whose SQS goes away after ``survive`` letters."""

    def __init__(self, survive: int, error: Exception) -> None:
        self.survive, self.error = survive, error

    def redrive(self, queue, ids=None, tally=None):
        tally.started(10)
        for _ in range(self.survive):
            tally.count()
        raise self.error

    delete = redrive


def test_an_action_stopped_by_an_outage_is_audited_with_what_it_did(caplog):
    tally = Tally("redrive", "video-jobs")
    with caplog.at_level(logging.WARNING, logger="ops.audit"), pytest.raises(ConnectionError):
        act(FlakyQueues(3, ConnectionError("SQS went away")), tally, None, user="ann", via="cli")
    (line,) = [record.getMessage() for record in caplog.records if record.name == "ops.audit"]
    assert line == ("audit: redrive by ann (cli) on video-jobs, every dead letter: "
                    "3 done; stopped by ConnectionError: SQS went away")


def test_an_action_on_missing_letters_lists_them_once(caplog):
    class Missing(FlakyQueues):
        def redrive(self, queue, ids=None, tally=None):
            tally.started(len(ids))
            tally.count()
            tally.not_found(["b", "c"])
            raise DeadLetterNotFound("no dead letter b, c")

        delete = redrive

    tally = Tally("delete", "ai-jobs")
    with caplog.at_level(logging.WARNING, logger="ops.audit"), pytest.raises(DeadLetterNotFound):
        act(Missing(0, None), tally, ["a", "b", "c"], user="bob", via="dashboard")
    (line,) = [record.getMessage() for record in caplog.records if record.name == "ops.audit"]
    assert line == "audit: delete by bob (dashboard) on ai-jobs, 3 chosen dead letter(s): 1 done; not found: b, c"


def test_tally_reports_every_change():
    seen = []
    tally = Tally("delete", "q", on_change=lambda t: seen.append(t.as_dict()["done"]))
    tally.started(2)
    tally.count()
    tally.count()
    assert seen == [0, 1, 2] and tally.as_dict()["total"] == 2


def test_throttle_counts_failures_per_address_and_user_and_per_address():
    throttle = Throttle()
    for _ in range(FAILURES_PER_ADDRESS_AND_USER.amount):
        assert throttle.wait("10.0.0.1", "admin") == 0
        throttle.failed("10.0.0.1", "admin")
    assert 1 <= throttle.wait("10.0.0.1", "admin") <= FAILURES_PER_ADDRESS_AND_USER.get_expiry()
    assert throttle.wait("10.0.0.2", "admin") == 0  # the same user elsewhere is not locked out
    assert throttle.wait("10.0.0.1", "viewer") == 0
    for index in range(FAILURES_PER_ADDRESS.amount - FAILURES_PER_ADDRESS_AND_USER.amount):
        throttle.failed("10.0.0.1", f"other-{index}")
    assert throttle.wait("10.0.0.1", "viewer") > 0  # the address is locked for every user
    assert throttle.wait("10.0.0.2", "viewer") == 0


@pytest.mark.parametrize(("address", "counted_as"), [
    ("198.51.100.1", "198.51.100.1"),
    ("::ffff:198.51.100.1", "198.51.100.1"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2::9", "2001:db8:1:2::/64"),
    (None, "?"),
    ("not-an-address", "not-an-address"),
])
def test_clients_are_counted_by_address_and_ipv6_by_its_64(address, counted_as):
    assert client_block(address) == counted_as
