"""One router per resource; ``hub.api.app.ROUTERS`` lists them in OpenAPI order."""
