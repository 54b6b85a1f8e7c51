"""Every directory under examples/ is a configuration of its own that the real
terraform accepts: `terraform init` installs the provider from the test mirror
(as users install it), then `terraform validate` checks it against the
provider's schemas, and `terraform validate -query` checks its list blocks on
releases that have them. The docs show these files, so a doc example that does
not validate fails here.

A file using a language feature a release lacks is left out on that release
(the feature is named in the test's output); a directory left with nothing
but its supporting main.tf is skipped, naming the feature.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from devenv.terraform_binary import TerraformBinary
from tests.e2e.harness import ROOT, Terraform

pytestmark = pytest.mark.e2e

EXAMPLES = ROOT / "examples"
CONFIG_SUFFIXES = (".tf", ".tfquery.hcl")


@dataclass(frozen=True)
class Feature:
    name: str
    since: tuple[int, int]
    pattern: re.Pattern[str]


# Language features the examples use that older releases cannot parse.
FEATURES = (
    Feature("provider-defined functions", (1, 8), re.compile(r"\bprovider::")),
    Feature("ephemeral resources", (1, 10), re.compile(r'^ephemeral\s+"', re.M)),
    Feature("import blocks", (1, 5), re.compile(r"^import\s*\{", re.M)),
    Feature("import by identity", (1, 12), re.compile(r"^\s*identity\s*=", re.M)),
    Feature("list blocks (terraform query)", (1, 14), re.compile(r'^list\s+"', re.M)),
    Feature("actions", (1, 14), re.compile(r'^action\s+"', re.M)),
)


def example_directories() -> list[Path]:
    return sorted(
        {p.parent for p in EXAMPLES.rglob("*") if p.name.endswith(CONFIG_SUFFIXES)},
    )


def missing_features(path: Path, version: tuple[int, ...]) -> list[str]:
    text = path.read_text()
    return [
        f"{f.name} (Terraform {f.since[0]}.{f.since[1]}+)"
        for f in FEATURES
        if f.pattern.search(text) and version < f.since
    ]


def test_every_example_directory_is_found() -> None:
    found = {d.relative_to(EXAMPLES).as_posix() for d in example_directories()}
    assert {
        "provider",
        "resources/tarmak_hostname",
        "functions/parse_hostname",
        "list-resources/tarmak_hostname",
        "ephemeral-resources/tarmak_vault_instance_role",
        "actions/tarmak_vault_unseal",
        "tarmak-environment",
    } <= found


@pytest.mark.parametrize(
    "directory",
    example_directories(),
    ids=[d.relative_to(EXAMPLES).as_posix() for d in example_directories()],
)
def test_example_validates(
    directory: Path, terraform_binary: TerraformBinary, terraform_each: Terraform
) -> None:
    tf = terraform_each
    tf.workdir.mkdir(parents=True, exist_ok=True)
    left_out: dict[str, list[str]] = {}
    for path in sorted(directory.iterdir()):
        if not path.name.endswith(CONFIG_SUFFIXES):
            continue
        if lacking := missing_features(path, terraform_binary.version):
            left_out[path.name] = lacking
        else:
            shutil.copy(path, tf.workdir / path.name)
    kept = [p.name for p in tf.workdir.iterdir() if p.name != "main.tf"]
    reasons = "; ".join(f"{name}: {', '.join(why)}" for name, why in left_out.items())
    if left_out and not kept:  # only the supporting main.tf is left
        pytest.skip(f"Terraform {terraform_binary.version_text} lacks {reasons}")
    if left_out:
        print(f"left out on Terraform {terraform_binary.version_text}: {reasons}")

    tf.init()
    result = tf.run("validate", check=False)
    assert result.returncode == 0, result.output
    assert "Success! The configuration is valid" in result.text, result.output

    if any(p.name.endswith(".tfquery.hcl") for p in tf.workdir.iterdir()):
        query = tf.run("validate", "-query", check=False)
        assert query.returncode == 0, query.output
        assert "Success! The configuration is valid" in query.text, query.output
