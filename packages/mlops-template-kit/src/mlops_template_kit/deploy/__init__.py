"""Deploy machinery of the generated deploy repositories: configs, build, deploy, stage access."""
