"""The Discord bot: discord.py interactions -> core events; core actions -> interaction responses."""
