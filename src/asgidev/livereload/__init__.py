"""Browser live reload: pages reload themselves after a code reload, stylesheets swap in place."""
