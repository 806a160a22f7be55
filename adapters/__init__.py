"""Platform adapters: each turns its platform's events into ``bot.core.chat`` events and back."""
