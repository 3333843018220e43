"""The aws head's monitoring configuration: every file in a private bucket with the manifest the head
applies in place, and every credential as an SSM SecureString (the Grafana admin password generated
here). Nothing of it is in user-data, so a changed setting rewrites objects, not the instance."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import pulumi
import pulumi_aws as aws

from components.aws.config_bucket import ConfigBucket, ConfigBucketArgs
from components.aws.grafana_password import GrafanaPassword, GrafanaPasswordArgs
from components.aws.secret_parameter import SecretParameter, SecretParameterArgs
from components.aws.secrets_key import SecretsKey, SecretsKeyArgs
from components.builders import head_config
from components.generated import GivenSecrets, generated_secret


@dataclass(frozen=True)
class HeadSecret:
    """A credential the head reads as a file."""

    name: str  # the SecretParameter's resource name
    path: str  # its SecureString's name under the stack's parameter prefix
    value: pulumi.Input[str]  # a Pulumi secret
    file: Callable[[str], head_config.SecretFile]  # its file on the head, given the SecureString's name
    workers_read: bool = False  # the workers read it at boot too (worker_parameters)


@dataclass(frozen=True)
class MonitoringHeadArgs:
    cluster_name: str
    files: head_config.HeadFiles  # a content may be an Output (waiting for the managed workspace's URL)
    secrets: Sequence[HeadSecret]
    iframe_host: str | None  # the browser's Grafana URL; None: the head's public name, or the tunnel's
    public: bool  # the head is reachable from allowedCidrs
    parameter_prefix: str  # every SecureString's name starts with it: unique to the stack in the account
    # Principals (IAM role or user ARNs) that may write the configuration bucket; the deployer's.
    config_writers: Sequence[pulumi.Input[str]] = ()
    ray_token: bool = False  # generate Ray's token (token authentication) and hand it to the head
    given: GivenSecrets = GivenSecrets()  # the user's own instead of generated ones


class MonitoringHead(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    manifest_id: pulumi.Output[str]  # the head's user-data names it, so its first boot waits for it
    object_arns: pulumi.Output[str]  # what the head's role may read from the bucket
    parameter_arns: list[pulumi.Output[str]]  # what it may read from SSM
    admin_password: pulumi.Output[str]  # a Pulumi secret
    signing_key_parameter: str  # the SecureString the head verifies the manifest with
    key_arn: pulumi.Output[str]  # the KMS key every SecureString is encrypted with
    ray_token: pulumi.Output[str] | None  # a Pulumi secret; None without token authentication
    ray_token_parameter: SecretParameter | None  # where the workers read it at boot
    worker_parameters: dict[str, SecretParameter]  # by HeadSecret name: the others the workers read at boot

    def __init__(self, name: str, args: MonitoringHeadArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ray-monitoring:aws:MonitoringHead", name, None, opts)
        # These children were first created at the stack's root under the same names: the alias keeps
        # their URNs, so moving them here replaces nothing (not the password, not the bucket).
        moved = pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)])
        self.key_arn = SecretsKey(f"{name}-secrets", SecretsKeyArgs(args.cluster_name, args.parameter_prefix),
                                  pulumi.ResourceOptions(parent=self)).arn
        password = GrafanaPassword("grafana-admin-password",
                                   GrafanaPasswordArgs(args.cluster_name, args.parameter_prefix,
                                                       args.given.grafana_admin_password, self.key_arn), moved)
        secrets: list[tuple[head_config.SecretFile, GrafanaPassword | SecretParameter]] = [
            (head_config.grafana_password(password.parameter_name), password)]
        # Grafana's secret_key, generated: its built-in default is public (docs/security.md).
        _, key = self._generated(name, "grafana-secret-key", "grafana/secret-key", args,
                                args.given.grafana_secret_key)
        secrets.append((head_config.grafana_secret_key(key.parameter_name), key))
        self.ray_token, self.ray_token_parameter = None, None
        if args.ray_token:
            self.ray_token, self.ray_token_parameter = self._generated(name, "ray-auth-token", "ray/auth-token", args,
                                                                        args.given.ray_auth_token)
            secrets.append((head_config.ray_auth_token(self.ray_token_parameter.parameter_name),
                            self.ray_token_parameter))
        self.worker_parameters = {}
        for secret in args.secrets:
            parameter = SecretParameter(
                secret.name, SecretParameterArgs(args.cluster_name, f"{args.parameter_prefix}/{secret.path}",
                                                 secret.value, self.key_arn),
                                        moved)
            secrets.append((secret.file(parameter.parameter_name), parameter))
            if secret.workers_read:
                self.worker_parameters[secret.name] = parameter
        # The manifest's signing key: only the deployer (through Pulumi) and the head (its role) read it.
        signing_value, signing = self._generated(name, "manifest-signing-key", "manifest-signing-key", args)
        files = head_config.config_files(args.files)
        # The manifest holds every file's sha256 and every secret's version: written after both.
        unnumbered = pulumi.Output.all(pulumi.Output.all(*(f.content for f in files)),
                                       pulumi.Output.all(*(parameter.version for _, parameter in secrets))).apply(
            lambda resolved: _manifest(files, secrets, resolved, args))
        # The manifest's serial: SSM adds a version to this parameter whenever the manifest (its digest) changes.
        serial = aws.ssm.Parameter(
            f"{name}-manifest-serial", name=f"{args.parameter_prefix}/manifest-serial", type="String",
            value=unnumbered.apply(head_config.digest), tags={"ray-cluster": args.cluster_name},
            opts=pulumi.ResourceOptions(parent=self))
        manifest = pulumi.Output.all(unnumbered, serial.version).apply(
            lambda resolved: head_config.with_serial(resolved[0], int(resolved[1])))
        # A signature reveals nothing of the key: not a secret.
        signature = pulumi.Output.unsecret(pulumi.Output.all(manifest, signing_value).apply(
            lambda resolved: head_config.sign(resolved[0], resolved[1])))
        bucket = ConfigBucket("config", ConfigBucketArgs(args.cluster_name, files, manifest, signature,
                                                         list(args.config_writers)), moved)
        self.bucket_name = bucket.bucket_name
        self.manifest_id = bucket.manifest.id
        self.object_arns = bucket.object_arns
        self.parameter_arns = [parameter.parameter_arn for _, parameter in secrets] + [signing.parameter_arn]
        self.signing_key_parameter = signing.parameter_name
        self.admin_password = password.value
        self.register_outputs({"bucket_name": self.bucket_name, "manifest_id": self.manifest_id,
                               "object_arns": self.object_arns, "parameter_arns": self.parameter_arns,
                               "admin_password": self.admin_password, "key_arn": self.key_arn})

    def _generated(self, name: str, what: str, path: str, args: MonitoringHeadArgs,
                   given: str | None = None) -> tuple[pulumi.Output[str], SecretParameter]:
        """A secret generated here (or the user's, `given`) kept as the SecureString <prefix>/<path>."""
        value = generated_secret(f"{name}-{what}-value", pulumi.ResourceOptions(parent=self), given=given)
        parameter = SecretParameter(f"{name}-{what}", SecretParameterArgs(
            args.cluster_name, f"{args.parameter_prefix}/{path}", value, self.key_arn),
            pulumi.ResourceOptions(parent=self))
        return value, parameter


def _manifest(files: list[head_config.ConfigFile], secrets: list[tuple[head_config.SecretFile, Any]],
              resolved: list[list[Any]], args: MonitoringHeadArgs) -> str:
    contents, versions = resolved
    return head_config.manifest(
        [dataclasses.replace(f, content=content) for f, content in zip(files, contents)],
        [(file, version or 0) for (file, _), version in zip(secrets, versions)],
        args.iframe_host, args.public)
