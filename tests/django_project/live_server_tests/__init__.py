"""Tests run inside the test project by tests/test_django_live_server.py, in their own pytest process."""
