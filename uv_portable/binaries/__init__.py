"""Read-only binary analysis (ELF, Mach-O) and the narrow patching interface."""
