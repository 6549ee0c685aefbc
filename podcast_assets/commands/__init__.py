"""The command line: `podcast-brief` (cli), its SQL-model commands (sql)."""
