"""taalkit Textual app: a thin face over kit."""
