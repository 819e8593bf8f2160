"""The painter's web front end: an aiohttp app serving the page, its photo and the drawing upload."""
