"""Platform-team commands: demo, benchmarks, CloudFormation lint, packaging and publishing."""
