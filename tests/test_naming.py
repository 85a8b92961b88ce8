"""The naming helper keeps every resource name within its service's limit at the worst case."""

import re

import pytest

from mlops_template_kit import naming

WORST_NAME = "a" + "-b" * 15 + "c"  # 32 characters, hyphens where the pattern allows them
WORST_ID = "p-" + "x" * 18  # 20 characters
TYPICAL = ("diabetes-progression", "p-idy6c3e1fiqj")

BUILDERS = {
    "bucket": lambda name, pid: naming.artifact_bucket(pid),
    "model_package_group": naming.model_package_group,
    "pipeline": naming.pipeline,
    "job_prefix": lambda name, pid: naming.job_prefix(pid, "preprocess-training-data"),
    "codecommit_repository": lambda name, pid: naming.repository(name, pid, "modelbuild"),
    "code_repository": lambda name, pid: naming.code_repository(pid, "modeldeploy"),
    "codebuild_project": lambda name, pid: naming.codebuild_project(name, pid, "modelbuild"),
    "event_rule": lambda name, pid: naming.event_rule(pid, "model-approved"),
    "lambda_function": lambda name, pid: naming.lambda_function(pid, "invoke-endpoint"),
    "endpoint": lambda name, pid: naming.endpoint(name, pid, "staging"),
    "cloudformation_stack": lambda name, pid: naming.stack(name, pid, "deploy-staging"),
}


def test_worst_case_inputs_are_at_their_limits():
    assert len(WORST_NAME) == naming.MAX_PROJECT_NAME
    assert len(WORST_ID) == naming.MAX_PROJECT_ID


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("name,project_id", [(WORST_NAME, WORST_ID), TYPICAL, ("A", "1")])
def test_every_name_fits_its_limit(kind, name, project_id):
    built = BUILDERS[kind](name, project_id)
    assert len(built) <= naming.LIMITS[kind], built
    if kind == "bucket":
        assert naming.BUCKET_NAME.match(built)
    else:
        assert naming.SAGEMAKER_NAME.match(built) or kind == "job_prefix"


def test_bucket_name_is_lower_case_even_for_upper_case_ids():
    assert naming.artifact_bucket("P-ABC") == "sagemaker-project-p-abc"


def test_shorten_keeps_long_names_unique_and_in_limit():
    first = naming.shorten("x" * 100 + "one", 39)
    second = naming.shorten("x" * 100 + "two", 39)
    assert len(first) == len(second) == 39
    assert first != second
    assert naming.shorten("short", 39) == "short"


def test_a_name_over_its_limit_is_refused():
    with pytest.raises(naming.NameTooLongError, match="limit is 63"):
        naming.model_package_group("n" * 40, "i" * 30)


def test_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="staging, prod"):
        naming.endpoint("name", "id", "dev")


def test_default_launch_role_prefixes():
    """The default launch role only creates `sagemaker-*` rules, functions, buckets and builds."""
    for built in (
        naming.event_rule("p-1", "x"),
        naming.lambda_function("p-1", "x"),
        naming.artifact_bucket("p-1"),
        naming.codebuild_project("n", "p-1", "x"),
    ):
        assert re.match(r"^sagemaker-", built)


BRANCHES = [
    "feature/add-target-encoding",
    "Feature/Add-Target-Encoding",
    "feature/add_target_encoding",
    "bugfix/ünïcödé-naïve-façade",
    "feature/" + "very-long-branch-name-" * 10,
    "feature/" + "very-long-branch-name-" * 10 + "x",
    "日本語のブランチ",
    "-----",
    "a",
    "release/1.2.3",
]


@pytest.mark.parametrize("budget", [9, 19, 40])
def test_branch_slugs_are_valid_unique_and_in_budget(budget):
    slugs = [naming.branch_slug(branch, budget) for branch in BRANCHES]
    assert len(set(slugs)) == len(slugs), slugs
    for slug in slugs:
        assert 1 <= len(slug) <= budget
        assert re.fullmatch(r"[a-z0-9](-?[a-z0-9])*", slug), slug


def test_a_plain_branch_name_is_kept_as_is():
    assert naming.branch_slug("experiment-1", 19) == "experiment-1"


@pytest.mark.parametrize("branch", BRANCHES)
def test_feature_branch_names_fit_at_the_worst_case(branch):
    group = naming.model_package_group(WORST_NAME, WORST_ID, branch=branch)
    pipeline = naming.pipeline(WORST_NAME, WORST_ID, branch=branch)
    assert len(group) <= naming.LIMITS["model_package_group"] and naming.SAGEMAKER_NAME.match(group)
    assert len(pipeline) <= naming.LIMITS["pipeline"] and naming.SAGEMAKER_NAME.match(pipeline)
    assert group != naming.model_package_group(WORST_NAME, WORST_ID)


def test_branch_data_prefixes_are_unique_and_share_the_branches_prefix():
    prefixes = [naming.s3_branch_prefix(WORST_NAME, branch) for branch in BRANCHES]
    assert len(set(prefixes)) == len(prefixes), prefixes
    for prefix in prefixes:
        head, slug = prefix.rsplit("/", 1)
        assert head == f"{naming.s3_prefix(WORST_NAME)}/branches"
        assert 1 <= len(slug) <= naming.MAX_BRANCH_KEY_SLUG
        assert re.fullmatch(r"[a-z0-9](-?[a-z0-9])*", slug), slug
