"""The demo district's own base map: streets, blocks, river and park drawn by the project
(``district.py``), rendered into XYZ tiles or WMS images with Pillow (``render.py``) and
served on loopback (``server.py``), so a new user's map shows a city, not a void, offline."""
