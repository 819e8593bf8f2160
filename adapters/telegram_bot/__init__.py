"""The Telegram bot: python-telegram-bot updates in, core actions out."""
