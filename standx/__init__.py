"""StandX client library (auth, signing, REST, streams). Imports nothing from Django."""
