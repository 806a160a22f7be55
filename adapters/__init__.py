"""Platform adapters: each turns its platform's events into ``bot.chat`` events and back."""
