"""Lambda plumbing shared by the functions: settings from the environment, wiring of real adapters,
logging and metrics, deadlines, batch answers and the webhook gate."""
