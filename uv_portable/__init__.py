"""uv-portable: make a uv virtual environment self-contained and relocatable."""

__version__ = "0.1.0"
