"""Flask stand-in for chat-gpt.org (being built)."""
