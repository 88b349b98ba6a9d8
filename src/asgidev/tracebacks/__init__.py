"""Runtime errors shown where the developer looks: the traceback page, problem+json and text for an exception escaping the app."""
