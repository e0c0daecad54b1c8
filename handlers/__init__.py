"""HTTP and CLI in and out: the Flask app factory, its blueprints and the commands."""
