"""The real programs the tests run, built from their Go modules at pinned versions: the control plane's
parts (tests/control_plane/), Prometheus, promtool, Alertmanager, amtool and node_exporter at the
versions the stacks ship (every tier), the OpenTelemetry Collector the stacks ship for logs (the components
its configuration uses, at the contrib image's version, assembled by the collector's own builder as the
contrib distribution is) and VictoriaLogs, the OTLP log store the live tier sends to (Loki is AGPL: not built).

Each binary is built once into a cache keyed by its version (RAY_MONITORING_GO_TOOLS, else
~/.cache/ray-monitoring/go-tools/<name>-<version>/) and reused; `python -m support.go_tools` builds what is
missing (tests/run calls it). Module downloads come from the Go module proxy the machine is configured for.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from components.builders.logs.collector_config import COMPONENTS as COLLECTOR_COMPONENTS
from components.versions import ALERTMANAGER_IMAGE, NODE_EXPORTER_IMAGE, OTEL_COLLECTOR_IMAGE, PROMETHEUS_IMAGE

GO_VERSION_LINE = "go 1.24.0"  # the building module's; each pinned module's go.mod raises it as it needs
GO_NEEDED = "go1.26.6"  # the newest any pinned module asks for (the Pulumi CLI's go.mod)


@dataclass(frozen=True)
class GoTool:
    name: str  # the binary's name
    module: str  # the Go module that holds it, at `version`
    version: str
    package: str  # its main package
    # A module's replace lines bind only itself: the building module copies them. Those that point at a
    # directory of its repository (k8s.io/kubernetes' ./staging/..., Pulumi's ../sdk) take that module at
    # this version instead (k8s.io/kubernetes v1.34.4's staging modules are v0.34.4).
    local_replace_version: str = ""
    version_variable: str = ""  # set to the version by the linker, as the project's release build does
    version_v: bool = True  # that build writes v1.2.3 (else 1.2.3)
    stated_version: str = ""  # what that build writes, where it is not the module's version
    copy_replaces: bool = False  # copy the module's replace lines that name another module (at a version)
    tags: tuple[str, ...] = ()  # build tags, as the project's release build sets them (its .promu.yml)
    # Files a `go:embed` needs that the project generates before its build (not in the module's zip):
    # (directory in the module, generated file, the file it is made from). Made as the project's generator does.
    generated: tuple[tuple[str, str, str], ...] = ()


def image_tag(image: str) -> str:
    """The release an image's tag names: prom/prometheus:v3.13.2 -> 3.13.2."""
    return image.rsplit(":", 1)[1].removeprefix("v")


def prometheus_module_version(release: str) -> str:
    """Prometheus 3.x is the Go module's v0.3xx.y: 3.13.2 is v0.313.2 (the minor in two digits)."""
    major, minor, patch = map(int, release.split("."))
    return f"v0.{major * 100 + minor}.{patch}"


def _prometheus_project(name: str, module: str, release: str, package: str, version: str = "",
                        tags: tuple[str, ...] = ("netgo",)) -> GoTool:
    """A Prometheus project's binary, built as its .promu.yml does (its tags; common/version holds the release);
    `version`: the module's, where it is not v<release>."""
    return GoTool(name, module, version or f"v{release}", package, copy_replaces=True, tags=tags,
                  version_variable="github.com/prometheus/common/version.Version", stated_version=release)


# What the stacks ship is what the tests run: the versions come from the images' tags in components/versions.py.
PROMETHEUS_RELEASE = image_tag(PROMETHEUS_IMAGE)
ALERTMANAGER_RELEASE = image_tag(ALERTMANAGER_IMAGE)
NODE_EXPORTER_RELEASE = image_tag(NODE_EXPORTER_IMAGE)
PROMETHEUS_MODULE_VERSION = prometheus_module_version(PROMETHEUS_RELEASE)
# Without the builtinassets tag (its web UI assets are built by npm, not in the module): the UI pages are
# absent, the HTTP API and everything else are the release's code.
PROMETHEUS_TOOLS = (
    _prometheus_project("prometheus", "github.com/prometheus/prometheus", PROMETHEUS_RELEASE,
                        "github.com/prometheus/prometheus/cmd/prometheus", version=PROMETHEUS_MODULE_VERSION),
    _prometheus_project("promtool", "github.com/prometheus/prometheus", PROMETHEUS_RELEASE,
                        "github.com/prometheus/prometheus/cmd/promtool", version=PROMETHEUS_MODULE_VERSION),
    _prometheus_project("alertmanager", "github.com/prometheus/alertmanager", ALERTMANAGER_RELEASE,
                        "github.com/prometheus/alertmanager/cmd/alertmanager"),
    _prometheus_project("amtool", "github.com/prometheus/alertmanager", ALERTMANAGER_RELEASE,
                        "github.com/prometheus/alertmanager/cmd/amtool"),
    _prometheus_project("node_exporter", "github.com/prometheus/node_exporter", NODE_EXPORTER_RELEASE,
                        "github.com/prometheus/node_exporter", tags=()),
)



