"""The subscriber's side: sign-up with double opt-in, preferences, one-click unsubscribe, feedback, archive."""
