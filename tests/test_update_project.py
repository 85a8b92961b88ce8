"""Switching a Studio project to another template version: exact calls, no-ops and refusals."""

import boto3
import pytest
from botocore.stub import Stubber

from scripts import update_project

PROJECT = "diabetes-progression"
PRODUCT = "prod-abcdefghijklm"
PARAMETERS = [{"Key": "ProblemType", "Value": "regression"}]


class FakeSession:
    """A session whose clients are stubbed; the same client is returned for every call."""

    def __init__(self, credentials=True):
        self.clients = {name: boto3.client(name, region_name="us-east-1") for name in ("sagemaker", "servicecatalog")}
        self.stubbers = {name: Stubber(client) for name, client in self.clients.items()}
        self.credentials = credentials

    def __call__(self, **_):
        return self

    def get_credentials(self):
        return object() if self.credentials else None

    def client(self, name):
        return self.clients[name]


def describe(stubber, artifact="pa-old"):
    stubber.add_response(
        "describe_project",
        {
            "ProjectArn": f"arn:aws:sagemaker:us-east-1:123456789012:project/{PROJECT}",
            "ProjectName": PROJECT,
            "ProjectId": "p-abcdefghijkl",
            "ProjectStatus": "CreateCompleted",
            "CreationTime": "2026-11-01T00:00:00Z",
            "ServiceCatalogProvisioningDetails": {
                "ProductId": PRODUCT,
                "ProvisioningArtifactId": artifact,
                "ProvisioningParameters": PARAMETERS,
            },
        },
        {"ProjectName": PROJECT},
    )


def artifacts(stubber, active=True):
    stubber.add_response(
        "list_provisioning_artifacts",
        {
            "ProvisioningArtifactDetails": [
                {"Id": "pa-old", "Name": "1.0.0", "Active": True},
                {"Id": "pa-new", "Name": "1.1.0", "Active": active},
            ]
        },
        {"ProductId": PRODUCT},
    )


def run(session, *argv):
    for stubber in session.stubbers.values():
        stubber.activate()
    code = update_project.main(["--project", PROJECT, *argv], session_factory=session)
    for stubber in session.stubbers.values():
        stubber.assert_no_pending_responses()
    return code


def test_update_switches_the_artifact_and_keeps_the_parameters(capsys):
    session = FakeSession()
    describe(session.stubbers["sagemaker"])
    artifacts(session.stubbers["servicecatalog"])
    session.stubbers["sagemaker"].add_response(
        "update_project",
        {"ProjectArn": f"arn:aws:sagemaker:us-east-1:123456789012:project/{PROJECT}"},
        {
            "ProjectName": PROJECT,
            "ServiceCatalogProvisioningUpdateDetails": {
                "ProvisioningArtifactId": "pa-new",
                "ProvisioningParameters": PARAMETERS,
            },
        },
    )
    assert run(session, "--version", "1.1.0") == 0
    assert "pa-old -> pa-new (1.1.0)" in capsys.readouterr().out


def test_dry_run_makes_no_update_call(capsys):
    session = FakeSession()
    describe(session.stubbers["sagemaker"])
    artifacts(session.stubbers["servicecatalog"])
    assert run(session, "--version", "1.1.0", "--dry-run") == 0
    assert "pa-old -> pa-new" in capsys.readouterr().out


def test_the_same_version_is_a_no_op(capsys):
    session = FakeSession()
    describe(session.stubbers["sagemaker"], artifact="pa-new")
    artifacts(session.stubbers["servicecatalog"])
    assert run(session, "--version", "1.1.0") == 0
    assert "already uses version 1.1.0" in capsys.readouterr().out


@pytest.mark.parametrize(
    "version,active,message",
    [
        ("2.0.0", True, "version 2.0.0 is not published for this project's product; published: 1.0.0, 1.1.0"),
        ("1.1.0", False, "version 1.1.0 is deactivated (deprecated); choose an active version"),
    ],
)
def test_unknown_or_deprecated_versions_are_refused_in_one_line(capsys, version, active, message):
    session = FakeSession()
    describe(session.stubbers["sagemaker"])
    artifacts(session.stubbers["servicecatalog"], active=active)
    assert run(session, "--version", version) == 1
    assert capsys.readouterr().err == f"error: update of {PROJECT} stopped: {message}\n"


def test_an_aws_error_is_one_line(capsys):
    session = FakeSession()
    session.stubbers["sagemaker"].add_client_error("describe_project", "ValidationException", "Project not found")
    assert run(session, "--version", "1.1.0") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ValidationException: Project not found" in err


def test_without_credentials_nothing_is_called(capsys):
    assert update_project.main(["--project", PROJECT, "--version", "1.1.0"], FakeSession(credentials=False)) == 2
    assert "needs AWS credentials" in capsys.readouterr().err


def test_a_malformed_version_is_refused(capsys):
    assert update_project.main(["--project", PROJECT, "--version", "latest"], FakeSession()) == 1
    assert "use MAJOR.MINOR.PATCH" in capsys.readouterr().err


TRACKING_SERVER = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/sagemaker-p-abcdefghijkl-mlflow"


def expect_update(stubber, artifact: str, parameters: list[dict]) -> None:
    stubber.add_response(
        "update_project",
        {"ProjectArn": f"arn:aws:sagemaker:us-east-1:123456789012:project/{PROJECT}"},
        {
            "ProjectName": PROJECT,
            "ServiceCatalogProvisioningUpdateDetails": {
                "ProvisioningArtifactId": artifact,
                "ProvisioningParameters": parameters,
            },
        },
    )


def test_a_parameter_is_set_and_every_other_one_is_sent_unchanged(capsys):
    """A server created after the project (mlflow-tracking-server.yaml) reaches its product this way,
    also on the version the project already uses."""
    session = FakeSession()
    describe(session.stubbers["sagemaker"], artifact="pa-new")
    artifacts(session.stubbers["servicecatalog"])
    expect_update(
        session.stubbers["sagemaker"],
        "pa-new",
        [*PARAMETERS, {"Key": "MlflowTrackingServerArn", "Value": TRACKING_SERVER}],
    )
    assert run(session, "--version", "1.1.0", "--parameter", f"MlflowTrackingServerArn={TRACKING_SERVER}") == 0
    assert "parameter MlflowTrackingServerArn" in capsys.readouterr().out


def test_a_given_parameter_replaces_its_current_value():
    session = FakeSession()
    describe(session.stubbers["sagemaker"])
    artifacts(session.stubbers["servicecatalog"])
    expect_update(session.stubbers["sagemaker"], "pa-new", [{"Key": "ProblemType", "Value": "classification"}])
    assert run(session, "--version", "1.1.0", "--parameter", "ProblemType=classification") == 0


def test_a_parameter_already_at_its_value_on_the_same_version_is_a_no_op(capsys):
    session = FakeSession()
    describe(session.stubbers["sagemaker"], artifact="pa-new")
    artifacts(session.stubbers["servicecatalog"])
    assert run(session, "--version", "1.1.0", "--parameter", "ProblemType=regression") == 0
    assert "already uses version 1.1.0" in capsys.readouterr().out


def test_a_parameter_without_a_value_is_refused_before_any_call(capsys):
    assert (
        update_project.main(
            ["--project", PROJECT, "--version", "1.1.0", "--parameter", "MlflowTrackingServerArn"], FakeSession()
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected KEY=VALUE" in err
