"""Redis: clients from settings, every key name, the auto-pipeline and the run queue's
producer."""
