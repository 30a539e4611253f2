"""One router per resource; ``service.api.create_app`` only wires them."""
