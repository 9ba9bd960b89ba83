"""The HTTP edge: a Litestar app in front of the trigger, execution and cache services.

``hookline_edge.app.create_app(settings)`` builds the app; ``hookline_edge.server.EdgeServer(settings)``
serves it with uvicorn as an async context manager.
"""
