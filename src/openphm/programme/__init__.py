"""The programme: its configuration (programme.toml) and its home on disk (the workspace).

Reads the configuration file; writes the workspace skeleton. Holds no patient data itself.
"""
