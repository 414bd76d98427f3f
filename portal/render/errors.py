"""Errors of the offline renderer."""


class RenderError(Exception):
    """A definition (or data set) outside the subset the offline renderer understands, or data it
    cannot render; the message names the visual and the construct."""


def visual_error(visual_id: str, type_name: str, what: str) -> RenderError:
    """An error naming the visual and its type: `visual 'daily' (LineChartVisual): ...`."""
    return RenderError(f"visual {visual_id!r} ({type_name}): {what}")
