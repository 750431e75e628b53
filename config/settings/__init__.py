"""Settings modules: base (shared), local (make run), test (make test), production (docker-compose)."""
