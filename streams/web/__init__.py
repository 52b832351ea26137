"""Static web files: a tiny reusable WHEP client (whep.js) and a test player page."""