@dataclass(frozen=True)
class CollectorBuild:
    """An OpenTelemetry Collector of the given components, assembled by the collector's builder (ocb) from a
    manifest as the releases repository assembles the contrib distribution: core components at `version`,
    contrib ones at the same release, the confmap providers at the matching stable version."""

    name: str
    version: str  # the collector release: v0.165.0
    stable_version: str  # the core's 1.x modules of that release (ocb's DefaultStableOtelColVersion)
    components: tuple[tuple[str, tuple[str, ...]], ...]  # (kind, Go modules)

    def manifest(self, output: str) -> dict:
        providers = ("envprovider", "fileprovider", "yamlprovider")
        return {
            "dist": {"name": self.name, "description": "Ray's log shipper: the contrib components it uses",
                     "output_path": output, "version": self.version.removeprefix("v")},
            **{kind: [{"gomod": f"{module} {self.version}"} for module in modules]
               for kind, modules in self.components},
            "providers": [{"gomod": f"go.opentelemetry.io/collector/confmap/provider/{p} {self.stable_version}"}
                          for p in providers],
        }

    @property
    def digest(self) -> str:
        """The cache key's component part: another component list is another binary."""
        import hashlib

        return hashlib.sha256(json.dumps(self.components).encode()).hexdigest()[:10]


OTEL_COLLECTOR_RELEASE = image_tag(OTEL_COLLECTOR_IMAGE)  # otel/opentelemetry-collector-contrib:0.165.0
OTEL_COLLECTOR_STABLE_VERSION = "v1.71.0"  # tests/test_tool_versions.py reads it from the builder's source
COLLECTOR = CollectorBuild("otelcol-contrib", f"v{OTEL_COLLECTOR_RELEASE}", OTEL_COLLECTOR_STABLE_VERSION,
                           tuple((kind, modules) for kind, modules in COLLECTOR_COMPONENTS.items()))

# Pins (docs/development.md, "Versions"): bump a version here; the next `tests/run` builds it.
PULUMI_KUBERNETES_COMMIT = "f47bc2d6f199"  # the one pulumi-kubernetes provider version the module proxy serves
TOOLS = {tool.name: tool for tool in (
    GoTool("kube-apiserver", "k8s.io/kubernetes", "v1.34.4", "k8s.io/kubernetes/cmd/kube-apiserver",
           local_replace_version="v0.34.4"),
    GoTool("kube-controller-manager", "k8s.io/kubernetes", "v1.34.4", "k8s.io/kubernetes/cmd/kube-controller-manager",
           local_replace_version="v0.34.4"),
    GoTool("kube-scheduler", "k8s.io/kubernetes", "v1.34.4", "k8s.io/kubernetes/cmd/kube-scheduler",
           local_replace_version="v0.34.4"),
    GoTool("kubectl", "k8s.io/kubernetes", "v1.34.4", "k8s.io/kubernetes/cmd/kubectl", local_replace_version="v0.34.4"),
    GoTool("etcd", "go.etcd.io/etcd/server/v3", "v3.6.16", "go.etcd.io/etcd/server/v3"),
    GoTool("helm", "helm.sh/helm/v3", "v3.22.0", "helm.sh/helm/v3/cmd/helm",
           version_variable="helm.sh/helm/v3/internal/version.version"),
    GoTool("kwok", "sigs.k8s.io/kwok", "v0.7.0", "sigs.k8s.io/kwok/cmd/kwok"),
    # v1.7.0, the version the stack installs, is refused by the module proxy (its zip: 403); v1.5.0 is the
    # newest it serves. The CRDs the tier registers stay v1.7.0's (the chart's).
    GoTool("kuberay-operator", "github.com/ray-project/kuberay/ray-operator", "v1.5.0",
           "github.com/ray-project/kuberay/ray-operator"),
    GoTool("prometheus-operator", "github.com/prometheus-operator/prometheus-operator", "v0.93.0",
           "github.com/prometheus-operator/prometheus-operator/cmd/operator"),
    GoTool("pulumi", "github.com/pulumi/pulumi/pkg/v3", "v3.274.1", "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
           local_replace_version="v3.274.1",
           version_variable="github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"),
    GoTool("pulumi-resource-kubernetes", "github.com/pulumi/pulumi-kubernetes/provider/v4",
           f"v4.0.0-20260115033456-{PULUMI_KUBERNETES_COMMIT}",
           "github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes",
           local_replace_version="v4.24.0",  # the provider's go.mod asks for sdk/v4 at this version
           version_variable="github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version", version_v=False,
           generated=(("cmd/pulumi-resource-kubernetes", "schema-embed.json", "schema.json"),
                      ("cmd/pulumi-resource-kubernetes", "terraform-mapping-embed.json", "terraform-mapping.json"))),
    *PROMETHEUS_TOOLS,
    # The collector's builder, at the collector's release: it assembles COLLECTOR.
    GoTool("ocb", "go.opentelemetry.io/collector/cmd/builder", COLLECTOR.version,
           "go.opentelemetry.io/collector/cmd/builder"),
    # The live tier's log store: it takes OTLP/HTTP logs as Loki does (Apache-2.0).
    GoTool("victoria-logs", "github.com/VictoriaMetrics/VictoriaLogs", "v1.52.2",
           "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs",
           version_variable="github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version"),
)}


