"""Allow ``python -m uv_portable``."""

from uv_portable.entry import main

if __name__ == "__main__":
    main()
