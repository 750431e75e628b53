"""API plumbing shared by every app: bearer authentication, role permission, error handler."""
