"""HTTP entry point: flask-smorest blueprints over the use cases."""
