"""authz.template: reading CloudFormation the way the harness needs it (Fn::ForEach, policies)."""

from __future__ import annotations

import textwrap

import yaml

from authz.template import CfnLoader, live_resources, managed_policies, resolve

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


def test_short_form_get_att_is_split_on_the_first_dot():
    template = yaml.load(
        textwrap.dedent(
            """
            Resources:
              Role: {Type: AWS::IAM::Role}
              Db: {Type: AWS::RDS::DBInstance}
            Outputs:
              Short: {Value: !GetAtt Role.Arn}
              Dotted: {Value: !GetAtt Db.Endpoint.Address}
              Long: {Value: {"Fn::GetAtt": [Role, Arn]}}
            """
        ),
        Loader=CfnLoader,
    )
    outputs = resolve(template["Outputs"], template, {})
    assert outputs == {
        "Short": {"Value": "Role.Arn"},
        "Dotted": {"Value": "Db.Endpoint.Address"},
        "Long": {"Value": "Role.Arn"},
    }
