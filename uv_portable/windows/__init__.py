"""Windows venvs: detect, plan, rewrite launchers, resolve DLLs, check (also under Wine)."""
