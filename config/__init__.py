"""backbeat's shipped tables and defaults (TOML), found with ``importlib.resources`` so they load from
a wheel and from a checkout alike. A file of the same name in the user's config folder replaces one."""
