"""The local stand-in for Athena dataset inputs: the query runs in SQLite over CSV tables in the
emulator, its result reaches the step as gzip JSON Lines and stays at OutputS3Uri, and what the
stand-in cannot do stops the step with one line."""

import gzip
import json

import boto3
import pytest

from tests.local_run_fixtures import support

TABLES = f"{support.PREFIX}/input/"
CLUSTER = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}
RESULTS = f"{support.PREFIX}/ml-pipeline-outputs/local/Summarise/athena-results/"
# Reads every query result file the input delivered and writes the records it saw as one JSON array.
SCRIPT = """
import gzip, json, pathlib, sys
records = []
for path in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    records += [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]
out = pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
(out / "records.json").write_text(json.dumps(records))
"""


def definition(query: str, catalog: str = "AwsDataCatalog") -> dict:
    """One processing step whose data input is an Athena query (the shape CreateProcessingJob takes)."""
    athena = {
        "Catalog": catalog,
        "Database": "lake",
        "QueryString": {"Get": "Parameters.AthenaQuery"},
        "WorkGroup": "primary",
        "OutputS3Uri": RESULTS,
        "OutputFormat": "JSON",
        "OutputCompression": "GZIP",
    }
    code = {
        "S3Uri": f"{support.PREFIX}/code/summarise.py",
        "LocalPath": "/opt/ml/processing/input/code",
        "S3DataType": "S3Prefix",
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
    }
    step = {
        "Name": "Summarise",
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {"ClusterConfig": CLUSTER},
            "AppSpecification": {
                "ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/summarise.py"],
                "ContainerArguments": ["/opt/ml/processing/input/data", "/opt/ml/processing/output/summary"],
            },
            "RoleArn": "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsUseRole",
            "ProcessingInputs": [
                {
                    "InputName": "data",
                    "DatasetDefinition": {
                        "AthenaDatasetDefinition": athena,
                        "LocalPath": "/opt/ml/processing/input/data",
                        "DataDistributionType": "FullyReplicated",
                        "InputMode": "File",
                    },
                },
                {"InputName": "code", "S3Input": code},
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "summary",
                        "S3Output": {
                            "S3Uri": f"{support.PREFIX}/ml-pipeline-outputs/local/Summarise/summary",
                            "LocalPath": "/opt/ml/processing/output/summary",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        },
    }
    parameters = [{"Name": "AthenaQuery", "Type": "String", "DefaultValue": query}]
    return {"Version": "2020-12-01", "Metadata": {}, "Parameters": parameters, "Steps": [step]}


@pytest.fixture
def s3(monkeypatch):
    """An emulator holding table `data` (x, y, group) and the step's script."""
    monkeypatch.setenv("LOCAL_ATHENA_TABLES", TABLES)
    with support.emulator():
        client = boto3.client("s3", region_name="us-east-1")
        support.seed_bucket(client)
        client.put_object(Bucket=support.BUCKET, Key="proj/code/summarise.py", Body=SCRIPT.encode())
        yield client


def run(capsys, tmp_path, document: dict, *extra: str) -> tuple[int, str, str]:
    path = support.write(tmp_path / "athena.json", document)
    code = support.main(["--definition", str(path), "--work-dir", str(tmp_path / "work"), "--no-cache", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def read_json(s3, key: str):
    return json.loads(s3.get_object(Bucket=support.BUCKET, Key=key)["Body"].read())


def test_the_query_runs_over_the_csv_table_and_its_result_reaches_the_step(s3, capsys, tmp_path):
    query = 'SELECT "group", COUNT(*) AS n, MIN(x) AS first_x FROM "lake"."data" WHERE x >= 1 GROUP BY "group"'
    code, out, err = run(capsys, tmp_path, definition(query))
    assert code == 0, out + err
    records = read_json(s3, "proj/ml-pipeline-outputs/local/Summarise/summary/records.json")
    # sample_rows: x = index / 4 for 40 rows, group alternating a/b; x >= 1 keeps rows 4..39.
    assert sorted(records, key=lambda row: row["group"]) == [
        {"group": "a", "n": 18, "first_x": 1.0},
        {"group": "b", "n": 18, "first_x": 1.25},
    ]
    (result,) = s3.list_objects_v2(Bucket=support.BUCKET, Prefix=RESULTS.split("/", 3)[3])["Contents"]
    body = s3.get_object(Bucket=support.BUCKET, Key=result["Key"])["Body"].read()
    assert [json.loads(line) for line in gzip.decompress(body).decode().splitlines()] == records


def test_an_unqualified_table_name_resolves_in_the_querys_database(s3, capsys, tmp_path):
    code, out, err = run(capsys, tmp_path, definition('SELECT * FROM "data"'))
    assert code == 0, out + err
    records = read_json(s3, "proj/ml-pipeline-outputs/local/Summarise/summary/records.json")
    assert len(records) == 40 and set(records[0]) == {"x", "y", "group"}
    assert isinstance(records[0]["y"], float) and records[1]["group"] == "b"


@pytest.mark.parametrize(
    "document, message",
    [
        (definition("SELECT nope FROM data"), "the query does not run on the local SQLite stand-in of Athena"),
        (definition("SELECT * FROM data", catalog="hive"), "only the AwsDataCatalog catalog has a local stand-in"),
    ],
    ids=["bad-query", "other-catalog"],
)
def test_what_the_stand_in_cannot_run_stops_the_step_in_one_line(s3, capsys, tmp_path, document, message):
    code, _, err = run(capsys, tmp_path, document)
    assert code == 1
    (line,) = [line for line in err.splitlines() if line.startswith("Pipeline failed")]
    assert f"step Summarise: input data: {message}" in line


def test_without_csv_tables_the_step_says_where_it_looked(s3, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LOCAL_ATHENA_TABLES", f"{support.PREFIX}/no-tables-here/")
    code, _, err = run(capsys, tmp_path, definition("SELECT * FROM data"))
    assert code == 1
    assert f"no CSV file under {support.PREFIX}/no-tables-here/ to stand in for the tables of lake" in err


def test_a_given_definition_without_the_tables_variable_says_what_to_set(s3, capsys, tmp_path, monkeypatch):
    # The kit is not inside a repository: only `local-run` without --definition knows its input prefix.
    monkeypatch.delenv("LOCAL_ATHENA_TABLES")
    code, _, err = run(capsys, tmp_path, definition("SELECT * FROM data"))
    assert code != 0
    assert "set LOCAL_ATHENA_TABLES to the S3 prefix" in err
