"""File and SQLite helpers shared by the library."""
