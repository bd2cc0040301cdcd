"""Checks boto3 calls against the IAM policies in deploy/: which action and resource each
call needs, and whether a policy's Allow statements grant it (no Deny, no NotAction: the
policies use neither)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.services import ROOT

DEPLOY = ROOT / "deploy"
WORKER_POLICY = DEPLOY / "iam-worker-policy.json"
OPS_POLICY = DEPLOY / "iam-ops-policy.json"
PLACEHOLDER = re.compile(r"<([A-Z0-9_]+)>")

# boto3 operation -> the IAM action it is authorised by, where the names differ.
# Batch operations need the single action; S3 multipart parts are PutObject.
ACTION_OF = {
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListParts"): "s3:ListMultipartUploadParts",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
}
KNOWN = {
    "sqs": {"GetQueueUrl", "GetQueueAttributes", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
            "SendMessage", "PurgeQueue", "CreateQueue", "TagQueue", "ListQueues"},
    "s3": {"GetObject", "PutObject", "AbortMultipartUpload", "DeleteObject"},
}


@dataclass(frozen=True)
class Call:
    """One boto3 call: service ("sqs", "s3"), operation name and its parameters."""

    service: str
    operation: str
    params: dict = field(hash=False, compare=False)

    @property
    def action(self) -> str:
        if (self.service, self.operation) in ACTION_OF:
            return ACTION_OF[self.service, self.operation]
        if self.operation not in KNOWN.get(self.service, set()):
            raise KeyError(f"no IAM mapping for {self.service}:{self.operation}; add it to tests/iam_policy.py")
        return f"{self.service}:{self.operation}"

    def requests(self, region: str, account: str) -> list[tuple[str, str, dict]]:
        """(action, resource ARN, condition context) triples this call needs."""
        params = self.params
        if self.service == "sqs":
            name = params.get("QueueName") or params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
            return [(self.action, f"arn:aws:sqs:{region}:{account}:{name}", {})]
        bucket = params["Bucket"]
        if self.action == "s3:ListBucket":
            return [(self.action, f"arn:aws:s3:::{bucket}", {"s3:prefix": params.get("Prefix", "")})]
        if self.operation == "DeleteObjects":
            keys = [item["Key"] for item in params["Delete"]["Objects"]]
            return [(self.action, f"arn:aws:s3:::{bucket}/{key}", {}) for key in keys]
        return [(self.action, f"arn:aws:s3:::{bucket}/{params['Key']}", {})]


def load_policy(path: Path, **values: str) -> dict:
    """The policy with every <PLACEHOLDER> replaced; a placeholder without a value is an error."""
    text = path.read_text()
    missing = set(PLACEHOLDER.findall(text)) - set(values)
    if missing:
        raise KeyError(f"no value for placeholders {sorted(missing)}")
    return json.loads(PLACEHOLDER.sub(lambda m: values[m.group(1)], text))


def placeholders(path: Path) -> set[str]:
    return set(PLACEHOLDER.findall(path.read_text()))


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _matches(pattern: str, value: str) -> bool:
    """IAM wildcards: * any run of characters, ? one character; case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


def _conditions_hold(condition: dict, context: dict) -> bool:
    for operator, clauses in condition.items():
        if operator not in ("StringLike", "StringEquals"):
            raise ValueError(f"condition operator {operator} is not understood by this checker")
        for key, patterns in clauses.items():
            if key not in context:
                return False  # an absent key never satisfies a String condition
            value = context[key]
            test = _matches if operator == "StringLike" else str.__eq__
            if not any(test(pattern, value) for pattern in _as_list(patterns)):
                return False
    return True


def allows(policy: dict, action: str, resource: str, context: dict | None = None) -> bool:
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        if not any(_matches(a.lower(), action.lower()) for a in _as_list(statement["Action"])):
            continue
        if not any(_matches(r, resource) for r in _as_list(statement["Resource"])):
            continue
        if _conditions_hold(statement.get("Condition", {}), context or {}):
            return True
    return False


def denied(policy: dict, calls, region: str, account: str) -> list[str]:
    """Every request of ``calls`` the policy does not allow, described."""
    refused = []
    for call in calls:
        for action, resource, context in call.requests(region, account):
            if not allows(policy, action, resource, context):
                refused.append(f"{call.service}:{call.operation} -> {action} on {resource} {context or ''}".strip())
    return sorted(set(refused))
