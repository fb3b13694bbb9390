"""Code shared by the DAGs, importable as ``include.<package>`` (Astro project layout)."""
