"""Trigger service tests that share one TriggerServer per module (see conftest.py)."""