def cache_dir() -> Path:
    return Path(os.environ.get("RAY_MONITORING_GO_TOOLS") or Path.home() / ".cache" / "ray-monitoring" / "go-tools")


def binary(name: str) -> Path:
    if name == COLLECTOR.name:
        return cache_dir() / f"{COLLECTOR.name}-{COLLECTOR.version}-{COLLECTOR.digest}" / COLLECTOR.name
    tool = TOOLS[name]
    return cache_dir() / f"{tool.name}-{tool.version}" / tool.name


def version(name: str) -> str:
    """The pinned version of any tool `binary` knows, the collector included."""
    return COLLECTOR.version if name == COLLECTOR.name else TOOLS[name].version


def ensure(name: str) -> Path:
    """The tool's binary, built now unless the cache has it (the collector by ocb, the others by `go build`)."""
    return build_collector() if name == COLLECTOR.name else build(name)


def build_collector() -> Path:
    """COLLECTOR, assembled by ocb (built first, if need be) unless the cache has it."""
    import yaml

    target = binary(COLLECTOR.name)
    if target.exists():
        return target
    ocb = build("ocb")
    with tempfile.TemporaryDirectory(prefix="build-otelcol-") as work:
        manifest = Path(work, "manifest.yaml")
        manifest.write_text(yaml.safe_dump(COLLECTOR.manifest(str(Path(work, "dist")))))
        result = subprocess.run([str(ocb), f"--config={manifest}"], cwd=work, capture_output=True, text=True,
                                timeout=3600, env={**os.environ, "GOFLAGS": "-mod=mod"})
        if result.returncode != 0:
            raise RuntimeError(f"building {COLLECTOR.name} {COLLECTOR.version} with ocb failed:\n"
                               f"{(result.stdout + result.stderr)[-3000:]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copy2(Path(work, "dist", COLLECTOR.name), partial)
        partial.rename(target)
    return target


def _download(tool: GoTool) -> dict[str, str]:
    found = subprocess.run(["go", "mod", "download", "-json", f"{tool.module}@{tool.version}"], capture_output=True,
                           text=True, timeout=900, check=True)
    return dict(re.findall(r'"(Dir|GoMod)":\s*"([^"]+)"', found.stdout))


def module_dir(name: str) -> Path:
    """The pinned module's files in Go's module cache (CRDs and examples ship inside it)."""
    return Path(_download(TOOLS[name])["Dir"])


def _replaces(tool: GoTool) -> list[str]:
    lines = []
    for module, target in re.findall(r"^\s*(?:replace\s+)?(\S+(?: v\S+)?) => (.+)$",
                                     Path(_download(tool)["GoMod"]).read_text(), re.M):
        local = target.startswith(".")
        lines.append(f"replace {module} => {module.split()[0]} {tool.local_replace_version}" if local
                     else f"replace {module} => {target.strip()}")
    return lines


def _semver(tool: GoTool) -> str:
    """The version as the project's release build states it (no leading v)."""
    return tool.version.removeprefix("v")


def _generate(tool: GoTool, source: Path) -> None:
    """The go:embed files, as the project's generator writes them (compact JSON; the schema gets the version)."""
    for directory, generated, origin in tool.generated:
        content = json.loads(Path(source, directory, origin).read_text())
        if origin == "schema.json":
            content["version"] = _semver(tool)
        Path(source, directory, generated).write_text(json.dumps(content, separators=(",", ":")))


def _module_lines(tool: GoTool, work: str) -> list[str]:
    lines = ["module build", "", GO_VERSION_LINE, "", f"require {tool.module} {tool.version}", ""]
    if tool.local_replace_version or tool.copy_replaces:
        lines += _replaces(tool)
    if tool.generated:  # a writable copy of the module, with the generated files beside its own
        source = Path(work, "source")
        shutil.copytree(module_dir(tool.name), source)
        source.chmod(0o755)
        for directory, _, _ in tool.generated:
            Path(source, directory).chmod(0o755)
        _generate(tool, source)
        lines.append(f"replace {tool.module} => ./source")
    return lines


def build(name: str) -> Path:
    """The tool's binary, built now unless the cache has it."""
    tool, target = TOOLS[name], binary(name)
    if target.exists():
        return target
    with tempfile.TemporaryDirectory(prefix=f"build-{name}-") as work:
        Path(work, "go.mod").write_text("\n".join(_module_lines(tool, work)) + "\n")
        stated = tool.stated_version or (tool.version if tool.version_v else _semver(tool))
        ldflags = "-s -w" + (f" -X {tool.version_variable}={stated}" if tool.version_variable else "")
        env = {**os.environ, "GOFLAGS": "-mod=mod"}
        for command in (["go", "get", f"{tool.package}@{tool.version}"],
                        ["go", "build", "-trimpath", *([f"-tags={','.join(tool.tags)}"] if tool.tags else []),
                         f"-ldflags={ldflags}", "-o", str(Path(work, name)), tool.package]):
            result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=3600)
            if result.returncode != 0:
                raise RuntimeError(f"building {name} {tool.version} ({' '.join(command)}) failed:\n"
                                   f"{result.stderr[-3000:]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copy2(Path(work, name), partial)
        partial.rename(target)  # a build that stops half way leaves no binary behind
    return target


# Two builds at once: one `go build` leaves a core idle while it resolves and downloads modules and while it
# links (one process), so a second build beside it fills that time (docs/development.md gives the figures).
BUILD_LANES = 2


def lanes() -> list[list[str]]:
    """The tools in build order, grouped so that binaries of one module (which share its compiled packages)
    are built one after another, the collector after its builder; the groups that take longest first."""
    groups: dict[str, list[str]] = {}
    for name, tool in TOOLS.items():
        groups.setdefault(tool.module, []).append(name)
    groups[TOOLS["ocb"].module].append(COLLECTOR.name)
    first = ["k8s.io/kubernetes", "github.com/pulumi/pulumi/pkg/v3", TOOLS["pulumi-resource-kubernetes"].module,
             TOOLS["ocb"].module]
    return sorted(groups.values(), key=lambda group: first.index(TOOLS[group[0]].module)
                  if TOOLS[group[0]].module in first else len(first))


def _build_lane(names: list[str]) -> None:
    for name in names:
        if binary(name).exists():
            print(f"{name} {version(name)}: cached", flush=True)
            continue
        started = time.monotonic()
        ensure(name)
        print(f"{name} {version(name)}: built in {time.monotonic() - started:.0f} s", flush=True)


def main() -> int:
    from concurrent.futures import ThreadPoolExecutor

    if shutil.which("go") is None:
        print(f"the control-plane tier needs Go ({GO_NEEDED} or newer) to build its tools", file=sys.stderr)
        return 1
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=BUILD_LANES) as pool:
        for lane in [pool.submit(_build_lane, names) for names in lanes()]:
            lane.result()  # a failed build raises here, with its output
    print(f"Go tools ready in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
