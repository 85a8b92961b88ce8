"""Known answers for authz.evaluate, from the IAM documentation, and checks against the snapshots.

Sources (each case names the rule it checks):
[EVAL] https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
[COND] https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
[MULTI] https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
[DENIES] https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html
[BOUND] https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
[ACTION] https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
[RESOURCE] https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
[VARS] https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
"""

from __future__ import annotations

import pytest

from authz.evaluate import Request, decide
from authz.policies import managed

BUCKET = "arn:aws:s3:::example-bucket"
OBJECT = "arn:aws:s3:::example-bucket/key"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def allowed(policies, action, resource="*", context=None, boundary=None) -> bool:
    return decide(policies, Request(action, resource, context or {}), boundary).allowed


# --- decision order [EVAL] -------------------------------------------------------------------------


def test_nothing_granted_is_an_implicit_deny():
    decision = decide([policy(allow("s3:GetObject", OBJECT))], Request("s3:PutObject", OBJECT, {}))
    assert not decision.allowed
    assert decision.reason.startswith("implicit deny")


def test_explicit_deny_beats_an_allow_in_another_policy():
    policies = [policy(allow("s3:*")), policy(deny("s3:DeleteObject", OBJECT))]
    decision = decide(policies, Request("s3:DeleteObject", OBJECT, {}))
    assert not decision.allowed
    assert decision.reason.startswith("explicit deny")
    assert allowed(policies, "s3:GetObject", OBJECT)


def test_explicit_deny_beats_an_allow_in_the_same_policy():
    assert not allowed([policy(allow("*"), deny("iam:*"))], "iam:CreateRole")


