"""What the service stands on: the settings and the adapters to AWS (clients,
log lines, metrics, traces). Above the pure ground, below everything else."""
