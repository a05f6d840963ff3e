"""The journey in order: mode name, screen title, key (one list for the app's keys and the journey bar)."""

JOURNEY = (
    ("home", "Home", "f2"),
    ("dictionary", "Dictionary", "f3"),
    ("adapt", "Adapt", "f4"),
    ("export", "Export", "f5"),
    ("chat", "Chat", "f6"),
    ("translate", "Translate", "f7"),
)
