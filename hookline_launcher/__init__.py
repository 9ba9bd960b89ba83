"""The launcher: the ``hookline`` command (``dev``, ``serve``, ``apply``), the
in-process stack and its in-process wiring, and starting services as processes. It sits
above the hookline_edge and the services; nothing imports it."""
