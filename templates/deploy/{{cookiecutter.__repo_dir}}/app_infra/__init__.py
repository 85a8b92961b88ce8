"""The team's deploy code: CloudFormation stacks, the Lambda handler, the batch inference pipeline.

The machinery that builds and deploys them is the kit's (mlops_template_kit.deploy)."""