def test_the_docs_get_list_with_deny_reports_example():
    # [DENIES]: AllowGetList grants iam:Get*/List*, DenyReports denies actions ending in Report;
    # iam:CreatePolicy is implicitly denied and a later grant of a report action cannot override.
    example = policy(
        {"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
        {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"},
    )
    later = policy(allow("iam:GenerateCredentialReport"))
    assert allowed([example], "iam:GetRole", "arn:aws:iam::111122223333:role/x")
    assert decide([example], Request("iam:CreatePolicy", "*")).reason.startswith("implicit deny")
    denied = decide([example, later], Request("iam:GenerateCredentialReport", "*"))
    assert not denied.allowed and "DenyReports" in denied.reason
    assert not allowed([example], "iam:GetOrganizationsAccessReport")


def test_a_boundary_blocks_what_the_identity_policy_allows():
    identity = [policy(allow("*"))]
    boundary = policy(allow("s3:*"))
    assert allowed(identity, "s3:GetObject", OBJECT, boundary=boundary)
    decision = decide(identity, Request("iam:CreateRole", "*", {}), boundary)
    assert not decision.allowed
    assert "boundary" in decision.reason


def test_a_boundary_alone_grants_nothing():
    assert not allowed([policy(allow("s3:GetObject"))], "s3:PutObject", OBJECT, boundary=policy(allow("*")))


def test_a_deny_in_the_boundary_wins():
    assert not allowed([policy(allow("*"))], "s3:GetObject", OBJECT, boundary=policy(allow("*"), deny("s3:*")))


# --- Action / NotAction [ACTION] -----------------------------------------------------------------


def test_actions_match_case_insensitively_and_with_wildcards():
    assert allowed([policy(allow("S3:getobject"))], "s3:GetObject", OBJECT)
    assert allowed([policy(allow("s3:Get*"))], "s3:GetObjectVersion", OBJECT)
    assert allowed([policy(allow("s3:Get?bject"))], "s3:GetObject", OBJECT)
    assert not allowed([policy(allow("s3:Get*"))], "s3:PutObject", OBJECT)


def test_notaction_with_allow_grants_everything_else_and_nothing_listed():
    statement = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert allowed([policy(statement)], "s3:GetObject", OBJECT)
    assert not allowed([policy(statement)], "iam:CreateRole")


def test_notaction_with_deny_denies_everything_else():
    statements = [allow("*"), {"Effect": "Deny", "NotAction": ["s3:*", "sts:*"], "Resource": "*"}]
    assert allowed([policy(*statements)], "s3:GetObject", OBJECT)
    assert not allowed([policy(*statements)], "ec2:RunInstances")


# --- Resource / NotResource [RESOURCE] ---------------------------------------------------------------


def test_notresource_allows_everything_but_the_listed_resources():
    statement = {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret*"}
    assert allowed([policy(statement)], "s3:GetObject", OBJECT)
    assert not allowed([policy(statement)], "s3:GetObject", "arn:aws:s3:::secret-bucket/key")


def test_resource_wildcards_do_not_cross_partitions():
    grant = [policy(allow("s3:GetObject", "arn:aws:s3:::*"))]
    assert allowed(grant, "s3:GetObject", OBJECT)
    assert not allowed(grant, "s3:GetObject", "arn:aws-cn:s3:::example-bucket/key")
    assert not allowed(grant, "s3:GetObject", "arn:aws-us-gov:s3:::example-bucket/key")


def test_resources_match_case_sensitively():
    # principalmapper matches resources case-insensitively; IAM does not [RESOURCE].
    grant = [policy(allow("s3:PutObject", "arn:aws:s3:::sagemaker-*"))]
    assert allowed(grant, "s3:PutObject", "arn:aws:s3:::sagemaker-x/key")
    assert not allowed(grant, "s3:PutObject", "arn:aws:s3:::SageMaker-x/key")


def test_a_star_inside_a_segment_does_not_cross_colons_but_a_trailing_one_does():
    # [RESOURCE]: "If the * wildcard is the last character of a resource ARN segment, it can expand
    # to match beyond the colon boundaries."
    inside = [policy(allow("logs:PutLogEvents", "arn:aws:logs:us-east-1:*-x:log-group:g"))]
    assert allowed(inside, "logs:PutLogEvents", "arn:aws:logs:us-east-1:1-x:log-group:g")
    assert not allowed(inside, "logs:PutLogEvents", "arn:aws:logs:us-east-1:1:2-x:log-group:g")
    trailing = [policy(allow("logs:PutLogEvents", "arn:aws:logs:us-east-1:111122223333:log-group:*"))]
    assert allowed(trailing, "logs:PutLogEvents", "arn:aws:logs:us-east-1:111122223333:log-group:g:log-stream:s")


def test_regex_characters_in_names_are_literal():
    # IAM names may contain + = , . @ _ - (role names); principalmapper reads them as regex syntax.
    grant = [policy(allow("iam:PassRole", "arn:aws:iam::111122223333:role/team+ml"))]
    assert allowed(grant, "iam:PassRole", "arn:aws:iam::111122223333:role/team+ml")
    assert not allowed(grant, "iam:PassRole", "arn:aws:iam::111122223333:role/teammml")
    like = allow("s3:GetObject", Condition={"StringLike": {"aws:PrincipalTag/team": "[ml]*"}})
    assert allowed([policy(like)], "s3:GetObject", OBJECT, {"aws:PrincipalTag/team": "[ml]-core"})
    assert not allowed([policy(like)], "s3:GetObject", OBJECT, {"aws:PrincipalTag/team": "m"})


def test_policy_variables_are_replaced_in_resources_and_condition_values():
    statement = allow("s3:GetObject", "arn:aws:s3:::home-${aws:PrincipalAccount}/*")
    context = {"aws:PrincipalAccount": "111122223333"}
    assert allowed([policy(statement)], "s3:GetObject", "arn:aws:s3:::home-111122223333/x", context)
    assert not allowed([policy(statement)], "s3:GetObject", "arn:aws:s3:::home-444455556666/x", context)
    same_account = allow("s3:GetObject", Condition={"StringEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}})
    assert allowed([policy(same_account)], "s3:GetObject", OBJECT, {**context, "aws:ResourceAccount": "111122223333"})
    assert not allowed(
        [policy(same_account)], "s3:GetObject", OBJECT, {**context, "aws:ResourceAccount": "444455556666"}
    )


def test_a_variable_with_no_value_matches_nothing_unless_it_has_a_default():
    statement = allow("s3:GetObject", "arn:aws:s3:::home-${aws:PrincipalTag/team}/*")
    assert not allowed([policy(statement)], "s3:GetObject", "arn:aws:s3:::home-/x")
    assert not allowed([policy(statement)], "s3:GetObject", "arn:aws:s3:::home-${aws:PrincipalTag/team}/x")
    defaulted = allow("s3:GetObject", "arn:aws:s3:::home-${aws:PrincipalTag/team, 'shared'}/*")
    assert allowed([policy(defaulted)], "s3:GetObject", "arn:aws:s3:::home-shared/x")


# --- condition operators [COND] [MULTI] -------------------------------------------------------------


def test_string_equals_is_case_sensitive_and_ignorecase_is_not():
    exact = allow("s3:GetObject", Condition={"StringEquals": {"aws:PrincipalTag/team": "ML"}})
    loose = allow("s3:GetObject", Condition={"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "ML"}})
    assert allowed([policy(exact)], "s3:GetObject", OBJECT, {"aws:PrincipalTag/team": "ML"})
    assert not allowed([policy(exact)], "s3:GetObject", OBJECT, {"aws:PrincipalTag/team": "ml"})
    assert allowed([policy(loose)], "s3:GetObject", OBJECT, {"aws:PrincipalTag/team": "ml"})


def test_condition_keys_match_case_insensitively():
    statement = allow("s3:GetObject", Condition={"StringEquals": {"aws:PrincipalTag/team": "ml"}})
    assert allowed([policy(statement)], "s3:GetObject", OBJECT, {"AWS:principaltag/team": "ml"})


def test_string_like_and_arn_like_wildcards():
    like = allow("iam:PassRole", Condition={"StringLike": {"iam:PassedToService": "sage*.amazonaws.com"}})
    assert allowed([policy(like)], "iam:PassRole", "*", {"iam:PassedToService": "sagemaker.amazonaws.com"})
    assert not allowed([policy(like)], "iam:PassRole", "*", {"iam:PassedToService": "lambda.amazonaws.com"})
    arn = allow("s3:GetObject", Condition={"ArnLike": {"aws:SourceArn": "arn:aws:codebuild:*:*:project/sagemaker-*"}})
    source = "arn:aws:codebuild:us-east-1:111122223333:project/sagemaker-x"
    assert allowed([policy(arn)], "s3:GetObject", OBJECT, {"aws:SourceArn": source})
    assert not allowed([policy(arn)], "s3:GetObject", OBJECT, {"aws:SourceArn": source.replace("sagemaker", "other")})


def test_arn_like_is_case_sensitive_and_matches_segment_by_segment():
    # [COND] ARN condition operators: case-sensitive, each of the six components checked separately.
    statement = allow("s3:GetObject", Condition={"ArnLike": {"aws:SourceArn": "arn:aws:iam::*:role/Team*"}})
    assert allowed([policy(statement)], "s3:GetObject", OBJECT, {"aws:SourceArn": "arn:aws:iam::1:role/TeamA"})
    assert not allowed([policy(statement)], "s3:GetObject", OBJECT, {"aws:SourceArn": "arn:aws:iam::1:role/teamA"})
    # `*` in the account component cannot swallow the following colon-delimited components.
    spanning = allow("s3:GetObject", Condition={"ArnLike": {"aws:SourceArn": "arn:aws:*:role/x"}})
    assert not allowed([policy(spanning)], "s3:GetObject", OBJECT, {"aws:SourceArn": "arn:aws:iam::1:role/x"})
    not_like = deny("s3:GetObject", Condition={"ArnNotLike": {"aws:SourceArn": "arn:aws:iam::*:role/Team*"}})
    policies = [policy(allow("*"), not_like)]
    assert allowed(policies, "s3:GetObject", OBJECT, {"aws:SourceArn": "arn:aws:iam::1:role/TeamA"})
    assert not allowed(policies, "s3:GetObject", OBJECT, {"aws:SourceArn": "arn:aws:iam::1:role/teamA"})


def test_a_missing_key_fails_a_positive_operator():
    statement = allow("s3:GetObject", Condition={"StringEquals": {"aws:PrincipalTag/team": "ml"}})
    assert not allowed([policy(statement)], "s3:GetObject", OBJECT)


def test_a_missing_key_satisfies_a_negated_operator():
    # [COND]: "If the policy condition requires that the key is not matched, such as StringNotLike or
    # ArnNotLike, and the right key is not present, the condition is true." principalmapper says
    # false for StringNotLike.
    for operator in ("StringNotLike", "StringNotEquals", "ArnNotLike"):
        statement = deny("s3:GetObject", Condition={operator: {"aws:SourceArn": "arn:aws:s3:::x*"}})
        assert not allowed([policy(allow("*"), statement)], "s3:GetObject", OBJECT), operator


def test_ifexists_is_true_when_the_key_is_missing_and_checked_when_present():
    statement = allow(
        "cloudformation:CreateStack",
        Condition={"ArnLikeIfExists": {"cloudformation:RoleArn": "arn:aws:iam::*:role/allowed-*"}},
    )
    assert allowed([policy(statement)], "cloudformation:CreateStack")
    assert allowed(
        [policy(statement)],
        "cloudformation:CreateStack",
        context={"cloudformation:RoleArn": "arn:aws:iam::111122223333:role/allowed-x"},
    )
    assert not allowed(
        [policy(statement)],
        "cloudformation:CreateStack",
        context={"cloudformation:RoleArn": "arn:aws:iam::111122223333:role/admin"},
    )


def test_forallvalues_is_true_when_the_key_is_missing():
    # [MULTI]: ForAllValues "returns true if ... there are no keys in the request" - the docs' pitfall.
    statement = allow("sagemaker:AddTags", Condition={"ForAllValues:StringLike": {"aws:TagKeys": "sagemaker:*"}})
    assert allowed([policy(statement)], "sagemaker:AddTags")
    assert allowed([policy(statement)], "sagemaker:AddTags", context={"aws:TagKeys": []})
    assert allowed([policy(statement)], "sagemaker:AddTags", context={"aws:TagKeys": ["sagemaker:a", "sagemaker:b"]})
    assert not allowed([policy(statement)], "sagemaker:AddTags", context={"aws:TagKeys": ["sagemaker:a", "team"]})


def test_forallvalues_string_not_like_deny_from_the_docs_table():
    # The IAM docs' multivalued example "DenyRestrictedTags": ForAllValues:StringNotLike
    # {"aws:TagKeys": "key1*"} on a Deny; its table of request contexts and results:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html
    statement = deny("iam:Tag*", Condition={"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}})
    policies = [policy(allow("*"), statement)]
    assert allowed(policies, "iam:TagRole", context={"aws:TagKeys": ["key1:legal"]})
    assert allowed(policies, "iam:TagRole", context={"aws:TagKeys": ["key1:hr", "key1:personnel"]})
    assert not allowed(policies, "iam:TagRole", context={"aws:TagKeys": ["key2:audit"]})
    assert not allowed(policies, "iam:TagRole")


def test_foranyvalue_is_false_when_the_key_is_missing():
    statement = allow("apigateway:POST", Condition={"ForAnyValue:StringLike": {"aws:TagKeys": "sagemaker:*"}})
    assert not allowed([policy(statement)], "apigateway:POST")
    assert allowed([policy(statement)], "apigateway:POST", context={"aws:TagKeys": ["team", "sagemaker:a"]})
    assert not allowed([policy(statement)], "apigateway:POST", context={"aws:TagKeys": ["team"]})


def test_every_key_of_a_foranyvalue_block_must_match():
    # [COND]: several keys in one condition operator are ANDed. principalmapper ORs them for ForAnyValue.
    block = {"ForAnyValue:StringEquals": {"aws:TagKeys": "a", "aws:CalledVia": "cloudformation.amazonaws.com"}}
    statement = allow("s3:PutObject", Condition=block)
    assert not allowed([policy(statement)], "s3:PutObject", OBJECT, {"aws:TagKeys": ["a"]})
    both = {"aws:TagKeys": ["a"], "aws:CalledVia": ["cloudformation.amazonaws.com"]}
    assert allowed([policy(statement)], "s3:PutObject", OBJECT, both)


def test_null_checks_whether_the_key_is_present():
    must_be_tagged = allow("s3:GetObject", Condition={"Null": {"aws:ResourceTag/project": "false"}})
    must_be_absent = allow("s3:GetObject", Condition={"Null": {"aws:ResourceTag/project": "true"}})
    tagged = {"aws:ResourceTag/project": "p-1"}
    assert allowed([policy(must_be_tagged)], "s3:GetObject", OBJECT, tagged)
    assert not allowed([policy(must_be_tagged)], "s3:GetObject", OBJECT)
    assert allowed([policy(must_be_absent)], "s3:GetObject", OBJECT)
    assert not allowed([policy(must_be_absent)], "s3:GetObject", OBJECT, tagged)


def test_bool_accepts_json_booleans_and_strings():
    for value in ("false", False):
        statement = deny("s3:*", Condition={"Bool": {"aws:SecureTransport": value}})
        policies = [policy(allow("*"), statement)]
        assert not allowed(policies, "s3:GetObject", OBJECT, {"aws:SecureTransport": "false"}), value
        assert allowed(policies, "s3:GetObject", OBJECT, {"aws:SecureTransport": "true"}), value


def test_date_conditions_accept_dates_without_a_zone_and_epoch_seconds():
    # [COND] Date operators: ISO 8601 or epoch; principalmapper raises TypeError on a date without a zone.
    for limit in ("2026-01-01", "2026-01-01T00:00:00Z", "1767225600"):
        statement = allow("s3:GetObject", Condition={"DateLessThan": {"aws:CurrentTime": limit}})
        assert allowed([policy(statement)], "s3:GetObject", OBJECT, {"aws:CurrentTime": "2025-12-31T23:59:59Z"}), limit
        assert not allowed([policy(statement)], "s3:GetObject", OBJECT, {"aws:CurrentTime": "2026-01-01T00:00:01Z"})
        assert not allowed([policy(statement)], "s3:GetObject", OBJECT), limit


def test_numeric_and_ip_conditions():
    small = allow("s3:ListBucket", BUCKET, Condition={"NumericLessThanEquals": {"s3:max-keys": 10}})
    assert allowed([policy(small)], "s3:ListBucket", BUCKET, {"s3:max-keys": "10"})
    assert not allowed([policy(small)], "s3:ListBucket", BUCKET, {"s3:max-keys": "11"})
    office = allow("s3:GetObject", Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})
    assert allowed([policy(office)], "s3:GetObject", OBJECT, {"aws:SourceIp": "203.0.113.7"})
    assert not allowed([policy(office)], "s3:GetObject", OBJECT, {"aws:SourceIp": "198.51.100.7"})


def test_every_condition_operator_of_a_statement_must_match():
    statement = allow(
        "iam:PassRole",
        Condition={
            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"},
            "StringLike": {"aws:PrincipalTag/team": "ml-*"},
        },
    )
    assert allowed(
        [policy(statement)],
        "iam:PassRole",
        context={"iam:PassedToService": "sagemaker.amazonaws.com", "aws:PrincipalTag/team": "ml-a"},
    )
    assert not allowed([policy(statement)], "iam:PassRole", context={"iam:PassedToService": "sagemaker.amazonaws.com"})


# --- the real snapshots --------------------------------------------------------------------------------

LAUNCH = "AmazonSageMakerAdmin-ServiceCatalogProductsServiceRolePolicy"
SAGEMAKER_ARN = "arn:aws:sagemaker:us-east-1:111122223333:"


@pytest.mark.parametrize(
    "action",
    ["s3:PutBucketVersioning", "s3:PutLifecycleConfiguration", "s3:PutBucketOwnershipControls"],
)
def test_launch_role_cannot_configure_what_the_product_bucket_used_to_set(action):
    assert not allowed([managed(LAUNCH)], action, "arn:aws:s3:::sagemaker-project-p-x")


def test_launch_role_can_set_the_product_bucket_policy():
    assert allowed([managed(LAUNCH)], "s3:PutBucketPolicy", "arn:aws:s3:::sagemaker-project-p-x")
    assert not allowed([managed(LAUNCH)], "s3:PutBucketPolicy", "arn:aws:s3:::other-bucket")


def test_launch_role_cannot_create_model_package_groups():
    assert not allowed([managed(LAUNCH)], "sagemaker:CreateModelPackageGroup", SAGEMAKER_ARN + "model-package-group/x")


def test_launch_role_tags_pipelines_only_with_sagemaker_keys_and_never_code_repositories():
    pipeline = SAGEMAKER_ARN + "pipeline/sagemaker-x"
    assert allowed([managed(LAUNCH)], "sagemaker:AddTags", pipeline, {"aws:TagKeys": ["sagemaker:project-id"]})
    assert not allowed(
        [managed(LAUNCH)], "sagemaker:AddTags", pipeline, {"aws:TagKeys": ["sagemaker:project-id", "team"]}
    )
    repository = SAGEMAKER_ARN + "code-repository/sagemaker-x"
    assert not allowed([managed(LAUNCH)], "sagemaker:AddTags", repository, {"aws:TagKeys": ["sagemaker:project-id"]})


def test_sagemaker_full_access_writes_buckets_named_sagemaker_but_not_the_release_bucket():
    full = [managed("AmazonSageMakerFullAccess")]
    assert allowed(full, "s3:PutObject", "arn:aws:s3:::sagemaker-templates-1-us-east-1/x")
    assert not allowed(full, "s3:PutObject", "arn:aws:s3:::mlops-project-templates-1-us-east-1/x")
