"""authz.template: reading CloudFormation the way the harness needs it (Fn::ForEach, policies)."""

from __future__ import annotations

import textwrap

import yaml

from authz.template import CfnLoader, live_resources, managed_policies

LOOPED = textwrap.dedent(
    """
    Transform: AWS::LanguageExtensions
    Parameters:
      Readers: {Type: CommaDelimitedList}
      Enabled: {Type: String, Default: "yes"}
    Conditions:
      On: !Equals [!Ref Enabled, "yes"]
    Resources:
      Fn::ForEach::ReaderPolicies:
        - Reader
        - !Ref Readers
        - Read&{Reader}:
            Type: AWS::IAM::ManagedPolicy
            Condition: On
            Properties:
              Roles: [!Ref Reader]
              PolicyDocument:
                Version: "2012-10-17"
                Statement:
                  - Effect: Allow
                    Action: s3:GetObject
                    Resource: !Sub "arn:${AWS::Partition}:s3:::bucket/${Reader}/*"
    """
)


def test_for_each_expands_per_item_with_alphanumeric_keys_and_bound_references():
    template = yaml.load(LOOPED, Loader=CfnLoader)
    values = {"AWS::Partition": "aws", "Readers": "team-a,team_b", "Enabled": "yes"}
    resources = live_resources(template, values)
    assert set(resources) == {"Readteama", "Readteamb"}
    policies = {p.logical_id: p for p in managed_policies(template, {"Readers": "team-a,team_b"})}
    assert policies["Readteama"].roles == ["team-a"]
    assert policies["Readteamb"].document["Statement"][0]["Resource"] == "arn:aws:s3:::bucket/team_b/*"


def test_conditions_still_apply_to_expanded_resources():
    template = yaml.load(LOOPED, Loader=CfnLoader)
    assert managed_policies(template, {"Readers": "team-a", "Enabled": "no"}) == []
