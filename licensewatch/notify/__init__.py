"""Department notices: compose them (Jinja2) and hand them to a transport (directory, …)."""
