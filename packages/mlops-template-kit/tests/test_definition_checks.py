"""The definition reader's checks, diagram and parse on a small hand-written definition: a sound
one passes, and each rule fed something wrong names the problem."""

import copy

import pytest

from mlops_template_kit import definition

ROLE = "arn:aws:iam::123456789012:role/execution"
SOUND = {
    "Version": "2020-12-01",
    "Metadata": {},
    "Parameters": [
        {"Name": "InstanceType", "Type": "String", "DefaultValue": "ml.m5.large"},
        {"Name": "MinAuc", "Type": "Float", "DefaultValue": 0.7},
    ],
    "Steps": [
        {
            "Name": "Prepare",
            "Type": "Processing",
            "Arguments": {
                "AppSpecification": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/p:1"},
                "ProcessingResources": {
                    "ClusterConfig": {
                        "InstanceType": {"Get": "Parameters.InstanceType"},
                        "InstanceCount": 1,
                        "VolumeSizeInGB": 30,
                    }
                },
                "RoleArn": ROLE,
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {
                            "OutputName": "report",
                            "S3Output": {
                                "S3Uri": "s3://b/p/report",
                                "LocalPath": "/opt/ml/processing/report",
                                "S3UploadMode": "EndOfJob",
                            },
                        }
                    ]
                },
            },
            "PropertyFiles": [{"PropertyFileName": "Report", "OutputName": "report", "FilePath": "report.json"}],
        },
        {
            "Name": "Check",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [
                    {
                        "Type": "GreaterThanOrEqualTo",
                        "LeftValue": {
                            "Std:JsonGet": {
                                "PropertyFile": {"Get": "Steps.Prepare.PropertyFiles.Report"},
                                "Path": "auc",
                            }
                        },
                        "RightValue": {"Get": "Parameters.MinAuc"},
                    }
                ],
                "IfSteps": [],
                "ElseSteps": [{"Name": "TooLow", "Type": "Fail", "Arguments": {"ErrorMessage": "AUC below minimum"}}],
            },
        },
    ],
}


def mutated(change):
    document = copy.deepcopy(SOUND)
    change(document)
    return document


def test_a_sound_definition_has_no_problems_and_parses_in_order():
    assert definition.problems(SOUND) == []
    parsed = definition.parse(copy.deepcopy(SOUND))
    assert list(parsed.order) == ["Prepare", "Check", "TooLow"]


MUTATIONS = {
    "duplicate step name": (
        lambda d: d["Steps"][1]["Arguments"]["ElseSteps"][0].update(Name="Prepare"),
        "step name 'Prepare' is used more than once",
    ),
    "undeclared parameter": (
        lambda d: d["Parameters"].pop(1),
        "parameter 'MinAuc' is referenced but not declared",
    ),
    "default of the wrong type": (
        lambda d: d["Parameters"][1].update(DefaultValue="high"),
        "parameter 'MinAuc' default 'high' does not fit its type Float",
    ),
    "property file nobody declares": (
        lambda d: d["Steps"][0].update(PropertyFiles=[]),
        "property file 'Steps.Prepare.PropertyFiles.Report' is not declared by step 'Prepare'",
    ),
    "argument outside the API shape": (
        lambda d: d["Steps"][0]["Arguments"]["ProcessingResources"]["ClusterConfig"].update(InstanceCount="two"),
        "step 'Prepare' (CreateProcessingJob)",
    ),
    "condition type the service does not know": (
        lambda d: d["Steps"][1]["Arguments"]["Conditions"][0].update(Type="Roughly"),
        "condition",
    ),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS), ids=list(MUTATIONS))
def test_each_rule_names_what_is_wrong(mutation):
    change, expected = MUTATIONS[mutation]
    found = definition.problems(mutated(change))
    assert any(expected in problem for problem in found), found
    with pytest.raises(definition.DefinitionError):
        definition.check(mutated(change))


def test_parse_stops_at_a_reference_to_a_missing_step():
    broken = mutated(
        lambda d: d["Steps"][1]["Arguments"]["Conditions"][0]["LeftValue"]["Std:JsonGet"].update(
            PropertyFile={"Get": "Steps.Absent.PropertyFiles.Report"}
        )
    )
    with pytest.raises(definition.DefinitionError, match="Absent"):
        definition.parse(broken)


def test_the_diagram_draws_data_waits_and_labelled_branches():
    lines = definition.mermaid(SOUND).splitlines()
    assert lines[0] == "flowchart TD"
    assert "    Prepare --> Check" in lines
    assert "    Check -->|else| TooLow" in lines


def test_the_readme_block_is_read_and_rewritten():
    readme = f"# x\n\n{definition.DIAGRAM_START}\nold\n{definition.DIAGRAM_END}\n\ntail\n"
    updated = definition.with_readme_diagram(readme, "flowchart TD\n    A --> B")
    assert definition.readme_diagram(updated) == "flowchart TD\n    A --> B"
    assert updated.endswith("\n\ntail\n")
    with pytest.raises(definition.DefinitionError):
        definition.readme_diagram("# no diagram here")


def test_the_summary_lists_every_step_including_branches():
    text = definition.summarise(SOUND)
    assert text.splitlines()[0] == "parameters: InstanceType=ml.m5.large, MinAuc=0.7"
    assert "- TooLow [Fail]" in text and "    out report: s3://b/p/report" in text
