"""Errors of the offline renderer."""


class RenderError(Exception):
    """A definition (or data set) outside the subset the offline renderer understands, or data it
    cannot render; the message names the visual and the construct."""
