"""Seeding moto's CloudWatch Logs: an admin client and a PutLogEvents helper."""

from __future__ import annotations

from collections.abc import Iterable

import boto3
import pytest

REGION = "us-east-1"


def admin_client(endpoint: str):
    return boto3.client(
        "logs", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@pytest.fixture
def logs(moto: str):
    """An admin client that seeds moto."""
    return admin_client(moto)


def put(logs, group: str, stream: str, events: Iterable[tuple[int, str]]) -> None:
    """Create the group/stream when missing and write one PutLogEvents batch (sorted, as AWS requires)."""
    if not logs.describe_log_groups(logGroupNamePrefix=group).get("logGroups"):
        logs.create_log_group(logGroupName=group)
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    batch = [{"timestamp": ts, "message": msg} for ts, msg in sorted(events)]
    result = logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
    assert "rejectedLogEventsInfo" not in result
