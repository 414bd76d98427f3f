"""The local QuickSight's errors: AWS's error of an API call (`QsError`, answered as AWS answers it
by `protocol.error_response`) and the failure of an ingestion (`IngestionError`, kept as the
ingestion's ErrorInfo)."""

from __future__ import annotations


class QsError(Exception):
    def __init__(self, code: str, message: str, resource_type: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.resource_type = code, message, resource_type


def not_found(kind: str, ident: str, resource_type: str | None = None) -> QsError:
    return QsError("ResourceNotFoundException", f"{kind} {ident} not found", resource_type)


class IngestionError(Exception):
    """Fails an ingestion with ErrorInfo {Type, Message}."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
