"""Every S3 URI of every build the build/train template can generate follows the data layout:
each supported option combination is baked, and the builds CI runs in it (main, and for
multi-branch repositories a feature branch) are held to the layout by the repository's own check
(`mlops_template_kit.data_layout`: pipeline definition, code upload, build spec).

The definition each build makes is also checked statically by the local runner's reader
(`mlops_template_kit.definition.parse`: step references, property files, parameters, order), so
every combination's definition is validated, not only those the end-to-end runs execute.

The generated repositories test the same check against URIs outside the layout; here one
subprocess per group of combinations imports the SDK once and checks every build of the group.
"""

import json
import sys

import pytest

from tests import bakery

TEMPLATE = "build-train"
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsUseRole"
CI_ENVIRONMENT = {
    "BUILD_ID": "20261122T133000Z-1a2b3c4",
    "SAGEMAKER_PIPELINE_ROLE_ARN": ROLE,
    "COMMIT_ID": "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
}
# Upper case, accents and a name longer than any budget: the slug must change it, and still fit.
FEATURE_BRANCH = {"BRANCH_NAME": "feature/Ünïcode-Branch-" + "with-a-very-long-name-" * 4}
# Groups run in parallel; each holds the combinations of one multi_branch and data_source pair.
GROUPED_BY = ("multi_branch", "data_source")

CHECK = r"""
import json, os, sys
from pathlib import Path

found = {}
for repo, builds in json.loads(sys.argv[1]).items():
    from mlops_template_kit import data_layout
    from mlops_template_kit import definition as reader
    from mlops_template_kit.pipeline import aws
    from mlops_template_kit.pipeline import repo as pipeline_repo

    for build, variables in builds.items():
        # check_this_build's steps, so the one definition built is also read statically.
        ci_build = pipeline_repo.settings_of(Path(repo), {**os.environ, **variables})
        text = pipeline_repo.build(Path(repo), ci_build)[2]
        document = json.loads(text)
        uploads = [uri for uri, _ in aws.code_uploads(ci_build, Path(repo))]
        spec = (Path(repo) / data_layout.BUILD_SPEC).read_text(encoding="utf-8")
        problems = data_layout.check_build(ci_build, document, uploads, spec)
        try:
            reader.parse(document, f"{build} definition")
        except reader.DefinitionError as error:
            problems.append(f"definition: {error}")
        found[f"{repo} ({build})"] = problems
print(json.dumps(found))
"""


def groups() -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = {}
    for combo in bakery.supported(TEMPLATE):
        grouped.setdefault("-".join(f"{key}={combo[key]}" for key in GROUPED_BY), []).append(combo)
    return grouped


GROUPS = groups()


def builds(combo: dict[str, str]) -> dict[str, dict[str, str]]:
    """The builds CI runs in a repository of this combination, as environment variables."""
    runs = {"main": CI_ENVIRONMENT}
    if combo["multi_branch"] == "yes":
        runs["feature branch"] = {**CI_ENVIRONMENT, **FEATURE_BRANCH}
    return runs


def test_the_groups_cover_every_supported_combination():
    assert sorted(map(bakery.combo_id, sum(GROUPS.values(), []))) == sorted(
        map(bakery.combo_id, bakery.supported(TEMPLATE))
    )


@pytest.mark.slow
@pytest.mark.parametrize("group", list(GROUPS))
def test_every_build_of_every_combination_follows_the_data_layout(baked, group, tmp_path):
    """Reads the run's shared bakes (the check writes nothing into a repo; it runs in tmp_path)."""
    repos = {}
    for combo in GROUPS[group]:
        repos[str(baked(TEMPLATE, bakery.answers_for(combo)).resolve())] = builds(combo)
    result = bakery.run([sys.executable, "-c", CHECK, json.dumps(repos)], cwd=tmp_path, timeout=1800)
    assert result.returncode == 0, result.stderr[-4000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(found) == sum(len(runs) for runs in repos.values())
    assert {build: problems for build, problems in found.items() if problems} == {}
