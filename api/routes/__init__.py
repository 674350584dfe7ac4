"""The routers, one module per resource."""
