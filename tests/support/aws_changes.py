"""What a second `pulumi up --stack aws` would do after one setting changed: two runs under the cloud mocks,
their registrations compared with the provider's replacement facts (which input of each resource forces a
new one). The effects are those of stacks/settings/changes.py."""

from __future__ import annotations

import functools
import json
from typing import Any

from stacks.settings import ConfigError
from stacks.settings.changes import Effect
from support.cloud_mocks import CloudMocks
from support.stacks import Run, run_stack

INSTANCE = "aws:ec2/instance:Instance"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GROUP = "aws:autoscaling/group:Group"
VOLUME = "aws:ebs/volume:Volume"
PARAMETER = "aws:ssm/parameter:Parameter"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
# Terraform AWS provider, ec2_instance.go: inputs of aws_instance marked ForceNew (user_data too, with
# user_data_replace_on_change). instance_type is updated in place with a stop and a start.
INSTANCE_FORCE_NEW = ("ami", "subnetId", "availabilityZone", "associatePublicIpAddress", "keyName", "privateIp",
                      "userData")
ACCESS = ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:ec2/eip:Eip",
          "aws:iam/rolePolicy:RolePolicy", "aws:s3/bucketPolicy:BucketPolicy")


def _by_name(result: Run, type_: str) -> dict[str, dict[str, Any]]:
    return {r.name: r.plain for r in result.of_type(type_)}


def _head(before: Run, after: Run) -> set[Effect]:
    (old,), (new,) = before.of_type(INSTANCE), after.of_type(INSTANCE)
    ignored = set(new.options["ignoreChanges"])
    if any(old.plain.get(k) != new.plain.get(k) for k in INSTANCE_FORCE_NEW if k not in ignored):
        return {"replaces the head"}
    if old.plain.get("instanceType") != new.plain.get("instanceType"):
        return {"restarts the head"}
    rest = {k for k in set(old.plain) | set(new.plain) if old.plain.get(k) != new.plain.get(k)}
    return {"updates the head in place"} if rest else set()


def _workers(before: Run, after: Run) -> set[Effect]:
    old, new = _by_name(before, TEMPLATE), _by_name(after, TEMPLATE)
    if set(old) != set(new):
        return {"rolls the workers"} if old and new else {"adds or removes the workers"}
    effects: set[Effect] = set()
    for name, template in new.items():
        ignored = set(after.one(TEMPLATE, name).options["ignoreChanges"])
        if any(old[name].get(k) != v for k, v in template.items() if k not in ignored | {"tags"}):
            effects.add("rolls the workers")
    if _by_name(before, GROUP) != _by_name(after, GROUP) and not effects:
        effects.add("resizes the worker group")
    return effects


def _applied(before: Run, after: Run) -> set[Effect]:
    objects = {r["key"]: r["content"] for r in _by_name(before, OBJECT).values()}
    changed_objects = objects != {r["key"]: r["content"] for r in _by_name(after, OBJECT).values()}
    changed_parameters = _parameter_values(before) != _parameter_values(after)
    return {"applied on the head"} if changed_objects or changed_parameters else set()


def _parameter_values(result: Run) -> dict[str, Any]:
    return {p["name"]: p["value"] for p in _by_name(result, PARAMETER).values()}


def _volume(before: Run, after: Run) -> set[Effect]:
    (old,), (new,) = before.of_type(VOLUME), after.of_type(VOLUME)
    if old.plain["availabilityZone"] != new.plain["availabilityZone"]:
        return {"replaces the data volume"}
    return {"grows the data volume"} if old.plain["size"] != new.plain["size"] else set()


def _access(before: Run, after: Run) -> set[Effect]:
    changed = any(sorted(map(repr, _by_name(before, t).values())) != sorted(map(repr, _by_name(after, t).values()))
                  for t in ACCESS)
    return {"changes access in place"} if changed else set()


def deployed_by(before: Run) -> CloudMocks:
    """The account as the first `pulumi up` left it: its data volume, attached to its head."""
    cloud = CloudMocks()
    volume, head = before.one(VOLUME, "monitoring-data-volume"), before.one(INSTANCE, "head-instance")
    cloud.volumes = [{"id": "monitoring-data-volume-id", "size": volume.plain["size"],
                      "availabilityZone": volume.plain["availabilityZone"]}]
    cloud.instances = [{"id": "head-instance-id", "instanceId": "head-instance-id",
                        "instanceType": head.plain["instanceType"], "ami": head.plain["ami"],
                        "ebsBlockDevices": [{"volumeId": "monitoring-data-volume-id"}],
                        "rootBlockDevices": [{"volumeSize": head.plain["rootBlockDevice"]["volumeSize"]}]}]
    return cloud


@functools.cache
def _base_run(key: str) -> Run:
    """The first run of a change, shared by every change from the same base (most start from the default
    stack): a run is only read afterwards."""
    base, base_secrets = json.loads(key)
    before = run_stack("aws", secrets=base_secrets, **base)
    assert before.error is None, before.error
    return before


def effects(base: dict[str, Any], change: dict[str, Any], secrets: dict[str, Any] | None = None,
            base_secrets: dict[str, Any] | None = None) -> set[Effect]:
    """The effects of going from `base` to `base | change` (config; `secrets` set with --secret), the
    second run seeing what the first one made."""
    before = _base_run(json.dumps([base, base_secrets], sort_keys=True))

    def second(versions: dict[str, int]) -> Run:
        cloud = deployed_by(before)
        cloud.parameter_versions = versions
        return run_stack("aws", secrets={**(base_secrets or {}), **(secrets or {})}, mocks=cloud,
                         **{**base, **change})

    after = second({})
    if isinstance(after.error, ConfigError):
        return {"refused"}
    assert after.error is None, after.error
    # SSM adds a version to a parameter whose value changes; whatever names that version sees it move.
    moved = {name: 2 for name, value in _parameter_values(after).items()
             if _parameter_values(before).get(name, value) != value}
    if moved:
        after = second(moved)
    found = (_head(before, after) | _workers(before, after) | _applied(before, after) | _volume(before, after)
             | _access(before, after))
    if "replaces the head" in found and after.of_type(TEMPLATE):
        found.add("rolls the workers")  # their user-data names the head's private address, which a new head changes
    return found or {"nothing"}
