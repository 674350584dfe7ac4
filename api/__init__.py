"""The HTTP API and the `ratify` command line: the service's entry points."""
