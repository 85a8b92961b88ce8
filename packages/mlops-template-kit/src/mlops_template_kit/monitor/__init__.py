"""Local model monitoring: Model Monitor's capture, data-quality and model-quality formats, computed
on this machine (`mlops-kit monitor`), and what a violation starts (`on_drift`)."""
