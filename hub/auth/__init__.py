"""Who is calling and what they may see: users, tokens, API keys, roles, sharing grants."""
